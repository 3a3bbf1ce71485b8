"""loco_node: camera images in, metric 3D people out (a managed lifecycle node).

The constructor only declares parameters; configure reads them and loads the model, activate
opens the backend and subscribes, deactivate unsubscribes and frees the backend (GPU memory).
Inference runs on a worker thread. By default it takes the newest frame only: frames that
arrive while it is busy replace the waiting one and are counted as skipped, so latency never
builds up. ``frame_queue`` > 1 keeps that many frames waiting (a bag replay then keeps every
frame while the worker catches up); when it is full the oldest is skipped and counted.

ground_plane.mode ``auto``: the frame pipeline learns the ground from the people; the node
publishes the estimate (latched ``~/ground_estimate``, when it converges or changes), reports
it in /diagnostics, loads ``ground_plane.calibration_file`` at configure and saves it at
deactivate and shutdown, and resets it on ``~/reset_ground_calibration`` or
``ground_plane.reset:=true``.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, replace

import numpy as np
import rclpy
import torch
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import TransformStamped
from rcl_interfaces.msg import SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, qos_profile_sensor_data, qos_profile_system_default
from rclpy.signals import uninstall_signal_handlers
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from loco_ros.camera.image_input import check_image_layout, image_to_rgb
from loco_ros.camera.lens import camera_info_to_model, describe_input
from loco_ros.config import ModelConfig
from loco_ros.errors import InputError, LocoError
from loco_ros.msg import Pose3DArray
from loco_ros.ros.conversions import people_to_msg
from loco_ros.ros.diagnostics import (
    ACTIVATED_EVENT,
    CALIBRATION_STATE,
    CAMERA_INFO_EVENT,
    GROUND_FILE_ERROR_EVENT,
    GROUND_RESTART_EVENT,
    HealthPolicy,
    build_diagnostics,
)
from loco_ros.ros.ground import TfGroundPlanes
from loco_ros.ros.ground_estimate import (
    GROUND_ESTIMATE_TOPIC,
    LATCHED_QOS,
    create_reset_service,
    estimate_to_transform,
)
from loco_ros.ros.markers import people_to_markers
from loco_ros.ros.param_descriptors import LIVE, RESET_PARAMETER, descriptor, is_live
from loco_ros.ros.params import config_with, declare_config_parameters, flat_defaults, read_config
from loco_ros.runtime.estimator import LocoEstimator
from loco_ros.runtime.frame_pipeline import FramePipeline, FrameResult, PipelineConfig
from loco_ros.runtime.frame_queue import FrameQueue
from loco_ros.runtime.ground_calibration import (
    describe_mount,
    load_calibration,
    save_calibration,
)
from loco_ros.runtime.node_config import NodeConfig, with_decoding
from loco_ros.runtime.stats import RuntimeStats
from loco_ros.stamps import stamp_ns_of, stamp_to_ns
from loco_ros.visualization import draw_people_2d

THROTTLE_S = 5.0
# Ctrl-C: the worker's wait wakes at once; a frame in progress gets this long to finish, so
# the process ends well within the 5 s that ros2 launch gives before SIGTERM.
EXIT_WORKER_TIMEOUT_S = 1.5
OUTPUT_QOS = QoSProfile(depth=10)


@dataclass(frozen=True)
class Frame:
    """An accepted image waiting for the worker."""

    msg: Image
    stamp_ns: int
    received_s: float


def input_qos(name: str, depth: int = 1) -> QoSProfile:
    """QoS of the image and camera_info subscriptions from the input_qos parameter.

    sensor_data: best effort, keep last ``depth`` (1 for images). reliable: keep last 30 at
    least, so that every image sent reaches the callback (which only queues the newest for
    the worker and counts what it skips) even when the executor thread is held up briefly.
    """
    base = {"sensor_data": qos_profile_sensor_data, "system_default": qos_profile_system_default}
    if name == "reliable":
        depth = max(depth, 30)
    profile = base.get(name, QoSProfile(depth=depth))
    return QoSProfile(
        history=profile.history, depth=depth, reliability=profile.reliability,
        durability=profile.durability,
    )


class LocoNode(LifecycleNode):
    """The LoCO pose node; see the module docstring and config/loco.yaml."""

    def __init__(self, **kwargs) -> None:
        super().__init__(
            "loco_node", automatically_declare_parameters_from_overrides=True, **kwargs
        )
        declare_config_parameters(self, NodeConfig, descriptor)
        if self.has_parameter(RESET_PARAMETER):  # auto-declared from an override
            self.undeclare_parameter(RESET_PARAMETER)
        self.declare_parameter(RESET_PARAMETER, False, descriptor(RESET_PARAMETER, False))
        self._config_names = frozenset(flat_defaults(NodeConfig))
        self._model_config: ModelConfig | None = None
        self.add_on_set_parameters_callback(self._check_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)
        self._stats = RuntimeStats()
        self._frames: FrameQueue[Frame] = FrameQueue()
        self._config: NodeConfig | None = None
        self._estimator: LocoEstimator | None = None
        self._pipeline: FramePipeline | None = None
        self._worker: threading.Thread | None = None
        self._running = threading.Event()
        self._last_stamp_ns: int | None = None
        self._subscriptions_in: list = []
        self._diagnostics_timer = None
        self._ground_pub = None
        self._reset_service = None

    # Parameters set at run time ----------------------------------------------------------

    def _check_parameters(self, parameters) -> SetParametersResult:
        """Refuse a value that would make the configuration invalid (named in the reason)."""
        changes = {p.name: p.value for p in parameters if p.name in self._config_names}
        if not changes:
            return SetParametersResult(successful=True)
        try:
            config_with(self, NodeConfig, {})
        except LocoError:
            return SetParametersResult(successful=True)  # already invalid: configure names it
        try:
            config_with(self, NodeConfig, changes)
        except LocoError as err:
            return SetParametersResult(successful=False, reason=str(err))
        return SetParametersResult(successful=True)

    def _apply_parameters(self, parameters) -> None:
        """Safe changes (decoding, tracking, ground plane but its mode and self-calibration,
        outputs, diagnostics) apply to a configured node at once; the others at the next
        configure (logged). ``ground_plane.reset:=true`` resets the self-calibration."""
        if any(p.name == RESET_PARAMETER and p.value is True for p in parameters):
            self._reset_from_parameter()
        names = {p.name for p in parameters if p.name in self._config_names}
        if self._config is None or not names:
            return
        later = sorted(n for n in names if not is_live(n))
        if later:
            self.get_logger().info(f"{', '.join(later)}: take(s) effect at the next configure")
        live = sorted(n for n in names if is_live(n))
        if not live:
            return
        old = self._config
        try:
            new = config_with(self, NodeConfig, {})
            updated = replace(
                old, **{f: getattr(new, f) for f in LIVE},
                tracking=new.tracking,
                ground_plane=replace(new.ground_plane, mode=old.ground_plane.mode,
                                     calibration_file=old.ground_plane.calibration_file,
                                     auto=old.ground_plane.auto))
        except LocoError as err:
            self.get_logger().warn(f"{', '.join(live)} not applied: {err}")
            return
        self._config = updated
        if self._pipeline is not None:
            self._pipeline.tracker.config = updated.tracking
            self._pipeline.ground_config = updated.ground_plane
            if self._pipeline.planes is not None:
                self._pipeline.planes.config = updated.ground_plane  # keeps its TF listener
        if self._estimator is not None and self._model_config is not None:
            self._estimator.config = with_decoding(self._model_config, updated)
        self.get_logger().info(f"applied at once: {', '.join(live)}")

    # Ground self-calibration (mode auto) -------------------------------------------------

    def _reset_from_parameter(self) -> None:
        """``ground_plane.reset:=true``: reset, then the parameter flips back to false."""
        self._reset_ground_calibration("parameter ground_plane.reset")
        self.set_parameters([Parameter(RESET_PARAMETER, value=False)])

    def _reset_ground_calibration(self, by: str) -> tuple[bool, str]:
        """Forget the learnt ground (any thread); (success, message) for the service."""
        calibration = self._pipeline.calibration if self._pipeline is not None else None
        if calibration is None:
            message = "no ground self-calibration to reset (ground_plane.mode is not auto, " \
                      "or the node is not configured)"
            self.get_logger().warn(f"{by}: {message}")
            return False, message
        estimate = calibration.reset(f"requested ({by})")
        message = f"ground calibration reset by {by}: {estimate.summary()}"
        self.get_logger().info(message)
        return True, message

    def _on_calibration(self, result: FrameResult, header: Header) -> None:
        """Publish a new or changed estimate; count and log a restart by misfit (once)."""
        estimate = result.calibration
        if result.calibration_restart:
            self._stats.count(GROUND_RESTART_EVENT)
            self.get_logger().warn(
                f"ground calibration started over: {result.calibration_restart}; people keep "
                "the image-only depth until it converges again")
        if result.calibration_changed and self._ground_pub is not None:
            self._ground_pub.publish(estimate_to_transform(
                estimate, self._config.ground_plane.ground_frame, header.frame_id,
                stamp_to_ns(header.stamp)))
            self._stats.count("ground_estimates_published")
            self.get_logger().info(f"ground plane {estimate.summary()}",
                                   throttle_duration_sec=THROTTLE_S)

    def _load_calibration(self, config: NodeConfig):
        """The saved estimate of ground_plane.calibration_file (None: none, or unreadable:
        logged and counted, the node starts uncalibrated)."""
        path = config.ground_plane.calibration_file
        if config.ground_plane.mode != "auto" or not path:
            return None
        loaded = load_calibration(path)
        if loaded.error:
            self._stats.count(GROUND_FILE_ERROR_EVENT)
            self.get_logger().warn(f"{loaded.error}; learning the ground anew")
        elif loaded.estimate is not None:
            self.get_logger().info(f"ground calibration loaded from {path}: "
                                   f"{loaded.estimate.summary()}")
        return loaded.estimate

    def _save_calibration(self, log=None) -> None:
        """Write the estimate to ground_plane.calibration_file (if set, in mode auto)."""
        log = log or (lambda level, text: getattr(self.get_logger(), level)(text))
        pipeline, config = self._pipeline, self._config
        if pipeline is None or pipeline.calibration is None or config is None:
            return
        path = config.ground_plane.calibration_file
        if not path:
            return
        estimate = pipeline.calibration.estimate
        try:
            save_calibration(estimate, path)
        except LocoError as err:
            self._stats.count(GROUND_FILE_ERROR_EVENT)
            log("error", str(err))
            return
        log("info", f"ground calibration saved to {path}: {estimate.summary()}")

    # Lifecycle transitions -----------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            config = read_config(self, NodeConfig, frozenset({RESET_PARAMETER}))
            estimator = LocoEstimator.from_dir(
                config.model_dir or None, backend=config.backend, device=config.device,
                precision=config.precision, engine_cache_dir=config.engine_cache_dir or None,
                device_index=config.cuda_device, cpu_threads=config.cpu_threads,
            )
            planes = None
            if config.ground_plane.mode == "tf":
                planes = TfGroundPlanes(self, config.ground_plane)
        except LocoError as err:
            self.get_logger().error(f"configure failed: {err}")
            return TransitionCallbackReturn.FAILURE
        self._config, self._estimator = config, estimator
        self._model_config = estimator.config
        estimator.config = with_decoding(self._model_config, config)
        if config.cpu_threads > 0:
            torch.set_num_threads(config.cpu_threads)
        try:
            self._pipeline = FramePipeline(estimator, PipelineConfig.from_node_config(config),
                                           planes, self._load_calibration(config))
        except LocoError as err:  # ground_plane.auto values the estimator refuses
            self.get_logger().error(f"configure failed: {err}")
            self._config = self._estimator = None
            return TransitionCallbackReturn.FAILURE
        self.get_logger().info(f"camera input: {describe_input(config.image_is_rectified)}")
        self._poses_pub = self.create_lifecycle_publisher(
            Pose3DArray, "people/poses3d", OUTPUT_QOS)
        self._markers_pub = self.create_lifecycle_publisher(
            MarkerArray, "people/markers", OUTPUT_QOS)
        self._debug_pub = self.create_lifecycle_publisher(
            Image, "people/debug_image", input_qos(config.input_qos))
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        if self._pipeline.calibration is not None:
            self._ground_pub = self.create_publisher(TransformStamped, GROUND_ESTIMATE_TOPIC,
                                                     LATCHED_QOS)
            self._reset_service = create_reset_service(
                self, lambda: self._reset_ground_calibration("service reset_ground_calibration"))
            if self._reset_service is None:
                self.get_logger().info(
                    "std_srvs is not installed: no ~/reset_ground_calibration service; "
                    "set ground_plane.reset:=true to reset the ground calibration")
        # Steady clock: diagnostics keep coming when sim time stands still (bag paused, ended).
        self._diagnostics_timer = self.create_timer(
            config.diagnostics_period_s, self._publish_diagnostics,
            clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.get_logger().info(f"configured: {estimator.describe()}")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._estimator.open()
        except LocoError as err:
            self.get_logger().error(f"activate failed: {err}")
            return TransitionCallbackReturn.FAILURE
        qos = input_qos(self._config.input_qos)
        # camera_info first: when an image and its CameraInfo are ready together, the
        # executor then takes the CameraInfo first.
        self._subscriptions_in = [
            self.create_subscription(CameraInfo, "camera_info", self._on_camera_info,
                                     input_qos(self._config.input_qos, depth=5)),
            self.create_subscription(Image, "image", self._on_image, qos),
        ]
        self._frames.reopen(self._config.frame_queue)
        self._stats.mark(ACTIVATED_EVENT)  # "no image for N s" counts from here
        self._running.set()
        self._worker = threading.Thread(target=self._work, name="loco_worker", daemon=True)
        self._worker.start()
        self.get_logger().info(f"active: backend {self._estimator.describe()}")
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_worker()
        for subscription in self._subscriptions_in:
            self.destroy_subscription(subscription)
        self._subscriptions_in = []
        self._estimator.close()  # frees GPU memory (after a frame in progress); activate reopens
        self._pipeline.reset()  # the next activation starts new tracks (ids never reused)
        self._save_calibration()
        self._last_stamp_ns = None
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_worker()
        self._save_calibration()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _release(self) -> None:
        for publisher in ("_poses_pub", "_markers_pub", "_debug_pub"):
            if getattr(self, publisher, None) is not None:
                self.destroy_lifecycle_publisher(getattr(self, publisher))
                setattr(self, publisher, None)
        if self._diagnostics_timer is not None:
            self.destroy_timer(self._diagnostics_timer)
            self._diagnostics_timer = None
        for publisher in ("_diagnostics_pub", "_ground_pub"):
            if getattr(self, publisher, None) is not None:
                self.destroy_publisher(getattr(self, publisher))
                setattr(self, publisher, None)
        if self._reset_service is not None:
            self.destroy_service(self._reset_service)
            self._reset_service = None
        if self._estimator is not None:
            self._estimator.close()
        self._estimator = None
        self._pipeline = None  # drops the TF listener's subscriptions
        self._config = None  # parameters set now apply at the next configure

    def _stop_worker(self, timeout_s: float = 30.0) -> bool:
        """Stop the worker: wakes its wait at once, waits for a frame in progress up to
        ``timeout_s``. True when the thread has ended (or none ran)."""
        self._running.clear()
        self._frames.close()
        if self._worker is None:
            return True
        self._worker.join(timeout=timeout_s)
        if self._worker.is_alive():
            return False
        self._worker = None
        return True

    def stop_for_exit(self, timeout_s: float = EXIT_WORKER_TIMEOUT_S) -> bool:
        """The process is ending (Ctrl-C, SIGTERM, context shut down): stop the worker with a
        bounded wait and free the backend. True when the worker thread ended."""
        ended = self._stop_worker(timeout_s)
        if ended and self._estimator is not None:
            self._estimator.close()
        self._save_calibration(lambda level, text: _exit_log(self, level, text))
        frames = self._stats.counters.get("frames_out", 0)
        if ended:
            _exit_log(self, "info", f"shutdown: worker thread ended ({frames} frame(s) out)")
        else:
            _exit_log(self, "warn", f"shutdown: worker still busy after {timeout_s:g} s")
        return ended

    # Callbacks on the executor thread: cheap checks only -----------------------------------

    def _reject(self, err: InputError) -> None:
        self._stats.count(f"rejected_{err.reason}")
        self.get_logger().warn(f"frame rejected ({err.reason}): {err}",
                               throttle_duration_sec=THROTTLE_S)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._stats.count(CAMERA_INFO_EVENT)
        try:
            self._pipeline.cameras.update_model(camera_info_to_model(msg), stamp_ns_of(msg))
        except InputError as err:
            self._stats.count("rejected_camera_info")
            self.get_logger().warn(f"CameraInfo ignored: {err}", throttle_duration_sec=THROTTLE_S)

    def _on_image(self, msg: Image) -> None:
        self._stats.count("frames_in")
        now_ns = stamp_ns_of(msg)
        if self._last_stamp_ns is not None and now_ns < self._last_stamp_ns:
            self._stats.count("time_jumps_back")
            self.get_logger().info("image time jumped backwards (bag loop?): tracks reset")
        self._last_stamp_ns = now_ns
        try:
            check_image_layout(msg.height, msg.width, msg.encoding, msg.step, len(msg.data),
                               self._config.max_image_pixels)
        except InputError as err:
            self._reject(err)
            return
        if self._frames.put(Frame(msg, now_ns, time.monotonic())):
            self._stats.count("frames_skipped")

    # Worker thread ---------------------------------------------------------------------------

    def _work(self) -> None:
        # OpenMP's thread count is per thread: a new thread starts at one per core whatever
        # torch.set_num_threads said in the main one (the refiner then sums in another order
        # than `loco_bag process`, and contends with onnxruntime).
        torch.set_num_threads(torch.get_num_threads())
        while self._running.is_set() and self.context.ok():
            frame = self._frames.take(timeout_s=0.1)
            if frame is None:
                continue
            try:
                self._process(frame)
            except InputError as err:
                self._reject(err)
            except Exception as err:  # noqa: BLE001 - the node must outlive any one bad frame
                if not (self._running.is_set() and self.context.ok()):
                    break  # shutting down under this frame (publishers gone): not a fault
                self._stats.count("errors_internal")
                self.get_logger().error(f"frame failed: {err!r}", throttle_duration_sec=THROTTLE_S)

    def _process(self, frame: Frame) -> None:
        msg, config = frame.msg, self._config
        # Intrinsics are looked up here, not on arrival, so a CameraInfo that came just after
        # its image still applies.
        camera = self._pipeline.camera_for(msg.width, msg.height, frame.stamp_ns)
        t0 = time.perf_counter()
        rgb = image_to_rgb(msg.height, msg.width, msg.encoding, msg.step,
                           bool(msg.is_bigendian), bytes(msg.data), config.max_image_pixels)
        self._stats.record_latency("decode_image", time.perf_counter() - t0)
        result = self._pipeline.process(rgb, frame.stamp_ns, msg.header.frame_id, camera=camera)
        if result.peaks_dropped:  # a full GPU peak buffer dropped some (WARN in diagnostics)
            self._stats.count("peaks_dropped", result.peaks_dropped)
        if result.calibration is not None:
            self._on_calibration(result, msg.header)
        if result.ground_error is not None:  # people keep the network's depth
            self._stats.count("ground_plane_unavailable")
            self.get_logger().warn(
                f"ground plane unavailable, depth from the image only: {result.ground_error}",
                throttle_duration_sec=THROTTLE_S)
        people = result.people
        # Counted before publishing: whoever receives this output sees it in /diagnostics.
        self._stats.count("frames_out")
        self._stats.count("people_out", len(people))
        t1 = time.perf_counter()
        self._poses_pub.publish(people_to_msg(people, msg.header))
        if config.publish_markers:
            self._markers_pub.publish(
                people_to_markers(people, msg.header, config.marker_lifetime_s))
        if config.debug_image and self._debug_pub.get_subscription_count() > 0:
            self._debug_pub.publish(self._debug_image(rgb, people, msg.header))
        for stage, seconds in result.timings_s.items():
            if stage != "total":
                self._stats.record_latency(stage, seconds)
        self._stats.record_latency("publish", time.perf_counter() - t1)
        self._stats.record_latency("in_node", time.monotonic() - frame.received_s)
        now_ns = self.get_clock().now().nanoseconds
        self._stats.record_latency("end_to_end", (now_ns - frame.stamp_ns) * 1e-9)

    @staticmethod
    def _debug_image(rgb: np.ndarray, people, header: Header) -> Image:
        canvas = draw_people_2d(rgb, people)
        height, width = canvas.shape[:2]
        return Image(header=header, height=height, width=width, encoding="rgb8",
                     is_bigendian=0, step=width * 3, data=canvas.tobytes())

    def _calibration_facts(self) -> dict[str, object]:
        """Diagnostics values of the ground self-calibration (mode auto; else none)."""
        calibration = self._pipeline.calibration if self._pipeline is not None else None
        if calibration is None:
            return {}
        estimate = calibration.estimate
        return {CALIBRATION_STATE: "converged" if estimate.converged else "calibrating",
                "ground_calibration": estimate.summary(),
                **describe_mount(estimate),
                "ground_calibration_people": estimate.people,
                "ground_calibration_observations": estimate.observations,
                "ground_calibration_resets": estimate.resets,
                "ground_calibration_resets_requested": calibration.requested_resets,
                "ground_calibration_last_reset": estimate.reset_reason or "none",
                "ground_calibration_file": self._config.ground_plane.calibration_file or "none"}

    def _publish_diagnostics(self) -> None:
        facts = {
            "lifecycle_state": "active" if self._running.is_set() else "inactive",
            "backend": self._estimator.describe() if self._estimator else "none",
            "camera_info_ok": bool(
                self._pipeline and (self._pipeline.cameras.has_camera_info
                                    or self._config.has_fallback_intrinsics)),
            "camera_info_mode": self._config.camera_info_mode,
            "ground_plane": self._config.ground_plane.mode,
            **self._calibration_facts(),
        }
        header = Header(stamp=self.get_clock().now().to_msg())
        self._diagnostics_pub.publish(build_diagnostics(
            f"{self.get_fully_qualified_name()}: pose estimation", "loco_ros", self._stats,
            facts, header,
            HealthPolicy(self._config.diagnostics_window_s, self._config.stale_input_s)))


def main(args: list[str] | None = None) -> None:
    """Entry point: start the node and, with autostart, configure and activate it."""
    # The node process is ours: torch's small CPU ops (refiner, peaks) run fastest on one
    # thread; its thread pool only contends with onnxruntime's and the executor's.
    torch.set_num_threads(1)
    rclpy.init(args=args)
    node = LocoNode()
    if node.get_parameter("autostart").value:
        if node.trigger_configure() == TransitionCallbackReturn.SUCCESS:
            node.trigger_activate()
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    worker_ended = True
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:  # noqa: BLE001 - Ctrl-C can shut the context down inside spin()
        if not _shutting_down(node.context):  # (RCLError "context is not valid" from the
            raise  # wait set, or a failed take while rclpy's signal thread shuts it down)
    finally:
        # ros2 launch sends its own SIGINT after the terminal's Ctrl-C: a second interrupt
        # must not abort the clean-up half-way (KeyboardInterrupt in a join, then abort()).
        _ignore_further_interrupts()
        worker_ended = node.stop_for_exit()
        node.destroy_node()
        rclpy.try_shutdown()
    if not worker_ended:
        # A frame still running in native code (the network) must not race the
        # interpreter's teardown: DDS is already shut down cleanly, leave now.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _shutting_down(context, grace_s: float = 1.0) -> bool:
    """Whether ``context`` is shut down or goes down within ``grace_s``: rclpy's signal
    handler shuts it down from its own thread, so an error that Ctrl-C caused inside spin()
    can surface a moment before the context reads as shut down."""
    deadline = time.monotonic() + grace_s
    while context.ok():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def _ignore_further_interrupts() -> None:
    """Drop rclpy's SIGINT/SIGTERM handlers and ignore SIGINT for the rest of the exit."""
    try:
        uninstall_signal_handlers()
    except Exception:  # noqa: BLE001 - not installed (rclpy inited elsewhere): nothing to undo
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _exit_log(node: LocoNode, level: str, message: str) -> None:
    """Log while exiting: through rclpy while its context lives, else to stderr (the
    rosout publisher is gone once Ctrl-C has shut the context down)."""
    if node.context.ok():
        getattr(node.get_logger(), level)(message)
    else:
        print(f"[{level.upper()}] [{node.get_name()}]: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
