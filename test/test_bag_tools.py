"""loco_bag play / record / process / info: real processes on this test's private DDS domain.

A small bag (20 frames at 20 Hz: Image, CameraInfo and ground-truth Pose3DArray, bag time =
header stamp) is played by one process and recorded by another; the recorded payloads must be
byte-identical and in order, up to the zero bytes that DDS appends to pad a serialized
payload to a multiple of 4 bytes (ros2 bag record stores the same padded bytes; they
deserialize to the same message). Waits are on matches and process exits, never fixed sleeps.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from conftest import make_people, spin_until
from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from loco_ros.bags.messages import (
    camera_info_msg,
    pose_array_msg,
    pose_array_to_people,
    rgb_image_msg,
)
from loco_ros.bags.offline import OfflineOptions, camera_info_first, process_bag
from loco_ros.bags.playback import PlaybackClock, PlayOptions, parse_pairs
from loco_ros.bags.reading import header_stamp_ns
from loco_ros.bags.typestore import CAMERA_INFO, IMAGE, POSE3D_ARRAY, loco_typestore
from loco_ros.stamps import stamp_ns_of, stamp_to_ns

FRAMES = 20
PERIOD_NS = 50_000_000  # 20 Hz
T0_NS = 1_700_000_000_000_000_000
IMAGE_TOPIC, INFO_TOPIC, GT_TOPIC = "/camera/image", "/camera/camera_info", "/people/poses3d_gt"
TOPIC_TYPES = {IMAGE_TOPIC: IMAGE, INFO_TOPIC: CAMERA_INFO, GT_TOPIC: POSE3D_ARRAY}
ALL_TOPICS = tuple(TOPIC_TYPES)
K = np.array([[60.0, 0, 32.0], [0, 62.0, 24.0], [0, 0, 1]])
PROCESS_TIMEOUT_S = 40.0

pytestmark = pytest.mark.ros


def _loco_bag() -> str:
    """The installed loco_bag script (run with sys.executable by start_process)."""
    for prefix in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep):
        path = Path(prefix) / "lib" / "loco_ros" / "loco_bag"
        if path.is_file():
            return str(path)
    raise AssertionError("loco_bag is not installed: run tools/setup_env.sh")


def _image(i: int) -> np.ndarray:
    return np.full((48, 64, 3), i * 10, np.uint8)


def write_bag(path: Path, storage: StoragePlugin, frames: int = FRAMES) -> None:
    """frames x (Image, CameraInfo, Pose3DArray) at 20 Hz; bag time = header stamp."""
    store = loco_typestore()
    with Writer(path, version=9, storage_plugin=storage) as writer:
        connections = {topic: writer.add_connection(topic, msgtype, typestore=store)
                       for topic, msgtype in TOPIC_TYPES.items()}
        for i in range(frames):
            stamp = T0_NS + i * PERIOD_NS
            messages = (
                (IMAGE_TOPIC, rgb_image_msg(_image(i), stamp, "cam"), IMAGE),
                (INFO_TOPIC, camera_info_msg(K, 64, 48, stamp, "cam"), CAMERA_INFO),
                (GT_TOPIC, pose_array_msg(make_people(i % 4, i), stamp, "cam"), POSE3D_ARRAY),
            )
            for topic, msg, msgtype in messages:
                writer.write(connections[topic], stamp, store.serialize_cdr(msg, msgtype))


@dataclass
class BagContent:
    """One bag read back: per topic, its type and the (bag time, raw bytes) in order."""

    msgtypes: dict[str, str]
    messages: dict[str, list[tuple[int, bytes]]]

    def raw(self, topic: str) -> list[bytes]:
        return [raw for _, raw in self.messages.get(topic, [])]

    def sent(self, topic: str) -> list[bytes]:
        """The payloads as a DDS subscriber receives them: zero-padded to a multiple of 4."""
        return [raw + bytes(-len(raw) % 4) for raw in self.raw(topic)]

    def times(self, topic: str | None = None) -> list[int]:
        topics = [topic] if topic else list(self.messages)
        return sorted(t for name in topics for t, _ in self.messages[name])


def read_bag(path: Path) -> BagContent:
    content = BagContent({}, {})
    with Reader(path) as reader:
        for connection in reader.connections:
            content.msgtypes[connection.topic] = connection.msgtype
            assert connection.msgdef.data, f"no message definition for {connection.topic}"
        for connection, stamp, raw in reader.messages():
            content.messages.setdefault(connection.topic, []).append((stamp, bytes(raw)))
    return content


@pytest.fixture(scope="module")
def bags(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bags")
    paths = {"mcap": root / "in_mcap", "sqlite3": root / "in_sqlite3"}
    write_bag(paths["mcap"], StoragePlugin.MCAP)
    write_bag(paths["sqlite3"], StoragePlugin.SQLITE3)
    return paths


@pytest.fixture(scope="module")
def source(bags) -> BagContent:
    return read_bag(bags["mcap"])


def finish(proc: subprocess.Popen, timeout_s: float = PROCESS_TIMEOUT_S) -> str:
    """Wait for a process to exit with 0 and return its output."""
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=10)
        raise AssertionError(f"{proc.args} did not finish in {timeout_s} s:\n{out}") from None
    assert proc.returncode == 0, f"{proc.args} exited with {proc.returncode}:\n{out}"
    return out


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """loco_bag run to completion (for commands that need no partner process)."""
    return subprocess.run([sys.executable, _loco_bag(), *args], env=env, capture_output=True,
                          text=True, timeout=60)


def record(start_process, out: Path, *args: str) -> subprocess.Popen:
    return start_process(_loco_bag(), "record", str(out), *args)


def play(start_process, bag: Path, *args: str) -> subprocess.Popen:
    return start_process(_loco_bag(), "play", str(bag), "--no-progress",
                         "--wait-for-subscribers", "1", *args)


# Live graph: player and recorder processes ------------------------------------------------


def test_play_record_round_trip_at_rate_2(start_process, bags, source, tmp_path) -> None:
    out = tmp_path / "rec"
    recorder = record(start_process, out, "--topics", *ALL_TOPICS,
                      "--max-messages", str(3 * FRAMES))
    player = play(start_process, bags["mcap"], "--rate", "2")
    finish(recorder)
    assert "played 60 messages" in finish(player)
    got = read_bag(out)
    store = loco_typestore()
    for topic in ALL_TOPICS:
        assert got.msgtypes[topic] == source.msgtypes[topic]
        assert got.raw(topic) == source.sent(topic), f"{topic} payloads differ"
        stamps = [stamp_ns_of(store.deserialize_cdr(raw, got.msgtypes[topic]))
                  for raw in got.raw(topic)]
        assert stamps == source.times(topic)
    # Paced, not dumped: the player waits for each message's time (bag time / rate), so the
    # recorded span cannot be much shorter than the bag's at rate 2. Load only lengthens it,
    # so there is no upper bound here (speed belongs in benchmarks).
    expected_s = (FRAMES - 1) * PERIOD_NS / 2 * 1e-9
    times = got.times()  # per-topic order is checked above (payloads and stamps)
    span_s = (times[-1] - times[0]) * 1e-9
    assert span_s >= 0.5 * expected_s, (span_s, expected_s)


def test_clock_topic_selection_and_remap(start_process, bags, source, rclpy_context) -> None:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import CameraInfo

    node = rclpy.create_node("clock_listener", context=rclpy_context)
    executor = SingleThreadedExecutor(context=rclpy_context)
    executor.add_node(node)
    infos: list[bytes] = []
    clocks: list[int] = []
    node.create_subscription(CameraInfo, "/cam2/info", infos.append, 10, raw=True)
    node.create_subscription(
        Clock, "/clock", lambda m: clocks.append(stamp_to_ns(m.clock)),
        QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT))
    player = play(start_process, bags["mcap"], "--topics", INFO_TOPIC,
                  "--remap", f"{INFO_TOPIC}:=/cam2/info", "--clock", "50")
    try:
        assert spin_until(executor, lambda: len(infos) >= 1, PROCESS_TIMEOUT_S)
        assert node.count_publishers("/cam2/info") == 1
        assert node.count_publishers(IMAGE_TOPIC) == node.count_publishers(INFO_TOPIC) == 0
        assert spin_until(executor, lambda: len(infos) == FRAMES and player.poll() is not None)
        executor.spin_once(timeout_sec=0.1)
    finally:
        executor.shutdown()
        node.destroy_node()
    finish(player)
    assert infos == source.sent(INFO_TOPIC)
    assert len(clocks) >= 5, clocks
    assert clocks == sorted(clocks)
    end = T0_NS + (FRAMES - 1) * PERIOD_NS
    assert T0_NS <= clocks[0] and clocks[-1] <= end + 200_000_000, (clocks[0], clocks[-1])


def test_loop_plays_twice(start_process, bags, source, tmp_path) -> None:
    out = tmp_path / "rec"
    recorder = record(start_process, out, "--topics", GT_TOPIC,
                      "--max-messages", str(2 * FRAMES))
    player = play(start_process, bags["mcap"], "--loop", "--rate", "4", "--topics", GT_TOPIC)
    finish(recorder)
    player.send_signal(signal.SIGINT)
    assert "loop(s)" in finish(player, 15.0)
    assert read_bag(out).raw(GT_TOPIC) == source.sent(GT_TOPIC) * 2


def test_start_offset_skips_the_first_messages(start_process, bags, source, tmp_path) -> None:
    out = tmp_path / "rec"
    recorder = record(start_process, out, "--topics", GT_TOPIC, IMAGE_TOPIC,
                      "--max-messages", str(FRAMES))
    player = play(start_process, bags["sqlite3"], "--start", "0.475",
                  "--topics", GT_TOPIC, IMAGE_TOPIC)
    finish(recorder)
    finish(player)
    got = read_bag(out)
    for topic in (GT_TOPIC, IMAGE_TOPIC):
        assert got.raw(topic) == source.sent(topic)[FRAMES // 2:]


def test_recorder_stops_cleanly_on_sigint(start_process, bags, source, tmp_path) -> None:
    out = tmp_path / "rec"
    recorder = record(start_process, out, "--topics", GT_TOPIC, IMAGE_TOPIC,
                      "--storage", "sqlite3", "--use-header-stamp")
    finish(play(start_process, bags["sqlite3"], "--rate", "4", "--topics", GT_TOPIC,
                IMAGE_TOPIC))
    recorder.send_signal(signal.SIGINT)
    assert "recorded" in finish(recorder, 15.0)
    assert (out / "metadata.yaml").is_file() and list(out.glob("*.db3"))
    got = read_bag(out)
    for topic in (GT_TOPIC, IMAGE_TOPIC):
        assert got.raw(topic) == source.sent(topic)
        assert [t for t, _ in got.messages[topic]] == source.times(topic)  # header stamps


# Command-line errors and info (no DDS) ----------------------------------------------------


def test_info_lists_topics_types_counts_and_duration(bags) -> None:
    result = run_cli("info", str(bags["sqlite3"]))
    assert result.returncode == 0, result.stderr
    assert "Duration:   0.950 s" in result.stdout
    assert "Storage:    sqlite3" in result.stdout
    for topic, msgtype in TOPIC_TYPES.items():
        assert any(topic in line and msgtype in line and f"count: {FRAMES}" in line
                   for line in result.stdout.splitlines()), result.stdout


def test_missing_or_corrupt_bag_exits_2_with_one_line(tmp_path) -> None:
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "metadata.yaml").write_text("rosbag2_bagfile_information: {version: 9\n")
    junk = tmp_path / "junk.mcap"
    junk.write_bytes(b"\x00not an mcap file" * 10)
    for args in (["info", str(tmp_path / "missing")], ["info", str(corrupt)],
                 ["info", str(junk)], ["process", str(tmp_path / "missing"),
                                       str(tmp_path / "out")]):
        result = run_cli(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "error" in lines[0], (args, result.stderr)


def test_play_of_missing_bag_exits_2(ros_env, tmp_path) -> None:
    result = run_cli("play", str(tmp_path / "missing"), env=ros_env)
    assert result.returncode == 2
    assert result.stderr.strip() == f"loco_bag play: error: bag not found: {tmp_path}/missing"


# Offline processing (no DDS) -------------------------------------------------------------


@pytest.fixture(scope="module")
def estimator(random_model_dir):
    """The real pipeline with the untrained test model (it finds ~20 people per image)."""
    from loco_ros.runtime.estimator import LocoEstimator

    estimator = LocoEstimator.from_dir(random_model_dir, device="cpu")
    estimator.open()
    yield estimator
    estimator.close()


def _frame_K(i: int) -> np.ndarray:
    """Intrinsics of frame i of the offline bag: the focal length grows with i."""
    return np.diag([1.0 + i, 1.0 + i, 1.0]) @ K


def write_offline_bag(path: Path) -> None:
    """Frames 0..7: no CameraInfo for frame 0; image written before its CameraInfo;
    frame 3 has an unsupported encoding, frame 5 a truncated payload."""
    store = loco_typestore()
    with Writer(path, version=9, storage_plugin=StoragePlugin.SQLITE3) as writer:
        conns = {topic: writer.add_connection(topic, msgtype, typestore=store)
                 for topic, msgtype in TOPIC_TYPES.items()}
        for i in range(8):
            stamp = T0_NS + i * PERIOD_NS
            image = rgb_image_msg(_image(i), stamp, "cam")
            if i == 3:
                image.encoding = "weird8"
            raw = store.serialize_cdr(image, IMAGE)
            writer.write(conns[IMAGE_TOPIC], stamp, raw[:40] if i == 5 else raw)
            if i > 0:
                writer.write(conns[INFO_TOPIC], stamp, store.serialize_cdr(
                    camera_info_msg(_frame_K(i), 64, 48, stamp, "cam"), CAMERA_INFO))
            gt = pose_array_msg(make_people(1, i), stamp, "cam")
            writer.write(conns[GT_TOPIC], stamp, store.serialize_cdr(gt, POSE3D_ARRAY))


def test_offline_processing_counts_bad_frames_and_copies_ground_truth(tmp_path,
                                                                     estimator) -> None:
    from loco_ros.runtime.frame_pipeline import FramePipeline, PipelineConfig
    from loco_ros.runtime.tracking import PersonTracker, TrackingConfig

    write_offline_bag(tmp_path / "in")
    options = OfflineOptions(copy_topics=(GT_TOPIC,), progress=False)
    pipeline = FramePipeline(estimator, PipelineConfig(tracking=TrackingConfig(min_hits=1)))
    report = process_bag(tmp_path / "in", tmp_path / "out", pipeline, options)
    assert (report.frames_in, report.frames_out, report.copied) == (8, 5, 8)
    assert dict(report.rejected) == {"no_camera_info": 1, "encoding": 1, "corrupt_message": 1}
    assert set(report.mean_timings_s()) >= {"network", "peaks", "association", "ground_plane",
                                            "tracking", "total"}
    source, got = read_bag(tmp_path / "in"), read_bag(tmp_path / "out")
    assert got.raw(GT_TOPIC) == source.raw(GT_TOPIC)
    assert got.msgtypes["/people/poses3d"] == POSE3D_ARRAY
    good = [1, 2, 4, 6, 7]
    store = loco_typestore()
    outputs = got.messages["/people/poses3d"]
    assert [t for t, _ in outputs] == [T0_NS + i * PERIOD_NS for i in good]
    replay = PersonTracker(TrackingConfig(min_hits=1))
    for (stamp, raw), i in zip(outputs, good, strict=True):
        msg = store.deserialize_cdr(raw, POSE3D_ARRAY)
        assert (stamp_ns_of(msg), msg.header.frame_id) == (stamp, "cam")
        # each image used the CameraInfo of its own frame, although written after the image
        expected = estimator.estimate(_image(i), _frame_K(i)).people
        expected = replay.update(expected, stamp * 1e-9)
        assert len(expected) > 0
        got_people = pose_array_to_people(msg)
        np.testing.assert_allclose(got_people.xyz_m, expected.xyz_m, rtol=1e-5, atol=1e-5)
        assert got_people.track_id == expected.track_id


def test_offline_output_must_not_exist(tmp_path, bags, estimator) -> None:
    from loco_ros.bags.reading import BagError
    from loco_ros.runtime.frame_pipeline import FramePipeline

    (tmp_path / "out").mkdir()
    with pytest.raises(BagError, match="exists"):
        process_bag(bags["mcap"], tmp_path / "out", FramePipeline(estimator),
                    OfflineOptions(progress=False))


def test_process_cli_with_fallback_intrinsics(tmp_path, random_model_dir, estimator) -> None:
    write_offline_bag(tmp_path / "in")
    result = run_cli("process", str(tmp_path / "in"), str(tmp_path / "out"), "--storage",
                     "sqlite3", "--model-dir", str(random_model_dir), "--device", "cpu",
                     "--fallback-intrinsics", "50", "51", "32", "24", "--tracking",
                     "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "frames in 8, out 6" in result.stdout  # frame 0 uses the fallback
    outputs = read_bag(tmp_path / "out").messages["/people/poses3d"]
    assert len(outputs) == 6
    first = pose_array_to_people(loco_typestore().deserialize_cdr(outputs[0][1], POSE3D_ARRAY))
    fallback_K = np.array([[50.0, 0, 32], [0, 51.0, 24], [0, 0, 1]])
    np.testing.assert_allclose(first.xyz_m, estimator.estimate(_image(0), fallback_K).people.xyz_m,
                               rtol=1e-5, atol=1e-5)


def test_process_cli_ground_plane_auto_runs_the_pipeline_in_bag_order(
        tmp_path, random_model_dir, estimator) -> None:
    """--ground-plane auto overrides the params file's mode and starts from its
    calibration_file, as loco_node: the output is the frame pipeline's in mode auto fed the
    bag's frames in order; --save-calibration writes the final estimate."""
    from loco_ros.calibration import CalibrationEstimate, load_estimate, save_estimate
    from loco_ros.camera.lens import ImageCamera
    from loco_ros.decoding.ground_plane import GroundPlaneConfig
    from loco_ros.runtime.frame_pipeline import FramePipeline, PipelineConfig

    write_offline_bag(tmp_path / "in")
    mount = CalibrationEstimate(camera_height_m=1.2, pitch_deg=8.0, roll_deg=1.0,
                                camera_height_std_m=0.02, pitch_std_deg=0.1, roll_std_deg=0.1,
                                people=9, observations=200, frames=90, converged=True)
    save_estimate(mount, tmp_path / "ground.yaml")
    params = tmp_path / "params.yaml"
    params.write_text("/**:\n  ros__parameters:\n    ground_plane:\n      mode: fixed\n"
                      "      camera_height_m: 3.0\n"
                      f"      calibration_file: {tmp_path / 'ground.yaml'}\n"
                      "    tracking:\n      enabled: false\n")
    result = run_cli("process", str(tmp_path / "in"), str(tmp_path / "out"), "--storage",
                     "sqlite3", "--model-dir", str(random_model_dir), "--device", "cpu",
                     "--params-file", str(params), "--ground-plane", "auto",
                     "--save-calibration", str(tmp_path / "final.yaml"), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "ground plane converged: height 1.200" in result.stdout, result.stdout
    assert load_estimate(tmp_path / "final.yaml").converged
    outputs = read_bag(tmp_path / "out").messages["/people/poses3d"]
    pipeline = FramePipeline(estimator, PipelineConfig(ground_plane=GroundPlaneConfig(
        mode="auto")), initial_calibration=mount)
    store = loco_typestore()
    for (stamp, raw), i in zip(outputs, [1, 2, 4, 6, 7], strict=True):
        expected = pipeline.process(_image(i), stamp, "cam", camera=ImageCamera(_frame_K(i)))
        assert expected.grounded is not None
        got = pose_array_to_people(store.deserialize_cdr(raw, POSE3D_ARRAY))
        np.testing.assert_allclose(got.xyz_m, expected.people.xyz_m, rtol=1e-5, atol=1e-5)
    bad = run_cli("process", str(tmp_path / "in"), str(tmp_path / "out2"), "--ground-plane",
                  "fixed", "--no-progress")
    assert bad.returncode == 2 and "camera_height_m" in bad.stderr, bad.stderr


def test_process_cli_with_the_demo_model(bags, source, tmp_path) -> None:
    out = tmp_path / "out"
    result = run_cli("process", str(bags["mcap"]), str(out), "--copy-topics", GT_TOPIC,
                     "--tracking", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert f"frames in {FRAMES}" in result.stdout
    got = read_bag(out)
    assert got.raw(GT_TOPIC) == source.raw(GT_TOPIC)
    store = loco_typestore()
    outputs = got.messages.get("/people/poses3d", [])
    assert outputs, result.stdout
    for stamp, raw in outputs:
        assert stamp_ns_of(store.deserialize_cdr(raw, POSE3D_ARRAY)) == stamp
        assert stamp in source.times(IMAGE_TOPIC)


# ROS-free helpers ---------------------------------------------------------------------------


def test_playback_clock_options_and_helpers(source) -> None:
    clock = PlaybackClock(rate=2.0, bag_start_ns=T0_NS, wall_start_s=100.0)
    assert clock.wall_time(T0_NS + 1_000_000_000) == pytest.approx(100.5)
    assert clock.bag_time(100.5) == T0_NS + 1_000_000_000
    assert parse_pairs(["/a:=/b", "/c:=/d"], ":=") == {"/a": "/b", "/c": "/d"}
    with pytest.raises(ValueError):
        parse_pairs(["/a=/b"], ":=")
    with pytest.raises(ValueError):
        PlayOptions(rate=0.0)
    options = PlayOptions(sensor_data_images=True, qos={"/x": "transient_local"})
    assert options.qos_name(IMAGE_TOPIC, IMAGE) == "sensor_data"
    assert options.qos_name(INFO_TOPIC, CAMERA_INFO) == "reliable"
    assert options.qos_name("/x", IMAGE) == "transient_local"
    store = loco_typestore()
    raw = source.raw(GT_TOPIC)[3]
    assert header_stamp_ns(raw, POSE3D_ARRAY, store) == T0_NS + 3 * PERIOD_NS
    assert header_stamp_ns(b"\x00\x01\x00\x00" + bytes(8), "std_msgs/msg/String", store) is None


def test_camera_info_first_reorders_only_within_equal_times() -> None:
    @dataclass(frozen=True)
    class Conn:
        topic: str

    image, info = Conn(IMAGE_TOPIC), Conn(INFO_TOPIC)
    messages = [(image, 1, b"i1"), (info, 1, b"c1"), (image, 2, b"i2"), (info, 3, b"c3")]
    assert [raw for _, _, raw in camera_info_first(messages, INFO_TOPIC)] == [
        b"c1", b"i1", b"i2", b"c3"]
