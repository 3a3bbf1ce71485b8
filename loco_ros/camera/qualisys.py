"""Calibrated cameras from a Qualisys ``.qca.txt`` export (the calibration format of
motion-capture labs, e.g. Pose2Sim's demo).

The export is XML: one ``<camera serial=...>`` per camera with

- ``<transform x y z r11 ... r33>``: the camera's position in the lab frame (millimetres)
  and its orientation; ``r`` read row by row is the lab -> camera rotation of a camera that
  looks along its -z with y up, so the OpenCV camera (z forward, y down) is that rotation
  turned by pi about x;
- ``<intrinsic focalLengthU/V centerPointU/V>`` in 1/64 sensor pixels, the principal point
  relative to the sensor, and ``<fov_video left top right bottom>``, the video's window on
  the sensor.

Checked on Pose2Sim's demo (``test_multiview``): the teacher's joints of its four views,
triangulated with these cameras, reproject within about 18 px (median, 1088x1920 frames) and
lie in front of every camera; the other readings of ``r`` (transposed, unturned) give
100-330 px or points behind cameras.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SUBPIXELS = 64.0  # Qualisys intrinsics are in 1/64 pixel
MAX_FILE_BYTES = 1 << 20  # a calibration of a few dozen cameras is a few kB
_TURN_X = np.diag([1.0, -1.0, -1.0])  # y up, looking along -z -> y down, z forward


@dataclass(frozen=True)
class CalibratedCamera:
    """One camera: ``K`` (3, 3) pixels of its video, ``R`` (3, 3) lab -> camera rotation and
    ``t_m`` (3,) translation in metres (OpenCV camera: x right, y down, z forward), video
    size (width, height) px."""

    name: str
    K: np.ndarray
    R: np.ndarray
    t_m: np.ndarray
    size_wh: tuple[int, int]

    def projection(self) -> np.ndarray:
        """(3, 4) pixel projection matrix ``K [R | t]`` of lab points in metres."""
        return self.K @ np.hstack([self.R, self.t_m[:, None]])

    def to_camera(self, xyz_lab_m: np.ndarray) -> np.ndarray:
        """Lab points (..., 3) m -> this camera's optical frame (..., 3) m."""
        return np.asarray(xyz_lab_m, np.float64) @ self.R.T + self.t_m


def read_qca(path: str | Path) -> dict[str, CalibratedCamera]:
    """The cameras of a ``.qca.txt`` file, by serial (e.g. ``cam01``)."""
    path = Path(path)
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValueError(f"{path}: {path.stat().st_size} bytes is no camera calibration")
    cameras = {}
    for node in ET.parse(path).getroot().iter("camera"):
        transform, intrinsic, window = (node.find(tag) for tag in
                                        ("transform", "intrinsic", "fov_video"))
        if transform is None or intrinsic is None or window is None:
            raise ValueError(f"{path}: camera {node.get('serial')} lacks transform, "
                             "intrinsic or fov_video")
        rotation = np.array([[float(transform.get(f"r{i}{j}")) for j in (1, 2, 3)]
                             for i in (1, 2, 3)])
        centre_m = np.array([float(transform.get(axis)) for axis in "xyz"]) / 1000.0
        R = _TURN_X @ rotation
        left, top = float(window.get("left")), float(window.get("top"))
        K = np.array([
            [float(intrinsic.get("focalLengthU")) / SUBPIXELS, 0.0,
             float(intrinsic.get("centerPointU")) / SUBPIXELS - left],
            [0.0, float(intrinsic.get("focalLengthV")) / SUBPIXELS,
             float(intrinsic.get("centerPointV")) / SUBPIXELS - top],
            [0.0, 0.0, 1.0]])
        size = (int(float(window.get("right")) - left + 1),
                int(float(window.get("bottom")) - top + 1))
        name = node.get("serial")
        cameras[name] = CalibratedCamera(name, K, R, -R @ centre_m, size)
    if not cameras:
        raise ValueError(f"{path}: no cameras")
    return cameras
