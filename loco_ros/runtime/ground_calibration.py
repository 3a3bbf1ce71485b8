"""ground_plane.mode ``auto`` in the frame pipeline: the online self-calibration of a fixed
camera's mount (:class:`loco_ros.calibration.SelfCalibrator`) fed with every frame's people,
its estimate loaded from and saved to a YAML file, resets, and the events the node reports.

    calibration = GroundCalibration(ground_config, initial=load_calibration(path).estimate)
    update = calibration.update(people, camera)    # each frame (the pipeline's call)
    update.estimate.converged, update.changed, update.restart_reason
    calibration.reset()                            # a user's request (any thread)
    save_calibration(calibration.estimate, path)

ROS-free; the node, ``loco_bag process`` and the evaluation all run it through FramePipeline.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from loco_ros.calibration import (
    CalibrationEstimate,
    SelfCalibrationConfig,
    SelfCalibrator,
    load_estimate,
    save_estimate,
)
from loco_ros.camera.lens import ImageCamera
from loco_ros.decoding.ground_plane import (
    AutoCalibrationConfig,
    GroundPlane,
    GroundPlaneConfig,
)
from loco_ros.decoding.lifting import project_to_image
from loco_ros.errors import ConfigError, LocoError
from loco_ros.types import People


def self_calibration_config(auto: AutoCalibrationConfig) -> SelfCalibrationConfig:
    """The estimator's config with the node's ``ground_plane.auto.*`` where set (non-zero;
    same field names); ConfigError when the estimator refuses a value or lost a field."""
    try:
        return replace(SelfCalibrationConfig(), **auto.overrides())
    except (TypeError, LocoError) as err:
        raise ConfigError(f"ground_plane.auto: {err}") from err


@dataclass(frozen=True)
class LoadedCalibration:
    """What a calibration file gave: the estimate (None: none or unreadable) and, when it
    could not be read, why (``error``; a missing file is not an error)."""

    estimate: CalibrationEstimate | None = None
    error: str = ""


def load_calibration(path: str) -> LoadedCalibration:
    """The estimate saved at ``path`` ("" or a missing file: none); an unreadable or invalid
    file is reported in ``error``, never raised (the pipeline then starts uncalibrated)."""
    if not path or not Path(path).expanduser().is_file():
        return LoadedCalibration()
    try:
        return LoadedCalibration(load_estimate(Path(path).expanduser()))
    except LocoError as err:
        return LoadedCalibration(error=f"calibration file {path} ignored: {err}")


def save_calibration(estimate: CalibrationEstimate, path: str) -> None:
    """Write ``estimate`` to ``path`` as YAML (parents created); ConfigError on failure."""
    try:
        save_estimate(estimate, Path(path).expanduser())
    except OSError as err:
        raise ConfigError(f"cannot save the ground calibration to {path}: {err}") from err


@dataclass(frozen=True)
class CalibrationUpdate:
    """One frame of the calibration: the estimate after it; ``changed``: a converged estimate
    appeared or its mount changed since the last one reported (publish it); ``restart_reason``:
    the estimator started over on this frame by itself (persistent misfit: the camera moved,
    the floor is not flat), else ""."""

    estimate: CalibrationEstimate
    changed: bool = False
    restart_reason: str = ""


def mount_of(estimate: CalibrationEstimate) -> tuple[float, float, float] | None:
    """(camera_height_m, pitch_deg, roll_deg) of a converged estimate, else None."""
    if not estimate.converged:
        return None
    return estimate.camera_height_m, estimate.pitch_deg, estimate.roll_deg


def calibration_people(people: People, camera: ImageCamera) -> People:
    """People as the estimator reads them: uv_px on the pinhole image of ``camera.K``.

    With a lens, the detected pixels are distorted; their true rays are the lifted xyz_m
    (image-only depth), so the pixels are replaced by the projection of xyz_m with K. Without
    a lens the people are returned unchanged. Shapes as in :class:`People`.
    """
    if camera.lens is None or len(people) == 0:
        return people
    uv = project_to_image(people.xyz_m.astype(np.float64), camera.K)
    uv = np.where(np.isfinite(people.xyz_m).all(axis=-1, keepdims=True), uv, np.nan)
    return replace(people, uv_px=uv.astype(people.uv_px.dtype))


class GroundCalibration:
    """The pipeline's self-calibration in mode ``auto``; see the module docstring.

    Thread-safe: :meth:`update` runs on the frame thread, :meth:`reset` and the properties may
    be called from any other. ``requested_resets`` and ``restarts`` (by the estimator itself)
    count since construction.
    """

    def __init__(self, config: GroundPlaneConfig,
                 initial: CalibrationEstimate | None = None) -> None:
        self._calibrator = SelfCalibrator(self_calibration_config(config.auto), initial=initial)
        self._lock = threading.Lock()
        self._estimate = self._calibrator.estimate
        self._reported: tuple[float, float, float] | None = None
        self._resets_seen = self._estimate.resets
        self.requested_resets = 0
        self.restarts = 0

    @property
    def estimate(self) -> CalibrationEstimate:
        """The current estimate (converged or not)."""
        return self._estimate

    @property
    def plane(self) -> GroundPlane | None:
        """The estimated ground once converged, else None."""
        estimate = self._estimate
        return estimate.ground_plane() if estimate.converged else None

    def update(self, people: People, camera: ImageCamera) -> CalibrationUpdate:
        """Feed one frame's people (image-only depth, the pixels of ``camera``)."""
        with self._lock:
            estimate = self._calibrator.update(calibration_people(people, camera), camera.K)
            restart = ""
            if estimate.resets > self._resets_seen:  # the estimator started over by itself
                self.restarts += estimate.resets - self._resets_seen
                self._resets_seen = estimate.resets
                self._reported = None
                restart = estimate.reset_reason or "restarted"
            mount = mount_of(estimate)
            changed = mount is not None and mount != self._reported
            if changed:
                self._reported = mount
            self._estimate = estimate
        return CalibrationUpdate(estimate, changed, restart)

    def reset(self, reason: str = "requested") -> CalibrationEstimate:
        """Forget the estimate (and a loaded one); the next convergence is reported again."""
        with self._lock:
            self._calibrator.reset(reason)
            self.requested_resets += 1
            self._estimate = self._calibrator.estimate
            self._resets_seen = self._estimate.resets
            self._reported = None
        return self._estimate


def ground_to_camera(estimate: CalibrationEstimate) -> tuple[np.ndarray, np.ndarray]:
    """(R (3, 3), t (3,) m): the camera optical frame's pose in a ground frame, z up with
    z = 0 on the ground, origin below the camera, x along the camera's view projected on the
    ground (a camera's yaw is not observable). R's columns are the camera axes in the ground
    frame (the transform ground -> camera of TF); ValueError before the first estimate.
    :func:`loco_ros.decoding.ground_plane.ground_plane_from_transform` inverts it.
    """
    plane = estimate.ground_plane()
    up = plane.up_cam / np.linalg.norm(plane.up_cam)
    forward = np.array([0.0, 0.0, 1.0]) - up[2] * up
    if np.linalg.norm(forward) < 1e-9:  # looking straight down or up: x along the image's up
        forward = np.array([0.0, -1.0, 0.0]) - up[1] * up
    forward /= np.linalg.norm(forward)
    left = np.cross(up, forward)
    rows = np.stack([forward, left, up])  # ground axes in camera coordinates
    return rows, np.array([0.0, 0.0, plane.camera_height_m])


def describe_mount(estimate: CalibrationEstimate) -> dict[str, float]:
    """Heights (m) and angles (deg) with their 1-sigma of an estimate (NaN before a fit),
    for diagnostics."""
    return {"ground_camera_height_m": estimate.camera_height_m,
            "ground_camera_height_std_m": estimate.camera_height_std_m,
            "ground_pitch_deg": estimate.pitch_deg, "ground_pitch_std_deg": estimate.pitch_std_deg,
            "ground_roll_deg": estimate.roll_deg, "ground_roll_std_deg": estimate.roll_std_deg}

