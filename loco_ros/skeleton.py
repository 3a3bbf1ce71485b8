"""The 14-joint LoCO skeleton: names, order, limbs and metric limits.

Joint order (index k = LoCO joint k) follows the authors' implementation; root is head_top.
"""

from __future__ import annotations

import numpy as np

JOINT_NAMES: tuple[str, ...] = (
    "head_top",
    "neck",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_hip",
    "right_knee",
    "right_ankle",
    "left_hip",
    "left_knee",
    "left_ankle",
)
NUM_JOINTS = len(JOINT_NAMES)
JOINT_INDEX: dict[str, int] = {name: k for k, name in enumerate(JOINT_NAMES)}
HEAD_TOP = JOINT_INDEX["head_top"]

# JTA's 22 joints -> LoCO's 14: LoCO joint k is JTA joint JTA_TO_LOCO[k].
JTA_TO_LOCO: tuple[int, ...] = (0, 2, 4, 5, 6, 8, 9, 10, 16, 17, 18, 19, 20, 21)

# Bones as (parent, child) pairs, for drawing.
LIMBS: tuple[tuple[int, int], ...] = (
    (0, 1),
    (1, 2), (2, 3), (3, 4),
    (1, 5), (5, 6), (6, 7),
    (1, 8), (8, 9), (9, 10),
    (1, 11), (11, 12), (12, 13),
    (8, 11),
)

# Largest distance from head_top to each joint seen on JTA (m); used by the refiner's
# normalisation. Entry 0 (the head itself) is 0.
MAX_HEAD_DISTANCE_M = np.array(
    [0.0, 0.27, 0.41, 0.67, 0.93, 0.41, 0.67, 0.92, 0.88, 1.28, 1.69, 0.88, 1.29, 1.70],
    dtype=np.float32,
)

# Association gate: a joint candidate joins a head only within this distance (m).
ASSOCIATION_LIMIT_M = np.array(
    [0.0, 0.5, 1.0, 1.5, 2.0, 1.0, 1.5, 2.0, 2.0, 2.5, 3.0, 2.0, 2.5, 3.0],
    dtype=np.float32,
)

# A standing 1.65 m person relative to its head_top (m, camera axes: x right, y down), for
# examples, tests and benchmarks.
STANDING_POSE_M = np.array(
    [
        [0.0, 0.0, 0.0], [0.0, 0.25, 0.0],
        [-0.2, 0.3, 0.0], [-0.25, 0.55, 0.0], [-0.25, 0.8, 0.0],
        [0.2, 0.3, 0.0], [0.25, 0.55, 0.0], [0.25, 0.8, 0.0],
        [-0.1, 0.8, 0.0], [-0.1, 1.25, 0.0], [-0.1, 1.65, 0.0],
        [0.1, 0.8, 0.0], [0.1, 1.25, 0.0], [0.1, 1.65, 0.0],
    ],
    dtype=np.float32,
)
