"""The demo bag through player -> node -> recorder gives the messages of ``loco_bag process``
with the same parameters file: one frame pipeline, live and offline."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from conftest import REPO_ROOT, assert_people_equal, spin_until
from node_harness import installed_executable

from loco_ros.bags.messages import pose_array_to_people
from loco_ros.bags.reading import open_bag
from loco_ros.bags.transforms import ground_plane_from_bag
from loco_ros.bags.typestore import loco_typestore
from loco_ros.decoding.ground_plane import angles_of_plane
from loco_ros.stamps import stamp_ns_of

pytestmark = [pytest.mark.ros, pytest.mark.slow]
DEMO_BAG = REPO_ROOT / "data" / "demo" / "walkers"
OUTPUT = "/people/poses3d"


def poses_by_stamp(bag) -> dict:
    """Header stamp (ns) -> (frame_id, People) of every output message of a bag."""
    store = loco_typestore()
    with open_bag(bag) as reader:
        connections = [c for c in reader.connections if c.topic == OUTPUT]
        messages = [store.deserialize_cdr(raw, c.msgtype)
                    for c, _, raw in reader.messages(connections=connections)]
    return {stamp_ns_of(m): (m.header.frame_id, pose_array_to_people(m)) for m in messages}


def write_params(path) -> None:
    """The node's parameters: CPU, one thread, the bag's ground plane as a fixed mount."""
    plane = ground_plane_from_bag(DEMO_BAG)
    pitch, roll = (math.degrees(a) for a in angles_of_plane(plane))
    path.write_text(
        "/**:\n  ros__parameters:\n    device: cpu\n    cpu_threads: 1\n"
        "    input_qos: reliable\n    frame_queue: 100\n"
        "    ground_plane:\n      mode: fixed\n"
        f"      camera_height_m: {plane.camera_height_m:.6f}\n"
        f"      pitch_deg: {pitch:.6f}\n      roll_deg: {roll:.6f}\n")


def test_node_and_loco_bag_process_publish_identical_messages(start_process, rclpy_context,
                                                              ros_env, tmp_path) -> None:
    from rclpy.executors import SingleThreadedExecutor

    from loco_ros.msg import Pose3DArray

    params = tmp_path / "params.yaml"
    write_params(params)
    bag_tool = str(installed_executable("loco_bag"))
    offline = subprocess.run(
        [sys.executable, bag_tool, "process", str(DEMO_BAG), str(tmp_path / "offline"),
         "--params-file", str(params), "--no-progress"],
        env=ros_env, capture_output=True, text=True, timeout=300)
    assert offline.returncode == 0, offline.stderr
    start_process(str(installed_executable("loco_node")), "--ros-args",
                  "--params-file", str(params),
                  "-r", "image:=/camera/image", "-r", "camera_info:=/camera/camera_info")
    recorder = start_process(bag_tool, "record", str(tmp_path / "live"), "--topics", OUTPUT)
    node = __import__("rclpy").create_node("replay_test", context=rclpy_context)
    executor = SingleThreadedExecutor(context=rclpy_context)
    executor.add_node(node)
    seen: list[int] = []
    node.create_subscription(Pose3DArray, OUTPUT, lambda m: seen.append(stamp_ns_of(m)), 100)
    assert spin_until(executor, lambda: node.count_subscribers("/camera/image") > 0
                      and node.count_subscribers(OUTPUT) >= 2, 120.0)
    subprocess.run([sys.executable, bag_tool, "play", str(DEMO_BAG), "--rate", "0.5",
                    "--topics", "/camera/image", "/camera/camera_info",
                    "--wait-for-subscribers", "1", "--no-progress"],
                   env=ros_env, check=True, timeout=120, capture_output=True)
    assert spin_until(executor, lambda: len(seen) >= 80, 60.0), f"{len(seen)} of 80 outputs"
    node.destroy_node()
    recorder.send_signal(2)  # SIGINT: the recorder closes its bag
    assert recorder.wait(timeout=60) == 0

    live, processed = poses_by_stamp(tmp_path / "live"), poses_by_stamp(tmp_path / "offline")
    assert sorted(live) == sorted(processed) and len(live) == 80
    assert sum(len(p) for _, p in processed.values()) > 80, "the demo model should see people"
    assert any(p.track_id and any(p.track_id) for _, p in processed.values()), "tracked"
    for stamp, (frame_id, people) in processed.items():
        assert live[stamp][0] == frame_id
        assert_people_equal(live[stamp][1], people)  # bit for bit, track ids included
