"""Build and read rosbags message objects (Image, CameraInfo, Pose3DArray) from numpy."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from rosbags.image import message_to_cvimage

from loco_ros.bags.typestore import CAMERA_INFO, IMAGE, POSE3D_ARRAY, loco_typestore
from loco_ros.skeleton import NUM_JOINTS
from loco_ros.stamps import ns_to_sec_nanosec
from loco_ros.types import People


class PoseMessageClasses(NamedTuple):
    """Constructors of the message types that make up a Pose3DArray."""

    point: Any
    joint: Any
    person: Any
    array: Any


def header_msg(stamp_ns: int, frame_id: str) -> Any:
    """std_msgs/Header of a stamp (ns) and frame."""
    types = loco_typestore().types
    sec, nanosec = ns_to_sec_nanosec(stamp_ns)
    stamp = types["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec)
    return types["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id)


def rgb_image_msg(image_rgb: np.ndarray, stamp_ns: int, frame_id: str) -> Any:
    """sensor_msgs/Image (rgb8) from an (H, W, 3) uint8 RGB array."""
    height, width = image_rgb.shape[:2]
    return loco_typestore().types[IMAGE](
        header=header_msg(stamp_ns, frame_id), height=height, width=width, encoding="rgb8",
        is_bigendian=0, step=width * 3,
        data=np.ascontiguousarray(image_rgb, dtype=np.uint8).reshape(-1),
    )


def image_msg_to_rgb(msg: Any) -> np.ndarray:
    """(H, W, 3) uint8 RGB array from a rosbags sensor_msgs/Image of any common encoding."""
    return message_to_cvimage(msg, "rgb8")


def camera_info_msg(K: np.ndarray, width: int, height: int, stamp_ns: int, frame_id: str) -> Any:
    """sensor_msgs/CameraInfo of a distortion-free pinhole camera with intrinsics K (3, 3)."""
    K = np.asarray(K, np.float64)
    projection = np.zeros((3, 4))
    projection[:, :3] = K
    types = loco_typestore().types
    roi = types["sensor_msgs/msg/RegionOfInterest"](
        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False
    )
    return types[CAMERA_INFO](
        header=header_msg(stamp_ns, frame_id), height=height, width=width,
        distortion_model="plumb_bob", d=np.zeros(5), k=K.reshape(-1), r=np.eye(3).reshape(-1),
        p=projection.reshape(-1), binning_x=0, binning_y=0, roi=roi,
    )


def camera_info_to_K(msg: Any) -> np.ndarray:
    """Intrinsics (3, 3) float64 of a rosbags sensor_msgs/CameraInfo."""
    return np.asarray(msg.k, np.float64).reshape(3, 3)


def build_pose_array(people: People, header: Any, classes: PoseMessageClasses) -> Any:
    """A Pose3DArray from People (P x J arrays) with the given message classes.

    Works for rosbags' dataclasses and rclpy's generated classes alike, which share field names.
    """
    persons = []
    for p in range(len(people)):
        joints = [
            classes.joint(
                position=classes.point(x=float(x), y=float(y), z=float(z)),
                confidence=float(people.confidence[p, k]), detected=bool(people.detected[p, k]),
                u_px=float(people.uv_px[p, k, 0]), v_px=float(people.uv_px[p, k, 1]),
            )
            for k, (x, y, z) in enumerate(people.xyz_m[p])
        ]
        track_id = people.track_id[p] if people.track_id else ""
        persons.append(classes.person(id=track_id, score=float(people.score[p]), joints=joints))
    return classes.array(header=header, people=persons)


def pose_array_msg(people: People, stamp_ns: int, frame_id: str) -> Any:
    """loco_ros/msg/Pose3DArray (rosbags object) from People (P x J arrays)."""
    types = loco_typestore().types
    classes = PoseMessageClasses(
        point=types["geometry_msgs/msg/Point"], joint=types["loco_ros/msg/Joint3D"],
        person=types["loco_ros/msg/Person3D"], array=types[POSE3D_ARRAY],
    )
    return build_pose_array(people, header_msg(stamp_ns, frame_id), classes)


def pose_array_to_people(msg: Any) -> People:
    """People from a Pose3DArray (rosbags or rclpy object); the inverse of build_pose_array."""
    if not msg.people:
        return People.empty()
    count = len(msg.people)
    xyz = np.empty((count, NUM_JOINTS, 3), np.float32)
    uv = np.empty((count, NUM_JOINTS, 2), np.float32)
    confidence = np.empty((count, NUM_JOINTS), np.float32)
    detected = np.empty((count, NUM_JOINTS), bool)
    for p, person in enumerate(msg.people):
        for k, j in enumerate(person.joints):
            xyz[p, k] = (j.position.x, j.position.y, j.position.z)
            uv[p, k] = (j.u_px, j.v_px)
            confidence[p, k], detected[p, k] = j.confidence, j.detected
    score = np.array([person.score for person in msg.people], np.float32)
    ids = tuple(person.id for person in msg.people)
    return People(xyz, confidence, detected, uv, score, ids)
