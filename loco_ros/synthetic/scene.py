"""Random synthetic scenes: a pinhole camera above a ground plane and people standing on it.

The frames (world with y down and the ground at y = 0, camera optical frame) are described
in :mod:`loco_ros.synthetic.camera`; the camera lives there, the people's colours in
:mod:`loco_ros.synthetic.appearance` and the background and lighting in
:mod:`loco_ros.synthetic.environment`. They are re-exported here, so
``from loco_ros.synthetic.scene import Camera`` keeps working.

:func:`sample_scene` draws everything from the caller's generator; the same generator state
gives the same scene.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from loco_ros.errors import ConfigError
from loco_ros.skeleton import NUM_JOINTS
from loco_ros.synthetic.appearance import Appearance, sample_appearance
from loco_ros.synthetic.camera import (
    Camera,
    ground_distance_range,
    make_camera,
    sample_camera,
)
from loco_ros.synthetic.environment import Environment, sample_environment
from loco_ros.synthetic.skeletons import POSES, sample_person, yaw_matrix

__all__ = [
    "Appearance",
    "Camera",
    "Environment",
    "Scene",
    "SceneConfig",
    "ground_distance_range",
    "make_camera",
    "make_scene",
    "sample_appearance",
    "sample_camera",
    "sample_environment",
    "sample_scene",
]


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@dataclass(frozen=True)
class SceneConfig:
    """Ranges every scene is drawn from (units: pixels, metres, degrees).

    ``focal_px`` is the canonical focal length (fx = fy); each scene multiplies it by
    U(1 - focal_jitter, 1 + focal_jitter) (0.3 gives the +-30 % option, 0 a fixed focal).
    The principal point is the image centre ((W - 1) / 2, (H - 1) / 2) plus
    U(-principal_jitter_px, +principal_jitter_px) per axis. ``distance_m`` bounds the
    horizontal distance along the camera heading of each person's ground point.
    ``people`` is an inclusive count range drawn log-uniformly ("log_uniform", so small
    groups are as common as crowds) or uniformly. A person is kept when at least
    ``min_joints_in_image`` of its 14 joints project inside the image; people keep
    ``min_separation_m`` between their ground footprints (circles around the feet and
    body, so they never interpenetrate). ``pose_weights`` aligns with
    ``skeletons.POSES``. ``mocap_share`` of the people take a real motion-capture pose
    (:mod:`loco_ros.synthetic.mocap`; pose name ``mocap_<clip>``) instead of a pose family.
    Fewer people than drawn are placed when the space runs out.
    """

    image_width: int = 512
    image_height: int = 288
    focal_px: float = 400.0
    focal_jitter: float = 0.3
    principal_jitter_px: float = 8.0
    camera_height_m: tuple[float, float] = (1.0, 6.0)
    pitch_deg: tuple[float, float] = (0.0, 30.0)
    roll_deg: tuple[float, float] = (-2.0, 2.0)
    people: tuple[int, int] = (1, 60)
    people_distribution: str = "log_uniform"
    distance_m: tuple[float, float] = (2.0, 25.0)
    min_separation_m: float = 0.15
    min_joints_in_image: int = 10
    pose_weights: tuple[float, ...] = (3.0, 3.0, 1.0, 1.0, 1.0, 1.0, 1.0)
    child_probability: float = 0.05
    max_tries_per_person: int = 64
    # Share of people posed from real motion capture (synthetic.mocap's pose bank, loaded
    # lazily and only when > 0); 0 keeps every scene as before, draw for draw.
    mocap_share: float = 0.0

    def __post_init__(self) -> None:
        _require(16 <= self.image_width <= 8192, "image_width must be in [16, 8192]")
        _require(16 <= self.image_height <= 8192, "image_height must be in [16, 8192]")
        _require(self.focal_px > 0 and math.isfinite(self.focal_px), "focal_px must be > 0")
        _require(0.0 <= self.focal_jitter < 0.9, "focal_jitter must be in [0, 0.9)")
        _require(self.principal_jitter_px >= 0.0, "principal_jitter_px must be >= 0")
        for name in ("camera_height_m", "pitch_deg", "roll_deg", "distance_m", "people"):
            lo_hi = getattr(self, name)
            _require(len(lo_hi) == 2 and lo_hi[0] <= lo_hi[1], f"{name} must be (lo, hi)")
        _require(self.camera_height_m[0] > 0.2, "camera_height_m must be > 0.2")
        _require(-10.0 <= self.pitch_deg[0] and self.pitch_deg[1] <= 80.0, "pitch in [-10, 80]")
        _require(abs(self.roll_deg[0]) <= 45 and abs(self.roll_deg[1]) <= 45, "|roll| <= 45")
        _require(1 <= self.people[0], "people must be >= 1")
        _require(self.people_distribution in ("log_uniform", "uniform"), "people_distribution")
        _require(self.distance_m[0] >= 0.5, "distance_m must start at >= 0.5 m")
        _require(self.min_separation_m >= 0.0, "min_separation_m must be >= 0")
        _require(1 <= self.min_joints_in_image <= NUM_JOINTS, "min_joints_in_image in [1, 14]")
        _require(len(self.pose_weights) == len(POSES), f"pose_weights needs {len(POSES)} values")
        _require(
            all(w >= 0 for w in self.pose_weights) and sum(self.pose_weights) > 0,
            "pose_weights must be >= 0 with a positive sum",
        )
        _require(0.0 <= self.child_probability <= 1.0, "child_probability must be in [0, 1]")
        _require(self.max_tries_per_person >= 1, "max_tries_per_person must be >= 1")
        _require(0.0 <= self.mocap_share <= 1.0, "mocap_share must be in [0, 1]")

    @property
    def max_people(self) -> int:
        return int(self.people[1])


@dataclass(frozen=True, eq=False)
class Scene:
    """One synthetic frame: camera, people (camera frame) and appearance.

    K (3, 3) float64; joints_xyz_m (P, 14, 3) float32 camera optical frame, metres;
    visible (P, 14) bool: in front of the camera and inside the image (occlusion by other
    people is not considered); heights_m (P,) upright stature; poses P names;
    yaw_rad (P,) facing direction about the world vertical (0 = away from the camera).
    """

    camera: Camera
    joints_xyz_m: np.ndarray
    visible: np.ndarray
    heights_m: np.ndarray
    poses: tuple[str, ...]
    yaw_rad: np.ndarray
    appearance: Appearance
    environment: Environment
    ground_xz_m: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))

    @property
    def K(self) -> np.ndarray:
        return self.camera.K

    @property
    def image_size(self) -> tuple[int, int]:
        """(width, height) pixels."""
        return self.camera.width, self.camera.height

    @property
    def num_people(self) -> int:
        return int(self.joints_xyz_m.shape[0])

    def uv_px(self) -> np.ndarray:
        """(P, 14, 2) float32 projections (meaningful where z > 0)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.camera.project(self.joints_xyz_m).astype(np.float32)

    def subset(self, index) -> Scene:
        """The same camera and background with only people ``index`` (indices or mask)."""
        index = np.arange(self.num_people)[index]
        return replace(
            self,
            joints_xyz_m=self.joints_xyz_m[index],
            visible=self.visible[index],
            heights_m=self.heights_m[index],
            poses=tuple(self.poses[i] for i in index),
            yaw_rad=self.yaw_rad[index],
            appearance=self.appearance.subset(index),
            ground_xz_m=self.ground_xz_m[index] if len(self.ground_xz_m) else self.ground_xz_m,
        )

    def without_people(self) -> Scene:
        return self.subset(np.zeros(self.num_people, bool))


def make_scene(
    camera: Camera,
    joints_world: np.ndarray,
    rng: np.random.Generator,
    *,
    heights_m: np.ndarray | None = None,
    poses: tuple[str, ...] | None = None,
    yaw_rad: np.ndarray | None = None,
    ground_xz_m: np.ndarray | None = None,
    appearance: Appearance | None = None,
    environment: Environment | None = None,
) -> Scene:
    """A Scene from world-frame skeletons (P, 14, 3); appearance/environment drawn if None."""
    joints_world = np.asarray(joints_world, np.float64).reshape(-1, NUM_JOINTS, 3)
    p = joints_world.shape[0]
    joints_c = camera.world_to_camera(joints_world)
    if environment is None:
        environment = sample_environment(rng, camera)
    if appearance is None:
        appearance = sample_appearance(rng, p)
    return Scene(
        camera=camera,
        joints_xyz_m=joints_c.astype(np.float32),
        visible=camera.in_image(joints_c),
        heights_m=(np.full(p, np.nan) if heights_m is None else np.asarray(heights_m)).astype(
            np.float32
        ),
        poses=tuple(poses) if poses is not None else ("unknown",) * p,
        yaw_rad=(np.zeros(p) if yaw_rad is None else np.asarray(yaw_rad)).astype(np.float32),
        appearance=appearance,
        environment=environment,
        ground_xz_m=(
            np.asarray(ground_xz_m, np.float32).reshape(p, 2)
            if ground_xz_m is not None
            else joints_world[:, :, [0, 2]].mean(axis=1).astype(np.float32)
        ),
    )


def _people_count(rng: np.random.Generator, config: SceneConfig) -> int:
    lo, hi = config.people
    if config.people_distribution == "uniform" or lo == hi:
        return int(rng.integers(lo, hi + 1))
    return int(min(hi, math.floor(math.exp(rng.uniform(math.log(lo), math.log(hi + 1))))))


def sample_scene(rng: np.random.Generator, config: SceneConfig | None = None) -> Scene:
    """A random scene: camera, environment, and people on the ground inside the frustum.

    Candidates are drawn in batches (ground point, yaw) and accepted when their footprint
    keeps ``min_separation_m`` from every placed person and enough joints fall inside the
    image; a person that finds no place within ``max_tries_per_person`` is skipped.
    """
    config = SceneConfig() if config is None else config
    for _ in range(50):
        camera = sample_camera(rng, config)
        lo, hi = ground_distance_range(camera, *config.distance_m)
        if hi - lo > 0.5:
            break
    else:  # pathological config: fall back to a level camera
        camera = replace(camera, pitch_rad=0.0, height_m=config.camera_height_m[0])
        lo, hi = ground_distance_range(camera, *config.distance_m)
        hi = max(hi, lo + 0.5)
    target = _people_count(rng, config)
    hfov = math.atan((camera.width / 2.0) / camera.K[0, 0])
    placed_xz = np.zeros((0, 2))
    placed_r = np.zeros(0)
    joints_w, heights, poses, yaws = [], [], [], []
    batch = 16
    for _ in range(target):
        if config.mocap_share > 0.0 and rng.random() < config.mocap_share:
            from loco_ros.synthetic.mocap import sample_mocap_person

            person = sample_mocap_person(rng, child_probability=config.child_probability)
        else:
            person = sample_person(
                rng, pose_weights=config.pose_weights, child_probability=config.child_probability
            )
        local = person.joints_local
        centre_local = local[:, [0, 2]].mean(axis=0)
        radius = float(np.max(np.linalg.norm(local[:, [0, 2]] - centre_local, axis=1))) + 0.12
        for _try in range(0, config.max_tries_per_person, batch):
            z = rng.uniform(lo, hi, batch)
            x = rng.uniform(-1.05, 1.05, batch) * z * math.tan(hfov)
            yaw = rng.uniform(0.0, 2.0 * math.pi, batch)
            rot = np.stack([yaw_matrix(a) for a in yaw])  # (b, 3, 3)
            cand = np.einsum("kj,bij->bki", local, rot)  # (b, 14, 3)
            cand[:, :, 0] += x[:, None]
            cand[:, :, 2] += z[:, None]
            c = (rot[:, [0, 2]][:, :, [0, 2]] @ centre_local) + np.stack([x, z], 1)
            if len(placed_xz):
                gap = np.linalg.norm(c[:, None] - placed_xz[None], axis=2)
                ok = np.all(gap >= radius + placed_r[None] + config.min_separation_m, axis=1)
            else:
                ok = np.ones(batch, bool)
            if not ok.any():
                continue
            cam_pts = camera.world_to_camera(cand[ok])
            enough = camera.in_image(cam_pts).sum(axis=1) >= config.min_joints_in_image
            enough &= np.all(cam_pts[:, :, 2] > 0.3, axis=1)
            if not enough.any():
                continue
            k = int(np.flatnonzero(ok)[np.argmax(enough)])
            joints_w.append(cand[k])
            placed_xz = np.vstack([placed_xz, c[k]])
            placed_r = np.append(placed_r, radius)
            heights.append(person.height_m)
            poses.append(person.pose)
            yaws.append(yaw[k])
            break
    joints_world = np.array(joints_w, np.float64).reshape(-1, NUM_JOINTS, 3)
    return make_scene(
        camera,
        joints_world,
        rng,
        heights_m=np.array(heights),
        poses=tuple(poses),
        yaw_rad=np.array(yaws),
        ground_xz_m=placed_xz,
    )
