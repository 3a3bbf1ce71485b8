"""A rosbags type store that knows the standard ROS 2 messages and loco_ros's own."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from loco_ros.resources import find_data_path

MESSAGE_NAMES = ("Joint3D", "Person3D", "Pose3DArray")
POSE3D_ARRAY = "loco_ros/msg/Pose3DArray"
IMAGE = "sensor_msgs/msg/Image"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"


def message_dir() -> Path:
    """Directory holding loco_ros's .msg files: the source tree's or an install's share/."""
    return find_data_path("msg", marker="Pose3DArray.msg")


@cache
def loco_typestore() -> Typestore:
    """Kilted's standard types plus loco_ros/msg/{Joint3D, Person3D, Pose3DArray}."""
    store = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for name in MESSAGE_NAMES:
        text = (message_dir() / f"{name}.msg").read_text()
        types.update(get_types_from_msg(text, f"loco_ros/msg/{name}"))
    store.register(types)
    return store
