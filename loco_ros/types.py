"""Value objects passed between pipeline stages (numpy, no ROS)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from loco_ros.skeleton import NUM_JOINTS


@dataclass(frozen=True)
class Peaks:
    """Local maxima of a decoded volume (M peaks).

    joint: (M,) int64 joint type k. voxel: (M, 3) float32 continuous voxel coordinates
    (d, h, w), integer voxel plus sub-voxel offset. value: (M,) float32 heatmap value.
    """

    joint: np.ndarray
    voxel: np.ndarray
    value: np.ndarray

    def __len__(self) -> int:
        return int(self.joint.shape[0])

    @staticmethod
    def empty() -> Peaks:
        return Peaks(
            joint=np.zeros((0,), np.int64),
            voxel=np.zeros((0, 3), np.float32),
            value=np.zeros((0,), np.float32),
        )


@dataclass(frozen=True)
class Candidates:
    """Peaks lifted to 3D (M candidates).

    joint: (M,) int64. xyz_m: (M, 3) float32 camera optical frame, metres.
    uv_px: (M, 2) float32 pixels of the source image. confidence: (M,) float32 in [0, 1].
    """

    joint: np.ndarray
    xyz_m: np.ndarray
    uv_px: np.ndarray
    confidence: np.ndarray

    def __len__(self) -> int:
        return int(self.joint.shape[0])


@dataclass(frozen=True)
class People:
    """P people with J = 14 joint slots each (camera optical frame, metres).

    xyz_m: (P, J, 3) float32; holes are NaN until the refiner fills them.
    confidence: (P, J) float32 in [0, 1] (0 for holes).
    detected: (P, J) bool, True where the joint came from a heatmap peak, False where it was
    filled in by the pose refiner (or is still a hole).
    uv_px: (P, J, 2) float32 pixels of the source image (NaN for holes).
    score: (P,) float32 person score in [0, 1].
    track_id: P strings, empty when tracking is off.
    """

    xyz_m: np.ndarray
    confidence: np.ndarray
    detected: np.ndarray
    uv_px: np.ndarray
    score: np.ndarray
    track_id: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return int(self.xyz_m.shape[0])

    @staticmethod
    def empty() -> People:
        return People(
            xyz_m=np.zeros((0, NUM_JOINTS, 3), np.float32),
            confidence=np.zeros((0, NUM_JOINTS), np.float32),
            detected=np.zeros((0, NUM_JOINTS), bool),
            uv_px=np.zeros((0, NUM_JOINTS, 2), np.float32),
            score=np.zeros((0,), np.float32),
        )
