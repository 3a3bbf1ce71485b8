"""The demo bag through player -> node -> recorder gives the poses of the offline mode."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO_ROOT, spin_until
from node_harness import installed_executable

from loco_ros.bags.messages import pose_array_to_people, stamp_ns_of
from loco_ros.bags.offline import OfflineOptions, process_bag
from loco_ros.bags.reading import open_bag
from loco_ros.bags.typestore import loco_typestore
from loco_ros.estimator import LocoEstimator
from loco_ros.node_config import NodeConfig
from loco_ros.tracking import PersonTracker

pytestmark = [pytest.mark.ros, pytest.mark.slow]
DEMO_BAG = REPO_ROOT / "data" / "demo" / "walkers"
OUTPUT = "/people/poses3d"


def poses_by_stamp(bag) -> dict:
    store = loco_typestore()
    with open_bag(bag) as reader:
        connections = [c for c in reader.connections if c.topic == OUTPUT]
        messages = [store.deserialize_cdr(raw, c.msgtype)
                    for c, _, raw in reader.messages(connections=connections)]
    return {stamp_ns_of(m): pose_array_to_people(m) for m in messages}


def test_live_replay_equals_offline_processing(start_process, rclpy_context, ros_env,
                                               tmp_path) -> None:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from loco_ros.msg import Pose3DArray

    bag_tool = str(installed_executable("loco_bag"))
    start_process(str(installed_executable("loco_node")), "--ros-args",
                  "-p", "input_qos:=reliable", "-p", "device:=cpu",
                  "-r", "image:=/camera/image", "-r", "camera_info:=/camera/camera_info")
    recorder = start_process(bag_tool, "record", str(tmp_path / "live"), "--topics", OUTPUT)
    node = rclpy.create_node("replay_test", context=rclpy_context)
    executor = SingleThreadedExecutor(context=rclpy_context)
    executor.add_node(node)
    seen: list[int] = []
    node.create_subscription(Pose3DArray, OUTPUT, lambda m: seen.append(
        m.header.stamp.sec * 10**9 + m.header.stamp.nanosec), 100)
    assert spin_until(executor, lambda: node.count_subscribers("/camera/image") > 0
                      and node.count_subscribers(OUTPUT) >= 2, 120.0)
    subprocess.run([sys.executable, bag_tool, "play", str(DEMO_BAG), "--rate", "0.5",
                    "--topics", "/camera/image", "/camera/camera_info",
                    "--wait-for-subscribers", "1", "--no-progress"],
                   env=ros_env, check=True, timeout=120, capture_output=True)
    assert spin_until(executor, lambda: len(seen) >= 80, 60.0), f"{len(seen)} of 80 outputs"
    node.destroy_node()

    estimator = LocoEstimator.from_dir(None, device="cpu")
    process_bag(DEMO_BAG, tmp_path / "offline", estimator, OfflineOptions(progress=False),
                PersonTracker(NodeConfig().tracking))
    offline = poses_by_stamp(tmp_path / "offline")
    recorder.send_signal(2)  # SIGINT: the recorder closes its bag
    assert recorder.wait(timeout=60) == 0
    live = poses_by_stamp(tmp_path / "live")
    assert sorted(live) == sorted(offline) and len(live) == 80
    assert sum(len(p) for p in offline.values()) > 80, "the demo model should see people"
    for stamp, people in offline.items():
        np.testing.assert_allclose(live[stamp].xyz_m, people.xyz_m, rtol=1e-4, atol=1e-4)
        assert live[stamp].track_id == people.track_id
