"""Heatmap codec: 3D joints -> continuous voxels -> volumetric Gaussian heatmaps.

Encoding (the decode counterpart is ``lifting.decode_voxels_to_joints``): a joint X (camera
frame, metres) is projected with the network-input intrinsics K to ``(u, v)``; its depth
(``grid.depth_axis``) is rescaled to the canonical focal, ``depth * grid.focal_px / fx``;
then ``grid`` turns both into the continuous voxel ``(d, h, w)`` (docs/CONVENTIONS.md).

Rendering: per joint a Gaussian ``exp(-r^2 / sigma^2)`` (voxel units) with peak 1 at the
EXACT continuous voxel (the authors round it first: ``round_centres=True``, the paper's eq. 1,
used to score the VHA by the paper's protocol), pasted as a cube of half-width
``ceil(2.5 sigma)`` around the rounded voxel (their side ``5 sigma (+1 if even)``), people
combined by element-wise max. Joints that are NaN, behind the camera, outside the image or
outside the depth range are skipped.
"""

from __future__ import annotations

import math

import numpy as np

from loco_ros.config import GridConfig
from loco_ros.decoding.grid import depth_to_voxel, heatmap_shape, pixel_to_voxel, point_depth
from loco_ros.decoding.lifting import canonical_depth_scale, project_to_image
from loco_ros.errors import InputError
from loco_ros.skeleton import NUM_JOINTS


def patch_half_width(sigma: float) -> int:
    """Half-width (voxels) of the cube a Gaussian of ``sigma`` (voxels) is rendered in."""
    return int(math.ceil(2.5 * sigma))


def _check_joints(joints_xyz_m: np.ndarray) -> np.ndarray:
    """(P, J, 3) joints -> float64 array; InputError on any other shape."""
    joints = np.asarray(joints_xyz_m)
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3):
        raise InputError(f"joints_xyz_m: expected (P, {NUM_JOINTS}, 3), got {joints.shape}")
    return joints.astype(np.float64, copy=False)


def _inside_image(uv_px: np.ndarray, grid: GridConfig) -> np.ndarray:
    """(..., 2) network pixels -> (...) bool, inside the image area [-0.5, size - 0.5)."""
    u, v = uv_px[..., 0], uv_px[..., 1]
    inside_u = (u >= -0.5) & (u < grid.image_width - 0.5)
    return inside_u & (v >= -0.5) & (v < grid.image_height - 0.5)


def _encode(
    joints_xyz_m: np.ndarray, K_intrinsics: np.ndarray, grid: GridConfig,
    focal_px_scale: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    """encode_joints_to_voxels in float64: (voxel_dhw (P, J, 3), valid (P, J) bool)."""
    joints = _check_joints(joints_xyz_m)
    scale = canonical_depth_scale(K_intrinsics, grid) if focal_px_scale is None else focal_px_scale
    if not (math.isfinite(scale) and scale > 0.0):
        raise InputError(f"focal_px_scale must be finite and > 0, got {focal_px_scale}")
    uv_px = project_to_image(joints, K_intrinsics)
    d = depth_to_voxel(point_depth(joints, grid.depth_axis) * scale, grid)
    voxel = np.concatenate([d[..., None], pixel_to_voxel(uv_px, grid)], axis=-1)
    with np.errstate(invalid="ignore"):
        valid = np.all(np.isfinite(voxel), axis=-1) & (joints[..., 2] > 0.0)
        valid &= _inside_image(uv_px, grid) & (d >= 0.0) & (d <= grid.depth_bins - 1)
    voxel[~valid] = np.nan
    return voxel, valid


def encode_joints_to_voxels(
    joints_xyz_m: np.ndarray,
    K_intrinsics: np.ndarray,
    grid: GridConfig,
    focal_px_scale: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Joints (P, J, 3) metres, camera frame -> (voxel_dhw (P, J, 3) float32, valid (P, J) bool).

    K_intrinsics: (3, 3) of the network-input image (pixels). focal_px_scale: factor from
    true depth to network-depth, default ``grid.focal_px / fx``. voxel_dhw is the continuous
    voxel (d, h, w), NaN where not valid; valid = finite, z > 0, inside the image area
    [-0.5, Wi - 0.5) x [-0.5, Hi - 0.5) and 0 <= d <= D - 1.
    """
    voxel, valid = _encode(joints_xyz_m, K_intrinsics, grid, focal_px_scale)
    return voxel.astype(np.float32), valid


def _axis_gaussians(
    centres: np.ndarray, sizes: tuple[int, ...], sigma: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1D Gaussian factors of J cubes: (first index (J, 3) int64, stop (J, 3), g (J, 3, S)).

    centres: (J, 3) continuous voxels. g[j, a, i] = exp(-(first + i - centre)^2 / sigma^2)
    float32; first/stop clip the cube to the volume (stop is exclusive), S = 2 r + 1.
    """
    half = patch_half_width(sigma)
    rounded = np.floor(centres + 0.5).astype(np.int64)
    first = rounded - half
    index = first[:, :, None] + np.arange(2 * half + 1)
    g = np.exp(-((index - centres[:, :, None]) ** 2) / sigma**2).astype(np.float32)
    stop = np.minimum(rounded + half + 1, np.asarray(sizes))
    return first, stop, g


def _paste_max(channel: np.ndarray, first: np.ndarray, stop: np.ndarray, g: np.ndarray) -> None:
    """channel (D, H, W) = max(channel, outer(g[0], g[1], g[2])) on the clipped cube, in place.

    first, stop: (3,) int cube bounds (first may be negative); g: (3, S) axis factors.
    """
    lo = np.maximum(first, 0)
    skip = lo - first
    gd = g[0, skip[0] : skip[0] + stop[0] - lo[0]]
    gh = g[1, skip[1] : skip[1] + stop[1] - lo[1]]
    gw = g[2, skip[2] : skip[2] + stop[2] - lo[2]]
    view = channel[lo[0] : stop[0], lo[1] : stop[1], lo[2] : stop[2]]
    np.maximum(view, gd[:, None, None] * gh[None, :, None] * gw[None, None, :], out=view)


def render_volumetric_heatmap(
    joints_xyz_m: np.ndarray,
    K_intrinsics: np.ndarray,
    grid: GridConfig,
    visible: np.ndarray | None = None,
    focal_px_scale: float | None = None,
    round_centres: bool = False,
) -> np.ndarray:
    """Render the ground-truth volumetric heatmap (J, D, H, W) float32 in [0, 1].

    joints_xyz_m: (P, J, 3) camera frame, metres. K_intrinsics: (3, 3) network-input pixels.
    visible: optional (P, J) bool, False joints are skipped. focal_px_scale: see
    ``encode_joints_to_voxels``. Each valid joint adds a Gaussian exp(-r^2 / sigma^2) with
    peak 1 at its continuous voxel (at its rounded voxel with ``round_centres``, as the
    paper's eq. 1), element-wise max over people.
    """
    voxel, valid = _encode(joints_xyz_m, K_intrinsics, grid, focal_px_scale)
    if visible is not None:
        mask = np.asarray(visible)
        if mask.shape != valid.shape:
            raise InputError(f"visible: expected shape {valid.shape}, got {mask.shape}")
        valid &= mask.astype(bool)
    volume = np.zeros(heatmap_shape(grid), np.float32)
    _, joint = np.nonzero(valid)
    centres = voxel[valid]
    if round_centres:
        centres = np.floor(centres + 0.5)
    first, stop, g = _axis_gaussians(centres, volume.shape[1:], grid.sigma)
    for j in range(joint.shape[0]):
        _paste_max(volume[joint[j]], first[j], stop[j], g[j])
    return volume
