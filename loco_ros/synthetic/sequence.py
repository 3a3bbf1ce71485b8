"""Synthetic video: people walking across a fixed camera's view, with identities.

Each person keeps body, clothes, heading and speed; the walking cycle advances with the
distance covered. Frames are :class:`Scene` objects of one camera and environment, so the
renderer draws a consistent video, and ``person_ids`` give the ground-truth identities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from loco_ros.synthetic.scene import (
    Scene,
    SceneConfig,
    ground_distance_range,
    make_scene,
    sample_appearance,
    sample_camera,
    sample_environment,
)
from loco_ros.synthetic.skeletons import (
    Body,
    place_on_ground,
    pose_skeleton,
    sample_body,
    sample_pose_params,
)

STRIDE_M = 1.4  # ground covered per walking cycle (two steps)


@dataclass(frozen=True)
class SequenceConfig:
    """A walking-crowd video: length, rate, crowd and camera ranges."""

    frames: int = 60
    fps: float = 10.0
    people: tuple[int, int] = (3, 8)
    speed_m_per_s: tuple[float, float] = (0.5, 1.3)
    sensor_noise: bool = True  # off makes far smaller (compressible) bags
    scene: SceneConfig = field(default_factory=lambda: SceneConfig(
        focal_jitter=0.0, distance_m=(3.0, 16.0), pitch_deg=(3.0, 15.0),
        camera_height_m=(1.5, 3.5)))


@dataclass(frozen=True)
class Walker:
    """One walking person: body, start on the ground (x, z), heading, speed, gait params.

    Headings are mostly across the view (yaw near +-90 degrees), so people stay in view.
    """

    body: Body
    start_xz: np.ndarray
    yaw_rad: float
    speed_m_per_s: float
    phase0: float
    gait_seed: int

    def skeleton_at(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        """World joints (14, 3) and ground point (2,) at time ``t_s``."""
        heading = np.array([math.sin(self.yaw_rad), math.cos(self.yaw_rad)])
        ground = self.start_xz + heading * self.speed_m_per_s * t_s
        phase = (self.phase0 + self.speed_m_per_s * t_s / STRIDE_M) % 1.0
        params = sample_pose_params(np.random.default_rng(self.gait_seed), "walking", phase)
        return place_on_ground(pose_skeleton(self.body, params), self.yaw_rad, ground), ground


def _walkers(rng: np.random.Generator, config: SequenceConfig, lo: float, hi: float,
             half_width: float) -> list[Walker]:
    count = int(rng.integers(config.people[0], config.people[1] + 1))
    walkers = []
    for _ in range(count):
        z = rng.uniform(lo, hi)
        x = rng.uniform(-0.8, 0.8) * z * half_width
        walkers.append(Walker(
            body=sample_body(rng), start_xz=np.array([x, z]),
            yaw_rad=float(rng.choice([-1.0, 1.0]) * math.pi / 2 + rng.uniform(-0.7, 0.7)),
            speed_m_per_s=float(rng.uniform(*config.speed_m_per_s)),
            phase0=float(rng.random()), gait_seed=int(rng.integers(2**31))))
    return walkers


def walking_sequence(seed: int, config: SequenceConfig | None = None
                     ) -> tuple[list[Scene], tuple[str, ...]]:
    """``config.frames`` scenes of one camera and the person id of each person (same order).

    People who walk out of view stay in the scene (their joints are simply not visible).
    """
    config = SequenceConfig() if config is None else config
    rng = np.random.default_rng(seed)
    camera = sample_camera(rng, config.scene)
    lo, hi = ground_distance_range(camera, *config.scene.distance_m)
    half_width = (camera.width / 2.0) / camera.K[0, 0]
    walkers = _walkers(rng, config, lo, max(hi, lo + 1.0), half_width)
    appearance = sample_appearance(rng, len(walkers))
    environment = sample_environment(rng, camera)
    if not config.sensor_noise:
        environment = replace(environment, noise_sigma=0.0)
    scenes = []
    for frame in range(config.frames):
        t_s = frame / config.fps
        joints, grounds = zip(*(w.skeleton_at(t_s) for w in walkers), strict=True)
        scenes.append(make_scene(
            camera, np.array(joints), rng, heights_m=np.array([w.body.height_m for w in walkers]),
            poses=("walking",) * len(walkers), yaw_rad=np.array([w.yaw_rad for w in walkers]),
            ground_xz_m=np.array(grounds), appearance=appearance, environment=environment))
    ids = tuple(str(i + 1) for i in range(len(walkers)))
    return scenes, ids


def with_scene(config: SequenceConfig, **scene_changes) -> SequenceConfig:
    """A copy of ``config`` whose SceneConfig has ``scene_changes`` applied."""
    return replace(config, scene=replace(config.scene, **scene_changes))
