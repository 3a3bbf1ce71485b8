"""PersonTracker on synthetic sequences, the One Euro filter and the CLEAR-MOT counts."""

from __future__ import annotations

import numpy as np
import pytest

from loco_ros.config import from_dict
from loco_ros.errors import ConfigError, InputError
from loco_ros.metrics.tracking import MotAccumulator, MotCounts, evaluate_tracking, mot_table
from loco_ros.runtime.tracking import OneEuroFilter, PersonTracker, TrackingConfig
from loco_ros.skeleton import NUM_JOINTS, STANDING_POSE_M
from loco_ros.types import People

FPS = 30.0
POSE = STANDING_POSE_M.astype(np.float64)


def make_people(xyz: np.ndarray) -> People:
    n = xyz.shape[0]
    return People(
        xyz_m=xyz.astype(np.float32),
        confidence=np.ones((n, NUM_JOINTS), np.float32),
        detected=np.ones((n, NUM_JOINTS), bool),
        uv_px=np.zeros((n, NUM_JOINTS, 2), np.float32),
        score=np.ones(n, np.float32),
        track_id=("",) * n,
    )


def walkers(starts, velocities, frames: int) -> np.ndarray:
    """(F, P, J, 3) GT poses of people walking in straight lines (heads at ``starts``)."""
    t = np.arange(frames)[:, None, None] / FPS
    heads = np.asarray(starts, float)[None] + t * np.asarray(velocities, float)[None]
    return heads[:, :, None, :] + POSE[None, None]


def run(gt, visible=None, config=None, noise_m=0.02, seed=0, gt_visible_only=False):
    """Track noisy detections of ``gt`` (F, P, J, 3); returns outputs, MOT counts and, per
    frame, the GT index of each output person.

    visible: (F, P) bool, which people are detected in each frame.
    gt_visible_only: annotate only the visible people (else all GT people every frame).
    """
    rng = np.random.default_rng(seed)
    frames, n = gt.shape[:2]
    visible = np.ones((frames, n), bool) if visible is None else visible
    tracker = PersonTracker(config or TrackingConfig())
    acc = MotAccumulator(match_threshold_m=0.5)
    outputs, sources = [], []
    for f in range(frames):
        order = rng.permutation(np.flatnonzero(visible[f]))  # detector order is arbitrary
        det = gt[f, order] + rng.normal(0.0, noise_m, gt[f, order].shape)
        out = tracker.update(make_people(det), f / FPS)
        outputs.append(out)
        sources.append(order)
        shown = np.flatnonzero(visible[f]) if gt_visible_only else np.arange(n)
        acc.update([str(i) for i in shown], gt[f, shown], out.track_id, out.xyz_m)
    return outputs, acc.counts(), sources


def id_of(outputs, sources, frame: int, person: int) -> str:
    return outputs[frame].track_id[int(np.flatnonzero(sources[frame] == person)[0])]


def all_ids(outputs) -> set[str]:
    return {i for out in outputs for i in out.track_id if i}


def test_people_walking_in_straight_lines():
    starts = [(-4.0 + 2.0 * i, -1.0, 6.0 + i) for i in range(5)]
    vel = [(1.2, 0, 0), (-1.0, 0, 0.5), (0, 0, 1.4), (0.8, 0, -0.8), (-1.5, 0, 0)]
    outputs, counts, _ = run(walkers(starts, vel, 120))
    # Each person is unconfirmed for its first min_hits - 1 = 2 frames (counted as misses).
    assert counts == MotCounts(frames=120, gt=600, hypotheses=590, matches=590, misses=10,
                               false_positives=0, id_switches=0, fragmentations=0,
                               distance_sum_m=counts.distance_sum_m)
    assert counts.mota == pytest.approx(1 - 10 / 600)
    assert counts.motp_m < 0.05
    assert all_ids(outputs) == {"1", "2", "3", "4", "5"}
    assert outputs[1].track_id == ("",) * 5 and all(outputs[2].track_id)


def test_two_crossing_paths_keep_their_ids():
    # X-shaped crossing at 2.1 m/s; closest approach 0.3 m (at t = 2 s).
    starts = [(-3.0, -1.0, 5.0), (3.0, -1.0, 5.3)]
    vel = [(1.5, 0, 1.5), (-1.5, 0, 1.5)]
    outputs, counts, _ = run(walkers(starts, vel, 120), noise_m=0.03, seed=1)
    assert counts.id_switches == 0 and counts.fragmentations == 0
    assert counts.false_positives == 0 and counts.misses == 4
    assert all_ids(outputs) == {"1", "2"}


def test_head_on_crossing_with_lateral_offset():
    starts = [(-4.0, -1.0, 8.0), (4.0, -1.0, 8.5)]
    vel = [(2.0, 0, 0), (-2.0, 0, 0)]
    _, counts, _ = run(walkers(starts, vel, 120), noise_m=0.05, seed=2)
    assert counts.id_switches == 0 and counts.fragmentations == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_depth_jitter_of_whole_people(seed):
    # LoCO's errors are mostly depth errors of the whole person (0.32 m bins on JTA):
    # 0.15 m per-frame jitter along the viewing ray, walkers 1 m apart. Raw frame-to-frame
    # velocities (4-5 m/s of noise) lose these people; the averaged velocity does not.
    rng = np.random.default_rng(seed)
    gt = walkers([(-2.0 + i, -1.0, 10.0) for i in range(5)], [(0.0, 0.0, 1.2)] * 5, 150)
    tracker, acc = PersonTracker(), MotAccumulator(match_threshold_m=0.8)
    for f in range(gt.shape[0]):
        centre = gt[f].mean(axis=1, keepdims=True)
        ray = centre / np.linalg.norm(centre, axis=2, keepdims=True)
        det = gt[f] + ray * rng.normal(0.0, 0.15, (5, 1, 1)) + rng.normal(0, 0.02, gt[f].shape)
        out = tracker.update(make_people(det), f / FPS)
        acc.update(list("abcde"), gt[f], out.track_id, out.xyz_m)
    counts = acc.counts()
    assert counts.id_switches == 0 and counts.fragmentations == 0 and counts.misses == 10


def test_crowd_of_thirty_random_walkers():
    rng = np.random.default_rng(0)
    starts = np.c_[rng.uniform(-8, 8, 30), np.full(30, -1.0), rng.uniform(4, 20, 30)]
    angle, speed = rng.uniform(0, 2 * np.pi, 30), rng.uniform(0.8, 1.8, 30)
    vel = np.c_[speed * np.cos(angle), np.zeros(30), speed * np.sin(angle)]
    outputs, counts, _ = run(walkers(starts, vel, 300), noise_m=0.05, seed=1)
    assert counts.id_switches == 0 and counts.fragmentations == 0
    assert counts.false_positives == 0 and counts.misses == 60  # 2 tentative frames each
    assert len(all_ids(outputs)) == 30


@pytest.mark.parametrize("gt_visible_only, fragmentations", [(False, 1), (True, 0)])
def test_occlusion_shorter_than_max_misses(gt_visible_only, fragmentations):
    starts = [(-3.0, -1.0, 6.0), (-3.0, -1.0, 8.0), (3.0, -1.0, 7.0)]
    vel = [(1.2, 0, 0), (1.0, 0, 0), (-1.2, 0, 0)]
    visible = np.ones((90, 3), bool)
    visible[40:48, 1] = False  # 8 missed frames < max_misses = 15
    outputs, counts, src = run(walkers(starts, vel, 90), visible,
                               gt_visible_only=gt_visible_only)
    assert counts.id_switches == 0
    assert counts.fragmentations == fragmentations
    assert counts.misses == 6 + (0 if gt_visible_only else 8)
    assert all_ids(outputs) == {"1", "2", "3"}
    assert id_of(outputs, src, 39, 1) == id_of(outputs, src, 48, 1) != ""


def test_gap_longer_than_max_misses_gets_a_new_id_never_reused():
    starts, vel = [(0.0, -1.0, 6.0)], [(0.5, 0, 0)]
    visible = np.ones((60, 1), bool)
    visible[20:30] = False
    config = TrackingConfig(max_misses=5)
    outputs, counts, _ = run(walkers(starts, vel, 60), visible, config, gt_visible_only=True)
    assert outputs[19].track_id == ("1",) and outputs[32].track_id == ("2",)
    assert outputs[30].track_id == ("",)  # re-born as a tentative track
    # GT absent in frames 20-29: no miss there; the 2 tentative frames 30-31 are misses and
    # interrupt the tracked span (1 fragmentation); "1" -> "2" is an id switch.
    assert counts.id_switches == 1 and counts.fragmentations == 1 and counts.misses == 4


def test_backwards_timestamp_resets_tracks():
    tracker = PersonTracker(TrackingConfig())
    people = make_people(walkers([(0.0, -1.0, 5.0), (2.0, -1.0, 5.0)], [(0, 0, 0)] * 2, 1)[0])
    for f in range(5):
        out = tracker.update(people, 10.0 + f / FPS)
    assert out.track_id == ("1", "2") and tracker.num_confirmed == 2
    out = tracker.update(people, 10.0)  # the bag loops
    assert out.track_id == ("", "") and tracker.num_tracks == 2 and tracker.num_confirmed == 0
    for f in range(1, 3):
        out = tracker.update(people, 10.0 + f / FPS)
    assert out.track_id == ("3", "4")
    out = tracker.update(people, 10.0 + 2 / FPS)  # equal stamp: no reset
    assert out.track_id == ("3", "4")


def test_tentative_tracks_die_on_a_miss_and_unmatched_people_stay_anonymous():
    tracker = PersonTracker(TrackingConfig(min_hits=3))
    a = make_people(POSE[None] + [0.0, -1.0, 5.0])
    ab = make_people(np.stack([POSE + [0.0, -1.0, 5.0], POSE + [3.0, -1.0, 5.0]]))
    assert tracker.update(ab, 0.0).track_id == ("", "")
    assert tracker.update(a, 0.1).track_id == ("",)  # B's tentative track dies here
    assert tracker.num_tracks == 1
    assert tracker.update(ab, 0.2).track_id == ("1", "")  # B starts again from scratch
    assert tracker.update(ab, 0.3).track_id == ("1", "")
    assert tracker.update(ab, 0.4).track_id == ("1", "2")


def test_min_hits_one_disabled_and_empty_frames():
    people = make_people(POSE[None] + [0.0, -1.0, 5.0])
    assert PersonTracker(TrackingConfig(min_hits=1)).update(people, 0.0).track_id == ("1",)
    off = PersonTracker(TrackingConfig(enabled=False))
    assert off.update(people, 0.0).track_id == ("",)
    tracker = PersonTracker()
    assert len(tracker.update(People.empty(), 0.0)) == 0
    holes = make_people(np.full((1, NUM_JOINTS, 3), np.nan))
    assert tracker.update(holes, 0.1).track_id == ("",) and tracker.num_tracks == 0
    with pytest.raises(InputError):
        tracker.update(people, float("nan"))


def test_holes_do_not_break_association():
    starts, vel = [(0.0, -1.0, 6.0), (1.5, -1.0, 6.0)], [(1.0, 0, 0), (1.0, 0, 0)]
    gt = walkers(starts, vel, 40)
    tracker = PersonTracker(TrackingConfig(min_hits=1))
    rng = np.random.default_rng(3)
    ids = []
    for f in range(40):
        det = gt[f].copy()
        det[rng.random(det.shape[:2]) < 0.4] = np.nan  # 40% of the joints missing
        det[:, 0] = gt[f, :, 0]  # keep the heads
        ids.append(tracker.update(make_people(det), f / FPS).track_id)
    assert set(ids) == {("1", "2")}


def test_one_euro_reduces_jitter_on_a_static_joint():
    rng = np.random.default_rng(4)
    truth = POSE + [0.0, -1.0, 10.0]
    raw, smooth = [], []
    tracker = PersonTracker(TrackingConfig(smoothing=True, min_cutoff=0.5, beta=0.5))
    for f in range(300):
        det = truth + rng.normal(0.0, 0.05, truth.shape)
        out = tracker.update(make_people(det[None]), f / FPS)
        raw.append(det[4])
        smooth.append(out.xyz_m[0, 4])
    raw_var = np.var(np.asarray(raw[30:]), axis=0).sum()
    smooth_var = np.var(np.asarray(smooth[30:]), axis=0).sum()
    assert smooth_var < 0.25 * raw_var
    assert np.abs(np.mean(smooth[30:], axis=0) - truth[4]).max() < 0.02


def test_one_euro_filter_follows_a_ramp_with_beta():
    t = np.arange(60) / FPS
    ramp = 2.0 * t  # 2 m/s
    slow, fast = OneEuroFilter(1.0, 0.0, 1.0), OneEuroFilter(1.0, 5.0, 1.0)
    lag_slow = ramp[-1] - [slow(np.array([x]), s) for x, s in zip(ramp, t, strict=True)][-1]
    lag_fast = ramp[-1] - [fast(np.array([x]), s) for x, s in zip(ramp, t, strict=True)][-1]
    assert 0.0 < lag_fast[0] < 0.5 * lag_slow[0]


def test_one_euro_filter_basics():
    f = OneEuroFilter(1.0, 0.0, 1.0)
    np.testing.assert_array_equal(f(np.array([1.0, np.nan]), 0.0), [1.0, np.nan])
    out = f(np.array([2.0, 5.0]), 0.1)
    assert 1.0 < out[0] < 2.0 and out[1] == 5.0  # first finite sample passes through
    tau = 1 / (2 * np.pi)
    assert out[0] == pytest.approx(1.0 + 1.0 / (1.0 + tau / 0.1))
    np.testing.assert_array_equal(f(np.array([3.0, 5.0]), 0.1), out)  # same stamp: hold


def test_config_validation_and_from_dict():
    with pytest.raises(ConfigError):
        TrackingConfig(gate_m=0.0)
    with pytest.raises(ConfigError):
        TrackingConfig(min_hits=0)
    with pytest.raises(ConfigError):
        TrackingConfig(max_misses=0)
    with pytest.raises(ConfigError):
        TrackingConfig(min_cutoff=-1.0)
    config = from_dict(TrackingConfig, {"gate_m": 2, "smoothing": True, "max_misses": 4})
    assert config == TrackingConfig(gate_m=2.0, smoothing=True, max_misses=4)


# ----------------------------------------------------------------------------- MOT counts


def test_mot_counts_id_switch_fragmentation_and_mota():
    a, b = POSE + [0.0, 0, 5], POSE + [3.0, 0, 5]
    gt = np.stack([a, b])
    frames = [
        (["A", "B"], gt, ["1", "2"], gt),
        (["A", "B"], gt, ["1"], gt[:1]),  # B missed
        (["A", "B"], gt, ["2", "1"], gt),  # both swapped: 2 switches, B resumes: 1 frag
        (["A", "B"], gt, ["2", "1", "9"], np.concatenate([gt, gt[:1] + 5.0])),  # 1 FP
        (["A"], gt[:1], ["2", ""], gt),  # B not annotated; "" ignored
    ]
    counts = evaluate_tracking(frames)
    assert (counts.gt, counts.matches, counts.misses) == (9, 8, 1)
    assert (counts.false_positives, counts.id_switches, counts.fragmentations) == (1, 2, 1)
    assert counts.mota == pytest.approx(1 - 4 / 9)
    assert counts.motp_m == pytest.approx(0.0)
    strict = evaluate_tracking(frames, ignore_unconfirmed=False)
    assert strict.false_positives == 2
    assert "| seq | 5 | 9 | 8 | 1 | 1 | 2 | 1 |" in mot_table({"seq": counts})
    assert (counts + counts).id_switches == 4


def test_mot_keeps_previous_correspondence_within_threshold():
    acc = MotAccumulator(match_threshold_m=1.0)
    a = POSE + [0.0, 0, 5]
    acc.update(["A"], a[None], ["1", "2"], np.stack([a + [0.3, 0, 0], a + [0.5, 0, 0]]))
    acc.update(["A"], a[None], ["1", "2"], np.stack([a + [0.4, 0, 0], a]))
    assert acc.counts().id_switches == 0  # "1" is kept although "2" is now closer
    with pytest.raises(InputError):
        acc.update(["A", "A"], np.stack([a, a]), [], np.zeros((0, NUM_JOINTS, 3)))
