"""Run the pose pipeline over a bag without DDS: images + CameraInfo in, a Pose3DArray bag out.

Messages are read in bag-time order. At equal bag times CameraInfo goes first, then each image
goes through the node's own frame pipeline (loco_ros.runtime.frame_pipeline.FramePipeline: the
camera by the node's rule, with its lens, the estimator, the ground plane, tracking). The output
bag holds
loco_ros/msg/Pose3DArray on ``output_topic`` (header = the image's, bag time = the image's)
plus unchanged copies of ``copy_topics`` (e.g. the ground truth /people/poses3d_gt), so that an
evaluation reads one bag. Bad frames (InputError, undecodable messages) are counted by reason
and skipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rosbags.interfaces import Connection
from rosbags.rosbag2 import Writer
from tqdm import tqdm

from loco_ros.bags.messages import pose_array_msg
from loco_ros.bags.reading import BagError, create_bag, open_bag, read_messages, select_connections
from loco_ros.bags.typestore import CAMERA_INFO, IMAGE, POSE3D_ARRAY, loco_typestore
from loco_ros.camera.image_input import image_to_rgb
from loco_ros.camera.lens import camera_info_to_model
from loco_ros.errors import InputError
from loco_ros.runtime.frame_pipeline import FramePipeline
from loco_ros.stamps import stamp_ns_of

Message = tuple[Connection, int, bytes]


@dataclass(frozen=True)
class OfflineOptions:
    """Topics and limits of an offline run (which camera applies, the ground plane and
    tracking are the pipeline's)."""

    image_topic: str = "/camera/image"
    camera_info_topic: str = "/camera/camera_info"
    output_topic: str = "/people/poses3d"
    copy_topics: tuple[str, ...] = ()
    max_image_pixels: int = 7680 * 4320
    storage: str = "mcap"
    progress: bool = True


@dataclass
class OfflineReport:
    """Counters of an offline run; ``rejected`` counts skipped frames by reason."""

    frames_in: int = 0
    frames_out: int = 0
    people_out: int = 0
    copied: int = 0
    ground_plane_unavailable: int = 0  # frames published with the network's depth only
    rejected: Counter = field(default_factory=Counter)
    timing_sums_s: Counter = field(default_factory=Counter)

    def mean_timings_s(self) -> dict[str, float]:
        """Mean seconds per stage over the frames that produced output."""
        return {k: v / max(self.frames_out, 1) for k, v in self.timing_sums_s.items()}

    def summary(self) -> str:
        """One line for a log."""
        rejected = ", ".join(f"{k}: {v}" for k, v in sorted(self.rejected.items())) or "none"
        return (f"frames in {self.frames_in}, out {self.frames_out}, people {self.people_out}, "
                f"copied {self.copied}, rejected: {rejected}")


def camera_info_first(messages: Iterable[Message], camera_info_topic: str) -> Iterator[Message]:
    """The same messages, with CameraInfo moved before the others of the same bag time."""
    held: list[Message] = []
    current = None
    for message in messages:
        if message[1] != current:
            yield from held
            held, current = [], message[1]
        if message[0].topic == camera_info_topic:
            yield message
        else:
            held.append(message)
    yield from held


def copy_connection(writer: Writer, connection: Connection) -> Connection:
    """A connection of ``writer`` with the type, definition and QoS of an input connection."""
    ext = connection.ext
    kwargs = dict(serialization_format=getattr(ext, "serialization_format", "cdr"),
                  offered_qos_profiles=getattr(ext, "offered_qos_profiles", ()))
    if connection.msgdef.data and connection.digest:
        return writer.add_connection(connection.topic, connection.msgtype,
                                     msgdef=connection.msgdef.data, rihs01=connection.digest,
                                     **kwargs)
    return writer.add_connection(connection.topic, connection.msgtype,
                                 typestore=loco_typestore(), **kwargs)


class OfflineProcessor:
    """Turns images of a bag into Pose3DArray messages; see the module docstring."""

    def __init__(self, pipeline: FramePipeline,
                 options: OfflineOptions = OfflineOptions()) -> None:
        self.pipeline, self.options = pipeline, options
        self.report = OfflineReport()
        self._store = loco_typestore()

    def on_camera_info(self, raw: bytes) -> None:
        """Remember the intrinsics of a CameraInfo (counted and ignored when invalid)."""
        try:
            msg = self._decode(raw, CAMERA_INFO)
            self.pipeline.cameras.update_model(camera_info_to_model(msg), stamp_ns_of(msg))
        except InputError:
            self.report.rejected["camera_info"] += 1

    def on_image(self, raw: bytes) -> bytes | None:
        """Serialized Pose3DArray for a serialized Image, or None (counted) for a bad frame."""
        self.report.frames_in += 1
        try:
            out = self._estimate(self._decode(raw, IMAGE))
        except InputError as err:
            self.report.rejected[err.reason] += 1
            return None
        self.report.frames_out += 1
        return out

    def _decode(self, raw: bytes, msgtype: str) -> Any:
        try:
            return self._store.deserialize_cdr(raw, msgtype)
        except Exception as err:  # noqa: BLE001 - any decoding failure is a bad message
            raise InputError(f"undecodable {msgtype}: {err}", "corrupt_message") from err

    def _estimate(self, msg: Any) -> bytes:
        stamp_ns = stamp_ns_of(msg)
        camera = self.pipeline.camera_for(msg.width, msg.height, stamp_ns)
        rgb = image_to_rgb(msg.height, msg.width, msg.encoding, msg.step,
                           bool(msg.is_bigendian), msg.data, self.options.max_image_pixels)
        result = self.pipeline.process(rgb, stamp_ns, msg.header.frame_id, camera=camera)
        if result.ground_error is not None:  # people keep the network's depth, as the node's
            self.report.ground_plane_unavailable += 1
        people = result.people
        self.report.people_out += len(people)
        self.report.timing_sums_s.update(result.timings_s)
        out = pose_array_msg(people, stamp_ns, msg.header.frame_id)
        return self._store.serialize_cdr(out, POSE3D_ARRAY)


def process_bag(in_path: str | Path, out_path: str | Path, pipeline: FramePipeline,
                options: OfflineOptions = OfflineOptions()) -> OfflineReport:
    """Run ``pipeline`` over every image of ``in_path`` into a new bag ``out_path``."""
    processor = OfflineProcessor(pipeline, options)
    wanted = dict.fromkeys([options.image_topic, options.camera_info_topic, *options.copy_topics])
    with open_bag(in_path) as reader, create_bag(out_path, options.storage) as writer:
        connections = select_connections(reader, tuple(wanted))
        _check_types(connections, options)
        output = writer.add_connection(options.output_topic, POSE3D_ARRAY,
                                       typestore=loco_typestore())
        copies = _copy_connections(writer, connections, options.copy_topics)
        messages = camera_info_first(read_messages(reader, connections),
                                     options.camera_info_topic)
        total = sum(c.msgcount for c in connections)
        for connection, stamp_ns, raw in tqdm(messages, total=total, unit="msg",
                                              desc=f"process {Path(in_path).name}",
                                              disable=not options.progress):
            _dispatch(processor, writer, output, copies, connection, stamp_ns, raw)
    return processor.report


def _check_types(connections: list[Connection], options: OfflineOptions) -> None:
    """BagError unless the image and camera_info topics carry Image and CameraInfo."""
    expected = {options.image_topic: IMAGE, options.camera_info_topic: CAMERA_INFO}
    for c in connections:
        if c.topic in expected and c.msgtype != expected[c.topic]:
            raise BagError(f"{c.topic} carries {c.msgtype}, expected {expected[c.topic]}")


def _copy_connections(writer: Writer, connections: list[Connection],
                      topics: tuple[str, ...]) -> dict[int, Connection]:
    """Input connection id -> output connection, for the connections on ``topics``."""
    made: dict[tuple[str, str], Connection] = {}
    copies = {}
    for c in connections:
        if c.topic in topics:
            key = (c.topic, c.msgtype)
            if key not in made:
                made[key] = copy_connection(writer, c)
            copies[c.id] = made[key]
    return copies


def _dispatch(processor: OfflineProcessor, writer: Writer, output: Connection,
              copies: dict[int, Connection], connection: Connection, stamp_ns: int,
              raw: bytes) -> None:
    """Copy and/or process one input message."""
    if connection.id in copies:
        writer.write(copies[connection.id], stamp_ns, raw)
        processor.report.copied += 1
    topic, options = connection.topic, processor.options
    if topic == options.camera_info_topic:
        processor.on_camera_info(raw)
    elif topic == options.image_topic:
        out = processor.on_image(raw)
        if out is not None:
            writer.write(output, stamp_ns, out)
