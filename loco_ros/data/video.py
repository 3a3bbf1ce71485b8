"""Frames of a video file and the intrinsics of an uncalibrated camera (real footage)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np


def nominal_K(width: int, height: int, focal_px: float | None = None) -> np.ndarray:
    """(3, 3) intrinsics of an uncalibrated image: focal ``focal_px`` (default the width),
    principal point at the image centre."""
    f = float(focal_px or width)
    return np.array([[f, 0.0, (width - 1) / 2], [0.0, f, (height - 1) / 2], [0.0, 0.0, 1.0]])


def video_frames(path: str | Path, indices: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
    """(index, (H, W, 3) uint8 RGB) of the wanted 0-based frames, decoding in order."""
    wanted = sorted(set(int(i) for i in indices))
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise OSError(f"cannot open video {path}")
    try:
        index, cursor = 0, 0
        while cursor < len(wanted):
            ok, bgr = capture.read()
            if not ok:
                break
            if index == wanted[cursor]:
                yield index, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                cursor += 1
            index += 1
    finally:
        capture.release()
