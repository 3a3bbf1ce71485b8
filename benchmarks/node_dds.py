"""loco_node fed full-HD images at 30 Hz through DDS: end-to-end latency and skipped frames.

    source tools/env.sh && python benchmarks/node_dds.py [--seconds 20] [--rate 30]
        [--width 1920 --height 1080] [--model-dir DIR]

The node runs as its own process (installed loco_node, shared-memory DDS from tools/env.sh).
Images are stamped with the wall clock at publication; latency is the time from that stamp
to the arrival of the Pose3DArray in this process (so it includes both DDS hops).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from loco_ros.msg import Pose3DArray
from loco_ros.stamps import stamp_to_s
from loco_ros.synthetic.render import render_scene
from loco_ros.synthetic.scene import SceneConfig, sample_scene


def installed(name: str) -> str:
    from ament_index_python.packages import get_package_prefix

    return str(Path(get_package_prefix("loco_ros")) / "lib" / "loco_ros" / name)


def test_image(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """A rendered crowd (H, W, 3) uint8 and its K."""
    config = SceneConfig(image_width=width, image_height=height,
                         focal_px=400.0 * width / 512, people=(10, 10), focal_jitter=0.0)
    rng = np.random.default_rng(0)
    scene = sample_scene(rng, config)
    return render_scene(scene, rng), scene.K


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--model-dir", default="")
    args = parser.parse_args()
    image, K = test_image(args.width, args.height)
    model = ["-p", f"model_dir:={args.model_dir}"] if args.model_dir else []
    node_process = subprocess.Popen([sys.executable, installed("loco_node"), "--ros-args",
                                     *model],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    rclpy.init()
    node = rclpy.create_node("loco_node_benchmark")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    image_pub = node.create_publisher(Image, "image", qos_profile_sensor_data)
    info_pub = node.create_publisher(CameraInfo, "camera_info", qos_profile_sensor_data)
    latencies_s: list[float] = []
    diagnostics: dict[str, str] = {}

    def on_pose(msg: Pose3DArray) -> None:
        latencies_s.append(time.time() - stamp_to_s(msg.header.stamp))

    def on_diagnostics(msg: DiagnosticArray) -> None:
        for status in msg.status:
            if "loco_node" in status.name:
                diagnostics.update({kv.key: kv.value for kv in status.values})

    node.create_subscription(Pose3DArray, "/people/poses3d", on_pose, QoSProfile(depth=100))
    node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 10)
    deadline = time.monotonic() + 120
    while image_pub.get_subscription_count() == 0 and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.1)
    msg = Image(height=args.height, width=args.width, encoding="rgb8", step=args.width * 3,
                data=image.tobytes())
    info = CameraInfo(width=args.width, height=args.height, k=K.reshape(-1).tolist())
    sent, start = 0, time.monotonic()
    while time.monotonic() - start < args.seconds:
        stamp = node.get_clock().now().to_msg()
        msg.header.stamp = info.header.stamp = stamp
        info_pub.publish(info)
        image_pub.publish(msg)
        sent += 1
        next_time = start + sent / args.rate
        while time.monotonic() < next_time:
            executor.spin_once(timeout_sec=max(0.0, next_time - time.monotonic()))
    end = time.monotonic() + 3.0
    while time.monotonic() < end:
        executor.spin_once(timeout_sec=0.1)
    node_process.send_signal(signal.SIGINT)
    node_process.wait(timeout=30)
    lat_ms = 1e3 * np.asarray(latencies_s)
    print(f"{args.width}x{args.height} rgb8 at {args.rate:g} Hz for {args.seconds:g} s: "
          f"sent {sent}, node received {diagnostics.get('frames_in', '?')}, "
          f"published {len(lat_ms)}, skipped while busy {diagnostics.get('frames_skipped', 0)}")
    if len(lat_ms):
        p50, p95 = np.percentile(lat_ms, [50, 95])
        print(f"end-to-end latency (publish -> Pose3DArray received): p50 {p50:.1f} ms, "
              f"p95 {p95:.1f} ms, max {lat_ms.max():.1f} ms")
    print(f"backend: {diagnostics.get('backend', '?')}")
    node.destroy_node()
    rclpy.try_shutdown()


if __name__ == "__main__":
    main()
