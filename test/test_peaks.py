"""Peak finding: dense (torch) and sparse (numpy) agree exactly; sub-voxel refinement."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from loco_ros.config import DecodeConfig, GridConfig
from loco_ros.decoding.codec import render_volumetric_heatmap
from loco_ros.decoding.peaks import (
    find_peaks,
    find_peaks_dense,
    find_peaks_sparse,
    refine_subvoxel,
    subvoxel_offsets,
)
from loco_ros.errors import InputError
from loco_ros.types import Peaks

GRID = GridConfig()  # 512x288, (14, 64, 40, 64)
K_DEMO = np.array([[400.0, 0.0, 256.0], [0.0, 400.0, 144.0], [0.0, 0.0, 1.0]])


def both(volume: np.ndarray, threshold: float, neighbourhood: int) -> Peaks:
    """Sparse peaks after asserting that dense gives exactly the same."""
    sparse = find_peaks_sparse(volume, threshold, neighbourhood)
    dense = find_peaks_dense(torch.from_numpy(volume), threshold, neighbourhood)
    np.testing.assert_array_equal(sparse.joint, dense.joint)
    np.testing.assert_array_equal(sparse.voxel, dense.voxel)
    np.testing.assert_array_equal(sparse.value, dense.value)
    assert sparse.joint.dtype == np.int64 and sparse.voxel.dtype == np.float32
    assert sparse.value.dtype == np.float32
    return sparse


def brute_force(volume: np.ndarray, threshold: float, neighbourhood: int) -> list[tuple]:
    """(k, d, h, w) of peaks by the definition, voxel by voxel, sorted."""
    offsets = [
        o for o in itertools.product((-1, 0, 1), repeat=3)
        if 0 < sum(map(abs, o)) and (neighbourhood == 26 or sum(map(abs, o)) == 1)
    ]
    padded = np.pad(volume, ((0, 0), (1, 1), (1, 1), (1, 1)), constant_values=-np.inf)
    found = []
    for k, d, h, w in np.argwhere(volume > threshold):
        centre = volume[k, d, h, w]
        if all(centre > padded[k, d + 1 + a, h + 1 + b, w + 1 + c] for a, b, c in offsets):
            found.append((int(k), int(d), int(h), int(w)))
    return found


def as_tuples(peaks: Peaks) -> list[tuple]:
    return [(int(k), *map(int, v)) for k, v in zip(peaks.joint, peaks.voxel, strict=True)]


@pytest.mark.parametrize("neighbourhood", [6, 26])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_volumes_match_definition(seed: int, neighbourhood: int) -> None:
    volume = np.random.default_rng(seed).uniform(0, 1, (3, 6, 7, 8)).astype(np.float32)
    peaks = both(volume, 0.3, neighbourhood)
    assert as_tuples(peaks) == brute_force(volume, 0.3, neighbourhood)
    assert len(peaks) > 5


@pytest.mark.parametrize("neighbourhood", [6, 26])
def test_quantised_volumes_with_ties(neighbourhood: int) -> None:
    rng = np.random.default_rng(7)
    volume = (rng.integers(0, 4, (2, 9, 9, 9)) / 3.0).astype(np.float32)  # many plateaus
    peaks = both(volume, 0.1, neighbourhood)
    assert as_tuples(peaks) == brute_force(volume, 0.1, neighbourhood)


@pytest.mark.parametrize("neighbourhood", [6, 26])
def test_rendered_volume_gives_one_peak_per_joint(neighbourhood: int) -> None:
    rng = np.random.default_rng(3)
    z = rng.uniform(4.0, 25.0, (5, 14))
    uv = rng.uniform([0.0, 0.0], [511.0, 287.0], (5, 14, 2))
    xy = (uv - K_DEMO[:2, 2]) / 400.0 * z[..., None]
    joints = np.concatenate([xy, z[..., None]], axis=-1)
    volume = render_volumetric_heatmap(joints, K_DEMO, GRID)
    peaks = both(volume, 0.1, neighbourhood)
    # 70 joints; two joints of one type may merge or split a ridge, so allow a little
    assert 60 <= len(peaks) <= 75
    assert np.all(peaks.value > 0.1) and np.all(peaks.value <= 1.0)


def test_plateau_gives_no_peak() -> None:
    volume = np.zeros((1, 5, 5, 5), np.float32)
    volume[0, 2, 2, 2] = volume[0, 2, 2, 3] = 0.8  # two equal neighbours
    volume[0, 0, 0, 4] = 0.5
    for neighbourhood in (6, 26):
        assert as_tuples(both(volume, 0.1, neighbourhood)) == [(0, 0, 0, 4)]
    volume[0, 1, 1, 1] = 0.8  # diagonal tie: a peak under 6, not 26
    assert as_tuples(both(volume, 0.1, 6)) == [(0, 0, 0, 4), (0, 1, 1, 1)]
    assert as_tuples(both(volume, 0.1, 26)) == [(0, 0, 0, 4)]


def test_diagonal_neighbour_separates_6_from_26() -> None:
    volume = np.zeros((1, 3, 3, 3), np.float32)
    volume[0, 1, 1, 1] = 0.6
    volume[0, 2, 2, 2] = 0.9  # corner, diagonal to the centre
    assert as_tuples(both(volume, 0.1, 6)) == [(0, 1, 1, 1), (0, 2, 2, 2)]
    assert as_tuples(both(volume, 0.1, 26)) == [(0, 2, 2, 2)]


def test_peaks_on_every_border_and_corner() -> None:
    shape = (2, 5, 6, 7)
    volume = np.zeros(shape, np.float32)
    spots = []
    for k in range(2):
        for d, h, w in itertools.product((0, 2, 4), (0, 3, 5), (0, 3, 6)):
            if (d, h, w) != (2, 3, 3):  # every corner, edge middle and face centre
                spots.append((k, d, h, w))
    for i, spot in enumerate(spots):
        volume[spot] = 0.2 + 0.01 * i
    for neighbourhood in (6, 26):
        assert as_tuples(both(volume, 0.1, neighbourhood)) == sorted(spots)


def test_threshold_is_strict_and_order_is_joint_then_flat() -> None:
    volume = np.zeros((3, 4, 4, 4), np.float32)
    volume[2, 0, 0, 0] = 0.9
    volume[0, 3, 3, 3] = 0.5
    volume[0, 0, 2, 0] = 0.3
    volume[1, 1, 1, 1] = 0.25  # == threshold: not a peak
    peaks = both(volume, 0.25, 26)
    assert as_tuples(peaks) == [(0, 0, 2, 0), (0, 3, 3, 3), (2, 0, 0, 0)]
    np.testing.assert_array_equal(peaks.value, np.float32([0.3, 0.5, 0.9]))


def test_nan_neighbour_vetoes_and_empty_volume() -> None:
    volume = np.zeros((1, 4, 4, 4), np.float32)
    volume[0, 1, 1, 1] = 0.7
    volume[0, 2, 2, 2] = np.nan  # diagonal: vetoes under 26 only
    volume[0, 3, 0, 0] = np.inf
    assert as_tuples(both(volume, 0.1, 6)) == [(0, 1, 1, 1), (0, 3, 0, 0)]
    assert as_tuples(both(volume, 0.1, 26)) == [(0, 3, 0, 0)]
    assert len(both(np.zeros((14, 3, 3, 3), np.float32), 0.1, 26)) == 0


def test_rejects_malformed() -> None:
    with pytest.raises(InputError):
        find_peaks_sparse(np.zeros((3, 3, 3)), 0.1)
    with pytest.raises(InputError):
        find_peaks_dense(torch.zeros(1, 3, 3, 3), 0.1, neighbourhood=8)
    with pytest.raises(InputError):
        find_peaks_sparse(np.zeros((1, 3, 3, 3)), math.nan)
    with pytest.raises(InputError):
        find_peaks(np.zeros((1, 3, 3, 3)), DecodeConfig(), method="gpu")


# ----------------------------------------------------------------------------- sub-voxel


@pytest.mark.parametrize(
    "centre_px", [(100.8, 60.4, 10.0), (257.3, 143.6, 7.77), (30.1, 200.9, 21.0)]
)
def test_subvoxel_recovers_continuous_centre(centre_px: tuple[float, float, float]) -> None:
    u, v, z = centre_px
    joints = np.full((1, 14, 3), np.nan)
    joints[0, 6] = [(u - 256.0) / 400.0 * z, (v - 144.0) / 400.0 * z, z]
    distance = float(np.linalg.norm(joints[0, 6]))
    expected = np.array([distance * 63.0 / 32.0, v / 8.0, u / 8.0])
    volume = render_volumetric_heatmap(joints, K_DEMO, GRID)
    peaks = find_peaks(volume, DecodeConfig(subvoxel=True))
    assert peaks.joint.tolist() == [6]
    assert np.abs(peaks.voxel[0] - expected).max() < 0.05
    np.testing.assert_allclose(peaks.voxel[0], expected, atol=1e-3)  # log-fit is exact
    assert peaks.value[0] == volume[6].max()  # value is the peak voxel's, not refined
    coarse = find_peaks(volume, DecodeConfig(subvoxel=False))
    np.testing.assert_array_equal(coarse.voxel[0], np.round(expected))


def test_subvoxel_offsets_hand_values() -> None:
    g = np.exp(-((np.array([-1.0, 0.0, 1.0]) - 0.3) ** 2) / 4.0)  # Gaussian centred at +0.3
    triples = np.array(
        [
            [g, [0.0, 1.0, 0.5], [np.nan, 1.0, 0.5]],  # log fit; raw parabola; outside
            [[0.5, 1.0, 0.5], [0.9, 1.0, 0.0], [1.0, 1.0, 1.0]],  # symmetric; raw; flat
            [[0.1, 0.2, 0.25], [0.25, 0.2, 0.1], [-1.0, 1.0, 0.0]],  # clamps to +-0.5; raw
            [[0.1, 0.2, 0.9], [0.5, 0.2, 0.5], [1.0, 1.0, 0.5]],  # convex: 0; tie: -0.5
        ]
    )
    offsets = subvoxel_offsets(triples)
    # raw parabola (a - c) / (2 (a - 2b + c)): (0 - .5) / (2 (0 - 2 + .5)) = 1/6,
    # (.9 - 0) / (2 (.9 - 2 + 0)) = -9/22, (-1 - 0) / (2 (-1 - 2 + 0)) = 1/6; on logs,
    # (.1, .2, .25) puts the vertex at +0.975, clamped
    expected = [
        [0.3, 1.0 / 6.0, 0.0],
        [0.0, -9.0 / 22.0, 0.0],
        [0.5, -0.5, 1.0 / 6.0],
        [0.0, 0.0, -0.5],
    ]
    np.testing.assert_allclose(offsets, expected, atol=1e-12)


def test_refine_at_border_and_torch_volume() -> None:
    volume = np.zeros((1, 3, 3, 3), np.float32)
    volume[0, 0, 1, 2] = 1.0
    volume[0, 1, 1, 2] = 0.5
    volume[0, 0, 0, 2] = 0.25
    volume[0, 0, 2, 2] = 0.5
    peaks = find_peaks_sparse(volume, 0.1, 26)
    assert as_tuples(peaks) == [(0, 0, 1, 2)]
    # d: minus outside -> 0; h: log fit on (.25, 1, .5); w: plus outside -> 0
    h_offset = (math.log(0.25) - math.log(0.5)) / (
        2.0 * (math.log(0.25) - 2.0 * math.log(1.0) + math.log(0.5))
    )
    expected = np.float32([[0.0, 1.0 + h_offset, 2.0]])
    np.testing.assert_allclose(refine_subvoxel(volume, peaks).voxel, expected, atol=1e-6)
    torch_refined = refine_subvoxel(torch.from_numpy(volume), peaks)
    np.testing.assert_allclose(torch_refined.voxel, expected, atol=1e-6)
    assert len(refine_subvoxel(volume, Peaks.empty())) == 0


def test_find_peaks_dispatch_agrees() -> None:
    joints = np.full((2, 14, 3), np.nan)
    joints[0, 0] = [0.3, -0.2, 9.0]
    joints[1, 0] = [-2.0, 0.5, 15.0]
    volume = render_volumetric_heatmap(joints, K_DEMO, GRID)
    config = DecodeConfig()
    reference = find_peaks(volume, config)
    assert len(reference) == 2
    for method in ("dense", "sparse", "auto"):
        for source in (volume, torch.from_numpy(volume)):
            peaks = find_peaks(source, config, method=method)
            np.testing.assert_array_equal(peaks.joint, reference.joint)
            np.testing.assert_allclose(peaks.voxel, reference.voxel, atol=1e-6)
