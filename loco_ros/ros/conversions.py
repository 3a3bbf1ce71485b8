"""Conversions between the core's value objects and rclpy messages."""

from __future__ import annotations

from geometry_msgs.msg import Point
from std_msgs.msg import Header

from loco_ros.bags.messages import PoseMessageClasses, build_pose_array, pose_array_to_people
from loco_ros.msg import Joint3D, Person3D, Pose3DArray
from loco_ros.types import People

RCLPY_POSE_CLASSES = PoseMessageClasses(
    point=Point, joint=Joint3D, person=Person3D, array=Pose3DArray
)


def people_to_msg(people: People, header: Header) -> Pose3DArray:
    """Pose3DArray with one Person3D per person of ``people`` (P x J arrays, metres, pixels)."""
    return build_pose_array(people, header, RCLPY_POSE_CLASSES)


def msg_to_people(msg: Pose3DArray) -> People:
    """People (P x J arrays) from a Pose3DArray; the inverse of :func:`people_to_msg`."""
    return pose_array_to_people(msg)


