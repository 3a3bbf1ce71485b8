"""The online self-calibration of a fixed camera: one :meth:`SelfCalibrator.update` per frame.

Per frame (cheap, vectorised over people): the standing people become observations
(:mod:`loco_ros.calibration.observations`), linked into tracklets; a tracklet gives one
observation every ``sample_every_frames`` frames, the mean of its rays over the frames since
its last one (consecutive frames repeat each other; averaging first keeps pixel noise from
becoming a bias through the stature geometry).
Observations go into a fixed-size reservoir (a uniform sample of everything seen since the
last reset, ``capacity`` rows) and a short recent window. Every ``refit_every_frames``
frames the mount is refitted (:func:`loco_ros.calibration.model.fit_ground`, from the last
estimate; the grid search runs at the first two refits, then every
``grid_every_refits``-th until convergence and every fourth of those after).

**Converged** means "snapping people to this plane gives better depth than the image
alone": at two consecutive refits, at least ``min_frames`` frames gave observations, at
least ``min_people`` distinct tracklets are inliers, the height's 1-sigma is at most
``max_height_std`` of the height, pitch's and roll's at most ``max_angle_std_deg``, the
depth the plane gives the people seen is uncertain by at most ``max_depth_std_ratio`` times
the stature cue's relative spread (``stature_std_m / stature_mean_m``; 90th percentile over
the inliers' ankle rays, from the fit's covariance), at least half of the observations are
inliers; and the two fits agree within ``max_height_change`` (log) and
``max_angle_change_deg``. Chosen on the tuning seeds 8000-8019 by auto's JTA F1@0.8 with no
converged estimate more than 10 % off in height (docs/self_calibration.md). It then stays
converged until a reset.

**Persistent misfit** (the camera moved, the floor is not flat, people are not standing on
it): at each refit once converged, the observations of the last ``misfit_frames`` frames
are scored under the estimate. A misfit is at least ``misfit_min_people`` tracklets with
more than ``misfit_outlier_fraction`` of those observations outliers, or their median
implied stature off the prior by more than ``misfit_stature_bias`` (log ratio). After
``misfit_patience`` misfits in a row the calibrator starts over from the observations
since the misfit began, counts the reset and keeps the reason.

The estimate is a frozen :class:`CalibrationEstimate`, saved to and loaded from YAML
(:func:`save_estimate`, :func:`load_estimate`); a calibrator started from a converged one
uses it until its own fit converges, and checks it for misfit like its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from loco_ros.calibration.model import (
    INLIER_LIMIT,
    FitResult,
    Prior,
    fit_ground,
    ground_depth_log_std,
    residuals_at,
)
from loco_ros.calibration.observations import (
    Observations,
    TrackletLinker,
    _empty,
    gather_joints,
    measure_people,
)
from loco_ros.config import _require, load_yaml, save_yaml
from loco_ros.decoding.ground_plane import GroundPlane, GroundPlaneConfig, ground_plane_from_angles
from loco_ros.types import People


@dataclass(frozen=True)
class SelfCalibrationConfig:
    """How the camera's mount is learnt from people (metres, degrees, pixels, frames).

    Stature prior: upright stature ``stature_mean_m`` +- ``stature_std_m`` (1 sigma; adults of
    both sexes, and the synthetic people: a 50/50 mixture of N(1.63, 0.07) and
    N(1.77, 0.07) m, mean 1.70, std 0.10). The head-top joint of a walking person is at
    ``head_top_fraction`` of the stature and the centre of its ankles at ``ankle_fraction``
    of the head-top height (0.98 and 0.079 measured on the synthetic walkers; 0.996 and
    0.04 when standing still). ``lean_sigma_deg``: spread of the hip -> head line about the
    vertical across people (walkers lean into their walk), ``lean_within_deg`` one person's
over frames, ``stature_within_std`` the relative spread of one person's head-top height over
frames (gait). ``pixel_sigma_px``: joint pixel error. Other fields: module docstring.
    """

    stature_mean_m: float = 1.70
    stature_std_m: float = 0.10
    head_top_fraction: float = 0.98
    ankle_fraction: float = 0.075
    lean_sigma_deg: float = 4.0
    stature_within_std: float = 0.025
    lean_within_deg: float = 2.5
    pixel_sigma_px: float = 2.0
    min_person_px: float = 24.0
    max_bend_deg: float = 30.0
    capacity: int = 600
    sample_every_frames: int = 6
    refit_every_frames: int = 30
    grid_max_observations: int = 80
    grid_every_refits: int = 10
    refit_every_converged_frames: int = 120
    max_height_change: float = 0.03
    max_angle_change_deg: float = 0.5
    pitch_range_deg: tuple[float, float] = (-20.0, 70.0)
    roll_range_deg: tuple[float, float] = (-15.0, 15.0)
    min_frames: int = 30
    min_people: int = 4
    max_height_std: float = 0.05
    max_angle_std_deg: float = 1.2
    max_depth_std_ratio: float = 0.5
    misfit_frames: int = 60
    misfit_min_people: int = 3
    misfit_outlier_fraction: float = 0.5
    misfit_stature_bias: float = 0.12
    misfit_patience: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        _require(1.0 <= self.stature_mean_m <= 2.2, "stature_mean_m must be in [1, 2.2]")
        _require(0.0 < self.stature_std_m <= 0.5, "stature_std_m must be in (0, 0.5]")
        _require(0.8 <= self.head_top_fraction <= 1.05, "head_top_fraction in [0.8, 1.05]")
        _require(0.0 <= self.ankle_fraction < 0.3, "ankle_fraction must be in [0, 0.3)")
        _require(0.0 < self.lean_sigma_deg <= 30.0, "lean_sigma_deg must be in (0, 30]")
        _require(0.0 < self.stature_within_std <= 0.3, "stature_within_std must be in (0, 0.3]")
        _require(0.0 < self.lean_within_deg <= 30.0, "lean_within_deg must be in (0, 30]")
        _require(0.0 < self.pixel_sigma_px <= 50.0, "pixel_sigma_px must be in (0, 50]")
        _require(self.min_person_px >= 4.0, "min_person_px must be >= 4")
        _require(0.0 < self.max_bend_deg <= 90.0, "max_bend_deg must be in (0, 90]")
        _require(10 <= self.capacity <= 100_000, "capacity must be in [10, 100000]")
        _require(self.sample_every_frames >= 1, "sample_every_frames must be >= 1")
        _require(self.refit_every_frames >= 1, "refit_every_frames must be >= 1")
        _require(self.refit_every_converged_frames >= self.refit_every_frames
                 and self.refit_every_converged_frames % self.refit_every_frames == 0,
                 "refit_every_converged_frames must be a multiple of refit_every_frames")
        _require(0.0 < self.max_height_change < 1.0, "max_height_change must be in (0, 1)")
        _require(self.max_angle_change_deg > 0.0, "max_angle_change_deg must be > 0")
        _require(self.grid_every_refits >= 1, "grid_every_refits must be >= 1")
        _require(self.grid_max_observations >= 10, "grid_max_observations must be >= 10")
        for name in ("pitch_range_deg", "roll_range_deg"):
            lo, hi = getattr(self, name)
            _require(-89.0 <= lo < hi <= 89.0, f"{name} must be (lo, hi) within [-89, 89]")
        _require(self.min_frames >= 1 and self.min_people >= 1, "min_frames, min_people >= 1")
        _require(0.0 < self.max_height_std < 1.0, "max_height_std must be in (0, 1)")
        _require(0.0 < self.max_angle_std_deg <= 20.0, "max_angle_std_deg must be in (0, 20]")
        _require(self.max_depth_std_ratio > 0.0, "max_depth_std_ratio must be > 0")
        _require(self.misfit_frames >= 1, "misfit_frames must be >= 1")
        _require(self.misfit_min_people >= 1, "misfit_min_people must be >= 1")
        _require(0.0 < self.misfit_outlier_fraction <= 1.0, "misfit_outlier_fraction in (0, 1]")
        _require(self.misfit_stature_bias > 0.0, "misfit_stature_bias must be > 0")
        _require(self.misfit_patience >= 1, "misfit_patience must be >= 1")

    def prior(self) -> Prior:
        top = self.stature_mean_m * self.head_top_fraction
        return Prior(log_top_mean=math.log(top),
                     log_top_std=self.stature_std_m / self.stature_mean_m,
                     ankle_fraction=self.ankle_fraction,
                     lean_sigma=math.radians(self.lean_sigma_deg),
                     log_within_std=self.stature_within_std,
                     lean_within=math.radians(self.lean_within_deg))


@dataclass(frozen=True)
class CalibrationEstimate:
    """The camera's mount above the ground as learnt so far (metres, degrees).

    Heights and angles are NaN before the first fit; ``*_std`` are 1 sigma.
    ``observations``: standing-people observations the fit rests on; ``people``: distinct
    tracklets among its inliers; ``frames``: frames that gave observations since the last
    reset; ``inlier_fraction``: of the observations; ``resets``: starts-over so far (misfit
    or requested), ``reset_reason`` the last one's reason; ``depth_std``: the relative
    1-sigma of the depth this plane gives the people seen (90th percentile over the inlier
    observations' ankle rays; compare with the stature cue's ``stature_std / stature_mean``);
    ``covariance``: the 3 x 3 covariance of (pitch rad, roll rad, log height), row-major
    (empty before the first fit).
    """

    camera_height_m: float = math.nan
    pitch_deg: float = math.nan
    roll_deg: float = math.nan
    camera_height_std_m: float = math.nan
    pitch_std_deg: float = math.nan
    roll_std_deg: float = math.nan
    observations: int = 0
    people: int = 0
    frames: int = 0
    inlier_fraction: float = 0.0
    converged: bool = False
    resets: int = 0
    reset_reason: str = ""
    depth_std: float = math.nan
    covariance: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        _require(not self.converged or (self.camera_height_m > 0.0
                                        and math.isfinite(self.pitch_deg)
                                        and math.isfinite(self.roll_deg)),
                 "a converged calibration needs camera_height_m > 0 and finite angles")
        _require(min(self.observations, self.people, self.frames, self.resets) >= 0,
                 "counts must be >= 0")

    @property
    def has_value(self) -> bool:
        return math.isfinite(self.camera_height_m) and self.camera_height_m > 0.0

    def ground_plane(self) -> GroundPlane:
        """The ground for :func:`loco_ros.decoding.ground_plane.snap_with_config` (ValueError
        before the first fit)."""
        if not self.has_value:
            raise ValueError("no calibration estimate yet")
        return ground_plane_from_angles(self.camera_height_m, math.radians(self.pitch_deg),
                                        math.radians(self.roll_deg))

    def depth_log_std(self, rays: np.ndarray) -> np.ndarray:
        """(N,) relative 1-sigma of the depth this plane gives ground points seen along
        normalised rays (N, 2) (:func:`loco_ros.calibration.model.ground_depth_log_std`);
        from the stds alone (no correlations) when the covariance is not known."""
        if len(self.covariance) == 9:
            cov = np.asarray(self.covariance, np.float64).reshape(3, 3)
        else:
            cov = np.diag([math.radians(self.pitch_std_deg) ** 2,
                           math.radians(self.roll_std_deg) ** 2,
                           (self.camera_height_std_m / self.camera_height_m) ** 2])
        return ground_depth_log_std(rays, math.radians(self.pitch_deg),
                                    math.radians(self.roll_deg), cov)

    def ground_plane_config(self, base: GroundPlaneConfig | None = None) -> GroundPlaneConfig:
        """A ``fixed`` :class:`GroundPlaneConfig` of this mount (other fields from ``base``)."""
        base = GroundPlaneConfig() if base is None else base
        if not self.has_value:
            raise ValueError("no calibration estimate yet")
        return replace(base, mode="fixed", camera_height_m=self.camera_height_m,
                       pitch_deg=self.pitch_deg, roll_deg=self.roll_deg)

    def summary(self) -> str:
        """One line for logs and diagnostics."""
        state = "converged" if self.converged else "calibrating"
        if not self.has_value:
            return f"{state}: no estimate yet ({self.observations} observations)"
        return (f"{state}: height {self.camera_height_m:.3f} +- {self.camera_height_std_m:.3f} m,"
                f" pitch {self.pitch_deg:.2f} +- {self.pitch_std_deg:.2f} deg, roll "
                f"{self.roll_deg:.2f} +- {self.roll_std_deg:.2f} deg from {self.people} people,"
                f" {self.observations} observations, {self.frames} frames; resets {self.resets}")


def save_estimate(estimate: CalibrationEstimate, path: str | Path) -> None:
    """Write ``estimate`` as YAML (parent folders created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_yaml(estimate, path)


def load_estimate(path: str | Path) -> CalibrationEstimate:
    """Read an estimate written by :func:`save_estimate` (ConfigError if invalid)."""
    return load_yaml(CalibrationEstimate, path)


_FIELDS = ("foot", "hip", "head")
_EMPTY = _empty()


class _Rows:
    """Fixed-capacity columns of observations (foot, hip, head (n, 2), noise, tracklet,
    frame)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.xy = np.zeros((capacity, 3, 2))
        self.noise = np.zeros(capacity)
        self.tracklet = np.zeros(capacity, np.int64)
        self.group = np.zeros(capacity, np.int64)
        self.frame = np.zeros(capacity, np.int64)
        self.size = 0

    def put(self, slot: int, xy, noise, tracklet, frame, group) -> None:
        self.xy[slot], self.noise[slot] = xy, noise
        self.tracklet[slot], self.frame[slot], self.group[slot] = tracklet, frame, group

    def view(self, index=None):
        index = slice(0, self.size) if index is None else index
        xy = self.xy[index]
        return xy[:, 0], xy[:, 1], xy[:, 2], self.noise[index], self.tracklet[index]


class SelfCalibrator:
    """Online estimate of a fixed camera's height, pitch and roll (module docstring).

    ``initial``: a saved estimate to start from (used while not re-converged).
    Memory: ``capacity`` + a recent window of observations, the previous frame's people and
    the last sample frame of recent tracklets; cost per frame O(people), per refit
    O(capacity).
    """

    def __init__(self, config: SelfCalibrationConfig | None = None,
                 initial: CalibrationEstimate | None = None):
        self.config = SelfCalibrationConfig() if config is None else config
        self._prior = self.config.prior()
        self._rng = np.random.default_rng(self.config.seed)
        self._linker = TrackletLinker()
        c = self.config
        self._recent_capacity = max(64, 20 * c.misfit_frames)
        self._frame = 0
        self._resets = 0 if initial is None else initial.resets
        self._reason = "" if initial is None else initial.reset_reason
        self._initial = initial if initial is not None and initial.converged else None
        self._clear()

    # ----------------------------------------------------------------- state
    def _clear(self) -> None:
        self._pending: list[tuple] = []  # frames not measured yet (see update)
        self._buffer = _Rows(self.config.capacity)
        self._recent = _Rows(self._recent_capacity)
        self._recent_next = 0
        self._seen = 0
        self._frames_used = 0
        self._last_sample: dict[int, int] = {}
        self._since_sample: dict[int, tuple[int, np.ndarray, int]] = {}  # first frame, sum, n
        self._fit: FitResult | None = None
        self._depth_std = math.inf
        self._converged = False
        self._last_met = False
        self._refits = 0
        self._misfits = 0
        self._misfit_since = -1
        self._estimate = self._make_estimate()

    def reset(self, reason: str = "requested") -> None:
        """Forget everything learnt (and a loaded estimate); counts a reset."""
        self._flush()  # the pending frames' reservoir draws, as frame-by-frame processing
        self._resets += 1
        self._reason = reason
        self._initial = None
        self._linker.reset()
        self._clear()

    @property
    def estimate(self) -> CalibrationEstimate:
        return self._estimate

    @property
    def ground_plane(self) -> GroundPlane | None:
        """The estimated ground once converged, else None."""
        return self._estimate.ground_plane() if self._estimate.converged else None

    @property
    def frame(self) -> int:
        """Frames seen since construction."""
        return self._frame

    def memory_rows(self) -> int:
        """Observation rows held (bounded by capacity + the recent window)."""
        return self._buffer.size + self._recent.size

    # ----------------------------------------------------------------- per frame
    def update(self, people: People, K: np.ndarray) -> CalibrationEstimate:
        """Take one frame's people (uv_px, detected, xyz_m in the optical frame of K).

        The frame's joints are copied and processed in batches of up to
        ``BATCH_FRAMES`` frames, always before a refit: the standing tests of a batch run
        at once (numpy's per-call cost dominates at a few people per frame), then each
        frame is linked and sampled in order, so the estimates are those of frame-by-frame
        processing (they only change at refits)."""
        c = self.config
        self._frame += 1
        self._pending.append((self._frame, *gather_joints(people), tuple(people.track_id),
                              np.array(K, np.float64)))
        if self._frame % c.refit_every_frames == 0:
            self._flush()
            self._refit()
        elif len(self._pending) >= self.BATCH_FRAMES:
            self._flush()
        return self._estimate

    BATCH_FRAMES = 10

    def _flush(self) -> None:
        """Measure, link and sample the pending frames in order."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        c = self.config
        counts = np.array([len(f[1]) for f in pending])
        starts = np.concatenate([[0], np.cumsum(counts)])
        if starts[-1]:
            Ks = np.stack([f[5] for f in pending])
            same_K = bool(np.all(Ks == Ks[0]))
            m = measure_people(np.concatenate([f[1] for f in pending]),
                               np.concatenate([f[2] for f in pending]),
                               np.concatenate([f[3] for f in pending]),
                               Ks[0] if same_K else np.repeat(Ks, counts, axis=0),
                               c.pixel_sigma_px, c.min_person_px, c.max_bend_deg)
            bounds = np.searchsorted(m.rows, starts).tolist()
        else:
            m, bounds = None, [0] * len(starts)
        for k, (frame, _uv, _det, _xyz, track_ids, _K) in enumerate(pending):
            a, b = bounds[k], bounds[k + 1]
            if m is None or a == b:
                obs, standing = _EMPTY, np.zeros(0, bool)
            else:
                obs = Observations(foot=m.foot[a:b], hip=m.hip[a:b], head=m.head[a:b],
                                   noise=m.noise[a:b], person=m.rows[a:b] - starts[k],
                                   foot_px=m.foot_px[a:b], length_px=m.length_px[a:b],
                                   head_px=m.head_px[a:b])
                standing = m.standing[a:b]
            self._ingest(obs, standing, track_ids, frame)

    def _ingest(self, obs: Observations, standing: np.ndarray, track_ids: tuple[str, ...],
                frame: int) -> None:
        """Link one frame's candidates and sample its standing people."""
        c = self.config
        ids = self._linker.link(obs, track_ids, frame)
        groups = self._linker.last_groups
        take, rays, counts = [], [], []
        last_sample, since = self._last_sample, self._since_sample
        index = np.flatnonzero(standing)
        xy_all = np.stack([obs.foot, obs.hip, obs.head], axis=1)  # (N, 3, 2)
        for i, t in zip(index.tolist(), ids[index].tolist(), strict=True):
            first, total, n = since.get(t, (frame, 0.0, 0))
            if frame - first >= c.sample_every_frames:  # a gap: start the average again
                first, total, n = frame, 0.0, 0
            total, n = total + xy_all[i], n + 1
            last = last_sample.get(t)
            if last is not None and frame - last < c.sample_every_frames:
                since[t] = (first, total, n)
                continue
            since.pop(t, None)
            last_sample[t] = frame
            take.append(i)
            rays.append(total / n)
            counts.append(n)
        if take:
            # the mean of a tracklet's rays since its last sample: pixel noise averages out
            # before the stature geometry, whose division by the foot's ray would turn it
            # into a bias (people read tall, the camera low)
            noise = obs.noise[take] / np.sqrt(np.asarray(counts, np.float64))
            self._add_many(np.stack(rays), noise, ids[take], frame, groups[take])
            self._frames_used += 1
        if len(self._last_sample) > 4 * c.capacity:
            keep = frame - 10 * c.sample_every_frames
            self._last_sample = {k: v for k, v in self._last_sample.items() if v >= keep}
            self._since_sample = {k: v for k, v in since.items() if v[0] >= keep}

    def _add_many(self, xy: np.ndarray, noise: np.ndarray, tracklet: np.ndarray, frame: int,
                  group: np.ndarray) -> None:
        """:meth:`_add` of k observations of one frame (xy (k, 3, 2)), in order: the same
        reservoir draws, written at once."""
        b = self._buffer
        k = xy.shape[0]
        slots = np.empty(k, np.int64)
        for r in range(k):
            self._seen += 1
            if b.size < b.capacity:
                slots[r] = b.size
                b.size += 1
            else:  # reservoir sampling: a uniform sample of everything since the reset
                j = int(self._rng.integers(self._seen))
                slots[r] = j if j < b.capacity else -1
        put = slots >= 0
        if put.all():
            b.put(slots, xy, noise, tracklet, frame, group)
        elif put.any():
            b.put(slots[put], xy[put], noise[put], tracklet[put], frame, group[put])
        rec = self._recent
        where = (self._recent_next + np.arange(k)) % rec.capacity
        rec.put(where, xy, noise, tracklet, frame, group)
        self._recent_next = (self._recent_next + k) % rec.capacity
        rec.size = min(rec.size + k, rec.capacity)

    def _add(self, xy: np.ndarray, noise: float, tracklet: int, frame: int,
             group: int) -> None:
        self._seen += 1
        b = self._buffer
        if b.size < b.capacity:
            b.put(b.size, xy, noise, tracklet, frame, group)
            b.size += 1
        else:  # reservoir sampling: a uniform sample of everything since the reset
            j = int(self._rng.integers(self._seen))
            if j < b.capacity:
                b.put(j, xy, noise, tracklet, frame, group)
        r = self._recent
        r.put(self._recent_next, xy, noise, tracklet, frame, group)
        self._recent_next = (self._recent_next + 1) % r.capacity
        r.size = min(r.size + 1, r.capacity)

    # ----------------------------------------------------------------- refit
    def _current_mount(self) -> tuple[float, float, float] | None:
        if self._fit is not None:
            return self._fit.pitch_rad, self._fit.roll_rad, math.log(self._fit.camera_height_m)
        if self._initial is not None:
            e = self._initial
            return math.radians(e.pitch_deg), math.radians(e.roll_deg), math.log(
                e.camera_height_m)
        return None

    def _refit(self) -> None:
        """Check the estimate against the recent people first (a camera that moved must
        not be averaged into the old mount: while misfit persists the estimate is frozen),
        then refit."""
        c = self.config
        self._refits += 1
        self._check_misfit()
        if self._misfits > 0:
            return
        if self._converged and self._frame % c.refit_every_converged_frames != 0:
            return  # converged: the misfit check runs at every refit, the fit less often
        if self._buffer.size >= 3:
            foot, hip, head, noise, tracklet = self._buffer.view()
            start = self._current_mount()
            grid = start is None or self._refits <= 2 or self._refits % (
                c.grid_every_refits * (4 if self._converged else 1)) == 0
            fit = fit_ground(foot, hip, head, noise, tracklet, self._prior,
                             start, c.pitch_range_deg, c.roll_range_deg,
                             grid_max_observations=c.grid_max_observations if grid else 0,
                             group=self._buffer.group[:self._buffer.size],
                             iterations=10 if grid else 5)
            if fit is not None:
                previous = self._fit
                self._fit = fit
                self._depth_std = self._fit_depth_std(fit, foot)
                if not self._converged:
                    meets = self._meets_rule(fit)
                    self._converged = meets and self._last_met and previous is not None \
                        and self._agrees(previous, fit)
                    self._last_met = meets
        self._estimate = self._make_estimate()

    def _agrees(self, a: FitResult, b: FitResult) -> bool:
        """Two consecutive fits within the rule's change limits of each other."""
        c = self.config
        return (abs(math.log(a.camera_height_m / b.camera_height_m)) <= c.max_height_change
                and math.degrees(max(abs(a.pitch_rad - b.pitch_rad),
                                     abs(a.roll_rad - b.roll_rad))) <= c.max_angle_change_deg)

    @staticmethod
    def _fit_depth_std(fit: FitResult, foot: np.ndarray) -> float:
        """90th percentile of the relative depth 1-sigma the fit gives its inliers' ankles."""
        rays = foot[fit.inliers] if fit.inliers.any() else foot
        s = ground_depth_log_std(rays, fit.pitch_rad, fit.roll_rad, fit.cov)
        s = s[np.isfinite(s)]
        return float(np.percentile(s, 90)) if s.size else math.inf

    def _meets_rule(self, fit: FitResult) -> bool:
        c = self.config
        s_pitch, s_roll, s_h = fit.std
        return (self._frames_used >= c.min_frames and fit.people >= c.min_people
                and s_h <= c.max_height_std * fit.camera_height_m
                and math.degrees(max(s_pitch, s_roll)) <= c.max_angle_std_deg
                and self._depth_std <= c.max_depth_std_ratio * c.stature_std_m
                / c.stature_mean_m
                and float(np.mean(fit.inliers)) >= 0.5)

    def _make_estimate(self) -> CalibrationEstimate:
        fit = self._fit
        if (fit is None or not self._converged) and self._initial is not None:
            return replace(self._initial, resets=self._resets, reset_reason=self._reason)
        if fit is None:
            return CalibrationEstimate(observations=self._buffer.size, frames=self._frames_used,
                                       resets=self._resets, reset_reason=self._reason)
        s_pitch, s_roll, s_h = fit.std
        return CalibrationEstimate(
            camera_height_m=fit.camera_height_m, pitch_deg=math.degrees(fit.pitch_rad),
            roll_deg=math.degrees(fit.roll_rad), camera_height_std_m=s_h,
            pitch_std_deg=math.degrees(s_pitch), roll_std_deg=math.degrees(s_roll),
            observations=int(fit.inliers.size), people=fit.people, frames=self._frames_used,
            inlier_fraction=float(np.mean(fit.inliers)), converged=self._converged,
            resets=self._resets, reset_reason=self._reason,
            depth_std=self._depth_std if math.isfinite(self._depth_std) else math.nan,
            covariance=tuple(float(v) for v in np.asarray(fit.cov).ravel()))

    # ----------------------------------------------------------------- misfit
    def _check_misfit(self) -> None:
        c = self.config
        e = self._estimate
        if not e.converged or self._recent.size == 0:
            return
        recent = np.flatnonzero(self._recent.frame[:self._recent.size]
                                > self._frame - c.misfit_frames)
        foot, hip, head, noise, tracklet = self._recent.view(recent)
        if np.unique(tracklet).size < c.misfit_min_people:
            return  # too few people to judge; neither a misfit nor a fit
        rs, rl, valid, dev = residuals_at(foot, hip, head, noise, self._prior,
                                     math.radians(e.pitch_deg), math.radians(e.roll_deg),
                                     e.camera_height_m)
        outlier = ~valid | (np.abs(rs) >= INLIER_LIMIT) | (np.abs(rl) >= INLIER_LIMIT)
        fraction = float(np.mean(outlier))
        bias = float(np.median(dev[valid])) if valid.any() else math.inf
        misfit = fraction > c.misfit_outlier_fraction or abs(bias) > c.misfit_stature_bias
        if not misfit:
            self._misfits, self._misfit_since = 0, -1
            return
        if self._misfits == 0:
            self._misfit_since = self._frame - c.misfit_frames
        self._misfits += 1
        if self._misfits >= c.misfit_patience:
            stature = c.stature_mean_m * math.exp(bias) if math.isfinite(bias) else math.nan
            self._start_over(
                f"persistent misfit at frame {self._frame}: {100 * fraction:.0f} % of "
                f"{recent.size} recent observations ({np.unique(tracklet).size} people) are "
                f"outliers, their median stature would be {stature:.2f} m (camera moved, "
                "floor not flat, or people not on it)")

    def _start_over(self, reason: str) -> None:
        since = self._misfit_since
        keep = np.flatnonzero(self._recent.frame[:self._recent.size] >= since)
        order = keep[np.argsort(self._recent.frame[keep], kind="stable")]
        rows = [(self._recent.xy[i].copy(), float(self._recent.noise[i]),
                 int(self._recent.tracklet[i]), int(self._recent.frame[i]),
                 int(self._recent.group[i])) for i in order]
        self._resets += 1
        self._reason = reason
        self._initial = None
        self._clear()
        frames = set()
        for xy, noise, tracklet, frame, group in rows:
            self._add(xy, noise, tracklet, frame, group)
            frames.add(frame)
        self._frames_used = len(frames)
        self._estimate = self._make_estimate()
