"""Record topics of the live ROS graph to a rosbag2 (mcap by default, or sqlite3).

Subscriptions take the raw CDR bytes (``raw=True``) and write them unchanged with rosbags'
Writer; each connection's type and message definition come from loco_typestore(), so
loco_ros's own messages are recorded with their definitions. A topic's type is found in the
graph (polled until its publisher appears); its QoS follows the publishers, as in
``ros2 bag record``: reliable only when every publisher is reliable, transient-local only
when every publisher is. The bag time of a message is its receive time (node clock) or, with
``use_header_stamp``, its header stamp. Recording stops on SIGINT/SIGTERM (CLI), after a
duration or after a message count; the bag is always flushed and closed.
"""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosbags.rosbag2 import Writer

from loco_ros.bags.playback import QOS_PROFILES
from loco_ros.bags.reading import STORAGES, create_bag, header_stamp_ns
from loco_ros.bags.typestore import loco_typestore
from loco_ros.ros.bag_player import import_message_class, qos_profile

DRAIN_S = 1.0


@dataclass(frozen=True)
class RecordOptions:
    """What and how to record.

    topics: fully qualified topic names. storage: "mcap" or "sqlite3". duration_s and
    max_messages: stop after this long (from the start) or this many messages in all (None:
    no limit). use_header_stamp: bag time = header stamp where the type has a header.
    qos: topic -> profile name (overrides the adaptive choice). depth: subscription depth.
    """

    topics: tuple[str, ...]
    storage: str = "mcap"
    duration_s: float | None = None
    max_messages: int | None = None
    use_header_stamp: bool = False
    qos: dict[str, str] = field(default_factory=dict)
    depth: int = 100
    discovery_period_s: float = 0.1

    def __post_init__(self) -> None:
        if not self.topics:
            raise ValueError("name at least one topic to record")
        if self.storage not in STORAGES:
            raise ValueError(f"storage must be one of {sorted(STORAGES)}, not {self.storage!r}")
        if self.duration_s is not None and not self.duration_s > 0:
            raise ValueError("duration must be > 0 s")
        if self.max_messages is not None and self.max_messages < 1:
            raise ValueError("max messages must be >= 1")
        bad = {name for name in self.qos.values() if name not in QOS_PROFILES}
        if bad:
            raise ValueError(f"unknown QoS profile(s) {sorted(bad)}; known: {QOS_PROFILES}")


@dataclass(frozen=True)
class RecordReport:
    """What a recording holds."""

    path: Path
    counts: dict[str, int]
    wall_s: float
    missing_topics: tuple[str, ...]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def adaptive_qos(publishers_info: list, depth: int) -> QoSProfile:
    """Subscription QoS compatible with every publisher (reliable/transient only if all are)."""
    reliable = all(p.qos_profile.reliability == ReliabilityPolicy.RELIABLE
                   for p in publishers_info)
    transient = bool(publishers_info) and all(
        p.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for p in publishers_info)
    return QoSProfile(
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if transient else DurabilityPolicy.VOLATILE,
    )


class BagRecorder:
    """Records topics through a node into a new bag (context manager; spin the node)."""

    def __init__(self, node: Node, out_path: str | Path, options: RecordOptions) -> None:
        self._node, self._path, self._options = node, Path(out_path), options
        self._store = loco_typestore()
        self._writer: Writer | None = None
        self._stack = ExitStack()
        self._subscriptions: dict[str, object] = {}
        self._counts: dict[str, int] = {}
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        self._t0 = time.monotonic()
        self._timer = None

    def __enter__(self) -> BagRecorder:
        self._writer = self._stack.enter_context(create_bag(self._path, self._options.storage))
        self._t0 = time.monotonic()
        self.poll_topics()
        self._timer = self._node.create_timer(self._options.discovery_period_s, self.poll_topics)
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Unsubscribe, then flush and close the bag (writes metadata.yaml); idempotent."""
        if self._timer is not None:
            self._node.destroy_timer(self._timer)
            self._timer = None
        for subscription in self._subscriptions.values():
            self._node.destroy_subscription(subscription)
        self._subscriptions = {}
        with self._lock:
            self._writer = None
        self._stack.close()

    def poll_topics(self) -> None:
        """Subscribe to every requested topic that now has a publisher (and so a known type)."""
        if self._writer is None:
            return
        types = dict(self._node.get_topic_names_and_types())
        for topic in self._options.topics:
            if (topic not in self._subscriptions and topic in types
                    and self._node.count_publishers(topic) > 0):
                self._subscribe(topic, types[topic])

    def _subscribe(self, topic: str, msgtypes: list[str]) -> None:
        msgtype = msgtypes[0]
        try:
            msg_class = import_message_class(msgtype)
            if msgtype not in self._store.types:
                raise ImportError(f"{msgtype} is unknown to loco_typestore()")
        except ImportError as err:
            if topic not in self._warned:
                self._warned.add(topic)
                self._node.get_logger().warn(f"not recording {topic}: {err}")
            return
        connection = self._writer.add_connection(topic, msgtype, typestore=self._store)
        self._counts[topic] = 0
        self._subscriptions[topic] = self._node.create_subscription(
            msg_class, topic, lambda raw: self._on_message(topic, msgtype, connection, raw),
            self._qos(topic), raw=True)
        print(f"recording {topic} ({msgtype})", flush=True)

    def _qos(self, topic: str) -> QoSProfile:
        if topic in self._options.qos:
            return qos_profile(self._options.qos[topic], self._options.depth)
        return adaptive_qos(self._node.get_publishers_info_by_topic(topic), self._options.depth)

    def _on_message(self, topic: str, msgtype: str, connection, raw: bytes) -> None:
        stamp = self._node.get_clock().now().nanoseconds
        if self._options.use_header_stamp:
            header_stamp = header_stamp_ns(raw, msgtype, self._store)
            stamp = stamp if header_stamp is None else header_stamp
        with self._lock:
            if self._writer is None or self.done:
                return
            self._writer.write(connection, stamp, raw)
            self._counts[topic] += 1

    @property
    def total(self) -> int:
        """Messages written so far."""
        return sum(self._counts.values())

    @property
    def done(self) -> bool:
        """True when the duration or the message count limit is reached."""
        limit, duration = self._options.max_messages, self._options.duration_s
        return ((limit is not None and self.total >= limit)
                or (duration is not None and time.monotonic() - self._t0 >= duration))

    def report(self) -> RecordReport:
        """Counts per recorded topic and the requested topics never subscribed."""
        missing = tuple(t for t in self._options.topics if t not in self._counts)
        return RecordReport(self._path, dict(self._counts), time.monotonic() - self._t0, missing)


def _drain(executor: SingleThreadedExecutor, recorder: BagRecorder) -> None:
    """Take what already arrived (bounded), so a stop loses no acknowledged message."""
    deadline = time.monotonic() + DRAIN_S
    before = -1
    while recorder.total != before and not recorder.done and time.monotonic() < deadline:
        before = recorder.total
        for _ in range(20):
            executor.spin_once(timeout_sec=0.005)


def record_bag(out_path: str | Path, options: RecordOptions, *, context=None,
               stop: threading.Event | None = None) -> RecordReport:
    """Record until ``stop`` is set or a limit is reached; returns what the bag holds."""
    stop = stop or threading.Event()
    node = rclpy.create_node("loco_bag_recorder", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    try:
        with BagRecorder(node, out_path, options) as recorder:
            while not stop.is_set() and not recorder.done:
                executor.spin_once(timeout_sec=0.05)
            _drain(executor, recorder)
            recorder.close()
            return recorder.report()
    finally:
        executor.shutdown()
        node.destroy_node()


def main(argv: list[str] | None = None) -> None:
    """``python -m loco_ros.ros.bag_recorder OUT ...``: the same as ``loco_bag record``."""
    import sys

    from loco_ros.ros.bag_cli import main as cli_main

    cli_main(["record", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
