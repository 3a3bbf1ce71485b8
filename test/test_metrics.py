"""Evaluation metrics: JTA joint detection, MPJPE, 3DPCK, VHA peak F1, tables."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from loco_ros.errors import InputError
from loco_ros.metrics import (
    JtaCounts,
    PckCounts,
    format_markdown_table,
    greedy_row_column_matches,
    jta_frame_counts,
    jta_metric,
    jta_scores,
    jta_table,
    match_people_hungarian,
    mpjpe_mm,
    pck3d,
    pck_distance_table,
    pck_joint_table,
    peak_f1,
    person_distance_m,
)
from loco_ros.skeleton import NUM_JOINTS, STANDING_POSE_M
from loco_ros.types import Candidates, Peaks

POSE = STANDING_POSE_M.astype(np.float64)


def person(x: float, z: float) -> np.ndarray:
    return POSE + np.array([x, -0.8, z])  # hips at y = 0


def per_type(points: dict[int, list]) -> list[np.ndarray]:
    return [np.asarray(points.get(k, []), np.float64).reshape(-1, 3) for k in range(NUM_JOINTS)]


# ----------------------------------------------------------------------------- JTA


def test_jta_frame_counts_hand_computed():
    gt = np.stack([person(0.0, 5.0), person(3.0, 5.0)])
    pred = person(0.0, 5.0)[None].copy()
    pred[0, 2:4] = np.nan  # two holes
    pred[0, 4, 0] += 0.6  # right wrist 0.6 m off
    solitary = Candidates(
        joint=np.array([0]), xyz_m=(gt[1, 0] + [0.1, 0, 0])[None].astype(np.float32),
        uv_px=np.zeros((1, 2), np.float32), confidence=np.array([0.7], np.float32),
    )
    # 12 assigned joints + 1 solitary = 13 predictions, 28 GT joints.
    assert jta_frame_counts(gt, pred, 0.4, solitary) == JtaCounts(tp=12, fp=1, fn=16)
    assert jta_frame_counts(gt, pred, 0.8, solitary) == JtaCounts(tp=13, fp=0, fn=15)
    assert jta_frame_counts(gt, pred, 0.4) == JtaCounts(tp=11, fp=1, fn=17)
    # NaN GT joints are not GT points.
    gt_holes = gt.copy()
    gt_holes[1] = np.nan
    assert jta_frame_counts(gt_holes, pred, 0.8) == JtaCounts(tp=12, fp=0, fn=2)


def test_greedy_row_column_matching_differs_from_hungarian():
    # One joint type along x: g1 = 0, g2 = 0.3; p1 = 0.1, p2 = -0.3; t = 0.4.
    g = np.array([[0.0, 0, 5], [0.3, 0, 5]])
    p = np.array([[0.1, 0, 5], [-0.3, 0, 5]])
    dist = np.linalg.norm(g[:, None] - p[None], axis=2)
    # Both GT rows keep p1 as their minimum; the column keeps g1: one match only.
    np.testing.assert_array_equal(greedy_row_column_matches(dist, 0.4), [0, -1])
    counts = jta_frame_counts(np.full((0, NUM_JOINTS, 3), np.nan), per_type({}), 0.4)
    assert counts == JtaCounts(0, 0, 0)
    gt = np.full((2, NUM_JOINTS, 3), np.nan)
    gt[:, 0] = g
    assert jta_frame_counts(gt, per_type({0: p}), 0.4) == JtaCounts(tp=1, fp=1, fn=1)
    # An optimal assignment would find two matches (g1-p2 0.3 m, g2-p1 0.2 m).
    rows, cols = linear_sum_assignment(np.where(dist <= 0.4, dist, 1e9))
    assert int((dist[rows, cols] <= 0.4).sum()) == 2


def test_greedy_matching_ties_take_the_first_index():
    dist = np.array([[0.1, 0.1], [0.1, 0.1]])
    np.testing.assert_array_equal(greedy_row_column_matches(dist, 0.4), [0, -1])


def test_jta_scores_per_frame_then_averaged():
    frames = [
        JtaCounts(tp=3, fp=1, fn=3),  # PR 0.75, RE 0.5, F1 0.6
        JtaCounts(tp=0, fp=0, fn=0),  # nothing to find, nothing found: 1, 1, 1
        JtaCounts(tp=0, fp=0, fn=5),  # everything missed: 0, 0, 0
        JtaCounts(tp=0, fp=2, fn=0),  # predictions, no GT: 0, 0, 0
    ]
    res = jta_scores(frames)
    assert res["pr"] == pytest.approx((0.75 + 1) / 4)
    assert res["re"] == pytest.approx((0.5 + 1) / 4)
    assert res["f1"] == pytest.approx((0.6 + 1) / 4)
    assert (res["frames"], res["tp"], res["fp"], res["fn"]) == (4, 3, 3, 8)
    assert np.isnan(jta_scores([])["f1"])


def test_jta_metric_over_frames_and_thresholds():
    gt = person(0.0, 5.0)[None]
    off = gt + np.array([0.5, 0, 0])  # every joint 0.5 m off
    empty = np.zeros((0, NUM_JOINTS, 3))
    res = jta_metric([(gt, gt), (gt, off), (empty, empty)])
    assert set(res) == {0.4, 0.8, 1.2}
    assert res[0.4]["f1"] == pytest.approx(2 / 3)
    assert res[0.8]["f1"] == pytest.approx(1.0)
    assert res[0.4]["pr"] == pytest.approx(2 / 3) and res[0.4]["re"] == pytest.approx(2 / 3)
    with pytest.raises(InputError):
        jta_frame_counts(np.zeros((1, 13, 3)), gt, 0.4)


# ----------------------------------------------------------------------------- MPJPE


def test_match_people_hungarian_and_mpjpe():
    gt = np.stack([person(0.0, 5.0), person(2.0, 5.0), person(-3.0, 9.0)])
    pred = np.stack([person(2.0, 5.0), person(0.0, 5.0)]) + np.array([0.05, 0, 0])
    pred[1, 5:] = np.nan  # holes are ignored by the cost and by MPJPE
    pairs = match_people_hungarian(gt, pred)
    np.testing.assert_array_equal(pairs, [[0, 1], [1, 0]])
    assert mpjpe_mm(gt, pred) == pytest.approx(50.0)
    assert mpjpe_mm(gt, pred, pairs) == pytest.approx(50.0)
    assert mpjpe_mm(gt, pred[:1], alignment="hips") == pytest.approx(0.0, abs=1e-9)
    assert len(match_people_hungarian(gt, pred, max_distance_m=0.01)) == 0
    assert np.isnan(mpjpe_mm(gt, np.zeros((0, NUM_JOINTS, 3))))


# ----------------------------------------------------------------------------- 3DPCK


def test_pck3d_with_a_missed_person_and_distance_bins():
    near, far = person(0.0, 5.0), person(1.0, 25.0)
    gt = np.stack([near, far])
    pred = (near + np.array([0.0, 0.0, 0.3]))[None].copy()  # 0.3 m deeper: root-relative OK
    pred[0, 4] += [0.2, 0.0, 0.0]  # right wrist 0.2 m off -> wrong
    counts = pck3d(gt, pred)  # hips alignment by default
    assert counts.pck == pytest.approx(13 / 28)
    assert (counts.people_gt, counts.people_matched) == (2, 1)
    by_dist = counts.by_distance()
    assert by_dist["<10"] == pytest.approx(13 / 14)
    assert by_dist["20-30"] == pytest.approx(0.0)
    assert np.isnan(by_dist["10-20"]) and np.isnan(by_dist[">40"])
    by_joint = counts.by_joint()
    assert by_joint["right_wrist"] == 0.0 and by_joint["neck"] == 0.5
    assert counts.by_group()["wrists"] == pytest.approx(1 / 4)
    # In absolute coordinates the 0.3 m depth error makes every joint wrong.
    assert pck3d(gt, pred, alignment="absolute").pck == 0.0
    # A hole in the matched prediction is wrong; a missing GT joint is not counted.
    pred_h = pred.copy()
    pred_h[0, 1] = np.nan
    gt_h = gt.copy()
    gt_h[0, 2] = np.nan
    counts_h = pck3d(gt_h, pred_h)
    assert counts_h.total_by_joint.sum() == 27 and counts_h.correct_by_joint.sum() == 11


def test_pck3d_gate_and_root_handling():
    gt = person(0.0, 5.0)[None]
    wrong_person = person(3.0, 5.0)[None]  # 3 m away: not a detection of this GT person
    assert pck3d(gt, wrong_person).people_matched == 0
    assert pck3d(gt, wrong_person, match_max_distance_m=None).pck == 1.0  # ungated
    no_root = gt.copy()
    no_root[0, 8] = np.nan
    counts = pck3d(gt, no_root)
    assert counts.pck == 0.0 and counts.total_by_joint.sum() == 14
    skipped = pck3d(no_root, gt)
    assert skipped.people_skipped == 1 and skipped.total_by_joint.sum() == 0
    assert np.isnan(skipped.pck)


def test_pck_bins_are_left_closed_and_counts_add():
    ten = person(0.0, 10.0)[None]  # hip midpoint at exactly 10 m
    assert person_distance_m(ten)[0] == pytest.approx(10.0)
    counts = pck3d(ten, ten)
    np.testing.assert_array_equal(counts.total_by_bin, [0, 14, 0, 0, 0])
    far = person(0.0, 45.0)[None]
    total = counts + pck3d(far, far) + PckCounts.zero()
    np.testing.assert_array_equal(total.total_by_bin, [0, 14, 0, 0, 14])
    assert total.pck == 1.0 and total.people_gt == 2
    assert counts.bin_labels == ("<10", "10-20", "20-30", "30-40", ">40")


# ----------------------------------------------------------------------------- peak F1


def test_peak_f1_at_0_1_2_voxels():
    gt = per_type({0: [[10, 10, 10]], 1: [[20, 20, 20]], 2: [[5, 5, 5]], 3: [[30, 30, 30]]})
    peaks = Peaks(
        joint=np.array([0, 1, 2, 3, 4]),
        voxel=np.array([[10.3, 9.8, 10.2],  # rounds onto the GT voxel
                        [20, 21, 20],  # 1 voxel
                        [6, 6, 5],  # sqrt(2) voxels (Euclidean, not Chebyshev)
                        [30, 30, 32],  # 2 voxels
                        [0, 0, 0]], np.float32),  # no GT of type 4
        value=np.ones(5, np.float32),
    )
    c0, c1, c2 = (peak_f1(gt, peaks, t) for t in (0, 1, 2))
    assert (c0.tp, c0.fp, c0.fn) == (1, 4, 3)
    assert (c1.tp, c1.fp, c1.fn) == (2, 3, 2)
    assert (c2.tp, c2.fp, c2.fn) == (4, 1, 0)
    assert c1.f1 == pytest.approx(4 / 9)
    assert c2.precision == pytest.approx(0.8) and c2.recall == 1.0
    assert peak_f1(gt, peaks, 0, round_pred=False).tp == 0


def test_peak_f1_matching_is_one_to_one_and_optimal():
    gt = per_type({5: [[0, 0, 0], [0, 0, 2]]})
    peaks = Peaks(np.array([5, 5]), np.array([[0, 0, 1], [0, 0, -1]], np.float32),
                  np.ones(2, np.float32))
    counts = peak_f1(gt, peaks, 1)
    assert (counts.tp, counts.fp, counts.fn) == (2, 0, 0)
    assert peak_f1(per_type({}), Peaks.empty(), 1).f1 == 1.0
    total = counts + peak_f1(gt, Peaks.empty(), 1)
    assert (total.tp, total.fn) == (2, 2)


# ----------------------------------------------------------------------------- tables


def test_markdown_tables():
    table = format_markdown_table(["a", "b"], [["x", 1.23456], ["y", float("nan")]])
    assert table.splitlines() == ["| a | b |", "| --- | --- |", "| x | 1.23 |", "| y | - |"]
    with pytest.raises(ValueError):
        format_markdown_table(["a"], [[1, 2]])
    gt = person(0.0, 5.0)[None]
    jta = jta_table(jta_metric([(gt, gt)]), "LoCO")
    assert "F1@0.4m" in jta and "| LoCO | 100.00 |" in jta
    counts = pck3d(gt, gt)
    assert "| Dist. (m) | <10 | 10-20 | 20-30 | 30-40 | >40 | All |" in pck_distance_table(counts)
    assert "wrists" in pck_joint_table(counts)
    assert "left_ankle" in pck_joint_table(counts, groups=False)
