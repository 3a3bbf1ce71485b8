"""Files inside a compiled Qt resource bundle (``.rcc``, format versions 1-3).

GCompris ships its activities' photographs inside such bundles; no Python package reads them,
so this is the small reader. Layout (big-endian): a header ``qres``, version, and the offsets
of the tree, data and names sections (version 3 adds a flags word). A tree node is 14 bytes
(versions 2-3: 22, with a modification time): name offset, flags, then either a directory's
child count and first child index, or a file's locale and data offset. A file's data is a
32-bit size and its bytes, zlib-compressed behind a 4-byte length when flag 1 is set; a name
is a 16-bit length, a 32-bit hash and UTF-16 text.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from loco_ros.errors import InputError

_DIRECTORY, _COMPRESSED, _ZSTD = 0x02, 0x01, 0x04
MAX_ENTRIES = 1_000_000


def read_qt_resources(path: str | Path) -> dict[str, bytes]:
    """Every file of the ``.rcc`` bundle at ``path``: {resource path: bytes}, paths without
    the leading ``/`` (e.g. ``gcompris/src/activities/erase/resource/gorilla.webp``)."""
    blob = Path(path).read_bytes()
    if len(blob) < 20 or blob[:4] != b"qres":
        raise InputError(f"{path}: not a Qt resource bundle (no 'qres' header)")
    version, tree, data, names = struct.unpack(">IIII", blob[4:20])
    if version not in (1, 2, 3):
        raise InputError(f"{path}: Qt resource format version {version} is not supported")
    node_size = 14 if version == 1 else 22
    files: dict[str, bytes] = {}
    pending = [(0, "")]
    while pending:
        index, prefix = pending.pop()
        at = tree + index * node_size
        name_at, flags = struct.unpack(">IH", blob[at:at + 6])
        name = _name(blob, names + name_at) if index else ""
        full = f"{prefix}/{name}" if prefix else name
        if flags & _DIRECTORY:
            count, first = struct.unpack(">II", blob[at + 6:at + 14])
            if count > MAX_ENTRIES or len(files) + len(pending) > MAX_ENTRIES:
                raise InputError(f"{path}: implausible directory of {count} entries")
            pending += [(child, full) for child in range(first, first + count)]
        else:
            (data_at,) = struct.unpack(">I", blob[at + 10:at + 14])
            files[full] = _data(blob, data + data_at, flags, path)
    return files


def _name(blob: bytes, at: int) -> str:
    (length,) = struct.unpack(">H", blob[at:at + 2])
    return blob[at + 6:at + 6 + 2 * length].decode("utf-16-be")


def _data(blob: bytes, at: int, flags: int, path: str | Path) -> bytes:
    (size,) = struct.unpack(">I", blob[at:at + 4])
    if at + 4 + size > len(blob):
        raise InputError(f"{path}: a file runs past the end of the bundle")
    payload = blob[at + 4:at + 4 + size]
    if flags & _ZSTD:
        raise InputError(f"{path}: zstd-compressed resources are not supported")
    return zlib.decompress(payload[4:]) if flags & _COMPRESSED else payload
