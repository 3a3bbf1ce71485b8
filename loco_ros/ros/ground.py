"""The ground plane of an image from TF (ground_plane.mode ``tf``), for the frame pipeline."""

from __future__ import annotations

from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.time import Time

from loco_ros.decoding.ground_plane import (
    GroundPlane,
    GroundPlaneConfig,
    ground_plane_from_transform,
    transform_to_rotation_translation,
)
from loco_ros.errors import ConfigError, InputError


class TfGroundPlanes:
    """``planes(frame_id, stamp_ns)``: the plane z = 0 of ``config.ground_frame`` seen from the
    image's frame, by the TF transform at the image's stamp (a PlaneSource of the pipeline).
    ``config`` may be replaced at run time (the listener stays)."""

    def __init__(self, node: Node, config: GroundPlaneConfig) -> None:
        self.config = config
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

    def __call__(self, frame_id: str, stamp_ns: int) -> GroundPlane | None:
        """The plane for an image; InputError(reason ``ground_plane``) if TF cannot give it."""
        try:
            tf = self._buffer.lookup_transform(
                self.config.ground_frame, frame_id, Time(nanoseconds=stamp_ns),
                timeout=Duration(seconds=self.config.tf_timeout_s))
        except self._tf_errors as err:
            raise InputError(f"no transform {self.config.ground_frame} <- {frame_id}: "
                             f"{err}", "ground_plane") from err
        try:  # a zero or NaN quaternion, a camera below the ground
            return ground_plane_from_transform(*transform_to_rotation_translation(tf.transform))
        except ValueError as err:
            raise InputError(str(err), "ground_plane") from err
