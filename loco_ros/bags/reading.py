"""Open rosbag2 files with clear errors, select topics, summarise, read header stamps (no ROS).

Used by the player, the recorder, offline processing and ``loco_bag info``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rosbags.interfaces import Connection
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys.store import Typestore

from loco_ros.errors import LocoError
from loco_ros.stamps import NS_PER_S

HEADER = "std_msgs/msg/Header"
STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}


class BagError(LocoError):
    """A bag is missing, corrupt, unreadable or cannot be written."""


@contextmanager
def open_bag(path: str | Path) -> Iterator[Reader]:
    """An open rosbags Reader of a bag directory, .mcap or .db3 file; BagError if unreadable."""
    path = Path(path)
    if not path.exists():
        raise BagError(f"bag not found: {path}")
    try:
        reader = Reader(path)
        reader.open()
    except Exception as err:  # noqa: BLE001 - rosbags raises many kinds for a broken bag
        raise BagError(f"cannot read bag {path}: {_one_line(err)}") from err
    try:
        yield reader
    finally:
        reader.close()


@contextmanager
def create_bag(path: str | Path, storage: str = "mcap") -> Iterator[Writer]:
    """A new open rosbag2 Writer (version 9); closed (metadata written) even on an error."""
    path = Path(path)
    if storage not in STORAGES:
        raise BagError(f"storage must be one of {sorted(STORAGES)}, not {storage!r}")
    if path.exists():
        raise BagError(f"output exists already, not overwriting: {path}")
    writer = Writer(path, version=9, storage_plugin=STORAGES[storage])
    try:
        writer.open()
    except Exception as err:  # noqa: BLE001 - permission, missing parent, ...
        raise BagError(f"cannot create bag {path}: {_one_line(err)}") from err
    try:
        yield writer
    finally:
        writer.close()


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def select_connections(reader: Reader, topics: Sequence[str] = ()) -> list[Connection]:
    """The reader's connections on ``topics`` (all when empty); BagError for an absent topic."""
    if not topics:
        return list(reader.connections)
    missing = sorted(set(topics) - {c.topic for c in reader.connections})
    if missing:
        raise BagError(f"topics not in the bag: {', '.join(missing)}")
    return [c for c in reader.connections if c.topic in topics]


def read_messages(
    reader: Reader, connections: Sequence[Connection], start_ns: int | None = None
) -> Iterator[tuple[Connection, int, bytes]]:
    """(connection, bag time ns, raw CDR) in time order from ``start_ns``; BagError if corrupt.

    No connections, no messages (rosbags would read every topic).
    """
    if not connections:
        return
    try:
        yield from reader.messages(connections=connections, start=start_ns)
    except Exception as err:  # noqa: BLE001 - a truncated file surfaces only while reading
        raise BagError(f"cannot read messages of {reader.path}: {_one_line(err)}") from err


@dataclass(frozen=True)
class TopicSummary:
    """One topic of a bag: name, message type and message count."""

    topic: str
    msgtype: str
    count: int


@dataclass(frozen=True)
class BagSummary:
    """What ``loco_bag info`` prints."""

    path: Path
    storage: str
    start_ns: int
    duration_ns: int
    message_count: int
    topics: tuple[TopicSummary, ...]


def summarize(path: str | Path) -> BagSummary:
    """Topics, types, counts, start and duration of a bag (BagError if unreadable)."""
    with open_bag(path) as reader:
        counts: dict[tuple[str, str], int] = {}
        for c in reader.connections:
            counts[(c.topic, c.msgtype)] = counts.get((c.topic, c.msgtype), 0) + c.msgcount
        topics = tuple(TopicSummary(t, m, n) for (t, m), n in sorted(counts.items()))
        count = reader.message_count
        return BagSummary(Path(path), storage_of(path), reader.start_time if count else 0,
                          reader.duration if count else 0, count, topics)


def storage_of(path: str | Path) -> str:
    """Storage plugin name of a bag (mcap, sqlite3) from its file names."""
    path = Path(path)
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    suffixes = {f.suffix for f in files} & {".mcap", ".db3"}
    return ", ".join(sorted({".mcap": "mcap", ".db3": "sqlite3"}[s] for s in suffixes)) or "?"


def format_summary(summary: BagSummary) -> str:
    """Human-readable text of a BagSummary, in the spirit of ``ros2 bag info``."""
    lines = [
        f"Files:      {summary.path}",
        f"Storage:    {summary.storage}",
        f"Duration:   {summary.duration_ns / NS_PER_S:.3f} s",
        f"Start:      {summary.start_ns / NS_PER_S:.9f} s",
        f"Messages:   {summary.message_count}",
        f"Topics:     {len(summary.topics)}",
    ]
    width = max((len(t.topic) for t in summary.topics), default=0)
    type_width = max((len(t.msgtype) for t in summary.topics), default=0)
    for t in summary.topics:
        lines.append(f"  {t.topic:<{width}}  {t.msgtype:<{type_width}}  count: {t.count}")
    return "\n".join(lines)


def has_header(msgtype: str, store: Typestore) -> bool:
    """True when the message type's first field is a std_msgs/Header."""
    fields = store.fielddefs.get(msgtype, ((), ()))[1]
    return bool(fields) and fields[0][0] == "header" and fields[0][1][1] == HEADER


def header_stamp_ns(raw: bytes, msgtype: str, store: Typestore) -> int | None:
    """Header stamp (ns) read straight from raw CDR bytes, or None for a header-less type."""
    if len(raw) < 12 or not has_header(msgtype, store):
        return None
    little = raw[1] & 1  # CDR encapsulation id: 0x0001 little endian, 0x0000 big endian
    sec, nanosec = struct.unpack_from("<iI" if little else ">iI", raw, 4)
    return sec * NS_PER_S + nanosec
