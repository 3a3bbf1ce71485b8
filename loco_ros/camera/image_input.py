"""Validation and conversion of raw camera images (sensor_msgs/Image fields) to RGB arrays.

Every check runs before any pixel is touched, so a malformed or absurd image costs nothing.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from rosbags.image import image_to_cvimage

from loco_ros.errors import InputError

# encoding -> (bytes per channel, channels); all convert to rgb8 with OpenCV.
SUPPORTED_ENCODINGS: dict[str, tuple[int, int]] = {
    "rgb8": (1, 3), "bgr8": (1, 3), "rgba8": (1, 4), "bgra8": (1, 4), "mono8": (1, 1),
    "rgb16": (2, 3), "bgr16": (2, 3), "mono16": (2, 1),
    "uyvy": (1, 2), "yuv422": (1, 2), "yuyv": (1, 2), "yuv422_yuy2": (1, 2),
    "bayer_rggb8": (1, 1), "bayer_bggr8": (1, 1), "bayer_gbrg8": (1, 1), "bayer_grbg8": (1, 1),
}


def check_image_layout(
    height: int, width: int, encoding: str, step: int, data_len: int, max_pixels: int
) -> None:
    """Raise InputError unless the fields describe a supported, consistent, sane image."""
    if height <= 0 or width <= 0:
        raise InputError(f"zero-size image ({width}x{height})", "empty_image")
    if height * width > max_pixels:
        raise InputError(
            f"image {width}x{height} exceeds max_image_pixels={max_pixels}; rejected",
            "too_large")
    if encoding not in SUPPORTED_ENCODINGS:
        raise InputError(
            f"unsupported encoding {encoding!r}; supported: {sorted(SUPPORTED_ENCODINGS)}",
            "encoding")
    depth, channels = SUPPORTED_ENCODINGS[encoding]
    if step < width * channels * depth:
        raise InputError(
            f"step {step} < width*bytes per pixel {width * channels * depth}", "layout")
    if data_len != height * step:
        raise InputError(f"data length {data_len} != height*step {height * step}", "layout")


def image_to_rgb(
    height: int, width: int, encoding: str, step: int, is_bigendian: bool, data: bytes,
    max_pixels: int,
) -> np.ndarray:
    """(H, W, 3) uint8 RGB from raw image fields; InputError for anything malformed."""
    check_image_layout(height, width, encoding, step, len(data), max_pixels)
    depth, channels = SUPPORTED_ENCODINGS[encoding]
    row_bytes = width * channels * depth
    rows = np.ndarray((height, row_bytes), np.uint8, buffer=data, strides=(step, 1))
    unpadded = SimpleNamespace(
        height=height, width=width, encoding=encoding, is_bigendian=is_bigendian,
        data=np.ascontiguousarray(rows).reshape(-1),  # drops any row padding of step
    )
    return np.ascontiguousarray(image_to_cvimage(unpadded, "rgb8"), dtype=np.uint8)
