"""People keep their identity: a ROS-free multi-person 3D tracker.

:class:`PersonTracker` assigns persistent ``track_id`` strings to the people of successive
frames (camera optical frame, metres, stamps in seconds).

Per frame (:meth:`PersonTracker.update`):

1. A stamp earlier than the previous one (a bag played in a loop) resets every track; the
   id counter is kept, so ids are never reused within a run.
2. Prediction: constant velocity of the person. Each track keeps its last pose (J, 3) and a
   person velocity (3,): the mean displacement of the joints seen in both of two
   consecutive observations divided by their time gap, exponentially averaged with a 0.5 s
   time constant starting from 0 (frame-to-frame differences of noisy detections are far
   too noisy to use raw: 10 cm of jitter at 30 fps is 4 m/s); the whole pose is moved by
   ``velocity * dt``.
3. Association: Hungarian assignment on the mean 3D distance over the joints present in
   both the prediction and the detection, gated per track by
   ``gate_m + gate_growth_m_per_s * (stamp - last_seen)``. Confirmed tracks are matched
   first, tentative ones then get the remaining detections.
4. Life cycle: a detection nobody claims starts a tentative track; a tentative track is
   confirmed ("born") after ``min_hits`` consecutive matched frames and only then receives
   an id ("1", "2", ...); a tentative track that misses one frame is dropped; a confirmed
   track is dropped at its ``max_misses``-th consecutive miss (so it bridges gaps of up to
   ``max_misses - 1`` frames).
5. Output: the input people, same order, with ``track_id`` set for people matched to a
   confirmed track and "" for the others (tentative tracks: they are still output, so a
   consumer that wants only identities filters on a non-empty id). Coasting tracks (not
   detected this frame) are not output. With ``smoothing`` the joints of every matched
   person are replaced by a per-coordinate One Euro filter's output (Casiez et al. 2012);
   association always uses the raw detections.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import cdist

from loco_ros.errors import ConfigError, InputError
from loco_ros.matching import gated_assignment
from loco_ros.skeleton import NUM_JOINTS
from loco_ros.types import People

_VELOCITY_TIME_CONSTANT_S = 0.5  # exponential averaging of the velocity estimates (s)


@dataclass(frozen=True)
class TrackingConfig:
    """Tracker settings (frozen; build from YAML with ``config.from_dict``).

    enabled: off -> every person gets track_id "".
    gate_m: base association gate on the mean joint distance (m).
    gate_growth_m_per_s: the gate grows by this much per second since the track was last
    seen (covers motion unexplained by the constant-velocity model).
    min_hits: consecutive matched frames before a track is confirmed and gets an id.
    max_misses: a confirmed track is deleted at this many consecutive misses.
    smoothing: One Euro filter on the output joint coordinates (off by default).
    min_cutoff: One Euro minimum cut-off frequency (Hz).
    beta: One Euro speed coefficient (s/m: cut-off grows by ``beta * |speed m/s|`` Hz).
    d_cutoff: One Euro cut-off frequency of the speed estimate (Hz).
    """

    enabled: bool = True
    gate_m: float = 1.0
    gate_growth_m_per_s: float = 2.0
    min_hits: int = 3
    max_misses: int = 15
    smoothing: bool = False
    min_cutoff: float = 1.0
    beta: float = 1.0
    d_cutoff: float = 1.0

    def __post_init__(self) -> None:
        checks = (
            (self.gate_m > 0.0 and math.isfinite(self.gate_m), "tracking.gate_m must be > 0"),
            (
                self.gate_growth_m_per_s >= 0.0 and math.isfinite(self.gate_growth_m_per_s),
                "tracking.gate_growth_m_per_s must be >= 0",
            ),
            (1 <= self.min_hits <= 1000, "tracking.min_hits must be in [1, 1000]"),
            (1 <= self.max_misses <= 100000, "tracking.max_misses must be in [1, 100000]"),
            (self.min_cutoff > 0.0 and math.isfinite(self.min_cutoff),
             "tracking.min_cutoff must be > 0 (Hz)"),
            (self.beta >= 0.0 and math.isfinite(self.beta), "tracking.beta must be >= 0"),
            (self.d_cutoff > 0.0 and math.isfinite(self.d_cutoff),
             "tracking.d_cutoff must be > 0 (Hz)"),
        )
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)


def _smoothing_factor(te_s: np.ndarray, cutoff_hz: np.ndarray | float) -> np.ndarray:
    """One Euro alpha = 1 / (1 + tau / Te), tau = 1 / (2 pi fc)."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff_hz, np.float64))
    return 1.0 / (1.0 + tau / te_s)


def _one_euro_update(
    x_hat: np.ndarray,
    dx_hat: np.ndarray,
    t_prev: np.ndarray,
    x: np.ndarray,
    t_s: float,
    params: tuple[float, float, float],
) -> None:
    """One One-Euro step, in place on same-shaped float64 state arrays.

    x_hat (NaN = uninitialised), dx_hat, t_prev: filter state; x: new sample (NaN = absent);
    params: (min_cutoff Hz, beta, d_cutoff Hz).
    """
    min_cutoff, beta, d_cutoff = params
    finite = np.isfinite(x)
    new = finite & np.isnan(x_hat)
    x_hat[new], dx_hat[new], t_prev[new] = x[new], 0.0, t_s
    upd = finite & ~new & (t_s > t_prev)
    if not upd.any():
        return
    te = t_s - t_prev[upd]
    dx = (x[upd] - x_hat[upd]) / te
    a_d = _smoothing_factor(te, d_cutoff)
    dx_new = a_d * dx + (1.0 - a_d) * dx_hat[upd]
    a = _smoothing_factor(te, min_cutoff + beta * np.abs(dx_new))
    x_hat[upd] = a * x[upd] + (1.0 - a) * x_hat[upd]
    dx_hat[upd] = dx_new
    t_prev[upd] = t_s


class OneEuroFilter:
    """The One Euro filter (Casiez, Roussel, Vogel, CHI 2012), elementwise on an array.

    Each element is an independent 1D signal with its own time of last update:
    ``dx = (x - x_hat_prev) / Te``; ``dx_hat = lowpass(dx, d_cutoff)``;
    ``fc = min_cutoff + beta * |dx_hat|``; ``x_hat = lowpass(x, fc)`` with
    ``lowpass(v, fc) = a v + (1 - a) prev``, ``a = 1 / (1 + 1 / (2 pi fc Te))``.
    NaN inputs leave the element's state unchanged and output NaN; the first finite sample
    of an element passes through unchanged; a sample not newer than the element's last one
    returns the previous estimate. Units: min_cutoff, d_cutoff Hz; beta in Hz per
    (signal unit / s), i.e. s/m for positions in metres.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0):
        self.params = (float(min_cutoff), float(beta), float(d_cutoff))
        self._state: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def reset(self) -> None:
        """Forget the state: the next sample passes through."""
        self._state = None

    def __call__(self, x: np.ndarray, t_s: float) -> np.ndarray:
        """Filter one sample. x: any shape (fixed across calls); t_s: seconds.

        Returns the filtered array (float64, same shape; NaN where x is NaN).
        """
        x = np.asarray(x, np.float64)
        if self._state is None or self._state[0].shape != x.shape:
            self._state = (np.full(x.shape, np.nan), np.zeros(x.shape), np.zeros(x.shape))
        _one_euro_update(*self._state, x, t_s, self.params)
        return np.where(np.isfinite(x), self._state[0], np.nan)


def mean_joint_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean 3D distance over the joints finite in both.

    a: (T, J, 3), b: (P, J, 3) metres -> (T, P) float64 metres, inf where no joint is shared.
    """
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    fa = np.all(np.isfinite(a), axis=2)  # (T, J)
    fb = np.all(np.isfinite(b), axis=2)  # (P, J)
    a0 = np.where(fa[..., None], a, 0.0)
    b0 = np.where(fb[..., None], b, 0.0)
    total = np.zeros((a.shape[0], b.shape[0]))
    for k in range(a.shape[1]):
        total += cdist(a0[:, k], b0[:, k]) * np.outer(fa[:, k], fb[:, k])
    count = fa.astype(np.float64) @ fb.T.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1.0), np.inf)


def gated_hungarian(cost: np.ndarray, gate: np.ndarray) -> np.ndarray:
    """Min-cost one-to-one assignment of rows to columns with per-row gates.

    cost: (T, P) metres; gate: (T,) metres (a pair is allowed when cost <= gate).
    Returns (N, 2) int64 (row, column) pairs, allowed pairs only.
    """
    return gated_assignment(cost, np.isfinite(cost) & (cost <= gate[:, None]))


class _Tracks:
    """Struct of arrays holding T tracks (internal)."""

    def __init__(self) -> None:
        self.xyz = np.zeros((0, NUM_JOINTS, 3))  # last pose estimate (m), NaN: never seen
        self.velocity = np.zeros((0, 3))  # person velocity (m/s)
        self.last_seen_s = np.zeros(0)
        self.hits = np.zeros(0, np.int64)  # consecutive matched frames
        self.misses = np.zeros(0, np.int64)  # consecutive missed frames
        self.track_id: list[str] = []  # "" while tentative
        # One Euro state per joint coordinate (x_hat, dx_hat, t_prev), (T, J, 3) each.
        self.filt_x = np.zeros((0, NUM_JOINTS, 3))
        self.filt_dx = np.zeros((0, NUM_JOINTS, 3))
        self.filt_t = np.zeros((0, NUM_JOINTS, 3))

    def __len__(self) -> int:
        return len(self.track_id)

    def predict(self, stamp_s: float) -> np.ndarray:
        """(T, J, 3) constant-velocity poses at ``stamp_s``."""
        age = np.maximum(stamp_s - self.last_seen_s, 0.0)
        return self.xyz + self.velocity[:, None, :] * age[:, None, None]

    def select(self, keep: np.ndarray) -> None:
        """Keep the tracks at the (T,) bool mask or index array ``keep``, in order."""
        for name in ("xyz", "velocity", "last_seen_s", "hits", "misses",
                     "filt_x", "filt_dx", "filt_t"):
            setattr(self, name, getattr(self, name)[keep])
        self.track_id = [self.track_id[i] for i in np.arange(len(self))[keep]]

    def append(self, xyz: np.ndarray, stamp_s: float) -> None:
        """Start N tentative tracks at poses xyz (N, J, 3)."""
        n = xyz.shape[0]
        self.xyz = np.concatenate([self.xyz, xyz])
        self.velocity = np.concatenate([self.velocity, np.zeros((n, 3))])
        self.last_seen_s = np.concatenate([self.last_seen_s, np.full(n, stamp_s)])
        self.hits = np.concatenate([self.hits, np.ones(n, np.int64)])
        self.misses = np.concatenate([self.misses, np.zeros(n, np.int64)])
        self.track_id += [""] * n
        self.filt_x = np.concatenate([self.filt_x, np.full(xyz.shape, np.nan)])
        self.filt_dx = np.concatenate([self.filt_dx, np.zeros(xyz.shape)])
        self.filt_t = np.concatenate([self.filt_t, np.zeros(xyz.shape)])


class PersonTracker:
    """Frame-to-frame 3D person tracker; see the module docstring for the algorithm."""

    def __init__(self, config: TrackingConfig | None = None):
        self.config = TrackingConfig() if config is None else config
        self._tracks = _Tracks()
        self._next_id = 1
        self._last_stamp_s: float | None = None

    @property
    def num_tracks(self) -> int:
        """Live tracks, tentative ones included."""
        return len(self._tracks)

    @property
    def num_confirmed(self) -> int:
        """Live confirmed tracks (with an id)."""
        return sum(1 for t in self._tracks.track_id if t)

    def reset(self) -> None:
        """Drop every track (ids already handed out are still never reused)."""
        self._tracks = _Tracks()
        self._last_stamp_s = None

    def update(self, people: People, stamp_s: float) -> People:
        """Track one frame.

        people: P detected people, xyz_m (P, J, 3) metres (NaN holes allowed).
        stamp_s: frame time (s); a stamp earlier than the previous one resets the tracker.
        Returns the same people (same order, joints One-Euro-smoothed when enabled) with
        ``track_id`` filled: the id of a confirmed track, "" for tentative ones.
        Raises :class:`InputError` on a non-finite stamp or malformed people.
        """
        n_people = len(people)
        if not self.config.enabled:
            return dataclasses.replace(people, track_id=("",) * n_people)
        if not math.isfinite(stamp_s):
            raise InputError(f"tracking: stamp must be finite, got {stamp_s}")
        if people.xyz_m.shape != (n_people, NUM_JOINTS, 3):
            raise InputError(f"tracking: xyz_m must be (P, {NUM_JOINTS}, 3)")
        if self._last_stamp_s is not None and stamp_s < self._last_stamp_s:
            self.reset()
        self._last_stamp_s = stamp_s

        det = people.xyz_m.astype(np.float64)
        tracks = self._tracks
        predicted = tracks.predict(stamp_s)
        det_of_track = self._associate(predicted, det, stamp_s)
        matched = np.flatnonzero(det_of_track >= 0)
        self._correct(matched, det[det_of_track[matched]], predicted[matched], stamp_s)

        missed = det_of_track < 0
        tracks.misses[missed] += 1
        tracks.hits[missed] = 0
        confirmed = np.array([bool(t) for t in tracks.track_id], bool)
        keep = ~missed | (confirmed & (tracks.misses < self.config.max_misses))
        claimed = np.zeros(n_people, bool)
        claimed[det_of_track[matched]] = True
        births = np.flatnonzero(~claimed & np.isfinite(det).all(axis=2).any(axis=1))
        owner = np.concatenate([det_of_track[keep], births])  # detection of each new row
        tracks.select(keep)
        tracks.append(det[births], stamp_s)
        if self.config.min_hits <= 1:
            self._confirm(np.arange(len(tracks) - births.size, len(tracks)))

        ids = [""] * n_people
        for row, d in enumerate(owner):
            if d >= 0:
                ids[d] = tracks.track_id[row]
        xyz_out = people.xyz_m
        if self.config.smoothing:
            xyz_out = self._smooth(owner, det, stamp_s).astype(np.float32)
        return dataclasses.replace(people, xyz_m=xyz_out, track_id=tuple(ids))

    # ------------------------------------------------------------------ internals

    def _associate(self, predicted: np.ndarray, det: np.ndarray, stamp_s: float) -> np.ndarray:
        """(T,) detection index of each track, -1 when unmatched."""
        tracks = self._tracks
        det_of_track = np.full(len(tracks), -1, np.int64)
        if len(tracks) == 0 or det.shape[0] == 0:
            return det_of_track
        age = np.maximum(stamp_s - tracks.last_seen_s, 0.0)
        gate = self.config.gate_m + self.config.gate_growth_m_per_s * age
        cost = mean_joint_distance(predicted, det)
        confirmed = np.array([bool(t) for t in tracks.track_id], bool)
        free = np.ones(det.shape[0], bool)
        for stage in (confirmed, ~confirmed):
            rows = np.flatnonzero(stage)
            cols = np.flatnonzero(free)
            pairs = gated_hungarian(cost[np.ix_(rows, cols)], gate[rows])
            det_of_track[rows[pairs[:, 0]]] = cols[pairs[:, 1]]
            free[cols[pairs[:, 1]]] = False
        return det_of_track

    def _correct(
        self, rows: np.ndarray, det: np.ndarray, predicted: np.ndarray, stamp_s: float
    ) -> None:
        """Fold matched detections det (M, J, 3) into the tracks at ``rows`` (M,)."""
        if rows.size == 0:
            return
        t = self._tracks
        dt = stamp_s - t.last_seen_s[rows]
        seen = np.all(np.isfinite(det), axis=2)  # (M, J)
        common = seen & np.all(np.isfinite(t.xyz[rows]), axis=2)
        n_common = common.sum(axis=1)
        shift = np.where(common[..., None], det - t.xyz[rows], 0.0).sum(axis=1)
        ok = (dt > 0.0) & (n_common > 0)
        v_new = shift[ok] / (n_common[ok] * dt[ok])[:, None]
        w = 1.0 - np.exp(-dt[ok] / _VELOCITY_TIME_CONSTANT_S)[:, None]
        t.velocity[rows[ok]] = w * v_new + (1.0 - w) * t.velocity[rows[ok]]
        t.xyz[rows] = np.where(seen[..., None], det, predicted)
        t.last_seen_s[rows] = stamp_s
        t.hits[rows] += 1
        t.misses[rows] = 0
        born = rows[t.hits[rows] >= self.config.min_hits]
        self._confirm(born)

    def _confirm(self, rows: np.ndarray) -> None:
        """Give an id to the tentative tracks among ``rows`` (in row order)."""
        for row in np.sort(rows):
            if not self._tracks.track_id[row]:
                self._tracks.track_id[row] = str(self._next_id)
                self._next_id += 1

    def _smooth(self, owner: np.ndarray, det: np.ndarray, stamp_s: float) -> np.ndarray:
        """One Euro step for every track that got a detection; (P, J, 3) smoothed poses."""
        t = self._tracks
        rows = np.flatnonzero(owner >= 0)
        x = det[owner[rows]]
        fx, fdx, ft = t.filt_x[rows], t.filt_dx[rows], t.filt_t[rows]
        c = self.config
        _one_euro_update(fx, fdx, ft, x, stamp_s, (c.min_cutoff, c.beta, c.d_cutoff))
        t.filt_x[rows], t.filt_dx[rows], t.filt_t[rows] = fx, fdx, ft
        out = det.copy()
        out[owner[rows]] = np.where(np.isfinite(x), fx, np.nan)
        return out
