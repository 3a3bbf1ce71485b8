"""Voxel <-> pixel / depth conversions of the volumetric grid, written once.

Cell-centre convention (docs/CONVENTIONS.md): voxel ``(d, h, w)`` has its centre at the
network-input pixel ``u = stride * w``, ``v = stride * h`` and at the (network-)depth
``depth_min_m + d * depth_step_m``. Every function here accepts continuous (non-integer)
voxel coordinates and works element-wise on arrays of any leading shape ``...``.

dtypes: results are float64 when an input is float64, else float32 (ints become float32).
"""

from __future__ import annotations

import numpy as np

from loco_ros.config import GridConfig
from loco_ros.errors import InputError
from loco_ros.skeleton import NUM_JOINTS


def result_dtype(*arrays: np.ndarray) -> np.dtype:
    """float64 if any input array is float64, else float32 (the project's default)."""
    if any(np.asarray(a).dtype == np.float64 for a in arrays):
        return np.dtype(np.float64)
    return np.dtype(np.float32)


def check_last_axis(array: np.ndarray, size: int, name: str) -> np.ndarray:
    """``array`` as float64 after checking its last axis has ``size`` entries."""
    values = np.asarray(array)
    if values.ndim == 0 or values.shape[-1] != size:
        raise InputError(f"{name}: expected shape (..., {size}), got {values.shape}")
    return values.astype(np.float64, copy=False)


def heatmap_shape(grid: GridConfig) -> tuple[int, int, int, int]:
    """Volumetric heatmap shape ``(J, D, H, W)`` of ``grid`` (J = 14 joints).

    1920x1080 with D = 316 -> (14, 316, 136, 240); 512x288 with D = 64 -> (14, 64, 40, 64).
    """
    return (NUM_JOINTS, grid.depth_bins, grid.height, grid.width)


def depth_to_voxel(depth_m: np.ndarray | float, grid: GridConfig) -> np.ndarray:
    """Network-depth (metres, per ``grid.depth_axis``) -> continuous depth-bin coordinate d.

    depth_m: (...) metres. Returns (...) bins, ``(depth - depth_min_m) / depth_step_m``;
    round it for the authors' integer bin. Values outside [0, D - 1] are not clipped.
    """
    depth = np.asarray(depth_m)
    d = (depth.astype(np.float64) - grid.depth_min_m) / grid.depth_step_m
    return d.astype(result_dtype(depth))


def voxel_to_depth(d: np.ndarray | float, grid: GridConfig) -> np.ndarray:
    """Continuous depth-bin coordinate d (...) -> network-depth (...) in metres."""
    bins = np.asarray(d)
    depth = grid.depth_min_m + bins.astype(np.float64) * grid.depth_step_m
    return depth.astype(result_dtype(bins))


def pixel_to_voxel(uv_px: np.ndarray, grid: GridConfig) -> np.ndarray:
    """Network-input pixels (..., 2) as (u, v) -> continuous voxel rows/columns (..., 2) (h, w).

    ``h = v / stride``, ``w = u / stride``; note the swapped order (image (u, v) vs array
    (h, w)).
    """
    uv = check_last_axis(uv_px, 2, "uv_px")
    hw = uv[..., ::-1] / grid.stride
    return hw.astype(result_dtype(np.asarray(uv_px)))


def voxel_to_pixel(hw: np.ndarray, grid: GridConfig) -> np.ndarray:
    """Continuous voxel rows/columns (..., 2) as (h, w) -> network-input pixels (..., 2) (u, v).

    ``u = stride * w``, ``v = stride * h``.
    """
    rows_cols = check_last_axis(hw, 2, "hw")
    uv = rows_cols[..., ::-1] * grid.stride
    return uv.astype(result_dtype(np.asarray(hw)))


def point_depth(xyz_m: np.ndarray, depth_axis: str) -> np.ndarray:
    """Depth value of 3D points (..., 3) (camera optical frame, metres) -> (...) metres.

    ``depth_axis`` "distance": Euclidean distance ``||X||`` from the camera centre (JTA);
    "z": the optical-axis coordinate ``X[..., 2]``.
    """
    xyz = check_last_axis(xyz_m, 3, "xyz_m")
    if depth_axis == "distance":
        depth = np.sqrt(np.sum(xyz * xyz, axis=-1))
    elif depth_axis == "z":
        depth = xyz[..., 2]
    else:
        raise InputError(f"depth_axis must be 'distance' or 'z', got {depth_axis!r}")
    return depth.astype(result_dtype(np.asarray(xyz_m)))
