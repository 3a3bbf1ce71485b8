"""Ground-plane self-calibration (loco_ros.calibration): convergence on a short synthetic
pedestrian stream, outliers, reset on a moved camera, YAML round trip, bounded memory."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from loco_ros.calibration import (
    CalibrationEstimate,
    SelfCalibrationConfig,
    SelfCalibrator,
    load_estimate,
    save_estimate,
)
from loco_ros.calibration.model import log_scale_and_lean
from loco_ros.decoding.ground_plane import (
    GroundPlane,
    GroundPlaneConfig,
    ground_plane_from_angles,
    snap_with_config,
)
from loco_ros.errors import ConfigError
from loco_ros.evaluation.self_calibration_eval import (
    ASSUMED_STATURE_M,
    DEPTH_SOURCES,
    noisy_people,
    one_part_planes,
    stature_floor_plane,
)
from loco_ros.runtime.tracking import PersonTracker
from loco_ros.skeleton import JOINT_INDEX
from loco_ros.synthetic.camera import make_camera
from loco_ros.synthetic.pedestrians import PedestrianStream, StreamConfig
from loco_ros.synthetic.scene import SceneConfig
from loco_ros.types import People

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _stream(seed=1, frames=300, static=0.0, people=8, height=3.0, pitch=15.0, roll=2.0):
    scene = SceneConfig(camera_height_m=(height, height), pitch_deg=(pitch, pitch),
                        roll_deg=(roll, roll), focal_jitter=0.0, principal_jitter_px=0.0,
                        distance_m=(3.0, 14.0))
    return PedestrianStream(seed, StreamConfig(frames=frames, people=(people, people),
                                               static_probability=static, scene=scene))


def _run(calibrator, stream, rng, noise=1.0, false_rate=0.0, tracker=True):
    """Feeds the stream; people carry the node's 3D tracker ids (its default) unless
    ``tracker`` is False (then the calibrator links them itself)."""
    tracks = PersonTracker() if tracker else None
    for index, frame in enumerate(stream.frames()):
        people, _ = noisy_people(stream, frame, rng, noise, false_rate)
        if tracks is not None:
            people = tracks.update(people, index / stream.config.fps)
        calibrator.update(people, stream.camera.K)
    return calibrator.estimate


def _errors(estimate, camera):
    return (abs(estimate.camera_height_m / camera.height_m - 1.0),
            abs(estimate.pitch_deg - math.degrees(camera.pitch_rad)),
            abs(estimate.roll_deg - math.degrees(camera.roll_rad)))


def test_geometry_recovers_stature_of_vertical_people():
    cam = make_camera(512, 288, 400.0, 4.0, 20.0, 3.0)
    top, alpha = 1.7, 0.08
    rays = []
    for x, z in ((1.0, 8.0), (-3.0, 12.0), (0.5, 5.0)):
        world = np.array([[x, -top, z], [x, -alpha * top, z], [x, -0.5 * top, z]])
        c = cam.world_to_camera(world)
        rays.append(c[:, :2] / c[:, 2:])
    rays = np.array(rays)
    logf, lean, valid = log_scale_and_lean(cam.pitch_rad, cam.roll_rad, rays[:, 1],
                                           rays[:, 2], rays[:, 0], alpha)
    assert valid.all()
    np.testing.assert_allclose(np.exp(logf) * cam.height_m, top, rtol=1e-9)
    np.testing.assert_allclose(lean, 0.0, atol=1e-9)
    logf2, _, _ = log_scale_and_lean(cam.pitch_rad + 0.03, cam.roll_rad, rays[:, 1],
                                     rays[:, 2], rays[:, 0], alpha)
    assert np.ptp(np.exp(logf2)) > 0.01  # a wrong pitch makes statures depend on distance


def test_converges_on_a_short_stream_and_snaps():
    stream = _stream()
    calibrator = SelfCalibrator()
    estimate = _run(calibrator, stream, np.random.default_rng(0))
    dh, dp, dr = _errors(estimate, stream.camera)
    assert estimate.converged, estimate.summary()
    assert dh < 0.06 and dp < 1.0 and dr < 1.0, estimate.summary()
    assert estimate.people >= 4 and estimate.frames >= 30 and estimate.observations > 50
    # The uncertainty is honest to a factor of a few.
    assert dh * stream.camera.height_m < 4 * estimate.camera_height_std_m + 0.02
    plane = calibrator.ground_plane
    assert plane is not None
    people, _ = noisy_people(stream, next(iter(_stream(frames=1).frames())),
                             np.random.default_rng(1), 1.0, 0.0)
    snapped = snap_with_config(people, plane, GroundPlaneConfig())
    assert snapped.xyz_m.shape == people.xyz_m.shape


def test_outliers_sitting_bending_and_false_people():
    stream = _stream(seed=2, static=0.5)
    estimate = _run(SelfCalibrator(), stream, np.random.default_rng(0), noise=1.5,
                    false_rate=0.5)
    dh, dp, dr = _errors(estimate, stream.camera)
    assert dh < 0.08 and dp < 1.5 and dr < 1.5, estimate.summary()
    # the outliers leave no error that the estimate's own uncertainty does not cover
    assert dh < 3 * estimate.camera_height_std_m / estimate.camera_height_m
    assert dp < 3 * estimate.pitch_std_deg and dr < 3 * estimate.roll_std_deg


def _frame_30_without_noise():
    """(stream, people, candidates, standing mask) of frame 30 of a stream, exact 2D."""
    from loco_ros.calibration.observations import standing_observations

    stream = _stream(seed=3)
    frames = stream.frames()
    for _ in range(30):
        frame = next(frames)
    people, _ = noisy_people(stream, frame, np.random.default_rng(0), 0.0, 0.0)
    return (stream, people, *standing_observations(people, stream.camera.K))


def test_size_gate_ignores_the_noise_of_head_top_and_ankles():
    """The stature uses the head top and ankles; gating a person's size on their distance
    would keep the small people whose noise lengthened them (a pitch bias on far people),
    so the gate reads the neck and knees: moving the head top along the body, across the
    threshold, does not change who stands."""
    from loco_ros.calibration.observations import standing_observations

    stream, people, obs, standing = _frame_30_without_noise()
    i = int(obs.person[np.flatnonzero(standing)[0]])
    length = float(obs.length_px[np.flatnonzero(standing)[0]])
    head = JOINT_INDEX["head_top"]
    threshold_px = length - 1.0  # between the shortened (-3 px) and lengthened lengths
    decisions = []
    for shift_px in (0.0, -3.0, 3.0):  # as is, up (longer), down (shorter) in the image
        uv = np.array(people.uv_px, copy=True)
        uv[i, head, 1] += shift_px
        moved = replace(people, uv_px=uv)
        obs_m, standing_m = standing_observations(moved, stream.camera.K,
                                                  min_person_px=threshold_px)
        decisions.append(bool(standing_m[list(obs_m.person).index(i)]))
    assert decisions == [True, True, True]


def test_samples_average_a_tracklets_rays_since_its_last_sample():
    """Pixel noise through the stature geometry (a division by the foot's ray) biases the
    height low, so a sample is the mean of the tracklet's rays since its last sample: with
    the person jittered +-3 px in alternate frames, the mean is the still person's ray and
    its noise shrinks by the square root of the frames averaged."""
    stream, people, obs, standing = _frame_30_without_noise()
    one = int(obs.person[np.flatnonzero(standing)[0]])
    person = People(people.xyz_m[[one]], people.confidence[[one]], people.detected[[one]],
                    people.uv_px[[one]], people.score[[one]], ("a",))
    calibrator = SelfCalibrator()
    every = calibrator.config.sample_every_frames
    for k in range(2 * every + 1):
        jitter = 0.0 if k == 0 else (3.0 if k % 2 else -3.0)
        uv = person.uv_px + np.array([0.0, jitter], np.float32)
        calibrator.update(replace(person, uv_px=uv), stream.camera.K)
    calibrator._flush()
    foot, hip, head, noise, _ = calibrator._buffer.view()
    clean = np.flatnonzero(standing)[0]
    assert len(foot) == 3  # frames 1, 1 + every, 1 + 2 every
    for row in (1, 2):
        np.testing.assert_allclose(foot[row], obs.foot[clean], atol=1e-6)
        np.testing.assert_allclose(head[row], obs.head[clean], atol=1e-6)
    np.testing.assert_allclose(noise[1:], noise[0] / math.sqrt(every))


def test_reset_on_a_moved_camera():
    stream = _stream(seed=3, frames=300)
    # a looser convergence rule: this test is about the misfit reset, not the rule
    calibrator = SelfCalibrator(SelfCalibrationConfig(
        max_height_std=0.03, max_angle_std_deg=0.4, max_height_change=0.03,
        max_angle_change_deg=0.4))
    rng = np.random.default_rng(0)
    estimate = _run(calibrator, stream, rng)
    assert estimate.converged and estimate.resets == 0, estimate.summary()
    stream.camera = replace(stream.camera, pitch_rad=stream.camera.pitch_rad + math.radians(8),
                            height_m=stream.camera.height_m * 1.3)
    stream2 = _stream(seed=4, frames=300)
    stream2.camera = stream.camera
    estimate = _run(calibrator, stream2, rng)
    assert estimate.resets >= 1, estimate.summary()
    assert "misfit" in estimate.reset_reason
    if estimate.converged:  # re-learnt the new mount
        dh, dp, _ = _errors(estimate, stream2.camera)
        assert dh < 0.1 and dp < 2.0, estimate.summary()


def test_save_and_load_round_trip(tmp_path):
    stream = _stream(seed=5, frames=150)
    calibrator = SelfCalibrator()
    estimate = _run(calibrator, stream, np.random.default_rng(0))
    path = tmp_path / "calib" / "ground.yaml"
    save_estimate(estimate, path)
    loaded = load_estimate(path)
    assert loaded == estimate
    empty = CalibrationEstimate()
    save_estimate(empty, tmp_path / "empty.yaml")
    again = load_estimate(tmp_path / "empty.yaml")
    assert not again.converged and not again.has_value
    if estimate.converged:  # a restart starts calibrated
        restarted = SelfCalibrator(initial=loaded)
        assert restarted.estimate.converged and restarted.ground_plane is not None
    bad = tmp_path / "bad.yaml"
    bad.write_text("camera_height_m: -1.0\nconverged: true\npitch_deg: 0.0\nroll_deg: 0.0\n")
    with pytest.raises(ConfigError):
        load_estimate(bad)


def test_bounded_memory_and_requested_reset():
    config = SelfCalibrationConfig(capacity=40, misfit_frames=5, sample_every_frames=1,
                                   refit_every_frames=25, refit_every_converged_frames=100)
    calibrator = SelfCalibrator(config)
    stream = _stream(seed=6, frames=200, people=10)
    _run(calibrator, stream, np.random.default_rng(0))
    assert calibrator.memory_rows() <= 40 + calibrator._recent_capacity
    assert calibrator._buffer.size == 40
    calibrator.reset()
    assert calibrator.estimate.resets == 1 and calibrator.memory_rows() == 0
    assert calibrator.estimate.reset_reason == "requested"


def test_config_validation():
    with pytest.raises(ConfigError):
        SelfCalibrationConfig(stature_std_m=0.0)
    with pytest.raises(ConfigError):
        SelfCalibrationConfig(pitch_range_deg=(10.0, -10.0))
    with pytest.raises(ConfigError):
        SelfCalibrationConfig(refit_every_frames=30, refit_every_converged_frames=45)


def test_linker_splits_rather_than_merges():
    """Without track ids the calibrator links people itself: tracklets must be pure (one
    person each) even in a crowd; groups count people conservatively (never more groups
    than tracklets)."""
    from loco_ros.calibration.observations import TrackletLinker, standing_observations

    stream = _stream(seed=8, frames=120, people=12)
    rng = np.random.default_rng(0)
    linker = TrackletLinker()
    owners: dict[int, set] = {}
    groups = set()
    for index, frame in enumerate(stream.frames()):
        people, _ = noisy_people(stream, frame, rng, 2.0, 0.0)
        cam = stream.camera
        keep = cam.in_image(cam.world_to_camera(frame.joints_world)).sum(axis=1) >= 4
        truth = frame.ids[keep]
        obs, _ = standing_observations(people, cam.K)
        ids = linker.link(obs, (), index + 1)
        for i, t in enumerate(ids):
            owners.setdefault(int(t), set()).add(int(truth[obs.person[i]]))
        groups.update(int(g) for g in linker.last_groups)
    mixed = sum(len(v) > 1 for v in owners.values())
    assert mixed <= 0.02 * len(owners), (mixed, len(owners))
    assert len(groups) <= len(owners)
    assert max(len(v) for v in owners.values()) >= 1


def test_ground_depth_std_from_the_covariance():
    """Height uncertainty alone gives every ray the same relative depth spread; pitch
    uncertainty costs more for rays near the horizon (far people) than for steep ones."""
    from loco_ros.calibration.model import ground_depth_log_std

    rays = np.array([[0.0, 0.5], [0.0, 0.05], [0.0, -0.6]])  # steep, near horizon, sky
    s = ground_depth_log_std(rays, math.radians(10.0), 0.0, np.diag([0.0, 0.0, 0.03 ** 2]))
    assert s[:2] == pytest.approx([0.03, 0.03], rel=1e-3) and np.isnan(s[2])
    s = ground_depth_log_std(rays[:2], math.radians(10.0), 0.0,
                             np.diag([math.radians(0.5) ** 2, 0.0, 0.0]))
    assert s[1] > 2.0 * s[0] > 0.0
    # depth = h / y_level: finite differences of the pitch agree with the gradient
    e = CalibrationEstimate(camera_height_m=3.0, pitch_deg=10.0, roll_deg=0.0,
                            camera_height_std_m=0.0, pitch_std_deg=0.5, roll_std_deg=0.0)
    assert e.depth_log_std(rays[:2]) == pytest.approx(s, rel=1e-3)


def test_estimate_carries_covariance_and_depth_std():
    stream = _stream(frames=150)
    calibrator = SelfCalibrator()
    estimate = _run(calibrator, stream, np.random.default_rng(3))
    assert estimate.has_value and len(estimate.covariance) == 9
    assert 0.0 < estimate.depth_std < 0.2
    cov = np.reshape(estimate.covariance, (3, 3))
    assert math.degrees(math.sqrt(cov[0, 0])) == pytest.approx(estimate.pitch_std_deg)
    # the depth rule can hold the flag back: an impossible ratio never converges
    strict = SelfCalibrator(SelfCalibrationConfig(max_depth_std_ratio=1e-3))
    assert not _run(strict, stream, np.random.default_rng(3)).converged


def test_fuse_ground_depth_between_image_and_ground():
    from loco_ros.decoding.ground_plane import (
        fuse_ground_depth,
        ground_plane_from_angles,
        snap_people_to_ground,
    )

    stream = _stream(frames=5)
    camera = stream.camera
    frame = next(iter(stream.frames()))
    people, _ = noisy_people(stream, frame, np.random.default_rng(0), 0.0, 0.0)
    plane = ground_plane_from_angles(camera.height_m, camera.pitch_rad, camera.roll_rad)
    snapped = snap_people_to_ground(people, plane)
    exact = fuse_ground_depth(people, plane, camera.K, pixel_sigma_px=1e-6,
                              ankle_height_std_m=1e-6)
    np.testing.assert_allclose(exact.xyz_m, snapped.xyz_m, rtol=1e-4)
    unknown = fuse_ground_depth(people, plane, camera.K, plane_log_std=lambda r: np.full(
        len(r), 10.0))
    np.testing.assert_allclose(unknown.xyz_m, people.xyz_m, rtol=1e-3)
    mid = fuse_ground_depth(people, plane, camera.K, image_rel_std=0.06,
                            plane_log_std=lambda r: np.full(len(r), 0.06))
    z0, z1, zm = (p.xyz_m[:, :, 2] for p in (people, snapped, mid))
    moved = np.abs(z1 - z0) > 1e-3
    assert moved.any()
    lo, hi = np.minimum(z0, z1), np.maximum(z0, z1)
    assert np.all((zm[moved] > lo[moved]) & (zm[moved] < hi[moved]))


def test_batched_frames_give_the_frame_by_frame_estimates(monkeypatch):
    """The calibrator measures pending frames in batches (cost); the estimate after every
    frame is that of measuring each frame on its own, also when K changes between frames
    and across a reset, and the batched rows are those of standing_observations."""
    from loco_ros.calibration.observations import (
        gather_joints,
        measure_people,
        standing_observations,
    )

    stream = _stream(seed=5, frames=150, people=6)
    rng = np.random.default_rng(3)
    K0 = stream.camera.K
    frames = []
    for index, frame in enumerate(stream.frames()):
        people, _ = noisy_people(stream, frame, rng, 1.0, 0.2)
        K = K0 if index % 7 else K0 * np.array([[1.02, 1, 1], [1, 1.02, 1], [1, 1, 1]])
        frames.append((replace(people, track_id=()), K))
    config = SelfCalibrationConfig(refit_every_frames=15, refit_every_converged_frames=30)
    runs = []
    for batch in (1, SelfCalibrator.BATCH_FRAMES):
        monkeypatch.setattr(SelfCalibrator, "BATCH_FRAMES", batch)
        calibrator = SelfCalibrator(config)
        estimates = []
        for index, (p, K) in enumerate(frames):
            if index == 47:  # mid-batch: the pending frames count as seen, then forgotten
                calibrator.reset()
            estimates.append(calibrator.update(p, K))
        runs.append(estimates)
    assert runs[0] == runs[1] and runs[0][-1].has_value and runs[0][-1].resets == 1
    # rows of several frames at once, one K per row
    people = [p for p, _ in frames[:14]]
    parts = [gather_joints(p) for p in people]
    Ks = np.concatenate([np.repeat(K[None], len(p), 0) for p, K in frames[:14]])
    m = measure_people(*(np.concatenate([part[k] for part in parts]) for k in range(3)), Ks)
    start = 0
    for p, K in frames[:14]:
        obs, standing = standing_observations(p, K)
        mine = (m.rows >= start) & (m.rows < start + len(p))
        np.testing.assert_array_equal(m.rows[mine] - start, obs.person)
        np.testing.assert_array_equal(m.standing[mine], standing)
        np.testing.assert_allclose(m.foot[mine], obs.foot, rtol=1e-12)
        np.testing.assert_allclose(m.head[mine], obs.head, rtol=1e-12)
        np.testing.assert_allclose(m.noise[mine], obs.noise, rtol=1e-12)
        start += len(p)


@pytest.mark.slow
def test_model_detections_run_feeds_the_pipelines_own_calibrator():
    """--detections model: rendered frames through the shipped model's pipeline in mode
    auto; none / fixed / auto rows and the calibrator's trajectory for every frame (~10 s)."""
    import torch

    from loco_ros.evaluation.self_calibration_eval import jta_after, run_sequence
    from loco_ros.runtime.estimator import default_model_dir, load_model

    model = load_model(default_model_dir())
    config = StreamConfig(frames=10, people=(3, 3))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the evaluation (--threads 1)
    try:
        result = run_sequence(9000, config, GroundPlaneConfig(), 2.0, model=model)
    finally:
        torch.set_num_threads(threads)
    assert {k: len(v) for k, v in result["jta_frames"].items()} == dict.fromkeys(
        DEPTH_SOURCES, 10)
    assert [r["frame"] for r in result["trajectory"]] == [10]
    assert result["detected_mean"] > 0 and result["converged_index"] is None
    f1 = jta_after(result, 0)
    assert f1["auto"] == f1["none"]  # not converged: auto keeps the image-only depth


def test_stature_floor_plane_scales_the_true_height_by_the_statures_seen():
    """People taller than the prior on average make a stature-based calibration put the
    camera lower by the same ratio; the ground's normal is the true one."""
    true = ground_plane_from_angles(4.0, math.radians(12.0), math.radians(2.0))
    assert stature_floor_plane(true, {}) is None
    tall = stature_floor_plane(true, {1: 1.80, 2: 1.90})
    assert tall.camera_height_m == pytest.approx(4.0 * ASSUMED_STATURE_M / 1.85)
    np.testing.assert_array_equal(tall.up_cam, true.up_cam)


def test_one_part_planes_take_one_part_of_the_estimate_and_the_rest_from_the_truth():
    """auto_height puts the ankles on the plane of the estimate's height (10 % high) with the
    true angles, auto_angles on that of its angles at the true height; both move people
    away from the true mount's depth. Before convergence both are the image's people."""
    stream = _stream(frames=5, people=6)
    people, _ = noisy_people(stream, next(iter(stream.frames())), np.random.default_rng(0),
                             0.0, 0.0)
    true, config = stream.camera.ground_plane, GroundPlaneConfig()
    wrong = CalibrationEstimate(camera_height_m=1.1 * true.camera_height_m, pitch_deg=18.0,
                                roll_deg=0.5, converged=True)
    parts = one_part_planes(people, wrong, true, config)
    planes = {"auto_height": GroundPlane(true.up_cam, wrong.camera_height_m),
              "auto_angles": GroundPlane(wrong.ground_plane().up_cam, true.camera_height_m)}
    fixed = snap_with_config(people, true, config)
    ankles = [JOINT_INDEX["right_ankle"], JOINT_INDEX["left_ankle"]]
    for key, plane in planes.items():
        lowest = np.nanmin(plane.height_above_m(parts[key].xyz_m[:, ankles]), axis=1)
        np.testing.assert_allclose(lowest, config.ankle_height_m, atol=1e-3, err_msg=key)
        assert not np.allclose(parts[key].xyz_m, fixed.xyz_m, atol=0.05), key
    waiting = one_part_planes(people, CalibrationEstimate(), true, config)
    assert all(p is people for p in waiting.values())


def test_gt_run_goes_through_the_pipeline():
    """The GT-detections evaluation runs the frame pipeline in mode auto with the node's
    tracking: every frame scored for each depth, the true mount's depth beats the image's,
    and auto is the image-only depth until the pipeline's calibrator converges."""
    from loco_ros.evaluation.self_calibration_eval import jta_after, run_sequence

    result = run_sequence(9000, StreamConfig(frames=40, people=(4, 4)), GroundPlaneConfig(),
                          2.0, false_rate=0.1, ids="tracker")
    assert {k: len(v) for k, v in result["jta_frames"].items()} == dict.fromkeys(
        DEPTH_SOURCES, 40)
    assert result["converged_index"] is None, "40 frames are too few to converge"
    f1 = jta_after(result, 0)
    assert f1["auto"] == f1["none"]
    assert f1["fixed"]["0.4"] > f1["none"]["0.4"] + 0.2, f1  # F1 in [0, 1]
    # the stature floor's plane (the true one at the seen statures' height) is close to it
    assert f1["stature_floor"]["0.4"] > f1["none"]["0.4"] + 0.2, f1
    assert 0.0 < result["cost_ms_per_frame"] < 100.0
