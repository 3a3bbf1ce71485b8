"""ROS time stamps (builtin_interfaces/Time: sec, nanosec) as integer nanoseconds and back.

Duck-typed: rclpy messages and rosbags messages alike (anything with ``sec`` and ``nanosec``).
"""

from __future__ import annotations

from typing import Any

NS_PER_S = 1_000_000_000


def stamp_to_ns(stamp: Any) -> int:
    """A Time's (sec, nanosec) as integer nanoseconds."""
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def stamp_ns_of(msg: Any) -> int:
    """``msg.header.stamp`` as integer nanoseconds."""
    return stamp_to_ns(msg.header.stamp)


def ns_to_sec_nanosec(stamp_ns: int) -> tuple[int, int]:
    """(sec, nanosec) of integer nanoseconds, nanosec in [0, 1e9) (as ROS Time stores it)."""
    sec, nanosec = divmod(int(stamp_ns), NS_PER_S)
    return int(sec), int(nanosec)


def stamp_to_s(stamp: Any) -> float:
    """A Time as float seconds."""
    return stamp_to_ns(stamp) * 1e-9
