"""Drive a loco_node process from the test process over real DDS."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile
from sensor_msgs.msg import CameraInfo, Image
from visualization_msgs.msg import MarkerArray

from loco_ros.msg import Pose3DArray
from loco_ros.skeleton import NUM_JOINTS
from loco_ros.stamps import ns_to_sec_nanosec, stamp_ns_of

RELIABLE = QoSProfile(depth=50)


def installed_executable(name: str) -> Path:
    """lib/loco_ros/<name> of the colcon install, as `ros2 run loco_ros <name>` finds it."""
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(":"):
        path = Path(prefix) / "lib" / "loco_ros" / name
        if path.is_file():
            return path
    raise FileNotFoundError(f"{name} is not installed; run `make test` (colcon build) first")


def node_command(model_dir: Path, *params: str) -> list[str]:
    """Command line of a loco_node process reading /cam/image and /cam/camera_info."""
    args = [sys.executable, str(installed_executable("loco_node")), "--ros-args",
            "-p", f"model_dir:={model_dir}", "-p", "device:=cpu", "-p", "input_qos:=reliable",
            "-r", "image:=/cam/image", "-r", "camera_info:=/cam/camera_info"]
    for param in params:
        args += ["-p", param]
    return args


def rgb_image(width: int = 320, height: int = 180, seed: int = 0) -> np.ndarray:
    """A deterministic (H, W, 3) uint8 test image."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def intrinsics(fx: float = 300.0, fy: float | None = None, cx: float = 160.0,
               cy: float = 90.0) -> np.ndarray:
    return np.array([[fx, 0, cx], [0, fx if fy is None else fy, cy], [0, 0, 1]], np.float64)


class NodeHarness:
    """Publishes images/CameraInfo, collects poses, markers and diagnostics."""

    def __init__(self, context) -> None:
        self.node = rclpy.create_node("loco_test_harness", context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.image_pub = self.node.create_publisher(Image, "/cam/image", RELIABLE)
        self.info_pub = self.node.create_publisher(CameraInfo, "/cam/camera_info", RELIABLE)
        self.poses: list[Pose3DArray] = []
        self.markers: list[MarkerArray] = []
        self.diagnostics: list[DiagnosticArray] = []
        self.node.create_subscription(Pose3DArray, "/people/poses3d", self.poses.append,
                                      RELIABLE)
        self.node.create_subscription(MarkerArray, "/people/markers", self.markers.append,
                                      RELIABLE)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.diagnostics.append,
                                      RELIABLE)

    def spin_until(self, condition, timeout_s: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                return True
            self.executor.spin_once(timeout_sec=0.05)
        return condition()

    def call_idempotent(self, client, request, timeout_s: float = 60.0, retry_s: float = 5.0):
        """The response of a service call that may be repeated without effect (get_state,
        get_parameters), sent again every ``retry_s``: a request sent while the server's
        reply path is still being matched over DDS can go unanswered. None after
        ``timeout_s``."""
        assert self.spin_until(lambda: client.service_is_ready(), timeout_s), client.srv_name
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            future = client.call_async(request)
            if self.spin_until(future.done, min(retry_s, deadline - time.monotonic())):
                return future.result()
        return None

    def wait_for_node(self, process: subprocess.Popen, timeout_s: float = 90.0) -> None:
        """Until the node subscribes to image and camera_info (it is then active)."""

        def ready() -> bool:
            matched = min(self.image_pub.get_subscription_count(),
                          self.info_pub.get_subscription_count())
            return matched > 0 or process.poll() is not None

        ok = self.spin_until(ready, timeout_s)
        assert ok and process.poll() is None, "loco_node did not become active"

    def send_camera_info(self, K: np.ndarray, width: int, height: int, stamp_ns: int,
                         frame_id: str = "cam_optical") -> None:
        msg = CameraInfo(width=width, height=height, k=[float(v) for v in K.reshape(-1)])
        msg.header.frame_id = frame_id
        msg.header.stamp.sec, msg.header.stamp.nanosec = ns_to_sec_nanosec(stamp_ns)
        self.info_pub.publish(msg)

    def send_image(self, rgb: np.ndarray, stamp_ns: int, frame_id: str = "cam_optical",
                   encoding: str = "rgb8", data: bytes | None = None,
                   size: tuple[int, int] | None = None, step: int | None = None) -> None:
        height, width = size if size else rgb.shape[:2]
        msg = Image(height=height, width=width, encoding=encoding,
                    step=step if step is not None else width * 3,
                    data=rgb.tobytes() if data is None else data)
        msg.header.frame_id = frame_id
        msg.header.stamp.sec, msg.header.stamp.nanosec = ns_to_sec_nanosec(stamp_ns)
        self.image_pub.publish(msg)

    def send_frame(self, image: np.ndarray, K: np.ndarray, stamp_ns: int,
                   timeout_s: float = 60.0, retry_s: float = 5.0) -> Pose3DArray | None:
        """CameraInfo then the image, sent again every ``retry_s`` until the pose of stamp_ns
        comes out (or None after ``timeout_s``). The node's executor may take an image before
        the CameraInfo sent just ahead of it, and then rejects it (no_camera_info)."""
        height, width = image.shape[:2]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.send_camera_info(K, width, height, stamp_ns)
            self.send_image(image, stamp_ns)
            msg = self.pose_with_stamp(stamp_ns, min(retry_s, deadline - time.monotonic()))
            if msg is not None:
                return msg
        return None

    def pose_with_stamp(self, stamp_ns: int, timeout_s: float = 30.0) -> Pose3DArray | None:
        """The Pose3DArray whose header stamp equals stamp_ns, waiting for it."""

        def find():
            for msg in self.poses:
                if stamp_ns_of(msg) == stamp_ns:
                    return msg
            return None

        self.spin_until(lambda: find() is not None, timeout_s)
        return find()

    def latest_diagnostics(self, timeout_s: float = 10.0) -> dict[str, str]:
        """Key/values of the newest loco_node diagnostics status after a fresh one arrives."""
        count = len(self.diagnostics)
        self.spin_until(lambda: len(self.diagnostics) > count, timeout_s)
        for array in reversed(self.diagnostics):
            for status in array.status:
                if "loco_node" in status.name:
                    return {kv.key: kv.value for kv in status.values}
        return {}

    def close(self) -> None:
        self.node.destroy_node()


def call_service(harness: NodeHarness, service_type, name: str, request):
    """The response of one call of service ``name`` (waits for the service)."""
    client = harness.node.create_client(service_type, name)
    assert harness.spin_until(lambda: client.service_is_ready(), 60.0), name
    future = client.call_async(request)
    assert harness.spin_until(future.done, 60.0), name
    return future.result()


def set_parameter(harness: NodeHarness, name: str, value) -> object:
    """The SetParametersResult of setting one loco_node parameter."""
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter

    request = SetParameters.Request(parameters=[Parameter(name, value=value).to_parameter_msg()])
    return call_service(harness, SetParameters, "/loco_node/set_parameters", request).results[0]


def get_parameter(harness: NodeHarness, name: str) -> object:
    """The current value of one loco_node parameter."""
    from rcl_interfaces.srv import GetParameters
    from rclpy.parameter import parameter_value_to_python

    response = call_service(harness, GetParameters, "/loco_node/get_parameters",
                            GetParameters.Request(names=[name]))
    return parameter_value_to_python(response.values[0])


def change_state(harness: NodeHarness, transition_id: int) -> bool:
    """Trigger a lifecycle transition of loco_node; True when it succeeded."""
    from lifecycle_msgs.srv import ChangeState

    request = ChangeState.Request()
    request.transition.id = transition_id
    return call_service(harness, ChangeState, "/loco_node/change_state", request).success


def joints_of(msg: Pose3DArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(P, J, 3) positions, (P, J, 2) pixels and (P, J) detected flags of a Pose3DArray."""
    xyz = np.array([[[j.position.x, j.position.y, j.position.z] for j in p.joints]
                    for p in msg.people]).reshape(-1, NUM_JOINTS, 3)
    uv = np.array([[[j.u_px, j.v_px] for j in p.joints] for p in msg.people]).reshape(
        -1, NUM_JOINTS, 2)
    detected = np.array([[j.detected for j in p.joints] for p in msg.people],
                        bool).reshape(-1, NUM_JOINTS)
    return xyz, uv, detected
