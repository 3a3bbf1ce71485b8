"""ROS-free parts of bag playback: options, topic remapping and the bag-time <-> wall-time map.

Timing follows ``ros2 bag play``: playback starts at bag time ``start + start_offset`` and a
message recorded ``dt`` after that instant is published ``dt / rate`` wall seconds after
playback (or the current loop) began.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from loco_ros.stamps import NS_PER_S

QOS_PROFILES = ("reliable", "sensor_data", "best_effort", "transient_local")
IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")


@dataclass(frozen=True)
class PlayOptions:
    """How to play a bag.

    rate: playback speed factor (2 = twice as fast). loop: start again at the end, forever.
    start_offset_s: skip this many seconds from the bag's start. topics: play only these
    (all when empty). remap: recorded topic -> published topic. clock_hz: publish /clock from
    bag time at this wall rate (0 = off). qos_depth: history depth of every publisher.
    qos: topic (as published) -> profile name of QOS_PROFILES; default "reliable", or
    "sensor_data" for image types when sensor_data_images. wait_for_subscribers: before
    playing, wait until every publisher has this many subscribers, at most wait_timeout_s.
    """

    rate: float = 1.0
    loop: bool = False
    start_offset_s: float = 0.0
    topics: tuple[str, ...] = ()
    remap: Mapping[str, str] = field(default_factory=dict)
    clock_hz: float = 0.0
    qos_depth: int = 10
    qos: Mapping[str, str] = field(default_factory=dict)
    sensor_data_images: bool = False
    wait_for_subscribers: int = 0
    wait_timeout_s: float = 30.0
    progress: bool = True

    def __post_init__(self) -> None:
        if not (self.rate > 0.0 and math.isfinite(self.rate)):
            raise ValueError(f"rate must be > 0, not {self.rate}")
        if not (self.start_offset_s >= 0.0 and math.isfinite(self.start_offset_s)):
            raise ValueError(f"start offset must be >= 0 s, not {self.start_offset_s}")
        if not (self.clock_hz >= 0.0 and math.isfinite(self.clock_hz)):
            raise ValueError(f"clock rate must be >= 0 Hz, not {self.clock_hz}")
        if self.qos_depth < 1 or self.wait_for_subscribers < 0:
            raise ValueError("qos depth must be >= 1 and wait-for-subscribers >= 0")
        bad = {name for name in self.qos.values() if name not in QOS_PROFILES}
        if bad:
            raise ValueError(f"unknown QoS profile(s) {sorted(bad)}; known: {QOS_PROFILES}")

    def qos_name(self, topic: str, msgtype: str) -> str:
        """QoS profile name for a published topic of msgtype."""
        if topic in self.qos:
            return self.qos[topic]
        return "sensor_data" if self.sensor_data_images and msgtype in IMAGE_TYPES else "reliable"


def parse_pairs(items: Iterable[str], separator: str) -> dict[str, str]:
    """{"a": "b"} from ["a:=b"] (separator ":="); ValueError for a malformed item."""
    pairs = {}
    for item in items:
        key, sep, value = item.partition(separator)
        if not sep or not key or not value:
            raise ValueError(f"expected KEY{separator}VALUE, got {item!r}")
        pairs[key] = value
    return pairs


class PlaybackClock:
    """Maps bag time (ns) to wall time (monotonic seconds) for a rate factor."""

    def __init__(self, rate: float, bag_start_ns: int, wall_start_s: float) -> None:
        self.rate, self.bag_start_ns, self.wall_start_s = rate, bag_start_ns, wall_start_s

    def wall_time(self, bag_ns: int) -> float:
        """Wall instant (monotonic s) at which the message stamped bag_ns is due."""
        return self.wall_start_s + (bag_ns - self.bag_start_ns) / NS_PER_S / self.rate

    def bag_time(self, wall_s: float) -> int:
        """Bag time (ns) that playback has reached at the wall instant wall_s."""
        return self.bag_start_ns + round((wall_s - self.wall_start_s) * self.rate * NS_PER_S)
