"""Standing people as calibration observations: a foot, a hip and a head ray per person.

A person counts as *standing* (upright, feet on the floor) when its head top, both hips and
both ankles were detected (heatmap peaks, not refiner guesses), it is at least
``min_person_px`` tall in the image (measured from its neck and knees, see
:func:`_size_px`: so they must be detected too), and its shape is upright:

- in the image, the legs (hip centre -> ankle centre) continue the torso (hip centre ->
  head top) within ``max_bend_deg``, and legs / torso lengths are in [0.55, 1.7] (sitting
  people have short legs in the image, bending people a short torso);
- where the pipeline's 3D joints are finite (camera frame; their scale does not matter),
  the same two tests in 3D, and the straighter knee is bent less than ``max_knee_deg``.

These tests only thin the outliers; the robust fit (:mod:`loco_ros.calibration.model`)
deals with the ones that pass. Rays are normalised image coordinates ``K^-1 [u, v, 1]``
(only x, y kept), so observations of frames with different intrinsics mix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loco_ros.skeleton import JOINT_INDEX
from loco_ros.types import People

HEAD, NECK = JOINT_INDEX["head_top"], JOINT_INDEX["neck"]
HIPS = (JOINT_INDEX["right_hip"], JOINT_INDEX["left_hip"])
KNEES = (JOINT_INDEX["right_knee"], JOINT_INDEX["left_knee"])
ANKLES = (JOINT_INDEX["right_ankle"], JOINT_INDEX["left_ankle"])
REQUIRED = (HEAD, *HIPS, *ANKLES)


@dataclass(frozen=True)
class Observations:
    """N standing people of one frame (or a buffer of them).

    foot, hip, head: (N, 2) float64 normalised image coordinates of the ankle centre, the
    hip centre and the head top; noise: (N,) the pixel noise in normalised units
    (pixel_sigma_px / focal); person: (N,) index into the frame's People; foot_px, head_px:
    (N, 2) and length_px: (N,) pixels, for linking people across frames.
    """

    foot: np.ndarray
    hip: np.ndarray
    head: np.ndarray
    noise: np.ndarray
    person: np.ndarray
    foot_px: np.ndarray
    length_px: np.ndarray
    head_px: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.foot.shape[0])


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sum over the last axis of a * b (2 or 3 components, written out: cheaper than
    np.sum on small arrays)."""
    out = a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1]
    return out + a[..., 2] * b[..., 2] if a.shape[-1] == 3 else out


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of the angle between vectors a and b along the last axis (NaN if degenerate;
    call under np.errstate(invalid, divide ignored))."""
    return _dot(a, b) / np.sqrt(_dot(a, a) * _dot(b, b))


def _upright(head, hip, foot, max_bend_deg: float) -> np.ndarray:
    """Torso and legs in one line and of plausible relative length (2D or 3D points; call
    under np.errstate(invalid, divide ignored))."""
    torso = head - hip
    legs = foot - hip
    t2, l2 = _dot(torso, torso), _dot(legs, legs)
    cos = _dot(torso, legs) / np.sqrt(t2 * l2)
    ratio2 = l2 / t2
    straight = cos <= -np.cos(np.radians(max_bend_deg))
    return straight & (ratio2 >= 0.55 ** 2) & (ratio2 <= 1.7 ** 2)


# the joints read per person: head top, hips, ankles, then neck and knees for the size (2D);
# hips, knees, ankles and head top (3D)
_SEL2 = np.array([HEAD, *HIPS, *ANKLES, NECK, *KNEES])
# neck -> knee centre over head top -> ankle centre in the image, standing or walking
# (synthetic walkers: 0.63 median, 0.60-0.67 for 90 %; adults' body proportions ~0.58)
NECK_KNEE_FRACTION = 0.6
_SEL3 = np.array([*HIPS, *KNEES, *ANKLES, HEAD])


def gather_joints(people: People) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The joints :func:`measure_people` reads, copied out of ``people``: pixels (P, 8, 2)
    and detected (P, 8) of head top, hips, ankles, neck and knees, 3D (P, 7, 3) of hips,
    knees, ankles and head top (float64)."""
    uv = np.asarray(people.uv_px)[:, _SEL2].astype(np.float64)
    det = np.asarray(people.detected, bool)[:, _SEL2]
    xyz = np.asarray(people.xyz_m)[:, _SEL3].astype(np.float64)
    return uv, det, xyz


@dataclass(frozen=True)
class MeasuredRows:
    """:func:`measure_people` of rows of people (possibly of several frames): the
    candidates (head top and an ankle detected, image length >= half the minimum), of which
    ``standing`` passed the standing tests; per candidate its row, rays, noise and pixels
    (the fields of :class:`Observations`)."""

    rows: np.ndarray
    standing: np.ndarray
    foot: np.ndarray
    hip: np.ndarray
    head: np.ndarray
    noise: np.ndarray
    foot_px: np.ndarray
    length_px: np.ndarray
    head_px: np.ndarray


def _centre(uvz: np.ndarray, w: np.ndarray, a: int, b: int) -> np.ndarray:
    """(N, 2) mean of the detected ones of columns a and b of :func:`gather_joints` rows
    (undetected joints zeroed in ``uvz``, ``w`` the detected weights); NaN if neither."""
    count = w[:, a] + w[:, b]
    centre = (uvz[:, a] + uvz[:, b]) / np.maximum(count, 1.0)[:, None]
    centre[count == 0] = np.nan
    return centre


def _length(d: np.ndarray) -> np.ndarray:
    """(N,) lengths of (N, 2) vectors."""
    return np.sqrt(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1])


def _size_px(uvz: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(N,) a person's image length from its neck and knees (rows of :func:`gather_joints`
    with undetected joints zeroed, ``w`` their detected weights); NaN without a neck or a
    knee. The size gate must not read the head top and ankles: gating on their own noisy
    distance keeps the small people whose noise made them longer, so the far people, near
    the horizon, look tall and the fitted pitch tilts down (+1.5-2.4 deg at 1200 frames on
    tuning streams with 2 px noise, none without noise)."""
    size = _length(uvz[:, 5] - _centre(uvz, w, 6, 7)) / NECK_KNEE_FRACTION
    return np.where(w[:, 5] > 0, size, np.nan)


def measure_people(uv: np.ndarray, det: np.ndarray, xyz: np.ndarray, K: np.ndarray,
                   pixel_sigma_px: float = 2.0, min_person_px: float = 24.0,
                   max_bend_deg: float = 30.0, max_knee_deg: float = 40.0) -> MeasuredRows:
    """The standing tests and rays of :func:`standing_observations` for N rows of
    :func:`gather_joints` output at once (rows may come from different frames: ``K`` is
    (3, 3) or (N, 3, 3), one per row). Each row is tested on its own, so a batch of frames
    gives exactly what the frames give one by one."""
    with np.errstate(invalid="ignore", divide="ignore"):
        det = det & np.isfinite(uv).all(axis=2)
        rows = np.flatnonzero(det[:, 0] & (det[:, 3] | det[:, 4]))  # head top and an ankle
        uv, det, xyz = uv[rows], det[rows], xyz[rows]
        n = rows.size
        uvz = np.where(det[..., None], uv, 0.0)
        w = det.astype(np.float64)
        head_px = uv[:, 0]
        hip_px = _centre(uvz, w, 1, 2)
        foot_px = _centre(uvz, w, 3, 4)  # every row has an ankle
        length = _length(head_px - foot_px)
        keep = length >= 0.5 * min_person_px
        ok = (det[:, :5].all(axis=1) & (_size_px(uvz, w) >= min_person_px)
              & (head_px[:, 1] < foot_px[:, 1] + 0.5 * length))  # head not below the feet
        # the shape tests in 2D (z = 0) and, where the 3D joints are finite, in 3D: one pass
        has3d = np.isfinite(xyz).all(axis=(1, 2))
        pts = np.zeros((2, n, 3, 3))  # (2D / 3D, person, head / hip / foot, xyz)
        pts[0, :, 0, :2], pts[0, :, 1, :2], pts[0, :, 2, :2] = head_px, hip_px, foot_px
        pts[1, :, 0] = xyz[:, 6]
        pts[1, :, 1] = 0.5 * (xyz[:, 0] + xyz[:, 1])
        pts[1, :, 2] = 0.5 * (xyz[:, 4] + xyz[:, 5])
        up = _upright(pts[:, :, 0], pts[:, :, 1], pts[:, :, 2], max_bend_deg)  # (2, n)
        # the straighter knee bent less than max_knee_deg: cos(thigh, shin) >= cos(max)
        knee = _cos(xyz[:, 0:2] - xyz[:, 2:4], xyz[:, 4:6] - xyz[:, 2:4])  # -1 = straight
        straight = np.fmin(knee[:, 0], knee[:, 1]) <= -np.cos(np.radians(max_knee_deg))
        ok &= up[0] & (~has3d | (up[1] & straight))
        if not keep.all():
            rows, ok = rows[keep], ok[keep]
            head_px, hip_px, foot_px, length = (head_px[keep], hip_px[keep], foot_px[keep],
                                                length[keep])
            n = rows.size
        K = np.asarray(K, np.float64)
        if K.ndim == 3:
            K = K[rows]
            fx, fy, cx, cy, skew = (np.tile(K[:, i, j], 3) for i, j in
                                    ((0, 0), (1, 1), (0, 2), (1, 2), (0, 1)))
            focal = 0.5 * (fx[:n] + fy[:n])
        else:
            fx, fy, cx, cy, skew = K[0, 0], K[1, 1], K[0, 2], K[1, 2], K[0, 1]
            focal = np.full(n, 0.5 * (fx + fy))
        px = np.concatenate([foot_px, np.where(np.isfinite(hip_px), hip_px, foot_px),
                             head_px])
        y = (px[:, 1] - cy) / fy
        rays = np.stack([(px[:, 0] - cx - skew * y) / fx, y], axis=1)  # normalised (3n, 2)
    return MeasuredRows(rows=rows, standing=ok, foot=rays[:n], hip=rays[n:2 * n],
                        head=rays[2 * n:], noise=pixel_sigma_px / focal, foot_px=foot_px,
                        length_px=length, head_px=head_px)


def standing_observations(people: People, K: np.ndarray, pixel_sigma_px: float = 2.0,
                          min_person_px: float = 24.0, max_bend_deg: float = 30.0,
                          max_knee_deg: float = 40.0) -> tuple[Observations, np.ndarray]:
    """(candidates, standing): every person with a detected head top and ankle as
    :class:`Observations` (for linking across frames), and the (N,) mask of those that are
    standing (see module docstring). Vectorised over people; reads only the joints it
    needs (:func:`gather_joints`, :func:`measure_people`)."""
    if len(people) == 0:
        return _empty(), np.zeros(0, bool)
    m = measure_people(*gather_joints(people), K, pixel_sigma_px, min_person_px,
                       max_bend_deg, max_knee_deg)
    if m.rows.size == 0:
        return _empty(), np.zeros(0, bool)
    return Observations(foot=m.foot, hip=m.hip, head=m.head, noise=m.noise, person=m.rows,
                        foot_px=m.foot_px, length_px=m.length_px,
                        head_px=m.head_px), m.standing


def _empty() -> Observations:
    z2 = np.zeros((0, 2))
    return Observations(z2, z2, z2, np.zeros(0), np.zeros(0, np.int64), z2, np.zeros(0), z2)


class TrackletLinker:
    """Links the people of successive frames into tracklets (int ids) and groups them.

    Every person with a head top and an ankle is linked (not only the standing ones, so that
    a tracklet survives a frame where its person fails the standing test). The observations
    of one tracklet share its stature and its lean in the fit, so a tracklet that *merges*
    two people of different statures at different distances biases the fit (measured: pitch
    +2 deg at 20 people with a nearest-foot linker), while a person *split* into two
    tracklets only loses a little information. So the linker prefers splitting:

    - with track ids (``People.track_id``, non-empty) those are used;
    - otherwise the foot and the head top of a tracklet are predicted at a smoothed constant
      velocity; a person continues the tracklet whose prediction is nearest (rms of foot and
      head distance) when that is within ``gate`` of its image length per frame of gap plus
      ``pixel_gate_px`` (x sqrt(gap)), its image length changed by -30 % .. +40 %, it was
      seen at most ``max_gap`` frames ago, and neither another tracklet nor another person
      is within ``ambiguity`` times that distance. An ambiguous person starts a new
      tracklet and its rivals end.

    *Groups* (:attr:`last_groups`, one per person of the last call) are the opposite,
    conservative grouping: a new tracklet joins the group of the nearest tracklet within
    ``group_gate`` gates (a split person, or two people walking together). The fit counts
    distinct people and clusters its uncertainty by group, so splits do not make it
    over-confident. Memory: the active tracklets and recently seen track ids.
    """

    def __init__(self, gate: float = 0.12, max_gap: int = 4, forget_frames: int = 300,
                 pixel_gate_px: float = 8.0, ambiguity: float = 2.0,
                 velocity_smoothing: float = 0.3, group_gate: float = 3.0):
        self.gate = float(gate)
        self.max_gap = int(max_gap)
        self.forget_frames = int(forget_frames)
        self.pixel_gate_px = float(pixel_gate_px)
        self.ambiguity = float(ambiguity)
        self.velocity_smoothing = float(velocity_smoothing)
        self.group_gate = float(group_gate)
        self._next = 0
        self._next_group = 0
        self.reset()

    def _new(self, count: int) -> np.ndarray:
        ids = np.arange(self._next, self._next + count, dtype=np.int64)
        self._next += count
        return ids

    def _new_group(self) -> int:
        self._next_group += 1
        return self._next_group - 1

    def link(self, obs: Observations, track_ids: tuple[str, ...], frame: int) -> np.ndarray:
        """(N,) tracklet ids of ``obs`` (people of ``frame``); their groups in
        :attr:`last_groups`."""
        n = len(obs)
        ids = np.full(n, -1, np.int64)
        groups = np.full(n, -1, np.int64)
        if n and track_ids:
            by_track, count = self._by_track, len(track_ids)
            for i, p in enumerate(obs.person.tolist()):
                tid = track_ids[p] if p < count else ""
                if tid:
                    known = by_track.get(tid)
                    if known is None:
                        t = self._next
                        self._next += 1
                    else:
                        t = known[0]
                    ids[i] = groups[i] = t
                    by_track[tid] = (t, frame)
            if len(self._by_track) > 4096 or frame % 100 == 0:
                self._by_track = {k: v for k, v in self._by_track.items()
                                  if frame - v[1] <= self.forget_frames}
        if self._seen.size and frame - int(self._seen.min()) > self.max_gap:
            live = frame - self._seen <= self.max_gap
            self._state, self._ids, self._seen, self._group = (
                self._state[live], self._ids[live], self._seen[live], self._group[live])
        head_px = obs.head_px if obs.head_px is not None else obs.foot_px
        pts = np.concatenate([obs.foot_px, head_px], axis=1)  # (N, 4)
        free = np.flatnonzero(ids < 0)
        matched = np.full(n, -1, np.int64)  # row of the continued tracklet
        if free.size and self._ids.size:
            gap = np.maximum(frame - self._seen, 1).astype(np.float64)  # (M,)
            pos, vel, length = self._state[:, :4], self._state[:, 4:8], self._state[:, 8]
            pred = pos + vel * gap[:, None]
            diff = (pts[free, None, :] - pred[None]).reshape(free.size, -1, 2, 2)
            d = np.sqrt(np.mean(np.sum(diff ** 2, axis=-1), axis=-1))  # (F, M)
            d = d / (self.gate * length * gap + self.pixel_gate_px * np.sqrt(gap))[None]
            ratio = obs.length_px[free, None] / np.maximum(length[None], 1.0)
            d_group = d.copy()
            d[(ratio < 0.7) | (ratio > 1.4)] = np.inf
            second_col = (np.partition(d, 1, axis=1)[:, 1] if d.shape[1] > 1
                          else np.full(d.shape[0], np.inf))  # runner-up tracklet per person
            second_row = (np.partition(d, 1, axis=0)[1] if d.shape[0] > 1
                          else np.full(d.shape[1], np.inf))  # runner-up person per tracklet
            best_col = np.argmin(d, axis=1)
            # a person not continuing a tracklet joins the group of the nearest one in reach
            # (the continued ones take their tracklet's group below)
            near = np.argmin(d_group, axis=1)
            reach = d_group[np.arange(free.size), near] <= self.group_gate
            groups[free[reach]] = self._group[near[reach]]
            # in order of the people: the sequential part, on Python floats
            taken = [False] * d.shape[1]
            ambiguous, limits = [], []
            amb = self.ambiguity
            for i, j, dij, second_i in zip(range(free.size), best_col.tolist(),
                                           d[np.arange(free.size), best_col].tolist(),
                                           second_col.tolist(), strict=True):
                if dij <= 1.0:
                    if second_i > amb * dij and second_row[j] > amb * dij and not taken[j]:
                        matched[free[i]] = j
                        taken[j] = True
                        continue
                    ambiguous.append(i)
                    limits.append(max(1.0, amb * dij))
            retire = (d[ambiguous] <= np.array(limits)[:, None]).any(axis=0) if ambiguous \
                else np.zeros(d.shape[1], bool)  # ambiguous people: their rivals end
            taken = np.array(taken, bool)
            src = np.flatnonzero(matched >= 0)
            rows = matched[src]
            ids[src], groups[src] = self._ids[rows], self._group[rows]
            # update the continued tracklets: position, smoothed velocity, length
            if rows.size:
                v = (pts[src] - self._state[rows, :4]) / gap[rows, None]
                w = np.where(self._state[rows, 9] > 0, self.velocity_smoothing, 0.5)[:, None]
                self._state[rows, 4:8] = (1.0 - w) * self._state[rows, 4:8] + w * v
                self._state[rows, 9] = 1.0
                self._state[rows, :4], self._state[rows, 8] = pts[src], obs.length_px[src]
                self._seen[rows] = frame
            keep = ~retire | taken
            self._state, self._ids, self._seen, self._group = (
                self._state[keep], self._ids[keep], self._seen[keep], self._group[keep])
        missing = ids < 0
        if missing.any():
            ids[missing] = self._new(int(missing.sum()))
        nogroup = np.flatnonzero(groups < 0)
        if nogroup.size:
            if track_ids:
                groups[nogroup] = ids[nogroup]
            else:
                groups[nogroup] = np.arange(self._next_group, self._next_group + nogroup.size)
                self._next_group += nogroup.size
        # rows of the people's tracklets among the active ones (new ids are never there)
        known = np.zeros(n, bool)
        rows = np.zeros(n, np.int64)
        if n and self._ids.size:
            order = np.argsort(self._ids, kind="stable")
            pos = np.minimum(np.searchsorted(self._ids[order], ids), self._ids.size - 1)
            rows = order[pos]
            known = self._ids[rows] == ids
        if track_ids:  # track-id people: refresh their rows
            refresh = np.flatnonzero(known & (matched < 0))
            if refresh.size:
                k = rows[refresh]
                self._state[k, :4], self._state[k, 8] = pts[refresh], obs.length_px[refresh]
                self._seen[k] = frame
        new = np.flatnonzero(~known)
        if new.size:
            row = np.zeros((new.size, 10))
            row[:, :4], row[:, 8] = pts[new], obs.length_px[new]
            self._state = np.concatenate([self._state, row])
            self._ids = np.concatenate([self._ids, ids[new]])
            self._seen = np.concatenate([self._seen, np.full(new.size, frame, np.int64)])
            self._group = np.concatenate([self._group, groups[new]])
        self.last_groups = groups
        return ids

    def reset(self) -> None:
        # per tracklet: foot xy, head xy, their velocity (px/frame), length px, has velocity
        self._state = np.zeros((0, 10))
        self._ids = np.zeros(0, np.int64)
        self._seen = np.zeros(0, np.int64)
        self._group = np.zeros(0, np.int64)
        self._by_track: dict[str, tuple[int, int]] = {}  # track id -> (tracklet, last frame)
        self.last_groups = np.zeros(0, np.int64)
