"""A stream of pedestrians past a fixed camera: people enter, cross the view and leave.

Unlike :func:`loco_ros.synthetic.sequence.walking_sequence` (the same walkers all along),
a fixed camera on a street or in a hall sees new people all the time. Here ``n`` people
(drawn per sequence from ``people``) are in the scene at every moment: a walker enters at
one side of the view and is replaced by a new person when it has left; with probability
``static_probability`` the new person instead sits, bends or stands still somewhere in view
for a while (``static_duration_s``) and is then replaced. Bodies come from
:func:`loco_ros.synthetic.skeletons.sample_body` (adults, stature 1.70 +- 0.10 m).

Frames are world-frame skeletons (see :mod:`loco_ros.synthetic.camera`); :func:`stream_scene`
turns one into a :class:`Scene` for the renderer or the GT 2D joints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from loco_ros.synthetic.appearance import Appearance, sample_appearance
from loco_ros.synthetic.camera import Camera, ground_distance_range, sample_camera
from loco_ros.synthetic.environment import Environment, sample_environment
from loco_ros.synthetic.scene import Scene, SceneConfig, make_scene
from loco_ros.synthetic.sequence import STRIDE_M
from loco_ros.synthetic.skeletons import (
    Body,
    place_on_ground,
    pose_skeleton,
    sample_body,
    sample_pose_params,
)

STATIC_POSES = ("sitting", "bending", "standing")


@dataclass(frozen=True)
class StreamConfig:
    """Length, rate, crowd and camera ranges of a pedestrian stream (metres, degrees)."""

    frames: int = 300
    fps: float = 10.0
    people: tuple[int, int] = (2, 10)
    speed_m_per_s: tuple[float, float] = (0.6, 1.5)
    static_probability: float = 0.2
    static_duration_s: tuple[float, float] = (5.0, 20.0)
    scene: SceneConfig = field(default_factory=lambda: SceneConfig(
        focal_jitter=0.3, distance_m=(3.0, 22.0), pitch_deg=(0.0, 30.0),
        camera_height_m=(1.5, 8.0), roll_deg=(-5.0, 5.0)))


@dataclass(frozen=True)
class StreamFrame:
    """People of one frame: world joints (P, 14, 3), ids (P,), statures (P,), poses."""

    joints_world: np.ndarray
    ids: np.ndarray
    heights_m: np.ndarray
    poses: tuple[str, ...]


@dataclass
class _Person:
    id: int
    body: Body
    pose: str
    start_xz: np.ndarray
    yaw_rad: float
    speed: float
    phase0: float
    gait_seed: int
    born_s: float
    until_s: float  # static people leave then; walkers when out of view
    joints_local: np.ndarray | None = None  # static pose

    def skeleton_at(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        dt = t_s - self.born_s
        if self.pose != "walking":
            return place_on_ground(self.joints_local, self.yaw_rad, self.start_xz), self.start_xz
        heading = np.array([math.sin(self.yaw_rad), math.cos(self.yaw_rad)])
        ground = self.start_xz + heading * self.speed * dt
        phase = (self.phase0 + self.speed * dt / STRIDE_M) % 1.0
        params = sample_pose_params(np.random.default_rng(self.gait_seed), "walking", phase)
        return place_on_ground(pose_skeleton(self.body, params), self.yaw_rad, ground), ground


class PedestrianStream:
    """The people of one sequence, frame by frame (deterministic for a seed)."""

    def __init__(self, seed: int, config: StreamConfig | None = None):
        self.config = StreamConfig() if config is None else config
        c = self.config
        self.rng = np.random.default_rng(seed)
        for _ in range(50):
            self.camera: Camera = sample_camera(self.rng, c.scene)
            lo, hi = ground_distance_range(self.camera, *c.scene.distance_m)
            if hi - lo > 1.0:
                break
        self.lo, self.hi = lo, max(hi, lo + 1.0)
        self.half_width = (self.camera.width / 2.0) / self.camera.K[0, 0]
        self.count = int(self.rng.integers(c.people[0], c.people[1] + 1))
        self.environment: Environment = sample_environment(self.rng, self.camera)
        self._next_id = 1
        self.appearance: dict[int, Appearance] = {}
        self.people = [self._spawn(0.0, initial=True) for _ in range(self.count)]

    def _spawn(self, t_s: float, initial: bool = False) -> _Person:
        c, rng = self.config, self.rng
        body = sample_body(rng)
        z = float(rng.uniform(self.lo, self.hi))
        edge = z * self.half_width
        pid = self._next_id
        self._next_id += 1
        self.appearance[pid] = sample_appearance(rng, 1)
        if rng.random() < c.static_probability:
            pose = STATIC_POSES[int(rng.integers(len(STATIC_POSES)))]
            params = sample_pose_params(rng, pose)
            return _Person(pid, body, pose, np.array([rng.uniform(-0.8, 0.8) * edge, z]),
                           float(rng.uniform(0, 2 * math.pi)), 0.0, 0.0, 0, t_s,
                           t_s + float(rng.uniform(*c.static_duration_s)),
                           joints_local=pose_skeleton(body, params))
        direction = float(rng.choice([-1.0, 1.0]))  # +1 walks to the right
        yaw = direction * math.pi / 2 + float(rng.uniform(-0.6, 0.6))
        x0 = float(rng.uniform(-1.0, 1.0) * edge) if initial else -direction * (edge + 1.0)
        return _Person(pid, body, "walking", np.array([x0, z]), yaw,
                       float(rng.uniform(*c.speed_m_per_s)), float(rng.random()),
                       int(rng.integers(2**31)), t_s, math.inf)

    def _gone(self, person: _Person, t_s: float, ground: np.ndarray) -> bool:
        if t_s >= person.until_s:
            return True
        if person.pose != "walking":
            return False
        x, z = ground
        out_z = z < 0.5 * self.lo or z > 1.3 * self.hi
        return out_z or abs(x) > max(z, 0.5) * self.half_width + 1.5

    def frames(self):
        """Yields a :class:`StreamFrame` per frame."""
        c = self.config
        for frame in range(c.frames):
            t_s = frame / c.fps
            joints = []
            for i, person in enumerate(self.people):
                j, ground = person.skeleton_at(t_s)
                if self._gone(person, t_s, ground):
                    person = self.people[i] = self._spawn(t_s)
                    j, ground = person.skeleton_at(t_s)
                joints.append(j)
            yield StreamFrame(np.array(joints), np.array([p.id for p in self.people]),
                              np.array([p.body.height_m for p in self.people]),
                              tuple(p.pose for p in self.people))

    def scene(self, frame: StreamFrame) -> Scene:
        """The frame as a :class:`Scene` (same camera, environment and clothes per id)."""
        parts = [self.appearance[int(i)] for i in frame.ids]
        appearance = Appearance(**{k: np.concatenate([getattr(a, k) for a in parts])
                                   for k in Appearance.__dataclass_fields__})
        return make_scene(self.camera, frame.joints_world, self.rng, heights_m=frame.heights_m,
                          poses=frame.poses, appearance=appearance,
                          environment=self.environment,
                          ground_xz_m=frame.joints_world[:, :, [0, 2]].mean(axis=1))
