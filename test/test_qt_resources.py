"""The Qt resource reader on GCompris's real bundles, and on broken input."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import fetched

from loco_ros.data import real_material
from loco_ros.data.qt_resources import read_qt_resources
from loco_ros.errors import InputError

ERASE = "usr/share/gcompris-qt/rcc/erase.rcc"


def test_reads_names_raw_and_compressed_files_of_a_real_bundle() -> None:
    bundle = fetched(real_material.fetch, "gcompris") / ERASE
    files = read_qt_resources(bundle)
    photo = files["gcompris/src/activities/erase/resource/gorilla.webp"]
    assert photo[:4] == b"RIFF" and photo[8:12] == b"WEBP"
    image = cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (1080, 1920, 3)
    # ActivityInfo.qml is stored zlib-compressed in this bundle: it must come back as text.
    assert files["gcompris/src/activities/erase/ActivityInfo.qml"].startswith(b"/* G")


def test_people_free_choice_set_is_apart_from_training_and_held_out_photos() -> None:
    choice = {p.resolve() for p in fetched(real_material.people_free_tuning_photos)}
    assert len(choice) == 57 and all(p.suffix == ".webp" for p in choice)
    held_out = {p.resolve() for p in fetched(real_material.people_free_stills)}
    training = {p.resolve() for p in fetched(real_material.background_photos)}
    assert not choice & held_out and not choice & training


def test_broken_bundles_raise_a_clear_error(tmp_path: Path) -> None:
    not_qt = tmp_path / "photo.rcc"
    not_qt.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    with pytest.raises(InputError, match="not a Qt resource bundle"):
        read_qt_resources(not_qt)
    future = tmp_path / "v9.rcc"
    future.write_bytes(b"qres" + struct.pack(">IIII", 9, 0, 0, 0))
    with pytest.raises(InputError, match="version 9"):
        read_qt_resources(future)
    # A file node whose data size runs past the end of the bundle.
    header = b"qres" + struct.pack(">IIII", 1, 20, 48, 52)  # tree, data, names
    root = struct.pack(">IHII", 0, 0x02, 1, 1)
    leaf = struct.pack(">IHHHI", 0, 0, 0, 0, 0)
    names = struct.pack(">HI", 1, 0) + "a".encode("utf-16-be")
    truncated = tmp_path / "truncated.rcc"
    truncated.write_bytes(header + root + leaf + struct.pack(">I", 1 << 30) + names)
    with pytest.raises(InputError, match="past the end"):
        read_qt_resources(truncated)
