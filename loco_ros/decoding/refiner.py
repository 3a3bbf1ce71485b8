"""Pose Refiner (paper Sec. 3.4): an MLP that completes and corrects head-relative poses.

Input and output are the 13 non-head joints relative to head_top, normalised per joint j as
``0.5 + (x_j - x_head) / (2 * MAX_HEAD_DISTANCE_M[j])`` (so a joint within its maximum
distance lies in [0, 1]) and flattened joint-major to 39 values (x1, y1, z1, x2, ...). Missing
joints (holes) are set to -1. The network is ``x + MLP(x)``, MLP 39 -> hidden -> hidden -> 39
with ReLUs; its last layer starts at zero, so an untrained refiner is the identity.

:func:`refine_people` applies it to :class:`loco_ros.types.People`:

- only people whose head_top is detected (finite) are refined; the others pass unchanged;
- a joint is an input when it is detected and finite; every other slot is a hole (a slot
  marked detected but not finite is treated as a hole and its ``detected`` cleared);
- detected joints take their refined positions; ``detected`` and ``confidence`` are kept;
- holes are filled with the refined positions, ``detected`` stays False, and their
  confidence is ``FILLED_CONFIDENCE_FACTOR`` (0.5) times the mean confidence of the person's
  detected joints (the head included), so a filled joint never outranks a detected one;
- ``uv_px`` of filled joints is the pinhole projection of the filled point when intrinsics K
  (3x3, of the image the ``uv_px`` refer to) are given, passed through ``distort_px`` for a
  raw image with lens distortion, and stays NaN otherwise (also for a point at z <= 0).
  ``uv_px`` of detected joints is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
import torch
from torch import nn

from loco_ros.decoding.lifting import project_to_image
from loco_ros.errors import InputError
from loco_ros.skeleton import HEAD_TOP, MAX_HEAD_DISTANCE_M, NUM_JOINTS
from loco_ros.types import People

NUM_INPUTS = 3 * (NUM_JOINTS - 1)  # 39
HOLE_VALUE = -1.0
FILLED_CONFIDENCE_FACTOR = 0.5

Array = TypeVar("Array", np.ndarray, torch.Tensor)


class PoseRefiner(nn.Module):
    """Residual MLP on normalised head-relative poses: (P, 39) -> (P, 39)."""

    def __init__(self, hidden: int = 128) -> None:
        super().__init__()
        self.fc1 = nn.Linear(NUM_INPUTS, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, NUM_INPUTS)
        nn.init.zeros_(self.fc3.weight)
        nn.init.zeros_(self.fc3.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Refined normalised poses (P, 39) from normalised poses with holes at -1 (P, 39)."""
        h = torch.relu(self.fc1(x))  # (P, hidden)
        h = torch.relu(self.fc2(h))  # (P, hidden)
        return x + self.fc3(h)  # (P, 39)


def _scale(like: Array) -> Array:
    """2 * MAX_HEAD_DISTANCE_M of joints 1..13 as (13, 1), numpy or torch like ``like``."""
    scale = (2.0 * MAX_HEAD_DISTANCE_M[1:, None]).astype(np.float32)  # (13, 1)
    if isinstance(like, torch.Tensor):
        return torch.as_tensor(scale, dtype=like.dtype, device=like.device)
    return scale


def normalise_pose(xyz_m: Array, present: Array) -> Array:
    """Refiner input (P, 39) of poses (P, J, 3) in metres with a (P, J) bool presence mask.

    Works on numpy arrays (float32 result) and on torch tensors. Joints not present (and all
    joints of a person whose head is not present) are -1; absent coordinates may be NaN.
    """
    if xyz_m.shape[1:] != (NUM_JOINTS, 3) or present.shape != xyz_m.shape[:2]:
        raise InputError(f"normalise_pose: xyz {tuple(xyz_m.shape)}, present "
                         f"{tuple(present.shape)}; expected (P, {NUM_JOINTS}, 3), (P, J)")
    rel = xyz_m[:, 1:] - xyz_m[:, HEAD_TOP:HEAD_TOP + 1]  # (P, 13, 3)
    norm = 0.5 + rel / _scale(xyz_m)  # (P, 13, 3)
    keep = present[:, 1:] & present[:, HEAD_TOP:HEAD_TOP + 1]  # (P, 13)
    if isinstance(xyz_m, torch.Tensor):
        norm = torch.where(keep[..., None], norm, torch.full_like(norm, HOLE_VALUE))
        return norm.reshape(-1, NUM_INPUTS)  # (P, 39)
    norm = np.where(keep[..., None], norm, np.float32(HOLE_VALUE)).astype(np.float32)
    return norm.reshape(-1, NUM_INPUTS)  # (P, 39)


def denormalise_pose(head: Array, x: Array) -> Array:
    """Poses (P, J, 3) in metres from head_top positions (P, 3) and refiner values (P, 39).

    Inverse of :func:`normalise_pose` for present joints; numpy (float32) or torch.
    """
    if head.shape[1:] != (3,) or x.shape != (head.shape[0], NUM_INPUTS):
        raise InputError(f"denormalise_pose: head {tuple(head.shape)}, x {tuple(x.shape)}; "
                         f"expected (P, 3), (P, {NUM_INPUTS})")
    norm = x.reshape(-1, NUM_JOINTS - 1, 3)  # (P, 13, 3)
    rest = head[:, None, :] + (norm - 0.5) * _scale(x)  # (P, 13, 3)
    if isinstance(x, torch.Tensor):
        return torch.cat([head[:, None, :].to(rest.dtype), rest], 1)  # (P, J, 3)
    return np.concatenate([head[:, None, :], rest], 1).astype(np.float32)  # (P, J, 3)


def _project(xyz_m: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """Pinhole pixels (N, 2) of camera-frame points (N, 3); NaN where z <= 0."""
    uv = project_to_image(xyz_m.astype(np.float64), intrinsics)  # (N, 2)
    uv[~(xyz_m[:, 2] > 0)] = np.nan
    return uv.astype(np.float32)


def refine_people(
    refiner: PoseRefiner, people: People, intrinsics: np.ndarray | None = None,
    distort_px: Callable[[np.ndarray], np.ndarray] | None = None,
) -> People:
    """People with refined detected joints and filled holes (see the module docstring).

    ``intrinsics``: optional 3x3 K used to give filled joints pixel coordinates.
    ``distort_px``: pinhole pixels (N, 2) -> pixels (N, 2) of the distorted (raw) image.
    """
    if len(people) == 0:
        return people
    xyz = people.xyz_m
    present = people.detected & np.isfinite(xyz).all(-1)  # (P, J)
    rows = np.flatnonzero(present[:, HEAD_TOP])
    if rows.size == 0:
        return people
    param = next(refiner.parameters())
    x = normalise_pose(xyz[rows], present[rows])  # (R, 39)
    with torch.no_grad():
        y = refiner(torch.from_numpy(x).to(param.device, param.dtype))  # (R, 39)
    refined = denormalise_pose(xyz[rows, HEAD_TOP], y.float().cpu().numpy())  # (R, J, 3)

    out_xyz = xyz.astype(np.float32, copy=True)
    out_conf = people.confidence.astype(np.float32, copy=True)
    out_uv = people.uv_px.astype(np.float32, copy=True)
    out_detected = people.detected.copy()
    out_detected[rows] &= present[rows]  # a detected slot without finite xyz was filled
    holes = ~present[rows]  # (R, J)
    conf = people.confidence[rows]  # (R, J)
    mean_conf = (conf * present[rows]).sum(1) / present[rows].sum(1)  # (R,), head present
    refined[:, HEAD_TOP] = xyz[rows, HEAD_TOP]
    out_xyz[rows] = refined
    out_conf[rows] = np.where(holes, FILLED_CONFIDENCE_FACTOR * mean_conf[:, None], conf)
    if intrinsics is not None:
        uv = _project(refined.reshape(-1, 3), intrinsics)  # (R J, 2)
        if distort_px is not None:
            uv = distort_px(uv).astype(np.float32)
        uv = uv.reshape(-1, NUM_JOINTS, 2)
        out_uv[rows] = np.where(holes[..., None], uv, out_uv[rows])
    else:
        out_uv[rows] = np.where(holes[..., None], np.float32(np.nan), out_uv[rows])
    return People(
        xyz_m=out_xyz,
        confidence=out_conf,
        detected=out_detected,
        uv_px=out_uv,
        score=people.score.copy(),
        track_id=people.track_id,
    )
