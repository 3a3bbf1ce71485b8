"""Colours and 2D drawing of people (for RViz markers, debug images and docs figures)."""

from __future__ import annotations

import colorsys
import zlib

import cv2
import numpy as np

from loco_ros.skeleton import LIMBS
from loco_ros.types import People


def person_key(track_id: str, index: int) -> int:
    """A stable non-negative integer for a person: from its track id, else its index."""
    if track_id:
        return zlib.crc32(track_id.encode()) & 0x7FFFFFFF
    return index


def person_colour(key: int) -> tuple[float, float, float]:
    """RGB in [0, 1], well spread over hues by the golden ratio, stable for a key."""
    hue = (key * 0.618033988749895) % 1.0
    return colorsys.hsv_to_rgb(hue, 0.85, 0.95)


def draw_people_2d(image_rgb: np.ndarray, people: People, thickness: int = 2) -> np.ndarray:
    """Copy of ``image_rgb`` (H, W, 3) uint8 with every person's 2D skeleton drawn on it."""
    canvas = np.ascontiguousarray(image_rgb).copy()
    for p in range(len(people)):
        track_id = people.track_id[p] if people.track_id else ""
        colour = tuple(int(255 * c) for c in person_colour(person_key(track_id, p)))
        uv = people.uv_px[p]
        for a, b in LIMBS:
            if np.all(np.isfinite(uv[[a, b]])):
                pa, pb = (tuple(int(round(v)) for v in uv[i]) for i in (a, b))
                cv2.line(canvas, pa, pb, colour, thickness, cv2.LINE_AA)
        for k in np.flatnonzero(np.all(np.isfinite(uv), axis=1)):
            radius = thickness + 1 if people.detected[p, k] else thickness
            filled = -1 if people.detected[p, k] else 1
            centre = tuple(int(round(v)) for v in uv[k])
            cv2.circle(canvas, centre, radius, colour, filled, cv2.LINE_AA)
        if track_id and np.isfinite(uv[0]).all():
            origin = (int(uv[0, 0]), int(uv[0, 1]) - 6)
            cv2.putText(canvas, track_id, origin, cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1)
    return canvas
