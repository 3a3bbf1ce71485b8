"""Grid conversions and the heatmap codec (encode + render), against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from loco_ros.config import GridConfig
from loco_ros.decoding.codec import (
    encode_joints_to_voxels,
    patch_half_width,
    render_volumetric_heatmap,
)
from loco_ros.decoding.grid import (
    depth_to_voxel,
    heatmap_shape,
    pixel_to_voxel,
    point_depth,
    voxel_to_depth,
    voxel_to_pixel,
)
from loco_ros.errors import InputError
from loco_ros.skeleton import NUM_JOINTS

DEMO = GridConfig()  # 512x288, D = 64 over 0..32 m, sigma 2, focal 400
PAPER = GridConfig(
    image_width=1920, image_height=1080, depth_bins=316, depth_min_m=0.0, depth_max_m=100.0,
    focal_px=1158.0,
)
K_DEMO = np.array([[400.0, 0.0, 256.0], [0.0, 400.0, 144.0], [0.0, 0.0, 1.0]])
K_JTA = np.array([[1158.0, 0.0, 960.0], [0.0, 1158.0, 540.0], [0.0, 0.0, 1.0]])


def point_at(u: float, v: float, distance_m: float, K: np.ndarray = K_DEMO) -> np.ndarray:
    """Hand back-projection: the 3D point (3,) at pixel (u, v) and Euclidean distance."""
    ray = np.array([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], 1.0])
    return distance_m * ray / np.sqrt(np.sum(ray**2))


def one_person(*joints: tuple[int, np.ndarray]) -> np.ndarray:
    """(1, J, 3) with the given joints set and all others NaN."""
    person = np.full((1, NUM_JOINTS, 3), np.nan)
    for k, xyz in joints:
        person[0, k] = xyz
    return person


# ----------------------------------------------------------------------------- grid


def test_heatmap_shapes() -> None:
    assert heatmap_shape(DEMO) == (14, 64, 40, 64)
    assert heatmap_shape(PAPER) == (14, 316, 136, 240)


def test_depth_voxel_paper_bins() -> None:
    # authors: bin = round(dist * 315 / 100), 0.3175 m per bin
    assert PAPER.depth_step_m == pytest.approx(100.0 / 315.0)
    assert depth_to_voxel(31.75, PAPER) == pytest.approx(100.0125)
    assert depth_to_voxel(np.array([0.0, 100.0]), PAPER) == pytest.approx([0.0, 315.0])
    assert voxel_to_depth(315.0, PAPER) == pytest.approx(100.0)
    assert voxel_to_depth(np.float64(63.0), PAPER) == pytest.approx(20.0)


def test_depth_voxel_with_min_depth() -> None:
    grid = GridConfig(depth_bins=11, depth_min_m=2.0, depth_max_m=7.0)  # 0.5 m per bin
    assert depth_to_voxel(4.25, grid) == pytest.approx(4.5)
    assert voxel_to_depth(np.array([0.0, 10.0]), grid) == pytest.approx([2.0, 7.0])


def test_pixel_voxel_swaps_axes() -> None:
    hw = pixel_to_voxel(np.array([[100.0, 60.0], [0.0, 4.0]]), DEMO)
    np.testing.assert_allclose(hw, [[7.5, 12.5], [0.5, 0.0]])
    np.testing.assert_allclose(voxel_to_pixel(np.array([7.5, 12.5]), DEMO), [100.0, 60.0])


def test_grid_dtypes() -> None:
    assert pixel_to_voxel(np.zeros((2, 2), np.float32), DEMO).dtype == np.float32
    assert pixel_to_voxel(np.zeros((2, 2)), DEMO).dtype == np.float64
    assert depth_to_voxel(np.zeros(3, np.float32), DEMO).dtype == np.float32


def test_point_depth_axes() -> None:
    xyz = np.array([[3.0, 4.0, 12.0], [0.0, 0.0, 2.0]])
    np.testing.assert_allclose(point_depth(xyz, "distance"), [13.0, 2.0])
    np.testing.assert_allclose(point_depth(xyz, "z"), [12.0, 2.0])
    with pytest.raises(InputError):
        point_depth(xyz, "depth")
    with pytest.raises(InputError):
        point_depth(np.zeros((4, 2)), "z")


# ----------------------------------------------------------------------------- encode


def test_encode_hand_voxel() -> None:
    # voxel (20.25, 7.55, 12.6): pixel (100.8, 60.4), distance 20.25 * 32 / 63 m
    joints = one_person((3, point_at(100.8, 60.4, 20.25 * 32.0 / 63.0)))
    voxel, valid = encode_joints_to_voxels(joints, K_DEMO, DEMO)
    assert voxel.shape == (1, 14, 3) and voxel.dtype == np.float32
    assert valid.tolist() == [[k == 3 for k in range(14)]]
    np.testing.assert_allclose(voxel[0, 3], [20.25, 7.55, 12.6], atol=1e-5)
    assert np.all(np.isnan(voxel[0, :3]))


def test_encode_canonical_focal_and_z_axis() -> None:
    # fx = 800 = 2 x focal_px: network-depth is half the true depth
    K = np.array([[800.0, 0.0, 256.0], [0.0, 800.0, 144.0], [0.0, 0.0, 1.0]])
    joints = one_person((0, np.array([0.0, 0.0, 16.0])), (1, np.array([3.0, 0.0, 4.0])))
    voxel, _ = encode_joints_to_voxels(joints, K, DEMO)
    assert voxel[0, 0] == pytest.approx([8.0 * 63 / 32, 18.0, 32.0], abs=1e-5)
    # (3, 0, 4): u = 800 * 3 / 4 + 256 = 856, outside 512 px; z = 4 m -> 2 m network-depth
    assert not encode_joints_to_voxels(joints, K, DEMO)[1][0, 1]
    z_grid = GridConfig(image_width=1024, depth_axis="z")
    voxel, valid = encode_joints_to_voxels(joints, K, z_grid)
    assert valid[0, 1] and voxel[0, 1] == pytest.approx([2.0 * 63 / 32, 18.0, 107.0], abs=1e-5)
    voxel, _ = encode_joints_to_voxels(joints, K, DEMO, focal_px_scale=1.0)
    assert voxel[0, 0, 0] == pytest.approx(16.0 * 63 / 32, abs=1e-5)


def test_encode_validity() -> None:
    joints = np.full((1, 14, 3), np.nan)
    joints[0, 0] = point_at(-0.6, 100.0, 10.0)  # left of the image area [-0.5, 511.5)
    joints[0, 1] = point_at(-0.4, 100.0, 10.0)  # inside
    joints[0, 2] = point_at(511.6, 100.0, 10.0)
    joints[0, 3] = point_at(100.0, 287.4, 10.0)  # inside
    joints[0, 4] = point_at(100.0, 287.6, 10.0)
    joints[0, 5] = [0.0, 0.0, -5.0]  # behind the camera
    joints[0, 6] = [0.0, 0.0, 32.5]  # beyond depth_max_m
    joints[0, 7] = [0.0, 0.0, 32.0]  # exactly at depth_max_m: d = D - 1
    joints[0, 8] = [0.0, 0.0, 0.0]  # at the camera centre (z = 0)
    joints[0, 9] = [np.inf, 0.0, 1.0]
    _, valid = encode_joints_to_voxels(joints, K_DEMO, DEMO)
    assert np.flatnonzero(valid[0]).tolist() == [1, 3, 7]


@pytest.mark.parametrize(
    "joints, K",
    [
        (np.zeros((14, 3)), K_DEMO),
        (np.zeros((1, 13, 3)), K_DEMO),
        (np.zeros((1, 14, 2)), K_DEMO),
        (np.zeros((1, 14, 3)), np.eye(2)),
        (np.zeros((1, 14, 3)), np.diag([400.0, 0.0, 1.0])),
        (np.zeros((1, 14, 3)), np.diag([np.nan, 400.0, 1.0])),
    ],
)
def test_encode_rejects_malformed(joints: np.ndarray, K: np.ndarray) -> None:
    with pytest.raises(InputError):
        encode_joints_to_voxels(joints, K, DEMO)


# ----------------------------------------------------------------------------- render


def test_render_single_joint_hand_values() -> None:
    joints = one_person((3, point_at(100.8, 60.4, 20.25 * 32.0 / 63.0)))
    volume = render_volumetric_heatmap(joints, K_DEMO, DEMO)
    assert volume.shape == (14, 64, 40, 64) and volume.dtype == np.float32
    # rounded voxel (20, 8, 13), offsets (0.25, -0.45, -0.4): exp(-0.10625)
    assert np.unravel_index(np.argmax(volume), volume.shape) == (3, 20, 8, 13)
    assert volume[3, 20, 8, 13] == pytest.approx(0.8991998200185832, rel=1e-5)
    # (21, 8, 13): offsets (-0.75, -0.45, -0.4): exp(-0.23125)
    assert volume[3, 21, 8, 13] == pytest.approx(0.7935410559710253, rel=1e-5)
    # the cube of half-width ceil(2.5 * 2) = 5 around (20, 8, 13) and nothing else
    assert patch_half_width(2.0) == 5
    nonzero = np.argwhere(volume > 0)
    assert nonzero.min(0).tolist() == [3, 15, 3, 8]
    assert nonzero.max(0).tolist() == [3, 25, 13, 18]
    assert nonzero.shape[0] == 11**3
    corner = math.exp(-(5.25**2 + 4.55**2 + 4.6**2) / 4.0)  # (15, 3, 8)
    assert volume[3, 15, 3, 8] == pytest.approx(corner, rel=1e-4)


def test_render_round_centres_puts_the_paper_gaussian_on_the_rounded_voxel() -> None:
    joints = one_person((3, point_at(100.8, 60.4, 20.25 * 32.0 / 63.0)))
    volume = render_volumetric_heatmap(joints, K_DEMO, DEMO, round_centres=True)
    exact = render_volumetric_heatmap(joints, K_DEMO, DEMO)
    # same rounded voxel (20, 8, 13) and cube as the exact rendering, but peak 1 there and
    # neighbours exp(-1 / sigma^2) on every side (paper eq. 1)
    assert volume[3, 20, 8, 13] == 1.0
    for d, h, w in ((19, 8, 13), (21, 8, 13), (20, 7, 13), (20, 9, 13), (20, 8, 12)):
        assert volume[3, d, h, w] == pytest.approx(math.exp(-0.25), rel=1e-6)
    assert np.array_equal(volume > 0, exact > 0)
    assert not np.allclose(volume, exact)


def test_render_peak_one_on_exact_voxel_and_clipped_at_border() -> None:
    joints = one_person((0, point_at(0.0, 0.0, 32.0)))
    volume = render_volumetric_heatmap(joints, K_DEMO, DEMO)
    assert volume[0, 63, 0, 0] == pytest.approx(1.0)
    assert np.count_nonzero(volume) == 6 * 6 * 6  # cube clipped to the volume corner


def test_render_skips_invalid_and_invisible() -> None:
    joints = np.full((2, 14, 3), np.nan)
    joints[0, 0] = point_at(600.0, 100.0, 10.0)  # outside the image
    joints[0, 1] = point_at(100.0, 100.0, 40.0)  # outside the depth range
    joints[0, 2] = [0.0, 0.0, -3.0]  # behind
    joints[1, 3] = point_at(100.0, 100.0, 10.0)  # valid but invisible
    visible = np.ones((2, 14), bool)
    visible[1, 3] = False
    volume = render_volumetric_heatmap(joints, K_DEMO, DEMO, visible=visible)
    assert not volume.any()
    # voxel (19.6875, 12.5, 12.5): best voxel offsets (0.3125, 0.5, 0.5)
    expected = math.exp(-(0.3125**2 + 0.5**2 + 0.5**2) / 4.0)
    assert render_volumetric_heatmap(joints, K_DEMO, DEMO)[3].max() == pytest.approx(expected)
    with pytest.raises(InputError):
        render_volumetric_heatmap(joints, K_DEMO, DEMO, visible=np.ones((1, 14), bool))


def test_render_no_people() -> None:
    volume = render_volumetric_heatmap(np.zeros((0, 14, 3)), K_DEMO, DEMO)
    assert volume.shape == (14, 64, 40, 64) and not volume.any()


def test_render_max_over_people() -> None:
    a = one_person((5, point_at(100.8, 60.4, 10.0)))
    b = one_person((5, point_at(110.0, 66.0, 10.7)))  # overlapping cubes
    both = render_volumetric_heatmap(np.concatenate([a, b]), K_DEMO, DEMO)
    alone_a = render_volumetric_heatmap(a, K_DEMO, DEMO)
    alone_b = render_volumetric_heatmap(b, K_DEMO, DEMO)
    overlap = (alone_a > 0) & (alone_b > 0)
    assert overlap.sum() > 100
    np.testing.assert_array_equal(both, np.maximum(alone_a, alone_b))
    assert both.max() <= 1.0


def test_render_paper_grid_shape() -> None:
    person = one_person((0, point_at(1000.0, 500.0, 30.0, K_JTA)))
    volume = render_volumetric_heatmap(person, K_JTA, PAPER)
    assert volume.shape == (14, 316, 136, 240)
    # voxel (30 * 315 / 100, 500 / 8, 1000 / 8) = (94.5, 62.5, 125): two voxels at offsets
    # (+-0.5, +-0.5, 0) share the maximum exp(-0.5 / 4)
    expected = math.exp(-(0.5**2 + 0.5**2 + 0.0**2) / 4.0)
    assert volume[0, 95, 63, 125] == pytest.approx(expected, rel=1e-5)
    assert volume[0, 94, 62, 125] == pytest.approx(expected, rel=1e-5)
