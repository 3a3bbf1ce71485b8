"""Pure camera geometry: projection, lifting to 3D, intrinsics under resize / letterbox.

Frames and units follow docs/CONVENTIONS.md: 3D points in the camera optical frame (x right,
y down, z forward, metres); pixels ``(u, v)`` with the top-left pixel centre at (0, 0);
intrinsics ``K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` (skew is ignored).

Image resizing uses the half-pixel rule of ``cv2.resize`` and
``torch.nn.functional.interpolate(align_corners=False)``: a source pixel ``u`` lands at
``(u + 0.5) * scale - 0.5`` in the resized image.

Canonical focal: the network predicts depth as if its input camera had focal
``grid.focal_px``; a camera with focal ``fx_net`` (network-input pixels) sees true depth
``t`` as ``t * grid.focal_px / fx_net``, so decoding multiplies by ``fx_net / grid.focal_px``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from loco_ros.config import GridConfig
from loco_ros.decoding.grid import (
    check_last_axis,
    result_dtype,
    voxel_to_depth,
    voxel_to_pixel,
)
from loco_ros.errors import InputError
from loco_ros.types import Candidates, Peaks

PairLike = float | tuple[float, float]
PixelMap = Callable[[np.ndarray], np.ndarray]  # pixels (N, 2) -> pixels (N, 2)


def check_intrinsics(K: np.ndarray) -> np.ndarray:
    """Validate intrinsics K (3, 3) in pixels; returns a float64 copy.

    Raises InputError unless K is 3x3, finite, with fx > 0 and fy > 0.
    """
    matrix = np.array(K, dtype=np.float64)
    if matrix.shape != (3, 3):
        raise InputError(f"intrinsics: expected shape (3, 3), got {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise InputError("intrinsics: values must be finite")
    if not (matrix[0, 0] > 0.0 and matrix[1, 1] > 0.0):
        raise InputError(f"intrinsics: need fx, fy > 0, got {matrix[0, 0]}, {matrix[1, 1]}")
    return matrix


def _pair(value: PairLike, name: str) -> tuple[float, float]:
    """A scalar or a pair -> (x, y) floats; InputError unless finite."""
    pair = np.broadcast_to(np.asarray(value, dtype=np.float64), (2,))
    if not np.all(np.isfinite(pair)):
        raise InputError(f"{name}: must be finite, got {value!r}")
    return float(pair[0]), float(pair[1])


def project_to_image(xyz_m: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Pinhole projection of points (..., 3) (camera frame, metres) -> uv_px (..., 2).

    ``u = fx X / Z + cx``, ``v = fy Y / Z + cy`` in the pixels of the image K belongs to.
    Points with Z <= 0 give inf/NaN or mirrored pixels (no warning); callers mask them.
    """
    matrix = check_intrinsics(K)
    xyz = check_last_axis(xyz_m, 3, "xyz_m")
    with np.errstate(divide="ignore", invalid="ignore"):
        u = matrix[0, 0] * xyz[..., 0] / xyz[..., 2] + matrix[0, 2]
        v = matrix[1, 1] * xyz[..., 1] / xyz[..., 2] + matrix[1, 2]
    return np.stack([u, v], axis=-1).astype(result_dtype(np.asarray(xyz_m)))


def in_image(xyz_m: np.ndarray, K: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """(...) bool: points (..., 3) (camera frame, metres) in front of the camera (Z > 0)
    whose pixel lies on the W x H image of K: ``-0.5 <= u < W - 0.5``, same in v (pixel
    centres at integers)."""
    uv = project_to_image(np.asarray(xyz_m, np.float64), K)
    w, h = size_wh
    with np.errstate(invalid="ignore"):
        return ((np.asarray(xyz_m)[..., 2] > 0) & (uv[..., 0] >= -0.5) & (uv[..., 0] < w - 0.5)
                & (uv[..., 1] >= -0.5) & (uv[..., 1] < h - 0.5))


def lift_to_camera(
    uv_px: np.ndarray, depth_m: np.ndarray, K: np.ndarray, depth_axis: str
) -> np.ndarray:
    """Back-project pixels (..., 2) with depths (...) in metres -> points (..., 3), metres.

    depth_axis "distance": ``P = depth * r / ||r||`` with ray ``r = ((u-cx)/fx, (v-cy)/fy, 1)``;
    "z": ``P = depth * r`` (``X = (u - cx) z / fx`` ...). uv_px in the pixels of K's image.
    """
    matrix = check_intrinsics(K)
    uv = check_last_axis(uv_px, 2, "uv_px")
    depth = np.asarray(depth_m, dtype=np.float64)
    ray_x = (uv[..., 0] - matrix[0, 2]) / matrix[0, 0]
    ray_y = (uv[..., 1] - matrix[1, 2]) / matrix[1, 1]
    ray = np.stack([ray_x, ray_y, np.ones_like(ray_x)], axis=-1)
    if depth_axis == "distance":
        ray = ray / np.linalg.norm(ray, axis=-1, keepdims=True)
    elif depth_axis != "z":
        raise InputError(f"depth_axis must be 'distance' or 'z', got {depth_axis!r}")
    xyz = depth[..., None] * ray
    return xyz.astype(result_dtype(np.asarray(uv_px), np.asarray(depth_m)))


def scale_intrinsics(K: np.ndarray, scale_x: float, scale_y: float) -> np.ndarray:
    """Intrinsics (3, 3) float64 of the image resized by (scale_x, scale_y) (new / old size).

    ``fx' = sx fx``, ``cx' = sx (cx + 0.5) - 0.5`` (half-pixel rule, cv2.resize), same in y.
    """
    matrix = check_intrinsics(K)
    sx, sy = _pair((scale_x, scale_y), "scale")
    if not (sx > 0.0 and sy > 0.0):
        raise InputError(f"scale must be > 0, got {scale_x}, {scale_y}")
    scaled = matrix.copy()
    scaled[0, :] *= sx
    scaled[1, :] *= sy
    scaled[0, 2] = sx * (matrix[0, 2] + 0.5) - 0.5
    scaled[1, 2] = sy * (matrix[1, 2] + 0.5) - 0.5
    return scaled


def letterbox_geometry(
    src_wh: tuple[int, int], dst_wh: tuple[int, int]
) -> tuple[tuple[int, int], tuple[float, float], tuple[int, int]]:
    """Aspect-preserving fit of a src (W, H) image into dst (W, H): (resized_wh, scale_xy, pad_xy).

    ``s = min(dst_w / src_w, dst_h / src_h)``; resized size ``round(src * s)`` (pixels);
    scale_xy = resized / src per axis (the factors a resize to resized_wh applies);
    pad_xy = integer left / top padding ``(dst - resized) // 2``.
    """
    src_w, src_h = (int(x) for x in src_wh)
    dst_w, dst_h = (int(x) for x in dst_wh)
    if min(src_w, src_h, dst_w, dst_h) <= 0:
        raise InputError(f"image sizes must be > 0, got {src_wh}, {dst_wh}")
    scale = min(dst_w / src_w, dst_h / src_h)
    new_w = min(dst_w, max(1, round(src_w * scale)))
    new_h = min(dst_h, max(1, round(src_h * scale)))
    scale_xy = (new_w / src_w, new_h / src_h)
    return (new_w, new_h), scale_xy, ((dst_w - new_w) // 2, (dst_h - new_h) // 2)


def letterbox_intrinsics(
    K: np.ndarray, src_wh: tuple[int, int], dst_wh: tuple[int, int]
) -> tuple[np.ndarray, tuple[float, float], tuple[int, int]]:
    """Intrinsics after letterboxing a src (W, H) image into dst (W, H).

    Returns ``(K_net (3, 3) float64, scale_xy, pad_xy)``: K_net is ``scale_intrinsics`` by
    scale_xy with the principal point shifted by pad_xy (see ``letterbox_geometry``).
    """
    _, scale_xy, pad_xy = letterbox_geometry(src_wh, dst_wh)
    K_net = scale_intrinsics(K, *scale_xy)
    K_net[0, 2] += pad_xy[0]
    K_net[1, 2] += pad_xy[1]
    return K_net, scale_xy, pad_xy


def source_to_network_px(
    uv_src_px: np.ndarray, scale_xy: PairLike, pad_xy: PairLike = (0, 0)
) -> np.ndarray:
    """Source-image pixels (..., 2) -> network-input pixels (..., 2) of a (letterboxed) resize.

    ``u_net = (u_src + 0.5) * sx - 0.5 + pad_x``, same in v.
    """
    uv = check_last_axis(uv_src_px, 2, "uv_src_px")
    scale = np.array(_pair(scale_xy, "scale_xy"))
    pad = np.array(_pair(pad_xy, "pad_xy"))
    uv_net = (uv + 0.5) * scale - 0.5 + pad
    return uv_net.astype(result_dtype(np.asarray(uv_src_px)))


def network_to_source_px(
    uv_net_px: np.ndarray, scale_xy: PairLike, pad_xy: PairLike = (0, 0)
) -> np.ndarray:
    """Network-input pixels (..., 2) -> source-image pixels (..., 2); inverse of the above.

    ``u_src = (u_net - pad_x + 0.5) / sx - 0.5``, same in v.
    """
    uv = check_last_axis(uv_net_px, 2, "uv_net_px")
    scale = np.array(_pair(scale_xy, "scale_xy"))
    pad = np.array(_pair(pad_xy, "pad_xy"))
    if not np.all(scale > 0.0):
        raise InputError(f"scale_xy must be > 0, got {scale_xy!r}")
    uv_src = (uv - pad + 0.5) / scale - 0.5
    return uv_src.astype(result_dtype(np.asarray(uv_net_px)))


def canonical_depth_scale(K_net: np.ndarray, grid: GridConfig) -> float:
    """Factor true depth -> network-depth, ``grid.focal_px / fx_net`` (dimensionless)."""
    return grid.focal_px / check_intrinsics(K_net)[0, 0]


def decode_voxels_to_joints(
    voxel_dhw: np.ndarray,
    K_net: np.ndarray,
    grid: GridConfig,
    focal_px_scale: float | None = None,
    uv_net_px: np.ndarray | None = None,
) -> np.ndarray:
    """Continuous voxels (..., 3) as (d, h, w) -> 3D points (..., 3), camera frame, metres.

    Inverse of ``codec.encode_joints_to_voxels``: pixel ``(8 w, 8 h)`` of the network input,
    network-depth ``voxel_to_depth(d)``, true depth = network-depth / focal_px_scale
    (default ``grid.focal_px / fx_net``), lifted with K_net (network-input pixels).
    uv_net_px: (..., 2) network-input pixels to lift at instead of ``(8 w, 8 h)`` (the
    undistorted pixels of a raw image).
    """
    voxels = check_last_axis(voxel_dhw, 3, "voxel_dhw")
    if focal_px_scale is None:
        focal_px_scale = canonical_depth_scale(K_net, grid)
    if not (math.isfinite(focal_px_scale) and focal_px_scale > 0.0):
        raise InputError(f"focal_px_scale must be finite and > 0, got {focal_px_scale}")
    uv_net = voxel_to_pixel(voxels[..., 1:], grid) if uv_net_px is None else uv_net_px
    depth_m = voxel_to_depth(voxels[..., 0], grid) / focal_px_scale
    xyz = lift_to_camera(uv_net, depth_m, K_net, grid.depth_axis)
    return xyz.astype(result_dtype(np.asarray(voxel_dhw)))


def _check_peaks(peaks: Peaks) -> None:
    m = len(peaks)
    if peaks.voxel.shape != (m, 3) or peaks.value.shape != (m,):
        raise InputError("peaks: expected joint (M,), voxel (M, 3), value (M,)")


def peaks_to_candidates(
    peaks: Peaks,
    grid: GridConfig,
    K_net: np.ndarray,
    scale_xy: PairLike = 1.0,
    pad_xy: PairLike = (0, 0),
    undistort_px: PixelMap | None = None,
) -> Candidates:
    """Peaks (M) of a decoded volume -> 3D joint candidates (M), float32.

    K_net: (3, 3) intrinsics of the network input (pixels). scale_xy, pad_xy: the resize /
    letterbox that made the network input from the source image (``letterbox_intrinsics``);
    Candidates.uv_px is in SOURCE pixels, xyz_m in the camera frame (metres, true depth via
    the canonical-focal rescale), confidence = clip(value, 0, 1).
    undistort_px: for a raw image, source pixels (M, 2) -> pixels of the pinhole image with
    the same intrinsics (``camera.lens.undistort_pixels``); candidates are lifted there while
    uv_px stays the (distorted) source pixels.
    """
    _check_peaks(peaks)
    voxels = peaks.voxel.astype(np.float64)
    uv_src = network_to_source_px(voxel_to_pixel(voxels[:, 1:], grid), scale_xy, pad_xy)
    uv_lift = None
    if undistort_px is not None and len(peaks):
        uv_lift = source_to_network_px(undistort_px(uv_src), scale_xy, pad_xy)  # (M, 2)
    xyz = decode_voxels_to_joints(voxels, K_net, grid, uv_net_px=uv_lift)
    return Candidates(
        joint=peaks.joint.astype(np.int64),
        xyz_m=xyz.astype(np.float32),
        uv_px=uv_src.astype(np.float32),
        confidence=np.clip(peaks.value, 0.0, 1.0).astype(np.float32),
    )
