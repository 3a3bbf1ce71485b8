"""`make demo`: the node on the bundled demo bag, through real DDS, with a summary.

The node gets the camera's mount (its ground plane) from the bag's /tf_static.
Starts loco_node (sim time) and a recorder as separate processes, replays the demo bag with
/clock, waits for the node's answer to the last image, stops everything, then compares what
was recorded with the bag's ground truth and draws docs/demo_overlay.png and
docs/demo_skeletons.png.
"""

from __future__ import annotations

import argparse
import math
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile

from loco_ros.bags.reading import summarize as bag_summary
from loco_ros.evaluation.replay_report import (
    format_summary,
    load_replay,
    overlay_strip,
    skeleton_plot,
    summarize,
)
from loco_ros.msg import Pose3DArray
from loco_ros.stamps import stamp_ns_of

# A replay of recorded data should lose nothing: reliable input, as `ros2 bag play` sends,
# and frames queued while the node is busy rather than skipped (a slow or busy CPU).
NODE_ARGS: list[str] = ["-p", "input_qos:=reliable", "-p", "frame_queue:=100"]
OUTPUT_TOPICS = ("/people/poses3d", "/people/markers", "/diagnostics")


def installed(name: str) -> list[str]:
    """Command prefix of an installed loco_ros executable (as `ros2 run loco_ros <name>`)."""
    from ament_index_python.packages import get_package_prefix

    return [sys.executable, str(Path(get_package_prefix("loco_ros")) / "lib" / "loco_ros" / name)]


def ground_plane_parameters(bag: Path) -> list[str]:
    """A fixed-mount ground plane for the node from the bag's /tf_static (base_footprint ->
    camera). On a ROS install the node reads TF itself (``ground_plane.mode:=tf``); the PyPI
    ROS wheels have no tf2_ros, so the demo passes the same plane as parameters."""
    from loco_ros.bags.transforms import ground_plane_from_bag
    from loco_ros.decoding.ground_plane import angles_of_plane

    plane = ground_plane_from_bag(bag)
    if plane is None:
        print("demo: the bag has no base_footprint -> camera transform: no ground plane")
        return []
    pitch, roll = (math.degrees(a) for a in angles_of_plane(plane))
    print(f"demo: ground plane from the bag's /tf_static: camera {plane.camera_height_m:.2f} m "
          f"above the ground, pitched {pitch:.1f} deg down, roll {roll:.1f} deg")
    values = {"mode": "fixed", "camera_height_m": f"{plane.camera_height_m:.6f}",
              "pitch_deg": f"{pitch:.6f}", "roll_deg": f"{roll:.6f}"}
    return [arg for k, v in values.items() for arg in ("-p", f"ground_plane.{k}:={v}")]


def model_parameter(model_dir: str) -> list[str]:
    """ROS arguments choosing the model ("" = the node's default, the bundled demo model)."""
    return ["-p", f"model_dir:={model_dir}"] if model_dir else []


class Graph:
    """A small node of the demo's own to wait on the graph and see the outputs."""

    def __init__(self) -> None:
        self.node = rclpy.create_node("loco_demo")
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.stamps: set[int] = set()
        self.node.create_subscription(Pose3DArray, "/people/poses3d", self._on_pose,
                                      QoSProfile(depth=100))

    def _on_pose(self, msg: Pose3DArray) -> None:
        self.stamps.add(stamp_ns_of(msg))

    def wait(self, condition, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not condition():
            self.executor.spin_once(timeout_sec=0.05)
        return condition()

    def subscribers(self, topic: str) -> int:
        return self.node.count_subscribers(topic)


def stop(process: subprocess.Popen, timeout_s: float = 20.0) -> None:
    """SIGINT, then wait (kill after the timeout)."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run(bag: Path, out_dir: Path, docs_dir: Path, model_dir: str,
        ground_plane: bool = True) -> dict:
    """Replay ``bag`` through the node and return the summary dict."""
    recorded = out_dir / "recorded"
    shutil.rmtree(recorded, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    log = (out_dir / "node.log").open("w")
    node = subprocess.Popen(installed("loco_node") + [
        "--ros-args", "-p", "use_sim_time:=true", *model_parameter(model_dir),
        "-r", "image:=/camera/image", "-r", "camera_info:=/camera/camera_info", *NODE_ARGS,
        *(ground_plane_parameters(bag) if ground_plane else [])],
        stdout=log, stderr=subprocess.STDOUT)
    recorder = subprocess.Popen(installed("loco_bag") + [
        "record", str(recorded), "--topics", *OUTPUT_TOPICS], stdout=subprocess.DEVNULL)
    graph = Graph()
    try:
        ready = graph.wait(lambda: graph.subscribers("/camera/image") > 0
                           and graph.subscribers("/people/poses3d") >= 2, 120.0)
        if not ready:
            raise RuntimeError(f"the node did not become active; see {out_dir / 'node.log'}")
        print("demo: node active, replaying", bag)
        subprocess.run(installed("loco_bag") + [
            "play", str(bag), "--clock", "100", "--topics", "/camera/image",
            "/camera/camera_info", "--wait-for-subscribers", "1", "--no-progress"], check=True)
        last_stamp = max(bag_last_stamps(bag))
        graph.wait(lambda: last_stamp in graph.stamps, 30.0)
        graph.wait(lambda: False, 1.5)  # one more diagnostics period reaches the recorder
    finally:
        stop(recorder)
        stop(node)
        graph.node.destroy_node()
        log.close()
    data = load_replay(recorded, bag)
    summary = summarize(data)
    overlay_strip(data, docs_dir / "demo_overlay.png")
    skeleton_plot(data, docs_dir / "demo_skeletons.png")
    return summary


def bag_last_stamps(bag: Path, topic: str = "/camera/image") -> list[int]:
    """Header stamps (ns) of the images of a bag."""
    from loco_ros.bags.reading import open_bag
    from loco_ros.bags.typestore import loco_typestore

    store = loco_typestore()
    with open_bag(bag) as reader:
        connections = [c for c in reader.connections if c.topic == topic]
        return [stamp_ns_of(store.deserialize_cdr(raw, c.msgtype))
                for c, _, raw in reader.messages(connections=connections)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="loco_ros demo: node + bag replay + summary")
    parser.add_argument("--bag", type=Path, default=Path("data/demo/walkers"))
    parser.add_argument("--out", type=Path, default=Path("out/demo"))
    parser.add_argument("--docs", type=Path, default=Path("docs"))
    parser.add_argument("--model-dir", default="", help="default: the bundled demo model")
    parser.add_argument("--no-ground-plane", action="store_true",
                        help="depth from the image only (ignore the bag's camera mount)")
    args = parser.parse_args(argv)
    print(f"demo: {bag_summary(args.bag).message_count} messages in {args.bag}")
    rclpy.init()
    try:
        summary = run(args.bag, args.out, args.docs, args.model_dir,
                      not args.no_ground_plane)
    finally:
        rclpy.try_shutdown()
    print(format_summary(summary))
    print(f"figures: {args.docs / 'demo_overlay.png'}, {args.docs / 'demo_skeletons.png'}")
