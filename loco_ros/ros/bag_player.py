"""Play a rosbag2 (sqlite3 or mcap) into the live ROS graph, as ``ros2 bag play`` would.

Messages are published as the raw CDR bytes stored in the bag (no deserialization), with the
recorded timing scaled by a rate factor; see loco_ros.bags.playback for options and timing.
Each topic's message class is imported from the connection's type ("pkg/msg/Name" ->
``pkg.msg.Name``); a topic whose type cannot be imported is skipped with a warning.
"""

from __future__ import annotations

import importlib
import signal
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import rclpy
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import (
    DurabilityPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)
from rclpy.signals import SignalHandlerOptions
from tqdm import tqdm

from loco_ros.bags.playback import QOS_PROFILES, PlaybackClock, PlayOptions
from loco_ros.bags.reading import BagError, open_bag, read_messages, select_connections
from loco_ros.stamps import NS_PER_S, ns_to_sec_nanosec

CLOCK_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)  # as rclpy's TimeSource
ACK_TIMEOUT_S = 5.0
POLL_S = 0.05


def import_message_class(msgtype: str) -> type:
    """The rclpy message class of "pkg/msg/Name"; ImportError when it is not installed."""
    package, _, name = msgtype.replace("/", ".").rpartition(".")
    try:
        return getattr(importlib.import_module(package), name)
    except (ImportError, AttributeError, ValueError) as err:
        raise ImportError(f"message type {msgtype!r} is not importable: {err}") from err


def qos_profile(name: str, depth: int) -> QoSProfile:
    """QoS of a profile name of loco_ros.bags.playback.QOS_PROFILES with a history depth."""
    if name not in QOS_PROFILES:
        raise ValueError(f"unknown QoS profile {name!r}; known: {QOS_PROFILES}")
    reliability = (ReliabilityPolicy.RELIABLE if name in ("reliable", "transient_local")
                   else ReliabilityPolicy.BEST_EFFORT)
    durability = (DurabilityPolicy.TRANSIENT_LOCAL if name == "transient_local"
                  else DurabilityPolicy.VOLATILE)
    if name == "sensor_data":
        reliability = qos_profile_sensor_data.reliability
    return QoSProfile(depth=depth, reliability=reliability, durability=durability)


@dataclass(frozen=True)
class PlayReport:
    """What a playback did."""

    published: int
    loops: int
    wall_s: float
    clock_ticks: int
    skipped_topics: tuple[str, ...]
    subscribers_ok: bool
    all_acked: bool


class BagPlayer:
    """Publishes one bag's messages through a node (use as a context manager, then play())."""

    def __init__(self, node: Node, bag_path: str | Path, options: PlayOptions | None = None):
        self._node, self._path, self._options = node, Path(bag_path), options or PlayOptions()
        self._stack = ExitStack()
        self._publishers: dict[int, object] = {}  # connection id -> publisher
        self._by_topic: dict[str, object] = {}
        self._skipped: list[str] = []
        self._types: dict[str, str] = {}  # published topic -> message type
        self._clock_pub = None
        self._next_tick_s = 0.0
        self._ticks = 0

    def __enter__(self) -> BagPlayer:
        self._reader = self._stack.enter_context(open_bag(self._path))
        self._connections = select_connections(self._reader, self._options.topics)
        for connection in self._connections:
            self._add_publisher(connection)
        if not self._publishers:
            self.close()
            raise BagError(f"nothing to play in {self._path}: no topic with a known type")
        if self._options.clock_hz > 0:
            from rosgraph_msgs.msg import Clock

            self._clock_pub = self._node.create_publisher(Clock, "/clock", CLOCK_QOS)
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Destroy the publishers and close the bag."""
        for publisher in [*self._by_topic.values(), self._clock_pub]:
            if publisher is not None:
                self._node.destroy_publisher(publisher)
        self._by_topic, self._publishers, self._clock_pub = {}, {}, None
        self._stack.close()

    def _add_publisher(self, connection) -> None:
        topic = self._options.remap.get(connection.topic, connection.topic)
        if self._types.setdefault(topic, connection.msgtype) != connection.msgtype:
            self._node.get_logger().warn(
                f"skipping {connection.msgtype} on {topic}: already {self._types[topic]}")
            return
        if topic not in self._by_topic:
            try:
                msg_class = import_message_class(connection.msgtype)
            except ImportError as err:
                self._node.get_logger().warn(f"skipping {connection.topic}: {err}")
                self._skipped.append(connection.topic)
                return
            qos = qos_profile(self._options.qos_name(topic, connection.msgtype),
                              self._options.qos_depth)
            self._by_topic[topic] = self._node.create_publisher(msg_class, topic, qos)
        self._publishers[connection.id] = self._by_topic[topic]

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics published (after remapping)."""
        return tuple(self._by_topic)

    def wait_for_subscribers(self, count: int, timeout_s: float,
                             stop: threading.Event | None = None) -> bool:
        """Wait until every publisher has ``count`` subscribers (bounded); True if they do."""
        deadline = time.monotonic() + timeout_s
        while not all(p.get_subscription_count() >= count for p in self._by_topic.values()):
            if time.monotonic() > deadline or (stop is not None and stop.is_set()):
                short = [t for t, p in self._by_topic.items()
                         if p.get_subscription_count() < count]
                self._node.get_logger().warn(
                    f"fewer than {count} subscriber(s) after {timeout_s:g} s on {short}; "
                    "playing anyway")
                return False
            time.sleep(POLL_S)
        return True

    def play(self, stop: threading.Event | None = None) -> PlayReport:
        """Play (once, or until stopped with loop); returns what was done."""
        stop = stop or threading.Event()
        options = self._options
        ok = True
        if options.wait_for_subscribers > 0:
            ok = self.wait_for_subscribers(options.wait_for_subscribers, options.wait_timeout_s,
                                           stop)
        start_ns = self._reader.start_time + round(options.start_offset_s * NS_PER_S)
        t0, published, loops = time.monotonic(), 0, 0
        self._next_tick_s = t0
        while not stop.is_set():
            count = self._play_once(PlaybackClock(options.rate, start_ns, time.monotonic()), stop)
            published, loops = published + count, loops + 1
            if not options.loop or count == 0:
                break
        wall_s = time.monotonic() - t0
        return PlayReport(published, loops, wall_s, self._ticks, tuple(self._skipped), ok,
                          self.wait_for_acks(ACK_TIMEOUT_S))

    def _play_once(self, clock: PlaybackClock, stop: threading.Event) -> int:
        total = sum(c.msgcount for c in self._connections if c.id in self._publishers)
        count = 0
        with tqdm(total=total if not self._options.start_offset_s else None, unit="msg",
                  desc=f"play {self._path.name}", disable=not self._options.progress,
                  file=sys.stderr) as bar:
            for connection, stamp_ns, raw in read_messages(
                    self._reader, self._connections, clock.bag_start_ns):
                publisher = self._publishers.get(connection.id)
                if publisher is None:
                    continue
                if not self._wait_until(clock.wall_time(stamp_ns), clock, stop):
                    break
                publisher.publish(raw if isinstance(raw, bytes) else bytes(raw))
                count += 1
                bar.update()
        return count

    def _wait_until(self, deadline_s: float, clock: PlaybackClock, stop: threading.Event) -> bool:
        """Sleep until deadline_s (monotonic), publishing /clock ticks; False when stopped."""
        period_s = 1.0 / self._options.clock_hz if self._clock_pub is not None else None
        while True:
            now = time.monotonic()
            if period_s is not None and now >= self._next_tick_s:
                self._publish_clock(clock.bag_time(now))
                self._next_tick_s += period_s
                if self._next_tick_s <= now:  # late (slow machine): no burst of ticks
                    self._next_tick_s = now + period_s
            if stop.is_set():
                return False
            if now >= deadline_s:
                return True
            wake = min(deadline_s, now + 0.1)
            if period_s is not None:
                wake = min(wake, self._next_tick_s)
            stop.wait(max(0.0, wake - now))

    def _publish_clock(self, bag_ns: int) -> None:
        from rosgraph_msgs.msg import Clock

        msg = Clock()
        msg.clock.sec, msg.clock.nanosec = ns_to_sec_nanosec(bag_ns)
        self._clock_pub.publish(msg)
        self._ticks += 1

    def wait_for_acks(self, timeout_s: float) -> bool:
        """Wait (bounded) until reliable subscribers acknowledged everything published."""
        timeout = Duration(nanoseconds=round(timeout_s * NS_PER_S))
        return all([p.wait_for_all_acked(timeout) for p in self._by_topic.values()])


def play_bag(bag_path: str | Path, options: PlayOptions | None = None, *,
             context=None, stop: threading.Event | None = None) -> PlayReport:
    """Play a bag on a new node of an initialised rclpy ``context`` (default context if None)."""
    node = rclpy.create_node("loco_bag_player", context=context)
    try:
        with BagPlayer(node, bag_path, options) as player:
            return player.play(stop)
    finally:
        node.destroy_node()


def install_stop_handlers(stop: threading.Event) -> None:
    """SIGINT and SIGTERM set ``stop`` (rclpy's own handlers are not installed)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())


def init_rclpy(ros_args: list[str] | None = None) -> None:
    """rclpy.init without rclpy's signal handlers (we stop cleanly ourselves)."""
    args = ["loco_bag", "--ros-args", *ros_args] if ros_args else ["loco_bag"]
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)


def main(argv: list[str] | None = None) -> None:
    """``python -m loco_ros.ros.bag_player BAG ...``: the same as ``loco_bag play``."""
    from loco_ros.ros.bag_cli import main as cli_main

    cli_main(["play", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
