"""The error budget's oracle depth: hand-made people, exact answers."""

from __future__ import annotations

import numpy as np
import pytest

from loco_ros.decoding.ground_plane import ANKLES
from loco_ros.decoding.lifting import project_to_image
from loco_ros.evaluation.error_budget import (
    DISTANCE_EDGES_M,
    found_in_image,
    image_pairs,
    with_oracle_depth,
)
from loco_ros.metrics import BinnedRecall, match_people_in_image, person_distance_m
from loco_ros.skeleton import NUM_JOINTS
from loco_ros.types import People

K = np.array([[400.0, 0.0, 256.0], [0.0, 400.0, 144.0], [0.0, 0.0, 1.0]])


def _person(x_m: float, z_m: float) -> np.ndarray:
    """(14, 3): a vertical column of joints 1.7 m tall standing at (x, z)."""
    y = np.linspace(-0.2, 1.5, NUM_JOINTS)
    return np.stack([np.full(NUM_JOINTS, x_m), y, np.full(NUM_JOINTS, z_m)], axis=1)


def _people(xyz: np.ndarray) -> People:
    p = xyz.shape[0]
    return People(xyz_m=xyz.astype(np.float32), confidence=np.ones((p, NUM_JOINTS), np.float32),
                  detected=np.isfinite(xyz).all(-1), uv_px=project_to_image(xyz, K),
                  score=np.ones(p, np.float32))


def test_match_people_in_image_by_pixels_not_metres() -> None:
    gt = np.stack([_person(-2.0, 10.0), _person(2.0, 10.0)])
    # the same pixels at other depths, listed in the other order, plus one far off in x
    pred = np.stack([_person(2.0, 10.0) * 1.5, _person(-2.0, 10.0) * 0.7, _person(9.0, 10.0)])
    pairs = match_people_in_image(project_to_image(gt, K), project_to_image(pred, K), 16.0)
    assert pairs.tolist() == [[0, 1], [1, 0]]
    assert match_people_in_image(np.zeros((0, 14, 2)), project_to_image(pred, K), 16).shape \
        == (0, 2)


def test_oracle_person_depth_keeps_pixels_and_the_shape() -> None:
    gt = _person(1.0, 12.0)[None]
    pred = gt * 1.3
    pred[0, 5] *= 1.1  # one joint 10 % deeper than the rest of its person
    far = _person(-6.0, 8.0)[None]  # no GT partner
    people = _people(np.concatenate([pred, far]))
    pairs = image_pairs(people, gt, K)
    assert pairs.tolist() == [[0, 0]]
    out = with_oracle_depth(people, gt, pairs)
    expected = pred[0] / 1.3  # the median ratio
    np.testing.assert_allclose(out.xyz_m[0], expected, rtol=1e-5)
    np.testing.assert_allclose(out.xyz_m[1], far[0], rtol=1e-6)
    np.testing.assert_allclose(project_to_image(out.xyz_m.astype(np.float64), K),
                               people.uv_px, atol=1e-3)
    joint = with_oracle_depth(people, gt, pairs, per_joint=True)
    np.testing.assert_allclose(joint.xyz_m[0], gt[0], rtol=1e-5)


def test_oracle_joint_depth_leaves_holes_and_unpaired_joints_at_the_person_ratio() -> None:
    gt = _person(0.5, 6.0)[None].copy()
    gt[0, 3] = np.nan  # not in the GT
    pred = _person(0.5, 6.0)[None] * 2.0
    pred[0, 7] = np.nan  # a hole
    out = with_oracle_depth(_people(pred), gt, image_pairs(_people(pred), gt, K),
                            per_joint=True)
    assert np.isnan(out.xyz_m[0, 7]).all()
    np.testing.assert_allclose(out.xyz_m[0, 3], pred[0, 3] / 2.0, rtol=1e-5)
    finite = np.isfinite(gt[0]).all(-1) & np.isfinite(pred[0]).all(-1)
    np.testing.assert_allclose(out.xyz_m[0, finite], gt[0, finite], rtol=1e-5)


def test_found_people_are_counted_by_their_gt_distance() -> None:
    gt = np.stack([_person(-2.0, 5.0), _person(2.0, 15.0), _person(0.0, 35.0)])
    # the first at another depth (found all the same), the second nowhere near, the third exact
    pred = np.stack([_person(-2.0, 5.0) * 2.0, _person(6.0, 15.0), _person(0.0, 35.0)])
    pred[2, ANKLES, 1] += 0.35  # the far one's ankles 0.35 m lower: 4 px at 35 m
    people = _people(pred)
    people.detected[0, ANKLES[0]] = False  # a refiner-filled ankle is not counted
    found, ankle_rows = found_in_image(people, gt, K, image_pairs(people, gt, K))
    assert found.tolist() == [True, False, True]
    np.testing.assert_allclose(np.sort(ankle_rows), [0.0, 4.0, 4.0], atol=1e-6)
    by_distance = BinnedRecall("distance_m", DISTANCE_EDGES_M)
    by_distance.add(person_distance_m(gt), found)  # hip midpoints ~5, ~15, ~35 m
    assert [(b["reference"], b["found"]) for b in by_distance.rows()] == [
        (1, 1), (1, 0), (0, 0), (1, 1), (0, 0)]
    nobody = _people(pred[:0])
    found, ankle_rows = found_in_image(nobody, gt, K, image_pairs(nobody, gt, K))
    assert found.tolist() == [False] * 3 and ankle_rows.size == 0


def test_error_budget_cli_on_the_demo_model(tmp_path) -> None:
    from loco_ros.evaluation import error_budget

    out = tmp_path / "budget.json"
    result = error_budget.main(["--frames", "4", "--seed", "31337", "--out", str(out),
                                "--no-progress"])
    assert out.exists() and set(result["jta"]) == set(error_budget.ROWS)
    found = result["found_2d"]
    assert [b["distance_m"][0] for b in found] == list(DISTANCE_EDGES_M[:-1])
    assert result["ankle_row_error_px"]["count"] > 0
    assert sum(b["reference"] for b in found) > 0
    assert all(0 <= b["found"] <= b["reference"] for b in found)
    low = error_budget.main(["--frames", "4", "--seed", "31337", "--threshold", "0.2",
                             "--no-progress"])
    assert low["threshold"] == 0.2
    assert [b["reference"] for b in low["found_2d"]] == [b["reference"] for b in found]
    # more peaks pass a lower threshold, so at least as many people are found
    assert sum(b["found"] for b in low["found_2d"]) >= sum(b["found"] for b in found)
    f1 = {k: v["0.8"]["f1"] for k, v in result["jta"].items()}
    # perfect depth can only help this model's detections
    assert f1["person_oracle"] >= f1["refined"] and f1["person_oracle"] > 0.3
    assert f1["joint_oracle"] == pytest.approx(f1["person_oracle"], abs=0.15)
    # the depth-sources figure takes the budget's oracle row
    from loco_ros.evaluation import depth_ceiling

    png = tmp_path / "sources.png"
    depth_ceiling.main(["--frames", "4", "--seed", "31337", "--assumed-height-m", "1.7",
                        "--budget", str(out), "--plot", str(png), "--no-progress"])
    assert png.stat().st_size > 10_000
