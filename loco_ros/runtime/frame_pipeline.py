"""One image through the whole method, ROS-free: the one frame pipeline of loco_node,
``loco_bag process`` and the evaluation, so that their results agree by construction.

    pipeline = FramePipeline(estimator, PipelineConfig.from_node_config(node_config))
    pipeline.cameras.update_model(camera_model, stamp_ns)      # each CameraInfo
    camera = pipeline.camera_for(width, height, stamp_ns)      # which camera: InputError if none
    result = pipeline.process(image_rgb, stamp_ns, frame_id, camera=camera)
    result.people                                              # refined, grounded, tracked

Stages, one line each in :meth:`FramePipeline.process`: the estimator (letterbox, network,
peaks, lifting with the lens, association, refiner), the ground plane (fixed mount, TF, the
self-calibration of mode ``auto``, or the caller's), tracking. The :class:`FrameResult` keeps
the intermediate people the metrics read.

Mode ``auto``: the pipeline owns a :class:`GroundCalibration` (``pipeline.calibration``, from
``initial_calibration`` when given) and feeds it, after tracking, every frame's people with
their image-only depth and their track ids; people are snapped to its plane (as it stood
before the frame) only once it has converged, before that they keep the image-only depth.
Frames go in the order given (a bag's order offline), so live and offline runs learn the
same estimate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from loco_ros.calibration import CalibrationEstimate
from loco_ros.camera.intrinsics import IntrinsicsSource
from loco_ros.camera.lens import CameraModel, ImageCamera
from loco_ros.decoding.ground_plane import (
    GroundPlane,
    GroundPlaneConfig,
    ground_plane_from_config,
    snap_with_config,
)
from loco_ros.errors import InputError
from loco_ros.runtime.estimator import Estimate
from loco_ros.runtime.ground_calibration import CalibrationUpdate, GroundCalibration
from loco_ros.runtime.node_config import NodeConfig
from loco_ros.runtime.tracking import PersonTracker, TrackingConfig
from loco_ros.types import Candidates, People


class Estimator(Protocol):
    """LocoEstimator's estimate(): one image, its K (3, 3) and lens in, an Estimate out."""

    def estimate(self, image_rgb: np.ndarray, K: np.ndarray, lens=None) -> Estimate: ...


class PlaneSource(Protocol):
    """The ground plane of an image's frame at its stamp (ground_plane.mode ``tf``): None when
    there is none, InputError(reason ``ground_plane``) when it cannot be had now."""

    def __call__(self, frame_id: str, stamp_ns: int) -> GroundPlane | None: ...


@dataclass(frozen=True)
class PipelineConfig:
    """Which camera applies (camera_info_mode, image_is_rectified, fallback), the ground plane
    and tracking (None: people keep track_id as the estimator gives them)."""

    camera_info_mode: str = "latest"
    image_is_rectified: bool = False
    fallback: CameraModel | None = None
    ground_plane: GroundPlaneConfig = field(default_factory=GroundPlaneConfig)
    tracking: TrackingConfig | None = None

    @classmethod
    def from_node_config(cls, config: NodeConfig) -> PipelineConfig:
        """The pipeline loco_node runs with ``config`` (tracking always, as the node)."""
        return cls(config.camera_info_mode, config.image_is_rectified, fallback_camera(config),
                   config.ground_plane, config.tracking)


def fallback_camera(config: NodeConfig) -> CameraModel | None:
    """The fallback pinhole camera of the node's fallback_fx/fy/cx/cy (None when unset)."""
    if not config.has_fallback_intrinsics:
        return None
    K = np.array([[config.fallback_fx, 0, config.fallback_cx],
                  [0, config.fallback_fy, config.fallback_cy], [0, 0, 1]])
    return CameraModel(K, 0, 0)


@dataclass(frozen=True)
class FrameResult:
    """One image through the pipeline.

    people: what is published (refined, on the ground where a plane is known, tracked).
    estimate: the estimator's output (its people refined when a refiner ran).
    grounded: estimate.people on the ground plane (None without a plane).
    ground_error: why the plane could not be had (None when it could, or is off).
    timings_s: seconds per stage (the estimator's, ground_plane, tracking, total).
    calibration: mode ``auto``: the self-calibration after this frame (None in other modes);
    people are grounded only when it has converged.
    calibration_changed: a converged estimate appeared or changed on this frame.
    calibration_restart: why the self-calibration started over by itself on this frame
    (persistent misfit: camera moved, floor not flat), else "".
    """

    people: People
    estimate: Estimate
    grounded: People | None = None
    ground_error: InputError | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    calibration: CalibrationEstimate | None = None
    calibration_changed: bool = False
    calibration_restart: str = ""

    @property
    def detected(self) -> People:
        """The people as association made them (before the refiner)."""
        return self.estimate.associated

    @property
    def refined(self) -> People | None:
        """The people after the refiner (None when no refiner ran)."""
        return None if self.estimate.unrefined is None else self.estimate.people

    @property
    def solitary(self) -> Candidates:
        """Confident candidates that no person took (for the JTA metric)."""
        return self.estimate.solitary

    @property
    def peaks_dropped(self) -> int:
        """Peaks a GPU kernel found but could not return."""
        return self.estimate.peaks_dropped


class FramePipeline:
    """Camera lookup, estimator, ground plane, tracking; see the module docstring.

    ``planes`` gives the plane in ground_plane.mode ``tf`` (the node's TF lookup, or a bag's
    /tf_static). In mode ``auto`` ``calibration`` is the self-calibration, started from
    ``initial_calibration`` (a saved estimate) when given; None in other modes.
    ``ground_config`` and ``tracker.config`` may be replaced at run time (not the mode).
    """

    def __init__(self, estimator: Estimator, config: PipelineConfig = PipelineConfig(),
                 planes: PlaneSource | None = None,
                 initial_calibration: CalibrationEstimate | None = None) -> None:
        self.estimator = estimator
        self.cameras = IntrinsicsSource(config.camera_info_mode, config.fallback,
                                        rectified=config.image_is_rectified)
        self.planes = planes
        self.tracker = None if config.tracking is None else PersonTracker(config.tracking)
        self.ground_config = config.ground_plane
        self.calibration = None
        if config.ground_plane.mode == "auto":
            self.calibration = GroundCalibration(config.ground_plane, initial_calibration)

    @property
    def ground_config(self) -> GroundPlaneConfig:
        return self._ground_config

    @ground_config.setter
    def ground_config(self, config: GroundPlaneConfig) -> None:
        self._ground_config = config
        self._fixed = ground_plane_from_config(config) if config.mode == "fixed" else None

    def camera_for(self, width: int, height: int, stamp_ns: int) -> ImageCamera:
        """K and lens of a width x height image taken at stamp_ns; InputError without one."""
        return self.cameras.lookup_camera(width, height, stamp_ns)

    def reset(self) -> None:
        """Start new tracks (ids are never reused); the ground calibration is kept."""
        if self.tracker is not None:
            self.tracker.reset()

    def process(self, image_rgb: np.ndarray, stamp_ns: int, frame_id: str = "",
                camera: ImageCamera | None = None,
                plane: GroundPlane | None = None) -> FrameResult:
        """People in one (H, W, 3) uint8 RGB image taken at stamp_ns (ns) in frame_id.

        camera: K (3, 3) and lens of this image (None: :meth:`camera_for` its size).
        plane: this image's ground plane when the caller knows it (evaluation scenes); else
        the configured one (off, fixed, or ``planes`` in mode tf).
        """
        if camera is None:
            camera = self.camera_for(image_rgb.shape[1], image_rgb.shape[0], stamp_ns)
        estimate = self.estimator.estimate(image_rgb, camera.K, lens=camera.lens)
        t0 = time.perf_counter()
        if plane is None and self.calibration is not None:
            plane = self.calibration.plane  # of the frames before; None: image-only depth
        grounded, ground_error = self._on_ground(estimate.people, frame_id, stamp_ns, plane)
        t1 = time.perf_counter()
        people = estimate.people if grounded is None else grounded
        if self.tracker is not None:
            people = self.tracker.update(people, stamp_ns * 1e-9)
        t2 = time.perf_counter()
        update = self._calibrate(estimate.people, people, camera)
        t3 = time.perf_counter()
        timings = dict(estimate.timings_s, ground_plane=t1 - t0 + t3 - t2, tracking=t2 - t1)
        timings["total"] = sum(timings.values())
        if update is None:
            return FrameResult(people, estimate, grounded, ground_error, timings)
        return FrameResult(people, estimate, grounded, ground_error, timings, update.estimate,
                           update.changed, update.restart_reason)

    def _calibrate(self, image_only: People, tracked: People, camera: ImageCamera
                   ) -> CalibrationUpdate | None:
        """Mode ``auto``: one frame of the self-calibration (None in other modes), fed the
        image-only people with the track ids the tracker gave them (``tracked``: the same
        people in the same order), so that it links a person across frames by the 3D
        tracker's id rather than by its own image-space guess."""
        if self.calibration is None:
            return None
        return self.calibration.update(replace(image_only, track_id=tracked.track_id), camera)

    def _on_ground(self, people: People, frame_id: str, stamp_ns: int,
                   plane: GroundPlane | None) -> tuple[People | None, InputError | None]:
        """(people on the ground plane or None without one, why the plane is missing)."""
        if plane is None:
            try:
                plane = self._plane(frame_id, stamp_ns)
            except InputError as err:
                return None, err
        if plane is None:
            return None, None
        return snap_with_config(people, plane, self._ground_config), None

    def _plane(self, frame_id: str, stamp_ns: int) -> GroundPlane | None:
        if self._ground_config.mode == "fixed":
            return self._fixed
        if self._ground_config.mode == "tf" and self.planes is not None:
            return self.planes(frame_id, stamp_ns)
        return None
