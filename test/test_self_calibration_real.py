"""Self-calibration on real footage (vtest.avi's teacher labels): the core of
loco_ros.evaluation.self_calibration_real, fast (a few seconds)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from loco_ros.calibration import SelfCalibrationConfig
from loco_ros.data.video import nominal_K
from loco_ros.decoding.ground_plane import tilt_rotation
from loco_ros.evaluation.self_calibration_real import (
    implied_statures,
    pitch_from_vertical_vp,
    predicted_vertical_vp,
    project_ground,
    run_calibration,
    stature_report,
    vanishing_point,
)

LABELS = Path(__file__).resolve().parents[1] / "data/real/labels/vtest.json"


def test_implied_stature_and_ground_projection_invert_a_known_mount() -> None:
    config = SelfCalibrationConfig()
    h, pitch, roll = 6.0, 20.0, 3.0
    K = nominal_K(768, 576)
    R = tilt_rotation(math.radians(pitch), math.radians(roll))
    stature = np.array([1.55, 1.70, 1.90])
    where = np.array([[-3.0, 12.0], [0.5, 18.0], [4.0, 25.0]])  # level x, z (m)
    top = stature * config.head_top_fraction
    ankle = np.c_[where[:, 0], h - config.ankle_fraction * top, where[:, 1]] @ R  # camera
    head = np.c_[where[:, 0], h - top, where[:, 1]] @ R
    got = implied_statures(ankle[:, :2] / ankle[:, 2:], head[:, :2] / head[:, 2:], h, pitch,
                           roll, config)
    assert np.allclose(got, stature, rtol=1e-9)
    # a ground point projects where the camera-frame ground point does
    uv, front = project_ground(where, h, pitch, roll, K)
    ground = np.c_[where[:, 0], np.full(3, h), where[:, 1]] @ R
    assert front.all() and np.allclose(uv, (ground @ K.T)[:, :2] / ground[:, 2:], atol=1e-9)
    # vertical lines meet where the mount says, and the pitch comes back from that point
    vp = predicted_vertical_vp(pitch, 0.0, K)
    assert pitch_from_vertical_vp(vp, K) == pytest.approx(pitch, abs=1e-9)
    seg = np.array([[100.0, 50.0, 0, 0], [600.0, 100.0, 0, 0], [380.0, 0.0, 0, 0]])
    seg[:, 2:] = seg[:, :2] + 0.3 * (vp - seg[:, :2])
    got_vp = vanishing_point(seg, boot=5)
    assert (got_vp["u_px"], got_vp["v_px"]) == pytest.approx(tuple(vp), abs=1.0)


def test_vtest_labels_give_a_plausible_mount() -> None:
    """150 frames of the teacher's people (tracker ids), nominal intrinsics: a finite mount
    in a plausible range with a finite uncertainty, from several people."""
    if not LABELS.exists():
        pytest.skip(f"{LABELS} is missing")
    from loco_ros.teacher.labels import load_labels

    labels = load_labels(LABELS)
    w, h = labels.image_size
    K = nominal_K(w, h)
    config = SelfCalibrationConfig()
    estimate, rows, standing, _ = run_calibration(labels, K, range(150), "tracker", config)
    assert estimate.has_value, estimate.summary()
    assert 3.0 <= estimate.camera_height_m <= 20.0, estimate.summary()
    assert 5.0 <= estimate.pitch_deg <= 60.0, estimate.summary()
    stds = (estimate.camera_height_std_m, estimate.pitch_std_deg, estimate.roll_std_deg)
    assert all(math.isfinite(s) and s > 0 for s in stds), estimate.summary()
    assert estimate.people > 0 and estimate.observations > 0
    assert rows[-1]["frame"] == 149 and rows[-1]["height_m"] is not None
    statures = stature_report(estimate, standing, config)
    assert statures["persons"] > 0 and 1.3 <= statures["median_m"] <= 2.1
