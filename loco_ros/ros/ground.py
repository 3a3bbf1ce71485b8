"""The ground plane of an image for loco_node: from parameters (fixed mount) or from TF."""

from __future__ import annotations

from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.time import Time
from std_msgs.msg import Header

from loco_ros.errors import ConfigError, InputError
from loco_ros.ground_plane import (
    GroundPlane,
    GroundPlaneConfig,
    ground_plane_from_config,
    ground_plane_from_transform,
    transform_to_rotation_translation,
)


class GroundPlaneSource:
    """``plane_for(header)``: None (mode off), the fixed plane, or the plane from the TF
    transform between ``ground_frame`` and the image's frame at the image's stamp."""

    def __init__(self, node: Node, config: GroundPlaneConfig) -> None:
        self.config = config
        self._fixed = ground_plane_from_config(config) if config.mode == "fixed" else None
        self._buffer = self._listener = None
        if config.mode == "tf":
            try:
                import tf2_ros
            except ImportError as err:
                raise ConfigError(
                    "ground_plane.mode tf needs tf2_ros (ros-$ROS_DISTRO-tf2-ros-py); use mode "
                    "fixed with camera_height_m / pitch_deg / roll_deg instead") from err
            self._tf_errors = (tf2_ros.LookupException, tf2_ros.ConnectivityException,
                               tf2_ros.ExtrapolationException)
            self._buffer = tf2_ros.Buffer()
            self._listener = tf2_ros.TransformListener(self._buffer, node)

    def plane_for(self, header: Header) -> GroundPlane | None:
        """The plane for an image; InputError(reason ``ground_plane``) if TF cannot give it."""
        if self.config.mode == "off":
            return None
        if self._fixed is not None:
            return self._fixed
        try:
            tf = self._buffer.lookup_transform(
                self.config.ground_frame, header.frame_id, Time.from_msg(header.stamp),
                timeout=Duration(seconds=self.config.tf_timeout_s))
        except self._tf_errors as err:
            raise InputError(f"no transform {self.config.ground_frame} <- {header.frame_id}: "
                             f"{err}", "ground_plane") from err
        try:  # a zero or NaN quaternion, a camera below the ground
            return ground_plane_from_transform(*transform_to_rotation_translation(tf.transform))
        except ValueError as err:
            raise InputError(str(err), "ground_plane") from err
