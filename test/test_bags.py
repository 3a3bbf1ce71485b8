"""rosbag2 files (sqlite3 and mcap) written with rosbags and read back with rclpy's serializer."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_people_equal, make_people
from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from loco_ros.bags.messages import (
    camera_info_msg,
    camera_info_to_K,
    image_msg_to_rgb,
    pose_array_msg,
    pose_array_to_people,
    rgb_image_msg,
)
from loco_ros.bags.typestore import CAMERA_INFO, IMAGE, POSE3D_ARRAY, loco_typestore
from loco_ros.stamps import stamp_ns_of

K = np.array([[400.0, 0, 256.0], [0, 410.0, 144.0], [0, 0, 1]])


def _write_bag(path, storage: StoragePlugin, frames: int) -> list[np.ndarray]:
    store = loco_typestore()
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (6, 8, 3), dtype=np.uint8) for _ in range(frames)]
    with Writer(path, version=9, storage_plugin=storage) as writer:
        topics = {
            "/camera/image": writer.add_connection("/camera/image", IMAGE, typestore=store),
            "/camera/camera_info": writer.add_connection(
                "/camera/camera_info", CAMERA_INFO, typestore=store),
            "/people/poses3d_gt": writer.add_connection(
                "/people/poses3d_gt", POSE3D_ARRAY, typestore=store),
        }
        for i, image in enumerate(images):
            stamp = 1_000_000_000 + i * 33_000_000
            messages = {
                "/camera/image": (rgb_image_msg(image, stamp, "cam"), IMAGE),
                "/camera/camera_info": (camera_info_msg(K, 8, 6, stamp, "cam"), CAMERA_INFO),
                "/people/poses3d_gt": (pose_array_msg(make_people(i, i), stamp, "cam"),
                                       POSE3D_ARRAY),
            }
            for topic, (msg, msgtype) in messages.items():
                writer.write(topics[topic], stamp, store.serialize_cdr(msg, msgtype))
    return images


@pytest.mark.ros
@pytest.mark.parametrize("storage", [StoragePlugin.SQLITE3, StoragePlugin.MCAP])
def test_bag_round_trip_through_rclpy_deserializer(tmp_path, storage) -> None:
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import CameraInfo, Image

    from loco_ros.msg import Pose3DArray
    from loco_ros.ros.conversions import msg_to_people

    images = _write_bag(tmp_path / "bag", storage, frames=4)
    rclpy_types = {IMAGE: Image, CAMERA_INFO: CameraInfo, POSE3D_ARRAY: Pose3DArray}
    seen = {IMAGE: 0, CAMERA_INFO: 0, POSE3D_ARRAY: 0}
    with Reader(tmp_path / "bag") as reader:
        for connection, stamp, raw in reader.messages():
            msg = deserialize_message(raw, rclpy_types[connection.msgtype])
            i = seen[connection.msgtype]
            seen[connection.msgtype] += 1
            assert msg.header.frame_id == "cam"
            assert stamp_ns_of(msg) == stamp
            if connection.msgtype == IMAGE:
                assert (msg.height, msg.width, msg.encoding) == (6, 8, "rgb8")
                np.testing.assert_array_equal(
                    np.frombuffer(bytes(msg.data), np.uint8).reshape(6, 8, 3), images[i])
            elif connection.msgtype == CAMERA_INFO:
                np.testing.assert_array_equal(np.array(msg.k).reshape(3, 3), K)
            else:
                assert_people_equal(msg_to_people(msg), make_people(i, i))
    assert seen == {IMAGE: 4, CAMERA_INFO: 4, POSE3D_ARRAY: 4}


def test_bag_round_trip_with_rosbags_alone(tmp_path) -> None:
    images = _write_bag(tmp_path / "bag", StoragePlugin.MCAP, frames=3)
    store = loco_typestore()
    got: dict[str, list] = {IMAGE: [], CAMERA_INFO: [], POSE3D_ARRAY: []}
    with Reader(tmp_path / "bag") as reader:
        for connection, _, raw in reader.messages():
            got[connection.msgtype].append(store.deserialize_cdr(raw, connection.msgtype))
    for i, image in enumerate(images):
        np.testing.assert_array_equal(image_msg_to_rgb(got[IMAGE][i]), image)
        np.testing.assert_array_equal(camera_info_to_K(got[CAMERA_INFO][i]), K)
        assert_people_equal(pose_array_to_people(got[POSE3D_ARRAY][i]), make_people(i, i))
