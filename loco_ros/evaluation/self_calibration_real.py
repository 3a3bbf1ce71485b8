"""Ground-plane self-calibration on real footage: OpenCV's ``vtest.avi`` (issue 14, part 4).

The camera of ``vtest.avi`` (768 x 576, 795 frames, fixed, over a pedestrian plaza) has no
known mount and no known focal length. This script feeds
:class:`loco_ros.calibration.SelfCalibrator` (public API only) the teacher's people of every
frame in order, as the node would: 2D joints from the BlazePose labels
(``data/real/labels/vtest.json``; a joint counts as detected when its visibility is >= 0.5
and it lies in the image), their image-only 3D from the stature prior
(:func:`loco_ros.teacher.pseudo3d.pseudo_3d_people`, what the network is trained to give),
and track ids from the node's own 3D tracker (:class:`loco_ros.runtime.tracking.PersonTracker`,
its default config, stamps at the video's 10 fps); ``--ids none`` leaves the ids empty so
the calibrator links people itself. The intrinsics are nominal (principal point at the
centre) with the focal length ``--focal-px`` (default the image width, 768 px): the true
focal is unknown, so the estimate is also run for a few other focal lengths (``--focals``,
as multiples of the width) to show how it depends on that assumption.

Reported (JSON): the final estimate with its 1-sigma; the estimate every 10 frames; the
implied statures (per tracked person seen standing at least ``MIN_STANDING`` times: the
median over its standing frames of the stature its head-top and ankle rays imply under the
final estimate, ``T / head_top_fraction`` with T the head-top height of the calibrator's
model: ankle centre at ``ankle_fraction * T`` above the ground, head straight above it);
their median, spread and histogram; and the estimate per assumed focal length. The picture:
one frame with the estimated ground (1 m squares out to 30 m, projected with the estimate and
K; the yaw is unknown, so the grid is aligned with the camera's heading), each standing
person's implied stature next to it, and the estimate +- 1 sigma.

    PYTHONPATH=. nice -n 10 .venv/bin/python -m loco_ros.evaluation.self_calibration_real \
        --video vtest --labels data/real/labels/vtest.json \
        --out docs/self_calibration_vtest.json --picture docs/self_calibration_vtest.png

``--model-frames N`` (default 0: off) also runs the shipped model's own detections
(:class:`loco_ros.evaluation.real_footage.Model`) on every ``--model-step``-th of the first N
frames and reports that estimate too (about 0.2-0.5 s a frame on a loaded CPU).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from loco_ros.calibration import (
    CalibrationEstimate,
    SelfCalibrationConfig,
    SelfCalibrator,
    standing_observations,
)
from loco_ros.data.video import nominal_K
from loco_ros.decoding.ground_plane import tilt_rotation
from loco_ros.teacher.labels import FrameLabels, VideoLabels
from loco_ros.teacher.pseudo3d import pseudo_3d_people
from loco_ros.types import People

MIN_VISIBILITY = 0.5  # a teacher joint below this visibility is not "detected"
MIN_STANDING = 5  # standing frames a tracked person needs for a stature
TRAJECTORY_EVERY = 10
DEFAULT_FOCALS = (0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 2.5)  # multiples of the image width
# vtest: the brick building's walls and window frames (x0, y0, x1, y1 px), for the vertical
# vanishing point check; the building stands at the top right of the frame.
VTEST_BUILDING_ROI = (290, 0, 768, 120)
HIST_EDGES_M = tuple(np.round(np.arange(1.2, 2.31, 0.05), 2).tolist())


def people_from_labels(frame: FrameLabels, K: np.ndarray, image_size: tuple[int, int],
                       min_visibility: float = MIN_VISIBILITY) -> People:
    """The teacher's people of one frame as the pipeline's :class:`People` (no track ids):
    pixels as labelled, ``detected`` where visible enough and inside the image, 3D from the
    stature prior (image-only depth)."""
    p = frame.num_people
    if p == 0:
        return People.empty()
    w, h = image_size
    uv = np.asarray(frame.joints_px, np.float64)
    vis = np.asarray(frame.visibility, np.float64)
    inside = (uv[..., 0] >= 0) & (uv[..., 0] <= w - 1) & (uv[..., 1] >= 0) & (uv[..., 1] <= h - 1)
    detected = (vis >= min_visibility) & inside & np.isfinite(uv).all(-1)
    xyz = pseudo_3d_people(uv, vis, frame.joints_world_m, K)
    return People(xyz_m=xyz.astype(np.float32),
                  confidence=np.where(detected, vis, 0.0).astype(np.float32),
                  detected=detected, uv_px=np.where(detected[..., None], uv, np.nan)
                  .astype(np.float32), score=np.asarray(frame.score, np.float32))


def implied_statures(foot: np.ndarray, head: np.ndarray, height_m: float, pitch_deg: float,
                     roll_deg: float, config: SelfCalibrationConfig) -> np.ndarray:
    """(N,) statures (m) that standing people's normalised ankle-centre and head-top rays
    (N, 2) imply under a mount: head-top height ``T = h (1 - m) / (1 - alpha m)`` in the
    level frame (ankle centre at alpha T above the ground, head straight above it), divided
    by ``head_top_fraction``. NaN where the rays cannot be a person standing on that ground
    (foot above the horizon, head below the foot)."""
    foot, head = np.atleast_2d(foot), np.atleast_2d(head)
    if foot.shape[0] == 0:
        return np.zeros(0)
    R = tilt_rotation(math.radians(pitch_deg), math.radians(roll_deg))
    ones = np.ones((foot.shape[0], 1))
    df = np.concatenate([foot, ones], 1) @ R.T  # level-frame rays (x right, y down, z fwd)
    dh = np.concatenate([head, ones], 1) @ R.T
    qf, qh = df[:, [0, 2]], dh[:, [0, 2]]
    dot = np.sum(qf * qh, 1)
    alpha = config.ankle_fraction
    with np.errstate(divide="ignore", invalid="ignore"):
        m = np.sum(qf * qf, 1) / dot * dh[:, 1] / df[:, 1]
        top = height_m * (1.0 - m) / (1.0 - alpha * m)
    ok = (df[:, 1] > 1e-9) & (dot > 1e-12) & (m < 1.0) & np.isfinite(top)
    return np.where(ok, top / config.head_top_fraction, np.nan)


@dataclass
class Standing:
    """Standing observations gathered while running (for statures and the picture)."""

    frame: list[int] = field(default_factory=list)
    track: list[str] = field(default_factory=list)
    foot: list[np.ndarray] = field(default_factory=list)
    head: list[np.ndarray] = field(default_factory=list)
    head_px: list[np.ndarray] = field(default_factory=list)
    foot_px: list[np.ndarray] = field(default_factory=list)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """frame (N,), track (N,) str, foot, head (N, 2) normalised, head_px (N, 2)."""
        if not self.frame:
            z = np.zeros((0, 2))
            return np.zeros(0, int), np.zeros(0, str), z, z, z
        return (np.array(self.frame), np.array(self.track), np.array(self.foot),
                np.array(self.head), np.array(self.head_px))


def finite_json(value):
    """``value`` with every non-finite float replaced by None (strict JSON)."""
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def estimate_dict(e: CalibrationEstimate) -> dict:
    d = asdict(e)
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in d.items()}


def run_calibration(labels: VideoLabels, K: np.ndarray, frames: Iterable[int] | None = None,
                    ids: str = "tracker", config: SelfCalibrationConfig | None = None
                    ) -> tuple[CalibrationEstimate, list[dict], Standing, float]:
    """Feed the calibrator the teacher's people of ``frames`` (default all) in order.

    Returns the final estimate, the trajectory (a row every ``TRAJECTORY_EVERY`` frames and
    the last), the standing observations with their tracker ids (tracker ids are computed
    even with ``ids="none"``, for grouping statures, but are then not given to the
    calibrator), and the calibrator's mean cost in ms per frame."""
    from loco_ros.runtime.tracking import PersonTracker

    if ids not in ("tracker", "none"):
        raise ValueError(f"ids must be 'tracker' or 'none', got {ids!r}")
    config = SelfCalibrationConfig() if config is None else config
    calibrator = SelfCalibrator(config, initial=None)
    tracker = PersonTracker()
    wanted = None if frames is None else set(int(i) for i in frames)
    chosen = [f for f in labels.frames if wanted is None or f.index in wanted]
    standing = Standing()
    rows: list[dict] = []
    estimate = calibrator.estimate
    cost = 0.0
    for n, frame in enumerate(chosen):
        people = people_from_labels(frame, K, labels.image_size)
        tracked = tracker.update(people, frame.index / labels.fps)
        fed = tracked if ids == "tracker" else people
        t0 = time.perf_counter()
        estimate = calibrator.update(fed, K)
        cost += time.perf_counter() - t0
        obs, ok = standing_observations(tracked, K, config.pixel_sigma_px,
                                        config.min_person_px, config.max_bend_deg)
        for i in np.flatnonzero(ok):
            track = tracked.track_id[int(obs.person[i])] if tracked.track_id else ""
            standing.frame.append(frame.index)
            standing.track.append(track)
            standing.foot.append(obs.foot[i])
            standing.head.append(obs.head[i])
            standing.head_px.append(obs.head_px[i])
            standing.foot_px.append(obs.foot_px[i])
        if (n + 1) % TRAJECTORY_EVERY == 0 or n + 1 == len(chosen):
            rows.append({"frame": frame.index, **_row(estimate)})
    return estimate, rows, standing, 1e3 * cost / max(len(chosen), 1)


def _row(e: CalibrationEstimate) -> dict:
    f = lambda v: None if not math.isfinite(v) else round(float(v), 4)  # noqa: E731
    return {"height_m": f(e.camera_height_m), "height_std_m": f(e.camera_height_std_m),
            "pitch_deg": f(e.pitch_deg), "pitch_std_deg": f(e.pitch_std_deg),
            "roll_deg": f(e.roll_deg), "roll_std_deg": f(e.roll_std_deg),
            "people": e.people, "observations": e.observations, "converged": e.converged}


def stature_report(estimate: CalibrationEstimate, standing: Standing,
                   config: SelfCalibrationConfig, min_standing: int = MIN_STANDING) -> dict:
    """Implied statures under ``estimate``: per tracked person (median over its standing
    frames), their median, spread and histogram; also over all standing observations."""
    if not estimate.has_value:
        return {"persons": 0}
    _, track, foot, head, _ = standing.arrays()
    s = implied_statures(foot, head, estimate.camera_height_m, estimate.pitch_deg,
                         estimate.roll_deg, config)
    per_person = {}
    for t in sorted(set(track.tolist()) - {""}, key=int):
        v = s[(track == t) & np.isfinite(s)]
        if v.size >= min_standing:
            per_person[t] = {"stature_m": round(float(np.median(v)), 3),
                             "frames": int(v.size),
                             "within_iqr_m": round(float(np.subtract(
                                 *np.percentile(v, [75, 25]))), 3)}
    values = np.array([p["stature_m"] for p in per_person.values()])
    finite = s[np.isfinite(s)]
    out = {"persons": len(per_person), "min_standing_frames": min_standing,
           "definition": "median over a tracked person's standing frames of T / "
                         f"{config.head_top_fraction} (T: head-top height implied by its "
                         "ankle-centre and head-top rays under the final estimate)",
           "observations": int(finite.size),
           "observations_median_m": round(float(np.median(finite)), 3) if finite.size else None,
           "per_person": per_person}
    if values.size:
        counts, _ = np.histogram(values, bins=HIST_EDGES_M)
        out.update({"median_m": round(float(np.median(values)), 3),
                    "mean_m": round(float(values.mean()), 3),
                    "std_m": round(float(values.std(ddof=1)), 3) if values.size > 1 else None,
                    "p10_m": round(float(np.percentile(values, 10)), 3),
                    "p90_m": round(float(np.percentile(values, 90)), 3),
                    "min_m": round(float(values.min()), 3),
                    "max_m": round(float(values.max()), 3),
                    "histogram": {"edges_m": list(HIST_EDGES_M), "counts": counts.tolist()}})
    return out


# ------------------------------------------------------------ vertical vanishing point


def near_vertical_segments(image: np.ndarray, roi: tuple[int, int, int, int],
                           max_tilt_deg: float = 8.0, min_length_px: float = 30.0
                           ) -> np.ndarray:
    """(S, 4) line segments (x0, y0, x1, y1 px) of ``image`` (RGB) within ``roi`` found by
    OpenCV's LSD, within ``max_tilt_deg`` of the image vertical and at least
    ``min_length_px`` long."""
    import cv2

    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    found = cv2.createLineSegmentDetector().detect(grey)[0]
    if found is None:
        return np.zeros((0, 4))
    seg = found.reshape(-1, 4).astype(np.float64)
    d = seg[:, 2:] - seg[:, :2]
    length = np.hypot(d[:, 0], d[:, 1])
    tilt = np.degrees(np.arctan2(np.abs(d[:, 0]), np.abs(d[:, 1])))
    mid = 0.5 * (seg[:, :2] + seg[:, 2:])
    x0, y0, x1, y1 = roi
    keep = (tilt <= max_tilt_deg) & (length >= min_length_px) & (mid[:, 0] >= x0) \
        & (mid[:, 0] <= x1) & (mid[:, 1] >= y0) & (mid[:, 1] <= y1)
    return seg[keep]


def vanishing_point(segments: np.ndarray, robust: bool = False, boot: int = 200,
                    seed: int = 0) -> dict:
    """Least-squares meeting point (px) of the lines through ``segments`` (S, 4), weighted
    by length (``robust``: iteratively down-weighting lines far from it), with a bootstrap
    over segments (10th/50th/90th percentiles; it ignores correlations between segments,
    e.g. of one person over frames)."""
    a = np.c_[segments[:, :2], np.ones(len(segments))]
    b = np.c_[segments[:, 2:], np.ones(len(segments))]
    lines = np.cross(a, b)
    lines /= np.linalg.norm(lines[:, :2], axis=1, keepdims=True)
    w = np.hypot(*(segments[:, 2:] - segments[:, :2]).T)

    def solve(rows: np.ndarray, weight: np.ndarray) -> np.ndarray:
        weight = weight.copy()
        for _ in range(20 if robust else 1):
            v = np.linalg.svd(lines[rows] * weight[:, None], full_matrices=False)[2][-1]
            if not robust:
                break
            r = np.abs(lines[rows] @ v) / max(abs(v[2]), 1e-12)
            weight = w[rows] / np.maximum(r / (1.5 * np.median(r) + 1e-9), 1.0)
        return v[:2] / v[2]

    every = np.arange(len(segments))
    point = solve(every, w[every])
    rng = np.random.default_rng(seed)
    draws = np.array([solve(i, w[i]) for i in
                      (rng.integers(0, len(segments), len(segments)) for _ in range(boot))])
    q = lambda k: np.round(np.percentile(draws[:, k], [10, 50, 90]), 0).tolist()  # noqa: E731
    return {"segments": int(len(segments)), "u_px": round(float(point[0]), 0),
            "v_px": round(float(point[1]), 0), "u_p10_p50_p90": q(0), "v_p10_p50_p90": q(1)}


def predicted_vertical_vp(pitch_deg: float, roll_deg: float, K: np.ndarray) -> np.ndarray:
    """Pixel (2,) where vertical lines meet under a mount (below the image when pitched
    down): the projection of the camera-frame down direction."""
    R = tilt_rotation(math.radians(pitch_deg), math.radians(roll_deg))
    down = R.T @ np.array([0.0, 1.0, 0.0])
    p = np.asarray(K, np.float64) @ down
    return p[:2] / p[2]


def pitch_from_vertical_vp(vp_px: np.ndarray, K: np.ndarray) -> float:
    """Pitch down (deg) that puts the vertical vanishing point at ``vp_px`` for intrinsics K
    (the angle between the optical axis and the ray to the vanishing point, from 90)."""
    ray = np.linalg.solve(np.asarray(K, np.float64), np.array([vp_px[0], vp_px[1], 1.0]))
    return 90.0 - math.degrees(math.acos(ray[2] / np.linalg.norm(ray)))


# ---------------------------------------------------------------------------- picture


def project_ground(points_level: np.ndarray, height_m: float, pitch_deg: float,
                   roll_deg: float, K: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (N, 2) of level-frame ground points (N, 2) = (x right, z forward) metres, and
    (N,) whether they are in front of the camera."""
    R = tilt_rotation(math.radians(pitch_deg), math.radians(roll_deg))
    pts = np.stack([points_level[:, 0], np.full(len(points_level), height_m),
                    points_level[:, 1]], 1)
    cam = pts @ R  # R^T applied to each row: level -> camera
    front = cam[:, 2] > 0.05
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = (cam @ np.asarray(K, np.float64).T)[:, :2] / cam[:, 2:3]
    return uv, front


def draw_picture(image: np.ndarray, estimate: CalibrationEstimate, K: np.ndarray,
                 people_here: Sequence[tuple[np.ndarray, float]], focal_note: str,
                 caption: str, extent_m: float = 30.0) -> np.ndarray:
    """``image`` (H, W, 3 RGB) with the estimated ground grid, statures and a caption."""
    import cv2

    h_img, w_img = image.shape[:2]
    canvas = image.copy()
    grid = canvas.copy()
    h, p, r = estimate.camera_height_m, estimate.pitch_deg, estimate.roll_deg
    samples = np.linspace(0.0, 1.0, 400)

    def polyline(a: np.ndarray, b: np.ndarray, colour, thick: int) -> None:
        pts = a[None] + samples[:, None] * (b - a)[None]
        uv, front = project_ground(pts, h, p, r, K)
        uv = uv[front]
        if len(uv) < 2:
            return
        uv = np.clip(uv, -1e4, 1e4)
        cv2.polylines(grid, [np.round(uv).astype(np.int32)], False, colour, thick, cv2.LINE_AA)

    half = extent_m / 2.0
    for z in range(1, int(extent_m) + 1):
        major = z % 5 == 0
        polyline(np.array([-half, z]), np.array([half, z]),
                 (255, 200, 0) if major else (0, 230, 255), 2 if major else 1)
    for x in range(-int(half), int(half) + 1):
        major = x % 5 == 0
        polyline(np.array([x, 1.0]), np.array([x, extent_m]),
                 (255, 200, 0) if major else (0, 230, 255), 2 if major else 1)
    canvas = cv2.addWeighted(grid, 0.55, canvas, 0.45, 0.0)
    for z in (5, 10, 15, 20, 25, 30):  # distance labels on the centre line
        uv, front = project_ground(np.array([[0.0, float(z)]]), h, p, r, K)
        if front[0] and 0 <= uv[0, 0] < w_img and 0 <= uv[0, 1] < h_img:
            cv2.putText(canvas, f"{z} m", (int(uv[0, 0]) + 3, int(uv[0, 1]) - 3),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 200, 0), 1, cv2.LINE_AA)
    # horizon: where the level frame's forward direction projects, across the image
    R = tilt_rotation(math.radians(p), math.radians(r))
    far = np.array([[x, 0.0, 1e4] for x in (-2e4, 2e4)]) @ R
    uvh = (far @ K.T)[:, :2] / far[:, 2:3]
    cv2.line(canvas, tuple(np.round(uvh[0]).astype(int)), tuple(np.round(uvh[1]).astype(int)),
             (255, 80, 80), 1, cv2.LINE_AA)
    for head_px, stature in people_here:
        if not math.isfinite(stature):
            continue
        x, y = int(head_px[0]) - 18, int(head_px[1]) - 6
        cv2.putText(canvas, f"{stature:.2f}", (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(canvas, f"{stature:.2f}", (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (255, 255, 255), 1, cv2.LINE_AA)
    bar = np.zeros((48, w_img, 3), np.uint8)
    cv2.putText(bar, caption, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1,
                cv2.LINE_AA)
    cv2.putText(bar, focal_note, (6, 38), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (200, 200, 200), 1,
                cv2.LINE_AA)
    return np.vstack([canvas, bar])


def save_small_png(picture: np.ndarray, path: str | Path, colours: int = 160) -> None:
    """Write an RGB picture as a palette PNG (``colours`` colours: a third of the size)."""
    from PIL import Image

    Image.fromarray(picture).quantize(colours, method=Image.Quantize.MEDIANCUT,
                                      dither=Image.Dither.NONE).save(path, optimize=True)


# ---------------------------------------------------------------------------- the model


def model_estimate(video: Path, K: np.ndarray, frames: Sequence[int], fps: float,
                   config: SelfCalibrationConfig, weights: str | None = None) -> dict:
    """The estimate from the shipped model's own people (tracker ids) on ``frames``."""
    from loco_ros.data.video import video_frames
    from loco_ros.evaluation.real_footage import Model
    from loco_ros.runtime.tracking import PersonTracker

    model = Model.load(weights) if weights else Model.load()
    calibrator = SelfCalibrator(config, initial=None)
    tracker = PersonTracker()
    t0 = time.perf_counter()
    estimate = calibrator.estimate
    n = 0
    for index, image in video_frames(video, frames):
        people = tracker.update(model.people(image, K), index / fps)
        estimate = calibrator.update(people, K)
        n += 1
    return {"frames": n, "frame_list": f"{frames[0]}..{frames[-1]} step "
            f"{frames[1] - frames[0] if len(frames) > 1 else 1}",
            "seconds": round(time.perf_counter() - t0, 1), "estimate": estimate_dict(estimate),
            "summary": estimate.summary()}


# ---------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> dict:
    from loco_ros.data.real_material import video_path
    from loco_ros.data.video import video_frames
    from loco_ros.teacher.labels import load_labels

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", default="vtest", help="vtest, sports2d or a path")
    ap.add_argument("--labels", default="data/real/labels/vtest.json")
    ap.add_argument("--out", default=None, help="JSON report")
    ap.add_argument("--picture", default=None, help="PNG: the grid overlay")
    ap.add_argument("--focal-px", type=float, default=None, help="assumed focal (default W)")
    ap.add_argument("--focals", type=float, nargs="*", default=list(DEFAULT_FOCALS),
                    help="focal lengths to also try, as multiples of the image width")
    ap.add_argument("--ids", choices=("tracker", "none"), default="tracker")
    ap.add_argument("--frames", type=int, default=0, help="only the first N frames (0: all)")
    ap.add_argument("--picture-frame", type=int, default=None,
                    help="frame of the picture (default: the one with most standing people)")
    ap.add_argument("--building-roi", type=int, nargs=4, default=None,
                    help="x0 y0 x1 y1 of vertical structures for the vanishing-point check "
                         "(default: vtest's building when --video vtest, else none)")
    ap.add_argument("--model-frames", type=int, default=0)
    ap.add_argument("--model-step", type=int, default=2)
    ap.add_argument("--weights", default=None)
    args = ap.parse_args(argv)

    labels = load_labels(args.labels)
    w, h = labels.image_size
    focal = float(args.focal_px or w)
    K = nominal_K(w, h, focal)
    config = SelfCalibrationConfig()
    frames = [f.index for f in labels.frames][: args.frames or None]
    t0 = time.perf_counter()
    estimate, rows, standing, cost_ms = run_calibration(labels, K, frames, args.ids, config)
    statures = stature_report(estimate, standing, config)
    print(f"f = {focal:.0f} px: {estimate.summary()}")
    print(f"statures: {statures.get('persons')} persons, median {statures.get('median_m')} m, "
          f"p10-p90 {statures.get('p10_m')}-{statures.get('p90_m')} m")

    fr, track, foot, head, head_px = standing.arrays()
    pick = args.picture_frame
    if pick is None:
        pick = int(np.argmax(np.bincount(fr, minlength=max(frames) + 1))) if fr.size else 0
    _, image = next(iter(video_frames(video_path(args.video), [pick])))
    roi = args.building_roi or (VTEST_BUILDING_ROI if args.video == "vtest" else None)
    vertical: dict = {}
    if roi is not None:
        segments = near_vertical_segments(image, tuple(roi))
        if len(segments) >= 3:
            vertical["building"] = {"frame": pick, "roi_px": list(roi),
                                    **vanishing_point(segments)}
    if fr.size >= 3:
        people_seg = np.c_[np.array(standing.foot_px), head_px]
        vertical["people_foot_to_head"] = vanishing_point(people_seg, robust=True)
    if vertical:
        print(f"vertical vanishing point (px): {vertical}")

    sensitivity = []
    for mult in args.focals:
        fk = mult * w
        Kf = nominal_K(w, h, fk)
        if abs(fk - focal) < 1e-6:
            e, s = estimate, statures
        else:
            e, _, st, _ = run_calibration(labels, Kf, frames, args.ids, config)
            s = stature_report(e, st, config)
        row = {"focal_px": round(fk, 1), "focal_over_width": mult,
               "horizontal_fov_deg": round(math.degrees(2 * math.atan(w / 2 / fk)), 1),
               **_row(e), "stature_median_m": s.get("median_m"),
               "stature_persons": s.get("persons")}
        if e.has_value:
            vp = predicted_vertical_vp(e.pitch_deg, e.roll_deg, Kf)
            row["vertical_vp_px"] = [round(float(vp[0]), 0), round(float(vp[1]), 0)]
        for name, v in vertical.items():
            row[f"pitch_from_{name}_vp_deg"] = round(
                pitch_from_vertical_vp(np.array([v["u_px"], v["v_px"]]), Kf), 2)
        sensitivity.append(row)
        print(f"  f = {fk:6.0f} px: {e.summary()}; vertical VP {row.get('vertical_vp_px')}")
    rows_vp = [r for r in sensitivity if "vertical_vp_px" in r and r["vertical_vp_px"][1] > 0]
    if len(rows_vp) >= 2:  # focal whose estimate puts the verticals' meeting point there
        v = np.array([r["vertical_vp_px"][1] for r in rows_vp])
        f = np.array([r["focal_px"] for r in rows_vp])
        order = np.argsort(v)
        for measured in vertical.values():
            inside = v.min() <= measured["v_px"] <= v.max()
            measured["focal_px_where_estimate_agrees"] = round(float(np.interp(
                np.log(measured["v_px"]), np.log(v[order]), f[order])), 0) if inside else None
    report = {"video": labels.source, "labels": str(args.labels), "image_size": [w, h],
              "frames": len(frames), "ids": args.ids, "focal_px": focal,
              "K": np.round(K, 2).tolist(), "config": asdict(config),
              "estimate": estimate_dict(estimate), "summary": estimate.summary(),
              "calibrator_ms_per_frame": round(cost_ms, 3), "statures": statures,
              "vertical_vanishing_point": vertical,
              "trajectory": rows, "focal_sensitivity": sensitivity}
    if args.model_frames:
        step = max(args.model_step, 1)
        mframes = list(range(0, min(args.model_frames, len(frames)), step))
        report["model"] = model_estimate(video_path(args.video), K, mframes, labels.fps / step,
                                         config, args.weights)
        print(f"model ({len(mframes)} frames): {report['model']['summary']}")
    if args.picture and estimate.has_value:
        s = implied_statures(foot, head, estimate.camera_height_m, estimate.pitch_deg,
                             estimate.roll_deg, config)
        here = [(head_px[i], float(s[i])) for i in np.flatnonzero(fr == pick)]
        e = estimate
        caption = (f"self-calibrated ({e.people} tracklets, {e.observations} obs., "
                   f"{len(frames)} frames): height {e.camera_height_m:.2f} +- "
                   f"{e.camera_height_std_m:.2f} m, pitch {e.pitch_deg:.1f} +- "
                   f"{e.pitch_std_deg:.1f} deg down, roll {e.roll_deg:.1f} +- "
                   f"{e.roll_std_deg:.1f} deg")
        note = (f"frame {pick}, assumed focal {focal:.0f} px (unknown); 1 m grid (thick: 5 m)"
                f" to 30 m, heading = view (yaw unknown); white: implied stature, m")
        picture = draw_picture(image, e, K, here, note, caption)
        Path(args.picture).parent.mkdir(parents=True, exist_ok=True)
        save_small_png(picture, args.picture)
        report["picture"] = {"path": str(args.picture), "frame": pick,
                             "statures_shown_m": [round(v, 3) for _, v in here]}
    report["seconds"] = round(time.perf_counter() - t0, 1)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(finite_json(report), indent=1,
                                             allow_nan=False) + "\n")
    return report


if __name__ == "__main__":
    main()
