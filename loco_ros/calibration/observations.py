"""Standing people as calibration observations: a foot, a hip and a head ray per person.

A person counts as *standing* (upright, feet on the floor) when its head top, both hips and
both ankles were detected (heatmap peaks, not refiner guesses), it is at least
``min_person_px`` tall in the image, and its shape is upright:

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


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of the angle between vectors a and b along the last axis (NaN if degenerate)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(a * b, axis=-1) / np.sqrt(np.sum(a * a, axis=-1) * np.sum(b * b, axis=-1))


def _upright(head, hip, foot, max_bend_deg: float) -> np.ndarray:
    """Torso and legs in one line and of plausible relative length (2D or 3D points)."""
    torso = head - hip
    legs = foot - hip
    t2, l2 = np.sum(torso * torso, axis=-1), np.sum(legs * legs, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.sum(torso * legs, axis=-1) / np.sqrt(t2 * l2)
        ratio2 = l2 / t2
    straight = cos <= -np.cos(np.radians(max_bend_deg))
    return straight & (ratio2 >= 0.55 ** 2) & (ratio2 <= 1.7 ** 2)


def standing_observations(people: People, K: np.ndarray, pixel_sigma_px: float = 2.0,
                          min_person_px: float = 24.0, max_bend_deg: float = 30.0,
                          max_knee_deg: float = 40.0) -> tuple[Observations, np.ndarray]:
    """(candidates, standing): every person with a detected head top and ankle as
    :class:`Observations` (for linking across frames), and the (N,) mask of those that are
    standing (see module docstring). Vectorised over people."""
    if len(people) == 0:
        return _empty(), np.zeros(0, bool)
    uv = np.asarray(people.uv_px, np.float64)
    det = np.asarray(people.detected, bool) & np.isfinite(uv).all(axis=2)
    ankle_det = det[:, ANKLES]
    cand = det[:, HEAD] & ankle_det.any(axis=1)
    if not cand.any():
        return _empty(), np.zeros(0, bool)
    ok = det[:, REQUIRED].all(axis=1)
    head_px = uv[:, HEAD]
    hip_det = det[:, HIPS]
    hip_w = hip_det.sum(axis=1, keepdims=True)
    hip_px = np.where(hip_w > 0, np.sum(np.where(hip_det[..., None], uv[:, HIPS], 0.0), axis=1)
                      / np.maximum(hip_w, 1), np.nan)
    ankle_w = ankle_det.sum(axis=1, keepdims=True)
    foot_px = np.sum(np.where(ankle_det[..., None], uv[:, ANKLES], 0.0), axis=1) / \
        np.maximum(ankle_w, 1)
    d = head_px - foot_px
    length = np.sqrt(np.sum(d * d, axis=1))
    with np.errstate(invalid="ignore"):
        cand &= length >= 0.5 * min_person_px
        ok &= cand & (length >= min_person_px)
        ok &= head_px[:, 1] < foot_px[:, 1] + 0.5 * length  # head not below the feet
    if ok.any():
        ok[ok] = _upright(head_px[ok], hip_px[ok], foot_px[ok], max_bend_deg)
    if ok.any():
        xyz = np.asarray(people.xyz_m, np.float64)[ok]
        legs3d = (*HIPS, *KNEES, *ANKLES, HEAD)
        has3d = np.isfinite(xyz[:, legs3d]).all(axis=(1, 2))
        if has3d.any():
            x = xyz[has3d]
            up3 = _upright(x[:, HEAD], 0.5 * (x[:, HIPS[0]] + x[:, HIPS[1]]),
                           0.5 * (x[:, ANKLES[0]] + x[:, ANKLES[1]]), max_bend_deg)
            # the straighter knee bent less than max_knee_deg: cos(thigh, shin) >= cos(max)
            thigh = x[:, list(HIPS)] - x[:, list(KNEES)]
            shin = x[:, list(ANKLES)] - x[:, list(KNEES)]
            straightest = np.nanmin(_cos(thigh, shin), axis=1)  # -1 = straight
            up3 &= straightest <= -np.cos(np.radians(max_knee_deg))
            sub = np.ones(xyz.shape[0], bool)
            sub[has3d] = up3
            ok[ok] = sub
    index = np.flatnonzero(cand)
    if index.size == 0:
        return _empty(), np.zeros(0, bool)
    K = np.asarray(K, np.float64)
    fx, fy, cx, cy, skew = K[0, 0], K[1, 1], K[0, 2], K[1, 2], K[0, 1]

    def norm(px: np.ndarray) -> np.ndarray:
        y = (px[:, 1] - cy) / fy
        return np.stack([(px[:, 0] - cx - skew * y) / fx, y], axis=1)

    focal = 0.5 * (fx + fy)
    hip_safe = np.where(np.isfinite(hip_px[index]), hip_px[index], foot_px[index])
    obs = Observations(
        foot=norm(foot_px[index]), hip=norm(hip_safe), head=norm(head_px[index]),
        noise=np.full(index.size, pixel_sigma_px / focal), person=index,
        foot_px=foot_px[index], length_px=length[index], head_px=head_px[index])
    return obs, ok[index]


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
            for i, p in enumerate(obs.person):
                tid = track_ids[int(p)] if int(p) < len(track_ids) else ""
                if tid:
                    known = self._by_track.get(tid)
                    ids[i] = known[0] if known is not None else self._new(1)[0]
                    groups[i] = ids[i]
                    self._by_track[tid] = (int(ids[i]), frame)
            if len(self._by_track) > 4096 or frame % 100 == 0:
                self._by_track = {k: v for k, v in self._by_track.items()
                                  if frame - v[1] <= self.forget_frames}
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
            retire = np.zeros(d.shape[1], bool)
            taken = np.zeros(d.shape[1], bool)
            for i in range(free.size):
                j = int(best_col[i])
                dij = d[i, j]
                if dij <= 1.0:
                    clear = (second_col[i] > self.ambiguity * dij
                             and second_row[j] > self.ambiguity * dij)
                    if clear and not taken[j]:
                        matched[free[i]] = j
                        taken[j] = True
                        continue
                    retire |= d[i] <= max(1.0, self.ambiguity * dij)  # ambiguous: rivals end
                near = int(np.argmin(d_group[i]))
                if d_group[i, near] <= self.group_gate:
                    groups[free[i]] = self._group[near]
            for i in np.flatnonzero(matched >= 0):
                ids[i], groups[i] = self._ids[matched[i]], self._group[matched[i]]
            # update the continued tracklets: position, smoothed velocity, length
            rows = matched[matched >= 0]
            if rows.size:
                src = np.flatnonzero(matched >= 0)
                v = (pts[src] - self._state[rows, :4]) / gap[rows, None]
                w = np.where(self._state[rows, 9] > 0, self.velocity_smoothing, 0.5)[:, None]
                self._state[rows, 4:8] = (1.0 - w) * self._state[rows, 4:8] + w * v
                self._state[rows, 9] = 1.0
                self._state[rows, :4], self._state[rows, 8] = pts[src], obs.length_px[src]
                self._seen[rows] = frame
            keep = ~retire | taken
            self._state, self._ids, self._seen, self._group = (
                self._state[keep], self._ids[keep], self._seen[keep], self._group[keep])
        known = set(int(t) for t in self._ids)
        missing = ids < 0
        ids[missing] = self._new(int(missing.sum()))
        for i in np.flatnonzero(groups < 0):
            groups[i] = self._new_group() if not track_ids else ids[i]
        new = [i for i in range(n) if int(ids[i]) not in known]
        if new:
            row = np.zeros((len(new), 10))
            row[:, :4], row[:, 8] = pts[new], obs.length_px[new]
            self._state = np.concatenate([self._state, row])
            self._ids = np.concatenate([self._ids, ids[new]])
            self._seen = np.concatenate([self._seen, np.full(len(new), frame, np.int64)])
            self._group = np.concatenate([self._group, groups[new]])
        if track_ids:  # track-id people: refresh their rows
            row_of = {int(t): k for k, t in enumerate(self._ids)}
            for i in range(n):
                k = row_of.get(int(ids[i]))
                if k is not None and int(ids[i]) in known and matched[i] < 0:
                    self._state[k, :4], self._state[k, 8], self._seen[k] = (
                        pts[i], obs.length_px[i], frame)
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
