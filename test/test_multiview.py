"""A metric reference for real footage: Qualisys calibrations, robust triangulation, and
the model scored in 3D on Pose2Sim's calibrated real views."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import REPO_ROOT, fetched

from loco_ros.camera.qualisys import read_qca
from loco_ros.data import real_material
from loco_ros.evaluation.multiview import (
    reference_person,
    reprojection_px,
    robust_triangulate,
    triangulate,
)

LABELS = REPO_ROOT / "data/real/labels/pose2sim"


def _ring_of_cameras(n: int = 4, radius_m: float = 4.0) -> np.ndarray:
    """(n, 3, 4) projections of cameras on a circle, 1.8 m up, looking at the origin."""
    K = np.array([[1500.0, 0, 540], [0, 1500.0, 960], [0, 0, 1]])
    P = []
    for a in np.linspace(0, 2 * np.pi, n, endpoint=False):
        centre = np.array([radius_m * np.cos(a), radius_m * np.sin(a), 1.8])
        z = -centre / np.linalg.norm(centre)
        x = np.cross(z, [0.0, 0.0, 1.0])
        x /= np.linalg.norm(x)
        R = np.stack([x, np.cross(z, x), z])
        P.append(K @ np.hstack([R, (-R @ centre)[:, None]]))
    return np.stack(P)


def _project(P: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    h = P @ np.append(xyz, 1.0)
    return h[:, :2] / h[:, 2:]


def test_triangulation_is_exact_and_drops_a_view_that_disagrees() -> None:
    P = _ring_of_cameras()
    point = np.array([0.2, -0.1, 1.1])
    uv = _project(P, point)
    assert np.allclose(triangulate(P, uv), point, atol=1e-9)
    uv[2] += [150.0, -80.0]  # e.g. the teacher swapped left and right in one view
    xyz, inliers = robust_triangulate(P, uv)
    assert np.allclose(xyz, point, atol=1e-9) and inliers.tolist() == [True, True, False, True]
    assert reprojection_px(P, uv, xyz)[2] > 100
    far = np.array([[0, 0], [2000, 0], [0, 3000], [2000, 3000]], float)  # no two agree
    assert np.isnan(robust_triangulate(P, far)[0]).all()


def test_reference_person_is_the_candidate_the_views_agree_on() -> None:
    P = _ring_of_cameras()
    rng = np.random.default_rng(0)
    body = rng.uniform([-0.3, -0.3, 0.0], [0.3, 0.3, 1.8], (14, 3))
    views = [np.stack([_project(P[v:v + 1], j)[0] for j in body]) for v in range(4)]
    phantom = views[0] + [300.0, 120.0]
    candidates = [(np.stack([phantom, views[0]]), np.ones((2, 14))),
                  (views[1][None], np.ones((1, 14))), (np.zeros((0, 14, 2)), np.zeros((0, 14))),
                  (views[3][None], np.ones((1, 14)))]
    xyz, err = reference_person(P, candidates)
    assert np.allclose(xyz, body, atol=1e-6) and np.nanmax(err) < 1e-6


def test_read_qca_turns_the_camera_and_keeps_its_position(tmp_path) -> None:
    (tmp_path / "c.qca.txt").write_text(
        '<calibration><cameras><camera serial="cam01">'
        '<fov_video left="0" top="8" right="1087" bottom="1927"/>'
        '<transform x="1000" y="-2000" z="1500" r11="1" r12="0" r13="0" r21="0" r22="1" '
        'r23="0" r31="0" r32="0" r33="1"/>'
        '<intrinsic focalLengthU="96000" focalLengthV="96064" centerPointU="34816" '
        'centerPointV="61952"/></camera></cameras></calibration>')
    camera = read_qca(tmp_path / "c.qca.txt")["cam01"]
    assert np.allclose(camera.K, [[1500, 0, 544], [0, 1501, 960], [0, 0, 1]])
    assert camera.size_wh == (1088, 1920)
    assert np.allclose(camera.R, np.diag([1, -1, -1]))  # y up, -z forward -> OpenCV
    assert np.allclose(-camera.R.T @ camera.t_m, [1.0, -2.0, 1.5])
    assert np.allclose(camera.to_camera([1.0, -2.0, 0.5]), [0, 0, 1.0])  # 1 m below: ahead
    big = tmp_path / "big.qca.txt"
    big.write_bytes(b" " * (2 << 20))
    with pytest.raises(ValueError, match="no camera calibration"):
        read_qca(big)


def test_pose2sim_views_triangulate_into_a_standing_man() -> None:
    from loco_ros.evaluation.real_metric import VIEWS, pose2sim_reference

    fetched(real_material.fetch, "pose2sim")
    reference = pose2sim_reference(LABELS)
    xyz = reference.xyz_lab_m
    assert xyz.shape == (100, 14, 3)
    assert np.isfinite(xyz).all(-1).mean() > 0.9
    assert np.nanmedian(reference.error_px) < 25.0, "the cameras must fit the teacher's joints"
    head_over_ankles = xyz[:, 0, 2] - np.nanmin(xyz[:, [10, 13], 2], axis=1)
    assert 1.3 < np.nanmedian(head_over_ankles) < 2.0  # metres, lab z up
    for view in VIEWS:
        depth = reference.cameras[view].to_camera(xyz)[..., 2]
        assert np.nanmin(depth) > 1.0 and np.nanmax(depth) < 8.0  # in front, in the room


def test_shipped_model_scored_in_3d_on_real_calibrated_views(tmp_path) -> None:
    from loco_ros.evaluation import real_footage

    fetched(real_material.fetch, "pose2sim")
    out = real_footage.main(["--source", "multiview", "--model", str(REPO_ROOT / "weights/demo"),
                             "--frame-step", "25", "--views", "cam02", "--out",
                             str(tmp_path), "--no-progress", "--threads", "2"])
    view = out["views"][0]
    assert view["view"] == "cam02" and view["frames"] == 4
    assert 0.0 <= view["found"] <= 1.0 and 0.0 <= view["pck_2d"] <= 1.0
    if view["found"]:
        assert np.isfinite(view["mpjpe_mm"]) and view["root_depth_m_median"] > 1.0
    for name in ("multiview_metrics.json", "multiview_metrics.md", "multiview_overlay.png"):
        assert (tmp_path / name).stat().st_size > 100
