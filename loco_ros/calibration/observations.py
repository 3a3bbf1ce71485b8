"""Standing people as calibration observations: a foot, a hip and a head ray per person.

A person counts as *standing* (upright, feet on the floor) when its head top, neck, both
hips and both ankles were detected (heatmap peaks, not refiner guesses), it is at least
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
REQUIRED = (HEAD, NECK, *HIPS, *ANKLES)


@dataclass(frozen=True)
class Observations:
    """N standing people of one frame (or a buffer of them).

    foot, hip, head: (N, 2) float64 normalised image coordinates of the ankle centre, the
    hip centre and the head top; noise: (N,) the pixel noise in normalised units
    (pixel_sigma_px / focal); person: (N,) index into the frame's People; foot_px: (N, 2)
    and length_px: (N,) pixels, for linking people across frames.
    """

    foot: np.ndarray
    hip: np.ndarray
    head: np.ndarray
    noise: np.ndarray
    person: np.ndarray
    foot_px: np.ndarray
    length_px: np.ndarray

    def __len__(self) -> int:
        return int(self.foot.shape[0])


def _angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle (degrees) between vectors a and b along the last axis."""
    na = np.linalg.norm(a, axis=-1)
    nb = np.linalg.norm(b, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.sum(a * b, axis=-1) / (na * nb)
    return np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))


def _upright(head, hip, foot, max_bend_deg: float) -> np.ndarray:
    """Torso and legs in one line and of plausible relative length (2D or 3D points)."""
    torso = head - hip
    legs = foot - hip
    ratio = np.linalg.norm(legs, axis=-1) / np.maximum(np.linalg.norm(torso, axis=-1), 1e-9)
    straight = _angle_deg(torso, legs) >= 180.0 - max_bend_deg
    return straight & (ratio >= 0.55) & (ratio <= 1.7)


def standing_observations(people: People, K: np.ndarray, pixel_sigma_px: float = 2.0,
                          min_person_px: float = 24.0, max_bend_deg: float = 30.0,
                          max_knee_deg: float = 40.0) -> tuple[Observations, np.ndarray]:
    """(candidates, standing): every person with a detected head top and ankle as
    :class:`Observations` (for linking across frames), and the (N,) mask of those that are
    standing (see module docstring)."""
    K = np.asarray(K, np.float64)
    if len(people) == 0:
        return _empty(), np.zeros(0, bool)
    uv = np.asarray(people.uv_px, np.float64)
    det = np.asarray(people.detected, bool) & np.isfinite(uv).all(axis=2)
    ankle_det = det[:, ANKLES]
    cand = det[:, HEAD] & ankle_det.any(axis=1)
    ok = det[:, REQUIRED].all(axis=1)
    head_px = uv[:, HEAD]
    hip_px = np.nanmean(np.where(det[:, HIPS, None], uv[:, HIPS], np.nan), axis=1) \
        if det[:, HIPS].any() else uv[:, HIPS].mean(axis=1)
    w = ankle_det[..., None].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        foot_px = np.sum(np.where(ankle_det[..., None], uv[:, ANKLES], 0.0), axis=1) / \
            np.maximum(w.sum(axis=1), 1.0)
    length = np.linalg.norm(head_px - foot_px, axis=1)
    with np.errstate(invalid="ignore"):
        cand &= length >= 0.5 * min_person_px
        ok &= cand & (length >= min_person_px)
        ok &= head_px[:, 1] < foot_px[:, 1] + 0.5 * length  # head not below the feet
        ok &= _upright(head_px, hip_px, foot_px, max_bend_deg)
    xyz = np.asarray(people.xyz_m, np.float64)
    legs3d = (*HIPS, *KNEES, *ANKLES, HEAD)
    has3d = np.isfinite(xyz[:, legs3d]).all(axis=(1, 2))
    if has3d.any():
        h3, p3, f3 = xyz[:, HEAD], xyz[:, HIPS].mean(axis=1), xyz[:, ANKLES].mean(axis=1)
        up3 = _upright(h3, p3, f3, max_bend_deg)
        knee = np.stack([180.0 - _angle_deg(xyz[:, hp] - xyz[:, kn], xyz[:, an] - xyz[:, kn])
                         for hp, kn, an in zip(HIPS, KNEES, ANKLES, strict=True)], axis=1)
        up3 &= np.nanmin(knee, axis=1) <= max_knee_deg
        ok &= ~has3d | up3
    index = np.flatnonzero(cand)
    if index.size == 0:
        return _empty(), np.zeros(0, bool)
    Kinv = np.linalg.inv(K)

    def norm(px: np.ndarray) -> np.ndarray:
        h = np.concatenate([px, np.ones((px.shape[0], 1))], axis=1) @ Kinv.T
        return h[:, :2] / h[:, 2:3]

    focal = 0.5 * (K[0, 0] + K[1, 1])
    hip_safe = np.where(np.isfinite(hip_px[index]), hip_px[index], foot_px[index])
    obs = Observations(
        foot=norm(foot_px[index]), hip=norm(hip_safe), head=norm(head_px[index]),
        noise=np.full(index.size, pixel_sigma_px / focal), person=index,
        foot_px=foot_px[index], length_px=length[index])
    return obs, ok[index]


def _empty() -> Observations:
    z2 = np.zeros((0, 2))
    return Observations(z2, z2, z2, np.zeros(0), np.zeros(0, np.int64), z2, np.zeros(0))


class TrackletLinker:
    """Links the people of successive frames into tracklets (int ids).

    Every person with a head top and an ankle is linked (not only the standing ones, so that
    a tracklet survives a frame where its person fails the standing test). The observations
    of one person over many frames share its stature and its lean, so the fit treats each
    tracklet as one person. With track ids (``People.track_id``, non-empty) those are used;
    otherwise a person continues the tracklet whose foot was nearest, within ``gate`` times
    its image length per frame of gap, with an image length within 25 %, seen at most
    ``max_gap`` frames ago. Memory: the active tracklets and recently seen track ids.
    """

    def __init__(self, gate: float = 0.35, max_gap: int = 6, forget_frames: int = 300):
        self.gate = float(gate)
        self.max_gap = int(max_gap)
        self.forget_frames = int(forget_frames)
        self._next = 0
        self._px = np.zeros((0, 2))
        self._len = np.zeros(0)
        self._ids = np.zeros(0, np.int64)
        self._seen = np.zeros(0, np.int64)
        self._by_track: dict[str, tuple[int, int]] = {}  # track id -> (tracklet, last frame)

    def _new(self, count: int) -> np.ndarray:
        ids = np.arange(self._next, self._next + count, dtype=np.int64)
        self._next += count
        return ids

    def link(self, obs: Observations, track_ids: tuple[str, ...], frame: int) -> np.ndarray:
        """(N,) tracklet ids of ``obs`` (people of ``frame``)."""
        n = len(obs)
        ids = np.full(n, -1, np.int64)
        if n and track_ids:
            for i, p in enumerate(obs.person):
                tid = track_ids[int(p)] if int(p) < len(track_ids) else ""
                if tid:
                    known = self._by_track.get(tid)
                    ids[i] = known[0] if known is not None else self._new(1)[0]
                    self._by_track[tid] = (int(ids[i]), frame)
            if len(self._by_track) > 4096 or frame % 100 == 0:
                self._by_track = {k: v for k, v in self._by_track.items()
                                  if frame - v[1] <= self.forget_frames}
        live = frame - self._seen <= self.max_gap
        self._px, self._len = self._px[live], self._len[live]
        self._ids, self._seen = self._ids[live], self._seen[live]
        free = np.flatnonzero(ids < 0)
        if free.size and self._ids.size:
            gap = np.maximum(frame - self._seen, 1)[None]
            d = np.linalg.norm(obs.foot_px[free, None] - self._px[None], axis=2)
            d /= np.maximum(self._len[None], 1.0) * gap
            ratio = obs.length_px[free, None] / np.maximum(self._len[None], 1.0)
            d[(d > self.gate) | (ratio < 0.8) | (ratio > 1.25)] = np.inf
            taken = set(int(v) for v in ids[ids >= 0])
            for flat in np.argsort(d, axis=None):
                i, j = np.unravel_index(flat, d.shape)
                if not np.isfinite(d[i, j]):
                    break
                if ids[free[i]] < 0 and int(self._ids[j]) not in taken:
                    ids[free[i]] = self._ids[j]
                    taken.add(int(self._ids[j]))
        missing = ids < 0
        ids[missing] = self._new(int(missing.sum()))
        # Update the active tracklets: seen now -> this frame's foot and length.
        index = {int(t): k for k, t in enumerate(self._ids)}
        px, ln, tid, seen = [self._px], [self._len], [self._ids], [self._seen]
        for i, t in enumerate(ids):
            k = index.get(int(t))
            if k is not None:
                self._px[k], self._len[k], self._seen[k] = obs.foot_px[i], obs.length_px[i], frame
            else:
                px.append(obs.foot_px[i][None])
                ln.append(obs.length_px[i:i + 1])
                tid.append(ids[i:i + 1])
                seen.append(np.array([frame]))
        self._px, self._len = np.concatenate(px), np.concatenate(ln)
        self._ids, self._seen = np.concatenate(tid), np.concatenate(seen)
        return ids

    def reset(self) -> None:
        self._px = np.zeros((0, 2))
        self._len = np.zeros(0)
        self._ids = np.zeros(0, np.int64)
        self._seen = np.zeros(0, np.int64)
        self._by_track.clear()
