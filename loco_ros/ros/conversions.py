"""Conversions between the core's value objects and rclpy messages."""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Point
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header

from loco_ros.bags.messages import PoseMessageClasses, build_pose_array, pose_array_to_people
from loco_ros.camera_model import CameraModel
from loco_ros.msg import Joint3D, Person3D, Pose3DArray
from loco_ros.types import People

RCLPY_POSE_CLASSES = PoseMessageClasses(
    point=Point, joint=Joint3D, person=Person3D, array=Pose3DArray
)


def people_to_msg(people: People, header: Header) -> Pose3DArray:
    """Pose3DArray with one Person3D per person of ``people`` (P x K arrays, metres, pixels)."""
    return build_pose_array(people, header, RCLPY_POSE_CLASSES)


def msg_to_people(msg: Pose3DArray) -> People:
    """People (P x K arrays) from a Pose3DArray; the inverse of :func:`people_to_msg`."""
    return pose_array_to_people(msg)


def camera_info_to_model(msg: CameraInfo) -> CameraModel:
    """CameraModel (K (3, 3), D (N,), P (3, 4), binning, ROI; pixels) of a CameraInfo.

    InputError (reason ``camera_model``) for bad values or an unknown distortion model.
    """
    roi = msg.roi
    return CameraModel(
        K=np.asarray(msg.k, np.float64).reshape(3, 3), width=int(msg.width),
        height=int(msg.height), distortion_model=msg.distortion_model,
        D=np.asarray(msg.d, np.float64), P=np.asarray(msg.p, np.float64).reshape(3, 4),
        binning_x=int(msg.binning_x), binning_y=int(msg.binning_y),
        roi=(int(roi.x_offset), int(roi.y_offset), int(roi.width), int(roi.height)),
    )


def stamp_to_seconds(header: Header) -> float:
    """Header stamp as float seconds."""
    return header.stamp.sec + header.stamp.nanosec * 1e-9
