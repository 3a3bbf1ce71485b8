"""The ground plane prior: people stand on the ground, so a calibrated camera gives their depth.

One camera cannot tell a tall person far away from a short one nearby: depth from apparent
size alone carries the spread of human stature (about 8 % here, so 1.6 m at 20 m). A robot
usually knows where its camera is above the floor (its URDF / TF, or a fixed mount). Then the
ray through a person's standing ankle meets the ground at one known point, and the whole
person can be slid along the camera rays to stand there: the image positions stay exactly as
detected, only the distance changes.

Conventions: camera optical frame (x right, y down, z forward, metres). The ground plane is
``up_cam . X + camera_height_m = 0``: ``up_cam`` is the unit normal pointing up (away from
the ground) and ``up_cam . X + camera_height_m`` is the height of a point X above the ground.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.spatial.transform import Rotation

from loco_ros.config import _require
from loco_ros.skeleton import JOINT_INDEX
from loco_ros.types import People

ANKLES = (JOINT_INDEX["right_ankle"], JOINT_INDEX["left_ankle"])


MODES = ("off", "fixed", "tf", "auto")


@dataclass(frozen=True)
class AutoCalibrationConfig:
    """ground_plane.mode ``auto``: the parameters of the self-calibration a user may want to
    set, each 0 = the estimator's own default (:class:`loco_ros.calibration.
    SelfCalibrationConfig`, mapped by field name in :mod:`loco_ros.runtime.ground_calibration`;
    its other fields keep their defaults).

    ``stature_mean_m`` +- ``stature_std_m``: upright stature of the people seen (1 sigma;
    adults: 1.70 +- 0.10 m). ``pixel_sigma_px``: joint pixel error of the detector.
    ``min_person_px``: shorter people (in the image, sized from neck to knees) are not used.
    Convergence: at least ``min_frames`` frames with standing people, ``min_people``
    distinct people, the height's 1 sigma at most ``max_height_std`` of the height and the
    angles' at most ``max_angle_std_deg``, the depth the plane gives the people seen
    uncertain by at most ``max_depth_std_ratio`` times the stature cue's spread
    (``stature_std_m / stature_mean_m``), and two refits in a row agreeing within
    ``max_height_change`` (relative) and ``max_angle_change_deg``. Cost and memory:
    ``capacity`` observations kept, a refit every ``refit_every_frames`` frames (every
    ``refit_every_converged_frames``, a multiple of it, once converged), a grid search every
    ``grid_every_refits``-th refit. Misfit: the people of the last ``misfit_frames`` frames
    do not fit when more than ``misfit_outlier_fraction`` of them are outliers or their
    median stature is off by more than ``misfit_stature_bias`` (log ratio);
    ``misfit_patience``: refits in a row that the recent people do not fit before the
    estimate starts over (the camera moved).
    """

    stature_mean_m: float = 0.0
    stature_std_m: float = 0.0
    pixel_sigma_px: float = 0.0
    min_person_px: float = 0.0
    min_frames: int = 0
    min_people: int = 0
    max_height_std: float = 0.0
    max_angle_std_deg: float = 0.0
    max_depth_std_ratio: float = 0.0
    max_height_change: float = 0.0
    max_angle_change_deg: float = 0.0
    capacity: int = 0
    refit_every_frames: int = 0
    refit_every_converged_frames: int = 0
    grid_every_refits: int = 0
    misfit_frames: int = 0
    misfit_outlier_fraction: float = 0.0
    misfit_stature_bias: float = 0.0
    misfit_patience: int = 0

    def __post_init__(self) -> None:
        prefix = "ground_plane.auto."
        checks = {"stature_mean_m": (1.0 <= self.stature_mean_m <= 2.2, "in [1, 2.2]"),
                  "stature_std_m": (0.0 < self.stature_std_m <= 0.5, "in (0, 0.5]"),
                  "pixel_sigma_px": (0.0 < self.pixel_sigma_px <= 50.0, "in (0, 50]"),
                  "min_person_px": (self.min_person_px >= 4.0, ">= 4"),
                  "min_frames": (self.min_frames >= 1, ">= 1"),
                  "min_people": (self.min_people >= 1, ">= 1"),
                  "max_height_std": (0.0 < self.max_height_std < 1.0, "in (0, 1)"),
                  "max_angle_std_deg": (0.0 < self.max_angle_std_deg <= 20.0, "in (0, 20]"),
                  "max_depth_std_ratio": (self.max_depth_std_ratio > 0.0, "> 0"),
                  "max_height_change": (0.0 < self.max_height_change < 1.0, "in (0, 1)"),
                  "max_angle_change_deg": (self.max_angle_change_deg > 0.0, "> 0"),
                  "capacity": (10 <= self.capacity <= 100_000, "in [10, 100000]"),
                  "refit_every_frames": (self.refit_every_frames >= 1, ">= 1"),
                  "refit_every_converged_frames": (self.refit_every_converged_frames >= 1,
                                                   ">= 1 (a multiple of refit_every_frames)"),
                  "grid_every_refits": (self.grid_every_refits >= 1, ">= 1"),
                  "misfit_frames": (self.misfit_frames >= 1, ">= 1"),
                  "misfit_outlier_fraction": (0.0 < self.misfit_outlier_fraction <= 1.0,
                                              "in (0, 1]"),
                  "misfit_stature_bias": (self.misfit_stature_bias > 0.0, "> 0"),
                  "misfit_patience": (self.misfit_patience >= 1, ">= 1")}
        for name, (ok, bounds) in checks.items():
            _require(getattr(self, name) == 0 or ok,
                     f"{prefix}{name} must be {bounds}, or 0 for the estimator's default")

    def overrides(self) -> dict[str, float | int]:
        """The fields set (non-zero): name -> value."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__
                if getattr(self, name) != 0}


@dataclass(frozen=True)
class GroundPlaneConfig:
    """Where the ground plane comes from and how people are put on it.

    mode: ``off``; ``fixed``: a camera mounted ``camera_height_m`` above flat ground, pitched
    down by ``pitch_deg`` and rolled by ``roll_deg`` (clockwise in the image); ``tf``: the
    transform from the image's frame to ``ground_frame``, a frame whose z = 0 plane is the
    ground with z up (``base_footprint`` on most robots), looked up at the image stamp,
    waiting at most ``tf_timeout_s`` for a transform that has not arrived yet; ``auto``:
    learnt from the people walking past a fixed camera (``auto``, see
    docs/self_calibration.md), people keep the image-only depth until the estimate has
    converged; ``calibration_file``: YAML of the estimate, loaded at configure and saved at
    deactivate and shutdown ("" = none); ``ground_frame`` names the estimate's ground frame.
    ``ankle_height_m``: height of the ankle joint above the ground when standing.
    ``max_depth_change``: a correction that would change a person's distance by more than this
    fraction is not made (the person is on stairs, a platform, or the ankle is wrong).
    """

    mode: str = "off"
    camera_height_m: float = 0.0
    pitch_deg: float = 0.0
    roll_deg: float = 0.0
    ground_frame: str = "base_footprint"
    tf_timeout_s: float = 0.05
    ankle_height_m: float = 0.07
    max_depth_change: float = 0.5
    calibration_file: str = ""
    auto: AutoCalibrationConfig = field(default_factory=AutoCalibrationConfig)

    def __post_init__(self) -> None:
        _require(self.mode in MODES,
                 f"ground_plane.mode must be {'|'.join(MODES)}, not {self.mode!r}")
        if self.mode == "fixed":
            _require(self.camera_height_m > 0.0 and math.isfinite(self.camera_height_m),
                     "ground_plane.camera_height_m must be > 0 with mode fixed")
        _require(-89.0 <= self.pitch_deg <= 89.0, "ground_plane.pitch_deg must be in [-89, 89]")
        _require(-89.0 <= self.roll_deg <= 89.0, "ground_plane.roll_deg must be in [-89, 89]")
        _require(self.mode not in ("tf", "auto") or bool(self.ground_frame),
                 f"ground_plane.ground_frame must be set with mode {self.mode}")
        _require(0.0 <= self.tf_timeout_s <= 1.0, "ground_plane.tf_timeout_s must be in [0, 1]")
        _require(0.0 <= self.ankle_height_m < 0.5,
                 "ground_plane.ankle_height_m must be in [0, 0.5)")
        _require(0.0 < self.max_depth_change <= 10.0,
                 "ground_plane.max_depth_change must be in (0, 10]")


@dataclass(frozen=True)
class GroundPlane:
    """The ground in the camera optical frame: up_cam (3,) unit normal, camera_height_m > 0."""

    up_cam: np.ndarray
    camera_height_m: float

    def height_above_m(self, xyz_m: np.ndarray) -> np.ndarray:
        """Height (...) in metres above the ground of camera-frame points (..., 3)."""
        return np.asarray(xyz_m, np.float64) @ self.up_cam + self.camera_height_m


def tilt_rotation(pitch_rad: float, roll_rad: float) -> np.ndarray:
    """(3, 3) whose columns are the axes of a camera pitched down by ``pitch_rad`` about its
    x axis, then rolled by ``roll_rad`` about its z axis, in the frame of the level camera
    (x right, y down, z forward)."""
    cp, sp = math.cos(pitch_rad), math.sin(pitch_rad)
    cr, sr = math.cos(roll_rad), math.sin(roll_rad)
    pitch = np.array([[1.0, 0.0, 0.0], [0.0, cp, sp], [0.0, -sp, cp]])
    roll = np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]])
    return pitch @ roll


def ground_plane_from_angles(camera_height_m: float, pitch_rad: float,
                             roll_rad: float = 0.0) -> GroundPlane:
    """The plane seen by a camera ``camera_height_m`` above the ground, tilted as in
    :func:`tilt_rotation`."""
    up_level = np.array([0.0, -1.0, 0.0])  # "up" for a level camera, y down
    return GroundPlane(tilt_rotation(pitch_rad, roll_rad).T @ up_level, float(camera_height_m))


def angles_of_plane(plane: GroundPlane) -> tuple[float, float]:
    """(pitch_rad, roll_rad) of :func:`ground_plane_from_angles` that give ``plane``."""
    up = plane.up_cam / np.linalg.norm(plane.up_cam)
    pitch = math.asin(float(np.clip(-up[2], -1.0, 1.0)))
    return pitch, math.atan2(-float(up[0]), -float(up[1]))


def ground_plane_from_config(config: GroundPlaneConfig) -> GroundPlane:
    """The plane of a ``fixed`` mount (ValueError for other modes)."""
    if config.mode != "fixed":
        raise ValueError(f"ground_plane.mode {config.mode!r} has no fixed plane")
    return ground_plane_from_angles(config.camera_height_m, math.radians(config.pitch_deg),
                                    math.radians(config.roll_deg))


def transform_to_rotation_translation(transform) -> tuple[np.ndarray, np.ndarray]:
    """(R (3, 3), t (3,) m) of a geometry_msgs/Transform (rclpy or rosbags message); ValueError
    for a zero or NaN quaternion."""
    q, t = transform.rotation, transform.translation
    return Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix(), np.array([t.x, t.y, t.z])


def ground_plane_from_transform(rotation_ground_cam: np.ndarray,
                                translation_ground_cam_m: np.ndarray) -> GroundPlane:
    """The plane z = 0 of a ground frame (z up), from the camera's pose in that frame.

    rotation_ground_cam: (3, 3) whose columns are the camera axes in the ground frame;
    translation_ground_cam_m: (3,) camera origin in the ground frame (its z is the height).
    ValueError if the camera is not above the ground.
    """
    R = np.asarray(rotation_ground_cam, np.float64).reshape(3, 3)
    t = np.asarray(translation_ground_cam_m, np.float64).reshape(3)
    if not (np.isfinite(R).all() and np.isfinite(t).all()) or t[2] <= 0.0:
        raise ValueError(f"camera is not above the ground plane (height {t[2]:.3f} m)")
    return GroundPlane(R.T @ np.array([0.0, 0.0, 1.0]), float(t[2]))


def snap_people_to_ground(people: People, plane: GroundPlane, ankle_height_m: float = 0.07,
                          max_depth_change: float = 0.5) -> People:
    """Slide each person along the camera rays so that its standing ankle is on the ground.

    The anchors are the person's detected ankles (heatmap peaks), or where it has none its
    refiner-filled ankles (the refiner's guess of where the unseen feet are). For every anchor
    the scale s that puts it ``ankle_height_m`` above ``plane`` is computed; the smaller s
    belongs to the foot on the ground (a lifted foot looks farther). All joints of the person
    are multiplied by that s, so their pixels do not move. People without an ankle, with
    ankles on rays that do not meet the ground, or whose s is outside [1 - max_depth_change,
    1 + max_depth_change], are returned unchanged. Shapes as in :class:`People`.
    """
    xyz = people.xyz_m.astype(np.float64)
    ankles = xyz[:, ANKLES]  # (P, 2, 3)
    below = ankles @ plane.up_cam  # (P, 2): < 0 where the ray goes down towards the ground
    usable = np.isfinite(below) & (below < -1e-6)
    detected = people.detected[:, ANKLES] & usable
    ok = np.where(detected.any(axis=1, keepdims=True), detected, usable)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(ok, (ankle_height_m - plane.camera_height_m) / below, np.inf)
    s = scale.min(axis=1)  # (P,)
    use = np.isfinite(s) & (np.abs(s - 1.0) <= max_depth_change)
    if not use.any():
        return people
    xyz[use] *= s[use, None, None]
    return replace(people, xyz_m=xyz.astype(people.xyz_m.dtype))


def snap_with_config(people: People, plane: GroundPlane, config: GroundPlaneConfig) -> People:
    """:func:`snap_people_to_ground` with the ankle height and depth-change limit of
    ``config`` (what the node and the evaluation both run)."""
    return snap_people_to_ground(people, plane, config.ankle_height_m, config.max_depth_change)


def fuse_ground_depth(people: People, plane: GroundPlane, K: np.ndarray,
                      ankle_height_m: float = 0.07, max_depth_change: float = 0.5,
                      image_rel_std: float = 0.06, pixel_sigma_px: float = 2.0,
                      ankle_height_std_m: float = 0.03, plane_log_std=None,
                      undetected_factor: float = 4.0) -> People:
    """Per person, the inverse-variance mean (in log depth) of the image's own depth and the
    depth that puts its standing ankle on ``plane`` (what :func:`snap_people_to_ground` would
    give); all joints are scaled by it, so pixels do not move.

    Relative 1-sigma of the ground cue: ``pixel_sigma_px`` at the ankle over the ankle ray's
    angle below the horizon (large for far people seen from a low camera), times
    ``undetected_factor`` for a refiner-filled ankle; the ankle's height spread
    ``ankle_height_std_m`` over the camera height; and ``plane_log_std(rays (N, 2)) -> (N,)``
    the plane's own uncertainty per normalised ankle ray (None: an exact plane). The image
    cue's is ``image_rel_std`` (the stature spread of depth from apparent size). People the
    ground cannot place (as in :func:`snap_people_to_ground`) keep the image depth.
    """
    xyz = people.xyz_m.astype(np.float64)
    if xyz.shape[0] == 0:
        return people
    ankles = xyz[:, ANKLES]  # (P, 2, 3)
    below = ankles @ plane.up_cam
    usable = np.isfinite(below) & (below < -1e-6)
    detected = people.detected[:, ANKLES] & usable
    has_detected = detected.any(axis=1)
    ok = np.where(has_detected[:, None], detected, usable)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(ok, (ankle_height_m - plane.camera_height_m) / below, np.inf)
    which = np.argmin(scale, axis=1)
    s = scale[np.arange(len(scale)), which]
    use = np.isfinite(s) & (s > 0) & (np.abs(s - 1.0) <= max_depth_change)
    if not use.any():
        return people
    anchor = ankles[np.arange(len(scale)), which]  # (P, 3)
    with np.errstate(divide="ignore", invalid="ignore"):
        rays = anchor[:, :2] / anchor[:, 2:3]
        r_up = rays @ plane.up_cam[:2] + plane.up_cam[2]  # (r, 1) . up, < 0 towards ground
        pix = pixel_sigma_px * np.hypot(plane.up_cam[0] / K[0, 0], plane.up_cam[1] / K[1, 1]) \
            / np.abs(r_up)
    pix = np.where(has_detected, pix, undetected_factor * pix)
    var_g = pix ** 2 + (ankle_height_std_m / max(plane.camera_height_m - ankle_height_m,
                                                 1e-3)) ** 2
    if plane_log_std is not None:
        var_g = var_g + np.nan_to_num(np.asarray(plane_log_std(rays), np.float64) ** 2,
                                      nan=np.inf)
    w = (1.0 / image_rel_std ** 2) / (1.0 / image_rel_std ** 2 + 1.0 / var_g)  # image weight
    with np.errstate(divide="ignore", invalid="ignore"):
        fused = np.exp((1.0 - w) * np.log(s))
    fused = np.where(use & np.isfinite(fused), fused, 1.0)
    xyz *= fused[:, None, None]
    return replace(people, xyz_m=xyz.astype(people.xyz_m.dtype))
