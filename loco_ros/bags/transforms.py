"""Static transforms (/tf_static, tf2_msgs/msg/TFMessage) in bags: write them, and read the
ground plane of a camera from them, where no tf2 is at hand (tf2 is not on PyPI).

A transform ``parent -> child`` is (R (3, 3), t (3,)) with ``x_parent = R @ x_child + t``:
R's columns are the child's axes in the parent frame, t the child's origin (metres).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from rosbags.rosbag2 import Reader
from scipy.spatial.transform import Rotation

from loco_ros.bags.messages import header_msg
from loco_ros.bags.reading import open_bag, read_messages
from loco_ros.bags.typestore import loco_typestore
from loco_ros.decoding.ground_plane import (
    GroundPlane,
    ground_plane_from_transform,
    transform_to_rotation_translation,
)
from loco_ros.errors import InputError

TF_STATIC_TOPIC = "/tf_static"
TF_MESSAGE = "tf2_msgs/msg/TFMessage"
Transform = tuple[np.ndarray, np.ndarray]


def static_transform_msg(parent: str, child: str, rotation: np.ndarray,
                         translation_m: np.ndarray, stamp_ns: int) -> Any:
    """A TFMessage with one transform ``parent -> child`` (see the module docstring)."""
    types = loco_typestore().types
    x, y, z, w = Rotation.from_matrix(np.asarray(rotation, np.float64)).as_quat()
    t = np.asarray(translation_m, np.float64)
    stamped = types["geometry_msgs/msg/TransformStamped"](
        header=header_msg(stamp_ns, parent), child_frame_id=child,
        transform=types["geometry_msgs/msg/Transform"](
            translation=types["geometry_msgs/msg/Vector3"](x=t[0], y=t[1], z=t[2]),
            rotation=types["geometry_msgs/msg/Quaternion"](x=x, y=y, z=z, w=w)))
    return types[TF_MESSAGE](transforms=[stamped])


def read_static_transforms(reader: Reader) -> dict[str, tuple[str, Transform]]:
    """child frame -> (parent frame, transform) of every /tf_static transform of an open bag."""
    store = loco_typestore()
    out: dict[str, tuple[str, Transform]] = {}
    conns = [c for c in reader.connections if c.topic == TF_STATIC_TOPIC]
    for conn, _, raw in read_messages(reader, conns):
        for tf in store.deserialize_cdr(raw, conn.msgtype).transforms:
            out[tf.child_frame_id] = (tf.header.frame_id,
                                      transform_to_rotation_translation(tf.transform))
    return out


def chain_transform(transforms: dict[str, tuple[str, Transform]], target: str,
                    source: str) -> Transform | None:
    """target <- source by walking parents from ``source`` up to ``target`` (None if the tree
    does not lead there)."""
    R, t = np.eye(3), np.zeros(3)
    frame, seen = source, set()
    while frame != target:
        if frame not in transforms or frame in seen:
            return None
        seen.add(frame)
        parent, (R_p, t_p) = transforms[frame]
        R, t = R_p @ R, R_p @ t + t_p
        frame = parent
    return R, t


def first_frame_id(reader: Reader, topic: str) -> str | None:
    """header.frame_id of the first message on ``topic`` of an open bag (None if empty)."""
    store = loco_typestore()
    conns = [c for c in reader.connections if c.topic == topic]
    for conn, _, raw in read_messages(reader, conns):
        return store.deserialize_cdr(raw, conn.msgtype).header.frame_id
    return None


def ground_plane_from_bag(path: str | Path, image_topic: str = "/camera/image",
                          ground_frame: str = "base_footprint") -> GroundPlane | None:
    """The plane z = 0 of ``ground_frame`` seen from the frame of the images on
    ``image_topic``, from the bag's /tf_static; None where the bag has no such chain."""
    with open_bag(path) as reader:
        camera_frame = first_frame_id(reader, image_topic)
        if camera_frame is None:
            return None
        found = chain_transform(read_static_transforms(reader), ground_frame, camera_frame)
    return None if found is None else ground_plane_from_transform(*found)


def static_ground_planes(path: str | Path, ground_frame: str = "base_footprint"):
    """A PlaneSource of the frame pipeline (ground_plane.mode ``tf``) from a bag's /tf_static:
    ``planes(frame_id, stamp_ns)`` is the plane z = 0 of ``ground_frame`` seen from frame_id,
    InputError(reason ``ground_plane``) where the static tree does not lead there."""
    with open_bag(path) as reader:
        transforms = read_static_transforms(reader)

    def planes(frame_id: str, stamp_ns: int) -> GroundPlane:
        found = chain_transform(transforms, ground_frame, frame_id)
        if found is None:
            raise InputError(f"no static transform {ground_frame} <- {frame_id} in the bag",
                             "ground_plane")
        try:
            return ground_plane_from_transform(*found)
        except ValueError as err:
            raise InputError(str(err), "ground_plane") from err

    return planes
