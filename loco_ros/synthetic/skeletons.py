"""Synthetic people as 14-joint LoCO skeletons in metres.

A person is built in its own **person-local frame**, aligned like the camera optical frame of
a level camera: x to the person's right, y **down** (gravity), z the direction the person
faces; the origin lies on the ground plane (y = 0) under the pelvis, so every point above the
ground has y < 0. :func:`place_on_ground` turns the person by a yaw about the vertical and
moves it to a ground position of a world frame with the same axes (see
:mod:`loco_ros.synthetic.scene`).

Proportions follow classic anthropometric fractions of the stature H (ankle 0.039 H,
hip joints 0.53 H, neck joint 0.865 H, head top H; upper arm 0.186 H, forearm 0.146 H),
with per-person variation that keeps the upright height equal to H. Children (H in
[1.0, 1.5) m) get a larger head and shorter legs.

Everything random draws from a caller's :class:`numpy.random.Generator`, so the same
generator state gives the same person.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from loco_ros.skeleton import JOINT_INDEX, NUM_JOINTS

POSES: tuple[str, ...] = (
    "standing",
    "walking",
    "running",
    "sitting",
    "arms_raised",
    "bending",
    "waving",
)
"""Pose families understood by :func:`pose_skeleton`."""

ADULT_HEIGHT_RANGE_M: tuple[float, float] = (1.5, 1.95)
CHILD_HEIGHT_RANGE_M: tuple[float, float] = (1.0, 1.5)

# Person-local unit axes (x right, y down, z forward).
_RIGHT = np.array([1.0, 0.0, 0.0])
_UP = np.array([0.0, -1.0, 0.0])
_FORWARD = np.array([0.0, 0.0, 1.0])

_J = JOINT_INDEX


@dataclass(frozen=True)
class Body:
    """Segment lengths of one person (metres). ``height_m`` is the upright stature."""

    height_m: float
    head_m: float  # head_top -> neck joint
    shoulder_drop_m: float  # neck joint -> shoulder line, along the spine
    shoulder_half_m: float  # half the distance between the shoulder joints
    upper_arm_m: float
    forearm_m: float
    spine_m: float  # pelvis centre -> neck joint
    hip_half_m: float  # half the distance between the hip joints
    thigh_m: float
    shank_m: float
    ankle_m: float  # ankle joint height above the ground when standing
    child: bool = False


def sample_body(
    rng: np.random.Generator, height_m: float | None = None, child_probability: float = 0.0
) -> Body:
    """Random body proportions; ``height_m`` fixes the stature, else adults 1.5-1.95 m.

    With probability ``child_probability`` (and no ``height_m``) a child of 1.0-1.5 m.
    """
    child = False
    if height_m is None:
        if child_probability > 0.0 and rng.random() < child_probability:
            child = True
            height_m = float(rng.uniform(*CHILD_HEIGHT_RANGE_M))
        else:
            mean = 1.63 if rng.random() < 0.5 else 1.77
            height_m = float(np.clip(rng.normal(mean, 0.07), *ADULT_HEIGHT_RANGE_M))
    h = float(height_m)
    if not 0.5 <= h <= 2.5:
        raise ValueError(f"height_m {h} is not a human stature")
    # 0 for adults, up to 1 for a 1.0 m child: bigger head, shorter legs.
    k = float(np.clip((1.5 - h) / 0.5, 0.0, 1.0))
    head = (0.135 + 0.045 * k) * h * rng.uniform(0.96, 1.04)
    hip_height = (0.53 - 0.04 * k) * h
    ankle = 0.039 * h
    leg = hip_height - ankle
    thigh_share = rng.uniform(0.48, 0.52)
    spine = h - hip_height - head
    width = rng.uniform(0.92, 1.08)
    return Body(
        height_m=h,
        head_m=head,
        shoulder_drop_m=0.045 * h,
        shoulder_half_m=0.103 * h * width * (1.0 - 0.1 * k),
        upper_arm_m=0.186 * h * rng.uniform(0.97, 1.03),
        forearm_m=0.146 * h * rng.uniform(0.97, 1.03),
        spine_m=spine,
        hip_half_m=0.056 * h * rng.uniform(0.9, 1.12),
        thigh_m=leg * thigh_share,
        shank_m=leg * (1.0 - thigh_share),
        ankle_m=ankle,
        child=child,
    )


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-12 else v


def _orthogonal_unit(v: np.ndarray, to: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Unit part of ``v`` orthogonal to the unit vector ``to`` (``fallback`` if parallel)."""
    w = v - np.dot(v, to) * to
    if np.linalg.norm(w) < 1e-6:
        w = fallback - np.dot(fallback, to) * to
    return _unit(w)


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def sample_pose_params(
    rng: np.random.Generator, pose: str, phase: float | None = None
) -> dict[str, float]:
    """Joint angles (degrees) of one pose family; ``phase`` in [0, 1) for cyclic poses.

    Keys: torso_bend, torso_lean, torso_twist, head_nod and per side (prefix ``r_``/``l_``)
    hip_flex, hip_abd, knee, shoulder_flex, shoulder_abd, elbow, plus ``wave_side``
    (+1 right, -1 left, 0 none) used by "waving".
    """
    if pose not in POSES:
        raise ValueError(f"unknown pose {pose!r}; choose from {POSES}")
    if phase is None:
        phase = float(rng.random())
    w = 2.0 * math.pi * phase
    p: dict[str, float] = {
        "torso_bend": _u(rng, -3, 5),
        "torso_lean": _u(rng, -3, 3),
        "torso_twist": _u(rng, -10, 10),
        "head_nod": _u(rng, -10, 15),
        "wave_side": 0.0,
    }
    for s in "rl":  # relaxed standing defaults
        p[f"{s}_hip_flex"] = _u(rng, -5, 5)
        p[f"{s}_hip_abd"] = _u(rng, 0, 7)
        p[f"{s}_knee"] = _u(rng, 0, 10)
        p[f"{s}_shoulder_flex"] = _u(rng, -10, 15)
        p[f"{s}_shoulder_abd"] = _u(rng, 4, 14)
        p[f"{s}_elbow"] = _u(rng, 5, 30)
    if pose in ("walking", "running"):
        run = pose == "running"
        amp = _u(rng, 32, 45) if run else _u(rng, 17, 27)
        arm = _u(rng, 30, 55) if run else _u(rng, 10, 25)
        p["torso_bend"] = _u(rng, 8, 18) if run else _u(rng, 0, 6)
        p["torso_twist"] = (8.0 if run else 5.0) * math.sin(w)
        for s, off in (("r", 0.0), ("l", math.pi)):
            a = w + off
            p[f"{s}_hip_flex"] = amp * math.sin(a) + (10.0 if run else 0.0)
            p[f"{s}_hip_abd"] = _u(rng, 0, 4)
            swing = max(0.0, math.cos(a)) ** 1.5
            p[f"{s}_knee"] = (
                25 + 85 * swing + 15 * max(0.0, -math.sin(a))
                if run
                else 6 + 52 * swing + 12 * max(0.0, -math.sin(a))
            )
            p[f"{s}_shoulder_flex"] = -arm * math.sin(a) + (10.0 if run else 0.0)
            p[f"{s}_shoulder_abd"] = _u(rng, 5, 15)
            p[f"{s}_elbow"] = _u(rng, 75, 100) if run else _u(rng, 10, 35)
    elif pose == "sitting":
        p["torso_bend"] = _u(rng, -12, 12)
        for s in "rl":
            p[f"{s}_hip_flex"] = _u(rng, 78, 100)
            p[f"{s}_hip_abd"] = _u(rng, 3, 15)
            p[f"{s}_knee"] = _u(rng, 70, 105)
            p[f"{s}_shoulder_flex"] = _u(rng, 15, 50)
            p[f"{s}_elbow"] = _u(rng, 30, 80)
    elif pose == "arms_raised":
        forward = rng.random() < 0.35
        for s in "rl":
            if forward:
                p[f"{s}_shoulder_flex"] = _u(rng, 140, 175)
                p[f"{s}_shoulder_abd"] = _u(rng, 0, 20)
            else:
                p[f"{s}_shoulder_flex"] = _u(rng, -10, 20)
                p[f"{s}_shoulder_abd"] = _u(rng, 135, 175)
            p[f"{s}_elbow"] = _u(rng, 0, 30)
    elif pose == "bending":
        bend = _u(rng, 35, 85)
        p["torso_bend"] = bend
        p["head_nod"] = _u(rng, -35, 0)
        for s in "rl":
            p[f"{s}_hip_flex"] = _u(rng, -5, 10)
            p[f"{s}_knee"] = _u(rng, 0, 30)
            p[f"{s}_shoulder_flex"] = bend + _u(rng, -15, 25)
            p[f"{s}_shoulder_abd"] = _u(rng, 0, 12)
            p[f"{s}_elbow"] = _u(rng, 0, 25)
    elif pose == "waving":
        side = "r" if rng.random() < 0.5 else "l"
        p["wave_side"] = 1.0 if side == "r" else -1.0
        p[f"{side}_shoulder_abd"] = _u(rng, 60, 110)
        p[f"{side}_shoulder_flex"] = _u(rng, -10, 30)
        p[f"{side}_elbow"] = 60.0 + 60.0 * (0.5 + 0.5 * math.sin(w))
    return p


def pose_skeleton(body: Body, params: dict[str, float]) -> np.ndarray:
    """Joints (14, 3) float64 in the person-local frame (metres), lowest ankle on its height.

    The person faces +z; its right side is +x; the ground is y = 0 (up is -y).
    """
    rad = {k: math.radians(v) for k, v in params.items() if k != "wave_side"}
    out = np.zeros((NUM_JOINTS, 3))
    # Torso frame: bend forward (about the right axis), lean sideways, twist about the spine.
    b, lean, tw = rad["torso_bend"], rad["torso_lean"], rad["torso_twist"]
    up_t = math.cos(b) * _UP + math.sin(b) * _FORWARD
    fw_t = math.cos(b) * _FORWARD - math.sin(b) * _UP
    up_t, right_t = (
        math.cos(lean) * up_t + math.sin(lean) * _RIGHT,
        math.cos(lean) * _RIGHT - math.sin(lean) * up_t,
    )
    right_t, fw_t = (
        math.cos(tw) * right_t + math.sin(tw) * fw_t,
        math.cos(tw) * fw_t - math.sin(tw) * right_t,
    )
    # The pelvis counter-rotates a little about the vertical.
    pt = -0.4 * tw
    right_h = math.cos(pt) * _RIGHT + math.sin(pt) * _FORWARD
    fw_h = math.cos(pt) * _FORWARD - math.sin(pt) * _RIGHT
    down = -_UP

    pelvis = np.zeros(3)
    neck = pelvis + body.spine_m * up_t
    nod = rad["head_nod"]
    out[_J["neck"]] = neck
    out[_J["head_top"]] = neck + body.head_m * (math.cos(nod) * up_t + math.sin(nod) * fw_t)
    for side, name in ((1.0, "right"), (-1.0, "left")):
        s = name[0]
        # Leg: hip flexion swings the thigh forward, the knee folds the shank back.
        hip = pelvis + side * body.hip_half_m * right_h
        hf, ha, kn = rad[f"{s}_hip_flex"], rad[f"{s}_hip_abd"], rad[f"{s}_knee"]
        thigh = _unit(
            math.cos(hf) * math.cos(ha) * down
            + math.sin(hf) * fw_h
            + math.sin(ha) * side * right_h
        )
        knee = hip + body.thigh_m * thigh
        a2 = hf - kn
        shank = _unit(
            math.cos(a2) * math.cos(ha) * down
            + math.sin(a2) * fw_h
            + math.sin(ha) * side * right_h
        )
        out[_J[f"{name}_hip"]] = hip
        out[_J[f"{name}_knee"]] = knee
        out[_J[f"{name}_ankle"]] = knee + body.shank_m * shank
        # Arm: flexion swings forward, abduction raises sideways (180 = overhead).
        shoulder = neck - body.shoulder_drop_m * up_t + side * body.shoulder_half_m * right_t
        sf, sa, el = rad[f"{s}_shoulder_flex"], rad[f"{s}_shoulder_abd"], rad[f"{s}_elbow"]
        upper = _unit(
            math.cos(sa) * math.cos(sf) * (-up_t)
            + math.cos(sa) * math.sin(sf) * fw_t
            + math.sin(sa) * side * right_t
        )
        elbow = shoulder + body.upper_arm_m * upper
        waving = params.get("wave_side", 0.0) == side
        bend_ref = up_t if waving else fw_t + 0.3 * up_t
        bend = _orthogonal_unit(bend_ref, upper, fallback=up_t)
        fore = math.cos(el) * upper + math.sin(el) * bend
        out[_J[f"{name}_shoulder"]] = shoulder
        out[_J[f"{name}_elbow"]] = elbow
        out[_J[f"{name}_wrist"]] = elbow + body.forearm_m * fore
    # Stand the lowest ankle at its height above the ground (y = 0, up is -y).
    ankles = out[[_J["right_ankle"], _J["left_ankle"]], 1]
    out[:, 1] += -body.ankle_m - ankles.max()
    return out


def yaw_matrix(yaw_rad: float) -> np.ndarray:
    """Rotation about the vertical (y) axis taking +z (facing) towards +x by ``yaw_rad``."""
    c, s = math.cos(yaw_rad), math.sin(yaw_rad)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def place_on_ground(joints_local: np.ndarray, yaw_rad: float, ground_xz: np.ndarray) -> np.ndarray:
    """Turn a person-local skeleton by ``yaw_rad`` and move its origin to ground (x, z)."""
    out = np.asarray(joints_local, dtype=np.float64) @ yaw_matrix(yaw_rad).T
    out[:, 0] += float(ground_xz[0])
    out[:, 2] += float(ground_xz[1])
    return out


@dataclass(frozen=True)
class Person:
    """One sampled person in its local frame (see module docstring)."""

    body: Body
    pose: str
    params: dict[str, float]
    joints_local: np.ndarray  # (14, 3) float64

    @property
    def height_m(self) -> float:
        return self.body.height_m


def sample_person(
    rng: np.random.Generator,
    pose: str | None = None,
    pose_weights: tuple[float, ...] | None = None,
    child_probability: float = 0.0,
    height_m: float | None = None,
) -> Person:
    """A random body in a random (or the given) pose; ``pose_weights`` aligns with POSES."""
    body = sample_body(rng, height_m=height_m, child_probability=child_probability)
    if pose is None:
        w = np.ones(len(POSES)) if pose_weights is None else np.asarray(pose_weights, float)
        if w.shape != (len(POSES),) or np.any(w < 0) or w.sum() <= 0:
            raise ValueError(f"pose_weights needs {len(POSES)} non-negative values")
        pose = POSES[int(rng.choice(len(POSES), p=w / w.sum()))]
    params = sample_pose_params(rng, pose)
    return Person(body=body, pose=pose, params=params, joints_local=pose_skeleton(body, params))


def standing_height(joints: np.ndarray) -> float:
    """Height of the head top above the ground of a person-local skeleton (metres)."""
    return float(-joints[_J["head_top"], 1])
