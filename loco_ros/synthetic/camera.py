"""The pinhole camera of the synthetic scenes: frames, intrinsics, pose and its sampling.

Frames
- **World**: origin on the ground right below the camera centre, x right, y **down**
  (gravity), z forward (horizontal); the ground is the plane y = 0 (above it y < 0). This is
  the camera optical frame of a level camera moved down to the ground.
- **Camera**: the optical frame of docs/CONVENTIONS.md (x right, y down, z forward, metres),
  centre at world (0, -camera_height_m, 0), pitched down by ``pitch`` about its x axis and
  rolled by ``roll`` about its z axis. ``X_cam = R_world_cam.T @ (X_world - position_w)``.
- The ground plane in the camera frame is ``n . X + camera_height_m = 0`` with
  ``n = Camera.ground_up_cam`` (unit, pointing up, away from the ground).

Units: K and image coordinates in pixels, positions and heights in metres, angles in radians
(``make_camera`` takes degrees).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from loco_ros.decoding.ground_plane import GroundPlane, tilt_rotation
from loco_ros.decoding.lifting import project_to_image

if TYPE_CHECKING:  # only for the annotation: scene.py imports this module
    from loco_ros.synthetic.scene import SceneConfig


@dataclass(frozen=True, eq=False)
class Camera:
    """Pinhole camera above the ground plane (see module docstring for the frames)."""

    K: np.ndarray  # (3, 3) float64
    width: int
    height: int
    height_m: float
    pitch_rad: float
    roll_rad: float

    @property
    def R_world_cam(self) -> np.ndarray:
        """Rotation whose columns are the camera axes in the world frame."""
        return tilt_rotation(self.pitch_rad, self.roll_rad)

    @property
    def position_w(self) -> np.ndarray:
        return np.array([0.0, -self.height_m, 0.0])

    @property
    def ground_up_cam(self) -> np.ndarray:
        """Unit normal of the ground pointing up, in the camera frame."""
        return self.R_world_cam.T @ np.array([0.0, -1.0, 0.0])

    @property
    def ground_plane(self) -> GroundPlane:
        """The ground as the pose pipeline's ground-plane prior sees it."""
        return GroundPlane(self.ground_up_cam, self.height_m)

    def world_to_camera(self, x_w: np.ndarray) -> np.ndarray:
        return (np.asarray(x_w, np.float64) - self.position_w) @ self.R_world_cam

    def camera_to_world(self, x_c: np.ndarray) -> np.ndarray:
        return np.asarray(x_c, np.float64) @ self.R_world_cam.T + self.position_w

    def project(self, x_c: np.ndarray) -> np.ndarray:
        """Pixels (..., 2) of camera-frame points (..., 3); no check of z > 0."""
        return project_to_image(np.asarray(x_c, np.float64), self.K)

    def in_image(self, x_c: np.ndarray, min_z: float = 0.1) -> np.ndarray:
        """True where a camera-frame point is in front (z > min_z) and inside the image."""
        x_c = np.asarray(x_c, np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = self.project(x_c)
        return (
            (x_c[..., 2] > min_z)
            & (uv[..., 0] >= 0.0)
            & (uv[..., 0] <= self.width - 1)
            & (uv[..., 1] >= 0.0)
            & (uv[..., 1] <= self.height - 1)
        )


def make_camera(
    width: int,
    height: int,
    focal_px: float,
    height_m: float,
    pitch_deg: float = 0.0,
    roll_deg: float = 0.0,
    principal: tuple[float, float] | None = None,
) -> Camera:
    """A camera with fx = fy = ``focal_px`` (principal point at the image centre by default)."""
    cx, cy = principal if principal is not None else ((width - 1) / 2.0, (height - 1) / 2.0)
    K = np.array([[focal_px, 0.0, cx], [0.0, focal_px, cy], [0.0, 0.0, 1.0]])
    return Camera(
        K,
        int(width),
        int(height),
        float(height_m),
        math.radians(pitch_deg),
        math.radians(roll_deg),
    )


def sample_camera(rng: np.random.Generator, config: SceneConfig) -> Camera:
    """Random intrinsics and pose within ``config``."""
    f = config.focal_px * rng.uniform(1.0 - config.focal_jitter, 1.0 + config.focal_jitter)
    j = config.principal_jitter_px
    cx = (config.image_width - 1) / 2.0 + rng.uniform(-j, j)
    cy = (config.image_height - 1) / 2.0 + rng.uniform(-j, j)
    return make_camera(
        config.image_width,
        config.image_height,
        float(f),
        float(rng.uniform(*config.camera_height_m)),
        float(rng.uniform(*config.pitch_deg)),
        float(rng.uniform(*config.roll_deg)),
        principal=(float(cx), float(cy)),
    )


def ground_distance_range(camera: Camera, lo: float, hi: float) -> tuple[float, float]:
    """Part of [lo, hi] (horizontal distance) where people can appear in the image."""
    fy, cy = camera.K[1, 1], camera.K[1, 2]
    below = camera.pitch_rad + math.atan((camera.height - 1 - cy) / fy)  # bottom-edge ray
    above = camera.pitch_rad - math.atan(cy / fy)  # top-edge ray, positive = below horizon
    if below > 1e-3:
        # Feet at the bottom edge; allow cut feet (a few joints may leave the image).
        lo = max(lo, 0.75 * camera.height_m / math.tan(min(below, 1.55)))
    if above > 1e-3:
        hi = min(hi, camera.height_m / math.tan(above))
    return lo, hi
