"""Random synthetic scenes: a pinhole camera above a ground plane and people standing on it.

Frames
- **World**: origin on the ground right below the camera centre, x right, y **down**
  (gravity), z forward (horizontal); the ground is the plane y = 0 (above it y < 0). This is
  the camera optical frame of a level camera moved down to the ground.
- **Camera**: the optical frame of docs/CONVENTIONS.md (x right, y down, z forward, metres),
  centre at world (0, -camera_height_m, 0), pitched down by ``pitch`` about its x axis and
  rolled by ``roll`` about its z axis. ``X_cam = R_world_cam.T @ (X_world - position_w)``.
- The ground plane in the camera frame is ``n . X + camera_height_m = 0`` with
  ``n = Camera.ground_up_cam`` (unit, pointing up, away from the ground).

:func:`sample_scene` draws everything from the caller's generator; the same generator state
gives the same scene.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from loco_ros.errors import ConfigError
from loco_ros.skeleton import NUM_JOINTS
from loco_ros.synthetic.skeletons import POSES, sample_person, yaw_matrix


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
    ``skeletons.POSES``. Fewer people than drawn are placed when the space runs out.
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

    @property
    def max_people(self) -> int:
        return int(self.people[1])


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
        c, s = math.cos(self.pitch_rad), math.sin(self.pitch_rad)
        pitch = np.array([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]])
        cr, sr = math.cos(self.roll_rad), math.sin(self.roll_rad)
        roll = np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]])
        return pitch @ roll

    @property
    def position_w(self) -> np.ndarray:
        return np.array([0.0, -self.height_m, 0.0])

    @property
    def ground_up_cam(self) -> np.ndarray:
        """Unit normal of the ground pointing up, in the camera frame."""
        return self.R_world_cam.T @ np.array([0.0, -1.0, 0.0])

    def world_to_camera(self, x_w: np.ndarray) -> np.ndarray:
        return (np.asarray(x_w, np.float64) - self.position_w) @ self.R_world_cam

    def camera_to_world(self, x_c: np.ndarray) -> np.ndarray:
        return np.asarray(x_c, np.float64) @ self.R_world_cam.T + self.position_w

    def project(self, x_c: np.ndarray) -> np.ndarray:
        """Pixels (..., 2) of camera-frame points (..., 3); no check of z > 0."""
        x_c = np.asarray(x_c, np.float64)
        z = x_c[..., 2]
        u = self.K[0, 0] * x_c[..., 0] / z + self.K[0, 2]
        v = self.K[1, 1] * x_c[..., 1] / z + self.K[1, 2]
        return np.stack([u, v], axis=-1)

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


@dataclass(frozen=True, eq=False)
class Appearance:
    """Per-person colours (RGB in [0, 1], float32 (P, 3)) and clothing flags (P,)."""

    skin: np.ndarray
    hair: np.ndarray
    shirt: np.ndarray
    trousers: np.ndarray
    shoes: np.ndarray
    bald: np.ndarray  # bool
    long_sleeves: np.ndarray  # bool
    shorts: np.ndarray  # bool
    build: np.ndarray  # float32 limb-radius scale, ~0.85-1.25
    prop: np.ndarray  # colour of the stool under a sitting person

    def subset(self, index: np.ndarray) -> Appearance:
        return Appearance(**{k: getattr(self, k)[index] for k in self.__dataclass_fields__})

    def __len__(self) -> int:
        return int(self.skin.shape[0])


_SKIN = np.array(
    [
        [0.98, 0.85, 0.74],
        [0.95, 0.77, 0.64],
        [0.88, 0.68, 0.54],
        [0.80, 0.58, 0.43],
        [0.66, 0.46, 0.32],
        [0.52, 0.35, 0.24],
        [0.38, 0.25, 0.17],
        [0.28, 0.19, 0.13],
    ]
)
_HAIR = np.array(
    [
        [0.06, 0.05, 0.05],
        [0.20, 0.13, 0.08],
        [0.40, 0.27, 0.15],
        [0.78, 0.65, 0.42],
        [0.55, 0.25, 0.12],
        [0.62, 0.62, 0.62],
    ]
)
_TROUSERS = np.array(
    [
        [0.20, 0.28, 0.45],
        [0.10, 0.12, 0.20],
        [0.08, 0.08, 0.08],
        [0.35, 0.35, 0.37],
        [0.70, 0.62, 0.48],
        [0.35, 0.25, 0.18],
        [0.28, 0.33, 0.22],
        [0.55, 0.62, 0.75],
    ]
)


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    i = np.floor(h * 6.0).astype(int) % 6
    f = h * 6.0 - np.floor(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    table = np.stack(
        [
            np.stack(c, -1)
            for c in ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))
        ]
    )  # (6, P, 3)
    return table[i, np.arange(len(h))]


def sample_appearance(rng: np.random.Generator, n: int) -> Appearance:
    """Random skin, hair, clothing colours and flags for ``n`` people."""
    skin = _SKIN[rng.integers(0, len(_SKIN), n)] * rng.uniform(0.92, 1.06, (n, 1))
    hair = _HAIR[rng.integers(0, len(_HAIR), n)] * rng.uniform(0.8, 1.2, (n, 1))
    shirt = _hsv_to_rgb(rng.random(n), rng.uniform(0.0, 0.9, n) ** 0.8, rng.uniform(0.12, 0.95, n))
    free = _hsv_to_rgb(rng.random(n), rng.uniform(0.0, 0.8, n), rng.uniform(0.1, 0.8, n))
    trousers = np.where(
        rng.random((n, 1)) < 0.7,
        _TROUSERS[rng.integers(0, len(_TROUSERS), n)] * rng.uniform(0.85, 1.15, (n, 1)),
        free,
    )
    shoes = np.where(
        rng.random((n, 1)) < 0.75, rng.uniform(0.03, 0.25, (n, 1)), rng.uniform(0.6, 0.95, (n, 1))
    ) * np.ones((1, 3))
    f32 = np.float32
    return Appearance(
        skin=np.clip(skin, 0, 1).astype(f32),
        hair=np.clip(hair, 0, 1).astype(f32),
        shirt=np.clip(shirt, 0, 1).astype(f32),
        trousers=np.clip(trousers, 0, 1).astype(f32),
        shoes=np.clip(shoes, 0, 1).astype(f32),
        bald=rng.random(n) < 0.08,
        long_sleeves=rng.random(n) < 0.5,
        shorts=rng.random(n) < 0.2,
        build=rng.uniform(0.85, 1.25, n).astype(f32),
        prop=np.clip(
            _TROUSERS[rng.integers(0, len(_TROUSERS), n)][:, ::-1] * rng.uniform(0.6, 1.3, (n, 1)),
            0,
            1,
        ).astype(f32),
    )


@dataclass(frozen=True, eq=False)
class Environment:
    """Everything the background and global lighting need (colours RGB in [0, 1]).

    ``buildings`` (B, 8): x0, x1, z (world, metres), height (m), r, g, b, window spacing (m,
    0 = plain). ``light_dir_cam``: unit vector towards the light, camera frame.
    """

    sky_top: np.ndarray
    sky_horizon: np.ndarray
    ground_a: np.ndarray
    ground_b: np.ndarray
    grout: np.ndarray
    ground_style: int  # 0 tiles, 1 checker, 2 noise only, 3 stripes
    tile_m: float
    texture_amp: float
    haze_m: float
    buildings: np.ndarray
    light_dir_cam: np.ndarray
    ambient: float
    diffuse: float
    exposure: float
    tint: np.ndarray
    noise_sigma: float
    blur: int  # passes of a 3x3 binomial blur
    vignette: float


def sample_environment(rng: np.random.Generator, camera: Camera) -> Environment:
    """Random background, ground texture and lighting for ``camera``."""
    outdoor = rng.random() < 0.75
    if outdoor:
        sky_top = np.array([0.25, 0.45, 0.85]) * rng.uniform(0.6, 1.15) + rng.uniform(-0.1, 0.1, 3)
        sky_horizon = np.clip(sky_top + rng.uniform(0.15, 0.45), 0, 1)
        if rng.random() < 0.3:  # overcast
            grey = rng.uniform(0.55, 0.9)
            sky_top, sky_horizon = np.full(3, grey * 0.9), np.full(3, grey)
    else:  # indoor-like: a wall colour gradient
        wall = _hsv_to_rgb(rng.random(1), rng.uniform(0, 0.35, 1), rng.uniform(0.35, 0.9, 1))[0]
        sky_top, sky_horizon = wall * rng.uniform(0.6, 0.9), wall
    base = _hsv_to_rgb(rng.random(1), rng.uniform(0.0, 0.45, 1), rng.uniform(0.2, 0.75, 1))[0]
    ground_b = np.clip(base * rng.uniform(0.6, 1.3, 3), 0, 1)
    # Buildings (or one far wall) as vertical facades facing the camera.
    hfov = math.atan((camera.width / 2.0) / camera.K[0, 0])
    rows = []
    if outdoor:
        for _ in range(int(rng.integers(0, 9))):
            z = rng.uniform(30.0, 90.0)
            half = z * math.tan(hfov) * 1.2
            x0 = rng.uniform(-half, half)
            w = rng.uniform(6.0, 30.0)
            col = _hsv_to_rgb(rng.random(1), rng.uniform(0, 0.35, 1), rng.uniform(0.25, 0.85, 1))
            rows.append(
                [
                    x0,
                    x0 + w,
                    z,
                    rng.uniform(4.0, 40.0),
                    *col[0],
                    rng.choice([0.0, rng.uniform(2.5, 4.5)]),
                ]
            )
    else:
        z = rng.uniform(26.0, 45.0)
        col = np.clip(sky_horizon * rng.uniform(0.7, 1.1), 0, 1)
        rows.append(
            [
                -500.0,
                500.0,
                z,
                rng.uniform(3.0, 12.0),
                *col,
                rng.choice([0.0, rng.uniform(2.5, 5.0)]),
            ]
        )
    buildings = np.array(rows, np.float64).reshape(-1, 8)
    buildings = buildings[np.argsort(-buildings[:, 2])]  # far first
    # Sun/ceiling light above, from a random azimuth, in world; then into the camera frame.
    el = math.radians(rng.uniform(20.0, 80.0))
    az = rng.uniform(0.0, 2.0 * math.pi)
    light_w = np.array([math.cos(el) * math.sin(az), -math.sin(el), math.cos(el) * math.cos(az)])
    light_c = camera.R_world_cam.T @ light_w
    return Environment(
        sky_top=np.clip(sky_top, 0, 1).astype(np.float32),
        sky_horizon=np.clip(sky_horizon, 0, 1).astype(np.float32),
        ground_a=base.astype(np.float32),
        ground_b=ground_b.astype(np.float32),
        grout=np.clip(base * rng.uniform(0.4, 1.4), 0, 1).astype(np.float32),
        ground_style=int(rng.integers(0, 4)),
        tile_m=float(rng.uniform(0.3, 2.0)),
        texture_amp=float(rng.uniform(0.03, 0.18)),
        haze_m=float(rng.uniform(150.0, 600.0)),
        buildings=buildings,
        light_dir_cam=(light_c / np.linalg.norm(light_c)).astype(np.float32),
        ambient=float(rng.uniform(0.35, 0.6)),
        diffuse=float(rng.uniform(0.35, 0.75)),
        exposure=float(rng.uniform(0.7, 1.25)),
        tint=np.clip(1.0 + rng.normal(0.0, 0.05, 3), 0.85, 1.15).astype(np.float32),
        noise_sigma=float(rng.uniform(0.003, 0.03)),
        blur=int(rng.choice([0, 0, 0, 1, 2])),
        vignette=float(rng.uniform(0.0, 0.25)),
    )


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
