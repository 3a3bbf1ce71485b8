"""Camera geometry: projection, lifting, resize / letterbox intrinsics, peaks -> candidates."""

from __future__ import annotations

import math

import numpy as np
import pytest

from loco_ros.config import DecodeConfig, GridConfig
from loco_ros.decoding.codec import encode_joints_to_voxels, render_volumetric_heatmap
from loco_ros.decoding.lifting import (
    check_intrinsics,
    decode_voxels_to_joints,
    letterbox_geometry,
    letterbox_intrinsics,
    lift_to_camera,
    network_to_source_px,
    peaks_to_candidates,
    project_to_image,
    scale_intrinsics,
    source_to_network_px,
)
from loco_ros.decoding.peaks import find_peaks
from loco_ros.errors import InputError
from loco_ros.types import Peaks

K_JTA = np.array([[1158.0, 0.0, 960.0], [0.0, 1158.0, 540.0], [0.0, 0.0, 1.0]])
K_VGA = np.array([[500.0, 0.0, 320.0], [0.0, 520.0, 240.0], [0.0, 0.0, 1.0]])
DEMO = GridConfig()  # 512x288, D = 64 over 0..32 m, focal_px 400


def random_points(n: int, seed: int = 0) -> np.ndarray:
    """(n, 3) float64 points in front of the camera, 1..60 m."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(1.0, 60.0, n)
    return np.stack([rng.uniform(-0.6, 0.6, n) * z, rng.uniform(-0.4, 0.4, n) * z, z], axis=1)


# ----------------------------------------------------------------------------- intrinsics


@pytest.mark.parametrize(
    "K",
    [
        np.eye(2),
        np.diag([0.0, 1.0, 1.0]),
        np.diag([1.0, -2.0, 1.0]),
        np.array([[1.0, 0.0, np.inf], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
        [[1.0, 0.0], [0.0, 1.0]],
    ],
)
def test_bad_intrinsics_raise(K: np.ndarray) -> None:
    with pytest.raises(InputError):
        check_intrinsics(K)
    with pytest.raises(InputError):
        project_to_image(np.zeros(3), K)


def test_project_hand_values() -> None:
    uv = project_to_image(np.array([[1.0, 0.5, 10.0], [0.0, 0.0, 3.0]]), K_JTA)
    np.testing.assert_allclose(uv, [[1075.8, 597.9], [960.0, 540.0]], atol=1e-9)
    assert uv.dtype == np.float64
    assert project_to_image(np.ones((2, 5, 3), np.float32), K_JTA).shape == (2, 5, 2)
    assert project_to_image(np.ones((2, 3), np.float32), K_JTA).dtype == np.float32


def test_lift_hand_values() -> None:
    f, c = 1158.0, np.array([960.0, 540.0])
    uv = np.array([c, c + [f, 0.0], c + [f, f]])
    distance = lift_to_camera(uv, np.array([5.0, math.sqrt(2.0), math.sqrt(3.0)]), K_JTA,
                              "distance")
    np.testing.assert_allclose(distance, [[0, 0, 5], [1, 0, 1], [1, 1, 1]], atol=1e-12)
    z = lift_to_camera(uv, np.array([5.0, 2.0, 3.0]), K_JTA, "z")
    np.testing.assert_allclose(z, [[0, 0, 5], [2, 0, 2], [3, 3, 3]], atol=1e-12)
    with pytest.raises(InputError):
        lift_to_camera(uv, np.ones(3), K_JTA, "depth")


def test_scale_intrinsics_hand_values() -> None:
    s = 512.0 / 1920.0
    K = scale_intrinsics(K_JTA, s, 288.0 / 1080.0)
    # half-pixel rule: cx' = s (cx + 0.5) - 0.5
    expected = [[308.8, 0.0, 960.5 * s - 0.5], [0.0, 308.8, 540.5 * s - 0.5], [0.0, 0.0, 1.0]]
    np.testing.assert_allclose(K, expected, atol=1e-9)
    assert K[0, 2] == pytest.approx(255.633333333)
    with pytest.raises(InputError):
        scale_intrinsics(K_JTA, 0.0, 1.0)


def test_letterbox_hand_values() -> None:
    resized, scale_xy, pad_xy = letterbox_geometry((640, 480), (512, 288))
    assert resized == (384, 288) and scale_xy == (0.6, 0.6) and pad_xy == (64, 0)
    K_net, scale_xy, pad_xy = letterbox_intrinsics(K_VGA, (640, 480), (512, 288))
    expected = [[300.0, 0.0, 320.5 * 0.6 - 0.5 + 64], [0.0, 312.0, 143.8], [0.0, 0.0, 1.0]]
    np.testing.assert_allclose(K_net, expected, atol=1e-9)
    assert K_net[0, 2] == pytest.approx(255.8)
    assert letterbox_geometry((1920, 1080), (512, 512))[2] == (0, 112)
    resized, scale_xy, pad_xy = letterbox_geometry((1920, 1080), (512, 288))
    assert resized == (512, 288) and pad_xy == (0, 0)
    assert scale_xy == pytest.approx((512.0 / 1920.0, 288.0 / 1080.0))
    with pytest.raises(InputError):
        letterbox_geometry((0, 480), (512, 288))


def test_pixel_mappings_hand_values_and_inverse() -> None:
    np.testing.assert_allclose(source_to_network_px(np.zeros(2), 0.6, (64, 0)), [63.8, -0.2])
    np.testing.assert_allclose(network_to_source_px(np.array([63.8, -0.2]), 0.6, (64, 0)),
                               [0.0, 0.0], atol=1e-12)
    # last source pixel centre (639, 479) -> (639.5 * 0.6 - 0.5 + 64, 479.5 * 0.6 - 0.5)
    np.testing.assert_allclose(source_to_network_px(np.array([639.0, 479.0]), 0.6, (64, 0)),
                               [447.2, 287.2], atol=1e-9)
    uv = np.random.default_rng(1).uniform(0, 640, (10, 2))
    back = network_to_source_px(source_to_network_px(uv, (0.5, 0.25), (3, 7)), (0.5, 0.25),
                                (3, 7))
    np.testing.assert_allclose(back, uv, atol=1e-9)


def test_letterboxed_intrinsics_agree_with_pixel_mapping() -> None:
    xyz = random_points(50)
    K_net, scale_xy, pad_xy = letterbox_intrinsics(K_VGA, (640, 480), (512, 288))
    via_source = source_to_network_px(project_to_image(xyz, K_VGA), scale_xy, pad_xy)
    np.testing.assert_allclose(project_to_image(xyz, K_net), via_source, atol=1e-9)


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("depth_axis", ["distance", "z"])
@pytest.mark.parametrize("camera", ["source", "rescaled", "letterboxed"])
def test_project_then_lift_round_trip(depth_axis: str, camera: str) -> None:
    K = {
        "source": K_JTA,
        "rescaled": scale_intrinsics(K_JTA, 512.0 / 1920.0, 288.0 / 1080.0),
        "letterboxed": letterbox_intrinsics(K_JTA, (1920, 1080), (512, 512))[0],
    }[camera]
    xyz = random_points(200, seed=2)
    depth = np.linalg.norm(xyz, axis=1) if depth_axis == "distance" else xyz[:, 2]
    back = lift_to_camera(project_to_image(xyz, K), depth, K, depth_axis)
    assert np.abs(back - xyz).max() < 1e-5
    # float32 inputs stay within 1e-5 m too at these ranges (float32 resolution ~4e-6 m)
    back32 = lift_to_camera(project_to_image(xyz.astype(np.float32), K),
                            depth.astype(np.float32), K, depth_axis)
    assert back32.dtype == np.float32 and np.abs(back32 - xyz).max() < 2e-5


@pytest.mark.parametrize("depth_axis", ["distance", "z"])
def test_encode_decode_round_trip(depth_axis: str) -> None:
    grid = GridConfig(depth_axis=depth_axis, depth_max_m=40.0)
    K_net = scale_intrinsics(K_JTA, 512.0 / 1920.0, 288.0 / 1080.0)  # fx 308.8 != focal 400
    joints = random_points(5 * 14, seed=3).reshape(5, 14, 3) * 0.5
    voxel, valid = encode_joints_to_voxels(joints, K_net, grid)
    assert valid.sum() > 50
    back = decode_voxels_to_joints(voxel.astype(np.float64), K_net, grid)
    assert np.abs(back[valid] - joints[valid]).max() < 1e-5
    back32 = decode_voxels_to_joints(voxel, K_net, grid)  # float32 voxels: ~1e-5 voxel
    assert np.abs(back32[valid] - joints[valid]).max() < 1e-3


def test_canonical_focal_rescale() -> None:
    # the same voxel seen by a camera of twice the focal is twice as far (network-depth is
    # true depth * focal_px / fx): on the principal ray exactly 2x the point.
    K1 = np.array([[400.0, 0.0, 256.0], [0.0, 400.0, 144.0], [0.0, 0.0, 1.0]])
    K2 = np.array([[800.0, 0.0, 256.0], [0.0, 800.0, 144.0], [0.0, 0.0, 1.0]])
    centre = np.array([31.5, 18.0, 32.0])  # pixel (256, 144), network-depth 16 m
    np.testing.assert_allclose(decode_voxels_to_joints(centre, K1, DEMO), [0, 0, 16])
    np.testing.assert_allclose(decode_voxels_to_joints(centre, K2, DEMO), [0, 0, 32])
    off_axis = np.array([31.5, 10.0, 50.0])  # pixel (400, 80)
    p1 = decode_voxels_to_joints(off_axis, K1, DEMO)
    p2 = decode_voxels_to_joints(off_axis, K2, DEMO)
    assert np.linalg.norm(p1) == pytest.approx(16.0) and np.linalg.norm(p2) == pytest.approx(32)
    np.testing.assert_allclose(project_to_image(p2, K2), [400.0, 80.0], atol=1e-9)
    # hand: ray (144 / 800, -64 / 800, 1) scaled to 32 m
    ray = np.array([0.18, -0.08, 1.0])
    np.testing.assert_allclose(p2, 32.0 * ray / np.linalg.norm(ray), atol=1e-9)
    z_grid = GridConfig(depth_axis="z")
    np.testing.assert_allclose(decode_voxels_to_joints(off_axis, K2, z_grid), 32.0 * ray)


# ----------------------------------------------------------------------------- candidates


def test_peaks_to_candidates_hand_values() -> None:
    peaks = Peaks(
        joint=np.array([0, 4]),
        voxel=np.float32([[31.5, 18.0, 32.0], [0.0, 0.0, 0.0]]),
        value=np.float32([1.3, -0.1]),
    )
    K_net = np.array([[400.0, 0.0, 256.0], [0.0, 400.0, 144.0], [0.0, 0.0, 1.0]])
    candidates = peaks_to_candidates(peaks, DEMO, K_net, scale_xy=0.5, pad_xy=(0, 10))
    assert candidates.joint.tolist() == [0, 4] and candidates.joint.dtype == np.int64
    assert candidates.xyz_m.dtype == np.float32 and candidates.uv_px.dtype == np.float32
    np.testing.assert_allclose(candidates.xyz_m, [[0, 0, 16], [0, 0, 0]], atol=1e-6)
    # source u = (256 + 0.5) / 0.5 - 0.5, v = (144 - 10 + 0.5) / 0.5 - 0.5
    np.testing.assert_allclose(candidates.uv_px, [[512.5, 268.5], [0.5, -19.5]])
    np.testing.assert_array_equal(candidates.confidence, np.float32([1.0, 0.0]))
    empty = peaks_to_candidates(Peaks.empty(), DEMO, K_net)
    assert len(empty) == 0 and empty.xyz_m.shape == (0, 3) and empty.uv_px.shape == (0, 2)


def test_render_find_lift_recovers_joints_through_letterbox() -> None:
    K_net, scale_xy, pad_xy = letterbox_intrinsics(K_VGA, (640, 480), (512, 288))
    rng = np.random.default_rng(5)
    z = rng.uniform(3.0, 15.0, (1, 14))
    uv_src = rng.uniform([20.0, 20.0], [620.0, 460.0], (1, 14, 2))
    joints = lift_to_camera(uv_src, z, K_VGA, "z")
    volume = render_volumetric_heatmap(joints, K_net, DEMO)
    candidates = peaks_to_candidates(find_peaks(volume, DecodeConfig()), DEMO, K_net,
                                     scale_xy, pad_xy)
    assert candidates.joint.tolist() == list(range(14))
    np.testing.assert_allclose(candidates.xyz_m, joints[0], atol=2e-3)
    np.testing.assert_allclose(candidates.uv_px, uv_src[0], atol=0.05)
    assert np.all(candidates.confidence > 0.6)
