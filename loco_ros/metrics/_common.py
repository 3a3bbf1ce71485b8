"""Private array helpers shared by the metric modules (pure numpy).

Points are 3D in metres (camera optical frame) with NaN for absent joints; people arrays are
(N, J, 3) with J = 14 joints (docs/CONVENTIONS.md); distances are Euclidean, in the units of
the inputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from loco_ros.errors import InputError
from loco_ros.skeleton import NUM_JOINTS


def _as_people_array(x: np.ndarray, name: str, dims: int = 3) -> np.ndarray:
    """(N, J, dims) float64 copy (3: metres, 2: pixels); InputError on any other shape."""
    arr = np.asarray(x, np.float64)
    if arr.ndim != 3 or arr.shape[1:] != (NUM_JOINTS, dims):
        raise InputError(f"{name}: expected shape (N, {NUM_JOINTS}, {dims}), got {arr.shape}")
    return arr


def _per_type(points: np.ndarray | Sequence[np.ndarray], name: str) -> list[np.ndarray]:
    """(N, J, 3) with NaN holes, or J arrays (n_j, 3) -> J arrays (n_j, 3) of finite points."""
    if isinstance(points, np.ndarray) and points.ndim == 3:
        arr = _as_people_array(points, name)
        out = []
        for k in range(NUM_JOINTS):
            pts = arr[:, k]
            out.append(pts[np.all(np.isfinite(pts), axis=1)])
        return out
    if len(points) != NUM_JOINTS:
        raise InputError(f"{name}: expected (N, J, 3) or a list of {NUM_JOINTS} (n, 3) arrays")
    out = []
    for pts in points:
        pts = np.asarray(pts, np.float64).reshape(-1, 3)
        out.append(pts[np.all(np.isfinite(pts), axis=1)])
    return out


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 3), (M, 3) -> (N, M) Euclidean distances."""
    diff = a[:, None, :] - b[None, :, :]
    return np.sqrt(np.einsum("nmc,nmc->nm", diff, diff))


def _mean_joint_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, J, C), (M, J, C) -> (N, M) mean distance over joints finite in both (inf if none)."""
    diff = a[:, None, :, :] - b[None, :, :, :]
    dist = np.sqrt(np.einsum("nmkc,nmkc->nmk", diff, diff))
    both = np.isfinite(dist)
    count = both.sum(axis=2)
    total = np.where(both, dist, 0.0).sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.inf)


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den elementwise, NaN where den == 0."""
    num = np.asarray(num, np.float64)
    den = np.asarray(den, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.maximum(den, 1e-300), np.nan)
