"""How fast and how well does the ground-plane self-calibration learn a fixed camera's mount?

Held-out pedestrian streams (:mod:`loco_ros.synthetic.pedestrians`: camera height 1.5-8 m,
pitch 0-30 deg, roll +-5 deg, focal 400 px +-30 % at 512 x 288, 2-10 people in the scene at
once, 20 % of newcomers sitting, bending or standing still) are fed frame by frame to
:class:`loco_ros.calibration.SelfCalibrator`. The people are the ground truth's 2D joints
(in-image joints) with realistic errors: Gaussian pixel noise (``--pixel-noise-px``), 5 %
of joints off by 4x that, 10 % of joints missed, and a false person (random skeleton of
random size) in ``--false-rate`` of frames. Their 3D joints are the ground truth scaled to
a 1.70 m stature (depth from the image alone, what the pipeline has without the floor).

Reported per sequence and over frames: the errors in height (%), pitch and roll (degrees),
the converged flag; the target (after ``--at-frame`` frames: height within 3 %, pitch and
roll within 0.5 deg, in 90 % of the sequences with >= 2 standing people on average); the
*stature floor* (the error that the mean stature of the people seen so far would give
alone: no stature-based method can beat it); and JTA F1 at 0.4/0.8/1.2 m of the same
perfect-2D people with depth from stature alone (``none``), snapped onto the true ground
(``fixed``), onto the self-calibrated one from the moment it converged (``auto``) and onto
the *stature-floor plane* (``stature_floor``: the true ground at the height that a perfect
stature-based calibration would find from the people seen so far, so what no
self-calibration from people can beat).

    nice -n 10 python -m loco_ros.evaluation.self_calibration_eval --sequences 20 \
        --frames 600 --seed 9000 --plot docs/self_calibration_convergence.png \
        --out docs/self_calibration_eval.json

``--ids tracker`` (default) gives the people the 3D tracker's ids (its default config), as
``ground_plane.mode auto`` does in FramePipeline (it feeds the calibrator after tracking);
``--ids none`` leaves them without, so the calibrator links them itself (a pipeline without
tracking).

``--detections model`` replaces the GT 2D people by the model's own detections: each frame
of the stream is rendered (:meth:`PedestrianStream.scene`, ``render_scene``) and run through
the evaluation pipeline (``--model``, default the bundled one) in ``ground_plane.mode auto``,
exactly as the node does: the pipeline tracks the people (default tracking config), its own
calibrator is fed the refined image-only people with their track ids and snaps them once
converged (``auto``); ``none`` is the image-only people, ``fixed`` them
snapped to the true ground. The GT are the in-image joints of the people with >= 4 of them,
as above; ``--ids`` does not apply. Slow on a CPU (~0.3 s per frame)::

    nice -n 10 python -m loco_ros.evaluation.self_calibration_eval --detections model \
        --seed 9000 --sequences 3 --frames 300 --at-frame 150 \
        --out docs/self_calibration_eval_model.json
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from loco_ros.calibration import SelfCalibrationConfig, SelfCalibrator
from loco_ros.camera.lens import ImageCamera
from loco_ros.decoding.ground_plane import (
    GroundPlane,
    GroundPlaneConfig,
    fuse_ground_depth,
    snap_with_config,
)
from loco_ros.metrics import JTA_THRESHOLDS_M, jta_frame_counts_at, jta_metric, jta_scores
from loco_ros.runtime.estimator import Estimate
from loco_ros.runtime.frame_pipeline import FramePipeline, PipelineConfig
from loco_ros.runtime.tracking import TrackingConfig
from loco_ros.skeleton import JOINT_INDEX, NUM_JOINTS
from loco_ros.synthetic.pedestrians import PedestrianStream, StreamConfig, StreamFrame
from loco_ros.types import People

ASSUMED_STATURE_M = 1.70
# auto_height / auto_angles: the converged estimate's height with the true up vector, and its
# up vector with the true height (which of the two costs auto its points).
DEPTH_SOURCES = ("none", "fixed", "auto", "auto_fused", "stature_floor", "auto_height",
                 "auto_angles")
STATURE_REL_STD = 0.10 / 1.70  # the synthetic people's stature spread: image-only depth's
CHECK_EVERY = 10
TARGET = {"height_pct": 3.0, "pitch_deg": 0.5, "roll_deg": 0.5, "fraction": 0.9}
_FEET = (JOINT_INDEX["head_top"], JOINT_INDEX["right_ankle"], JOINT_INDEX["left_ankle"])


def noisy_people(stream: PedestrianStream, frame: StreamFrame, rng: np.random.Generator,
                 pixel_noise_px: float, false_rate: float) -> tuple[People, np.ndarray]:
    """Detections from the GT of one frame (module docstring) and the GT xyz (P, 14, 3)
    with NaN for joints out of the image."""
    cam = stream.camera
    xyz = cam.world_to_camera(frame.joints_world)  # (P, 14, 3)
    visible = cam.in_image(xyz)
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = cam.project(xyz)
    noise = rng.normal(0.0, pixel_noise_px, uv.shape)
    wild = rng.random(uv.shape[:2]) < 0.05
    noise[wild] *= 4.0
    uv = uv + noise
    detected = visible & (rng.random(visible.shape) >= 0.10)
    stature_depth = xyz * (ASSUMED_STATURE_M / frame.heights_m)[:, None, None]
    keep = visible.sum(axis=1) >= 4
    gt = np.where(visible[..., None], xyz, np.nan)[keep]
    uv, detected, stature_depth = uv[keep], detected[keep], stature_depth[keep]
    if rng.random() < false_rate:  # a false person: random skeleton, random place and size
        k = rng.integers(len(frame.joints_world)) if len(frame.joints_world) else None
        shape = (frame.joints_world[k] - frame.joints_world[k].mean(0)) if k is not None \
            else np.zeros((NUM_JOINTS, 3))
        shape = shape[rng.permutation(NUM_JOINTS)] * rng.uniform(0.3, 1.5)
        centre = np.array([rng.uniform(-0.5, 0.5), rng.uniform(-0.3, 0.3), 1.0]) * \
            rng.uniform(3.0, 15.0)
        fake = shape + centre
        with np.errstate(divide="ignore", invalid="ignore"):
            fuv = cam.project(fake)
        uv = np.concatenate([uv, fuv[None]])
        detected = np.concatenate([detected, cam.in_image(fake)[None]])
        stature_depth = np.concatenate([stature_depth, fake[None]])
    p = uv.shape[0]
    people = People(xyz_m=stature_depth.astype(np.float32),
                    confidence=detected.astype(np.float32), detected=detected,
                    uv_px=uv.astype(np.float32), score=np.ones(p, np.float32))
    return people, gt


def fuse_with_config(people: People, plane, K: np.ndarray, ground_config: GroundPlaneConfig,
                     pixel_sigma_px: float, estimate=None) -> People:
    """Part 3: ground depth fused with the image's (stature) depth per person
    (:func:`loco_ros.decoding.ground_plane.fuse_ground_depth`), with the self-calibrated
    plane's own uncertainty when ``estimate`` is given."""
    return fuse_ground_depth(people, plane, K, ground_config.ankle_height_m,
                             ground_config.max_depth_change,
                             image_rel_std=STATURE_REL_STD, pixel_sigma_px=pixel_sigma_px,
                             plane_log_std=None if estimate is None else estimate.depth_log_std)


def standing_in_view(stream: PedestrianStream, frame: StreamFrame) -> int:
    """People standing or walking whose head top and ankles are in the image."""
    xyz = stream.camera.world_to_camera(frame.joints_world)
    seen = stream.camera.in_image(xyz)[:, _FEET].all(axis=1)
    upright = np.array([p in ("walking", "standing") for p in frame.poses], bool)
    return int(np.sum(seen & upright))


def signed_errors(estimate, camera) -> tuple[float, float, float]:
    """(height %, pitch deg, roll deg) of the estimate minus the truth (pitch > 0: the
    estimate looks further down); NaN without an estimate."""
    if not estimate.has_value:
        return math.nan, math.nan, math.nan
    return (100.0 * (estimate.camera_height_m / camera.height_m - 1.0),
            estimate.pitch_deg - math.degrees(camera.pitch_rad),
            estimate.roll_deg - math.degrees(camera.roll_rad))


def errors(estimate, camera) -> tuple[float, float, float]:
    """(height %, pitch deg, roll deg) absolute errors; NaN without an estimate."""
    h, p, r = signed_errors(estimate, camera)
    return abs(h), abs(p), abs(r)


def chance_within_target(std: Sequence[float], height_m: float) -> float:
    """Probability that an unbiased estimate with these 1-sigma (height m, pitch deg, roll
    deg) meets TARGET: what the estimate's own uncertainty allows (independent errors)."""
    limits = (TARGET["height_pct"] / 100.0 * height_m, TARGET["pitch_deg"],
              TARGET["roll_deg"])
    chance = 1.0
    for limit, sigma in zip(limits, std, strict=True):
        chance *= math.erf(limit / (sigma * math.sqrt(2.0))) if sigma > 0 else 1.0
    return chance


def note_statures_seen(statures_seen: dict, frame, cam) -> None:
    """Add the true stature (m) of each walking or standing person of ``frame`` whose feet
    are in the image to ``statures_seen`` (person id -> stature): the stature floor's data."""
    seen = cam.in_image(cam.world_to_camera(frame.joints_world))[:, _FEET].all(axis=1)
    for pid, h, pose, s in zip(frame.ids, frame.heights_m, frame.poses, seen, strict=True):
        if s and pose in ("walking", "standing"):
            statures_seen[int(pid)] = float(h)


def seen_stature_ratio(statures_seen: dict) -> float:
    """The mean true stature of the distinct people seen over the assumed one; NaN before
    anyone was seen (the stature floor of :func:`trajectory_row` and its plane)."""
    if not statures_seen:
        return math.nan
    return float(np.mean(list(statures_seen.values()))) / ASSUMED_STATURE_M


def trajectory_row(frames: int, estimate, cam, statures_seen: dict) -> dict:
    """One row of the error-over-time trajectory: errors, flag, uncertainty and the stature
    floor (the mean true stature of the distinct people seen against the prior, %)."""
    floor = 100.0 * abs(seen_stature_ratio(statures_seen) - 1.0)
    return {"frame": frames, "error": errors(estimate, cam),
            "signed_error": signed_errors(estimate, cam),
            "converged": estimate.converged, "people": estimate.people,
            "std": (estimate.camera_height_std_m, estimate.pitch_std_deg, estimate.roll_std_deg),
            "stature_floor_pct": floor, "people_seen": len(statures_seen),
            "observations": estimate.observations}


def stature_floor_plane(true_plane: GroundPlane, statures_seen: dict) -> GroundPlane | None:
    """The true ground with the camera height scaled by the assumed stature over the mean true
    stature of the people seen so far (what a calibration exact but for the stature prior
    finds); None before anyone was seen."""
    ratio = seen_stature_ratio(statures_seen)
    if math.isnan(ratio):
        return None
    return GroundPlane(true_plane.up_cam, true_plane.camera_height_m / ratio)


def one_part_planes(people: People, estimate, true_plane: GroundPlane,
                    ground_config: GroundPlaneConfig) -> dict[str, People]:
    """People snapped to the ground of the converged ``estimate``'s height with the true up
    vector (``auto_height``) and of its up vector with the true height (``auto_angles``);
    image-only depth before convergence, as ``auto``."""
    if not estimate.converged:
        return {"auto_height": people, "auto_angles": people}
    planes = {"auto_height": GroundPlane(true_plane.up_cam, estimate.camera_height_m),
              "auto_angles": GroundPlane(estimate.ground_plane().up_cam,
                                         true_plane.camera_height_m)}
    return {key: snap_with_config(people, plane, ground_config) for key, plane in planes.items()}


class StreamDetections:
    """An estimator for :class:`FramePipeline` whose people are a pedestrian stream's frame
    ``frame`` (set before each call; the image is not read) as :func:`noisy_people` makes
    them; the GT of that call is left in ``gt``."""

    def __init__(self, stream: PedestrianStream, rng: np.random.Generator,
                 pixel_noise_px: float, false_rate: float) -> None:
        self.stream, self.rng = stream, rng
        self.pixel_noise_px, self.false_rate = pixel_noise_px, false_rate
        self.frame: StreamFrame | None = None
        self.gt = np.zeros((0, NUM_JOINTS, 3))

    def estimate(self, image_rgb: np.ndarray, K: np.ndarray, lens=None) -> Estimate:
        people, self.gt = noisy_people(self.stream, self.frame, self.rng, self.pixel_noise_px,
                                       self.false_rate)
        return Estimate(people, {"network": 0.0})


def in_gt_order(people: People, gt: np.ndarray) -> np.ndarray:
    """(P', 14, 3) xyz of :func:`noisy_people`'s people for the JTA metric: the first
    len(gt) are the GT people's (NaN where the GT joint is out of the image), then the
    false ones."""
    real = len(gt)
    p = np.where(np.isfinite(gt), people.xyz_m[:real].astype(np.float64), np.nan)
    return np.concatenate([p, people.xyz_m[real:]])


def run_sequence(seed: int, stream_config: StreamConfig, ground_config: GroundPlaneConfig,
                 pixel_noise_px: float, false_rate: float = 0.1, ids: str = "tracker",
                 model: tuple | None = None) -> dict:
    """One sequence through the frame pipeline in ``ground_plane.mode auto`` (its own
    calibrator, ``ground_config.auto``): the error trajectory, the stature floor, the JTA
    frames per depth. ``model`` None: the GT people of :class:`StreamDetections`, tracked as
    in the node (``ids`` "tracker") or not ("none"); else
    :func:`loco_ros.runtime.estimator.load_model`'s (config, network, refiner): its
    detections of the rendered frames, tracked."""
    from loco_ros.evaluation.pipeline import evaluation_pipeline, people_in_image, run_frame
    from loco_ros.synthetic.render import render_scene

    stream = PedestrianStream(seed, stream_config)
    cam = stream.camera
    auto = replace(ground_config, mode="auto")
    if model is None:
        detections = StreamDetections(stream, np.random.default_rng(seed + 12345),
                                      pixel_noise_px, false_rate)
        pipeline = FramePipeline(detections, PipelineConfig(
            ground_plane=auto, tracking=TrackingConfig() if ids == "tracker" else None))
        blank = np.zeros((cam.height, cam.width, 3), np.uint8)
        camera = ImageCamera(cam.K)
    else:
        config, network, refiner = model
        pipeline = evaluation_pipeline(network, config, refiner, auto, tracking=TrackingConfig())
        render_rng = np.random.default_rng(seed + 54321)
    true_plane = cam.ground_plane
    rows, standing, statures_seen, detected = [], [], {}, []
    jta_frames = {key: [] for key in DEPTH_SOURCES}
    converged_frame = None
    cost_s = 0.0
    for index, frame in enumerate(stream.frames()):
        stamp_ns = round(index * 1e9 / stream_config.fps)
        if model is None:
            detections.frame = frame
            out = pipeline.process(blank, stamp_ns, camera=camera)
            gt = detections.gt
            xyz_of = lambda people, gt=gt: in_gt_order(people, gt)  # noqa: E731
        else:
            image = render_scene(stream.scene(frame), render_rng)
            out = run_frame(pipeline, image, cam.K, stamp_ns=stamp_ns)
            gt = gt_in_view(stream, frame)
            wh = (image.shape[1], image.shape[0])
            xyz_of = lambda people, wh=wh: people_in_image(people, wh, cam.K)  # noqa: E731
        estimate = out.calibration
        people = out.estimate.people  # image-only depth: what the calibrator was fed
        cost_s += out.timings_s["ground_plane"]
        detected.append(len(people))
        standing.append(standing_in_view(stream, frame))
        note_statures_seen(statures_seen, frame, cam)
        floor_plane = stature_floor_plane(true_plane, statures_seen)
        pred = {"none": people,
                "fixed": snap_with_config(people, true_plane, ground_config),
                "auto": out.people,  # snapped by the pipeline once converged
                "auto_fused": (fuse_with_config(people, estimate.ground_plane(), cam.K,
                                                ground_config, pixel_noise_px, estimate)
                               if estimate.converged else people),
                "stature_floor": (snap_with_config(people, floor_plane, ground_config)
                                  if floor_plane is not None else people)}
        pred.update(one_part_planes(people, estimate, true_plane, ground_config))
        if estimate.converged and converged_frame is None:
            converged_frame = index
        for key, value in pred.items():
            jta_frames[key].append((gt, xyz_of(value)))
        if (index + 1) % CHECK_EVERY == 0:
            rows.append(trajectory_row(index + 1, estimate, cam, statures_seen))
    final = pipeline.calibration.estimate
    return {"seed": seed, "camera": {"height_m": cam.height_m,
                                     "pitch_deg": math.degrees(cam.pitch_rad),
                                     "roll_deg": math.degrees(cam.roll_rad),
                                     "focal_px": float(cam.K[0, 0])},
            "people_at_once": stream.count, "standing_mean": float(np.mean(standing)),
            "detected_mean": float(np.mean(detected)),
            "trajectory": rows, "final": final.summary(),
            "final_error": errors(final, cam),
            "converged_index": converged_frame,
            "resets": final.resets, "cost_ms_per_frame":
                1e3 * cost_s / max(len(standing), 1), "jta_frames": jta_frames}


def gt_in_view(stream: PedestrianStream, frame: StreamFrame) -> np.ndarray:
    """The GT of :func:`noisy_people` without the detections: (P, 14, 3) camera-frame joints,
    NaN outside the image, people with >= 4 joints in it."""
    cam = stream.camera
    xyz = cam.world_to_camera(frame.joints_world)
    visible = cam.in_image(xyz)
    return np.where(visible[..., None], xyz, np.nan)[visible.sum(axis=1) >= 4]


def at_frame(result: dict, frame: int) -> dict:
    row = min(result["trajectory"], key=lambda r: abs(r["frame"] - frame))
    h, p, r = row["error"]
    ok = (math.isfinite(h) and h <= TARGET["height_pct"] and p <= TARGET["pitch_deg"]
          and r <= TARGET["roll_deg"])
    return {"height_pct": h, "pitch_deg": p, "roll_deg": r, "converged": row["converged"],
            "std": row["std"], "signed_error": row["signed_error"],
            "meets_target": bool(ok), "stature_floor_pct": row["stature_floor_pct"],
            "people_seen": row["people_seen"]}


def jta_after(result: dict, from_frame: int) -> dict:
    """JTA F1 per depth source on the frames from ``from_frame`` on."""
    out = {}
    for key, frames in result["jta_frames"].items():
        res = jta_metric(frames[from_frame:], JTA_THRESHOLDS_M)
        out[key] = {f"{t:g}": r["f1"] for t, r in res.items()}
    return out


def plot(results: list[dict], png: str, at: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), dpi=110)
    names = ("height error (%)", "pitch error (deg)", "roll error (deg)")
    limits = (TARGET["height_pct"], TARGET["pitch_deg"], TARGET["roll_deg"])
    for k, ax in enumerate(axes):
        for res in results:
            f = [r["frame"] for r in res["trajectory"]]
            e = [r["error"][k] for r in res["trajectory"]]
            ax.plot(f, e, color="0.6", lw=0.7)
        frames = [r["frame"] for r in results[0]["trajectory"]]
        med = np.nanmedian([[r["error"][k] for r in res["trajectory"]] for res in results], 0)
        p90 = np.nanpercentile([[r["error"][k] for r in res["trajectory"]] for res in results],
                               90, 0)
        ax.plot(frames, med, color="C0", lw=2, label="median")
        ax.plot(frames, p90, color="C3", lw=2, label="90th percentile")
        if k == 0:
            floor = np.nanpercentile([[r["stature_floor_pct"] for r in res["trajectory"]]
                                      for res in results], 90, 0)
            ax.plot(frames, floor, color="C2", lw=1.5, ls=":",
                    label="90th pct. stature floor")
        ax.axhline(limits[k], color="k", ls="--", lw=1, label="target")
        ax.axvline(at, color="k", ls=":", lw=0.8)
        ax.set_yscale("log")
        ax.set_ylim(0.01 if k else 0.1, 100 if k == 0 else 30)
        ax.set_xlabel("frame (10 fps)")
        ax.set_title(names[k], fontsize=10)
        if k == 0:
            ax.legend(fontsize=7)
    fig.suptitle(f"Ground-plane self-calibration on {len(results)} held-out pedestrian "
                 "streams (GT 2D + pixel noise, outliers)", fontsize=10)
    fig.tight_layout()
    Path(png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)
    plt.close(fig)


def summarise(results: list[dict], at: int, frames: int) -> dict:
    table = [at_frame(r, at) for r in results]
    eligible_pairs = [(t, r) for t, r in zip(table, results, strict=True)
                      if r["standing_mean"] >= 2.0]
    eligible = [t for t, _ in eligible_pairs]
    floor_ok = [t for t in eligible if t["stature_floor_pct"] <= TARGET["height_pct"]]
    false_conv = [r["seed"] for r, t in zip(results, table, strict=True)
                  if any(row["converged"] and not (row["error"][0] <= 2 * TARGET["height_pct"]
                                                   and row["error"][1] <= 2 * TARGET["pitch_deg"]
                                                   and row["error"][2] <= 2 * TARGET["roll_deg"])
                         for row in r["trajectory"])]
    z = np.array([[t["height_pct"] / 100.0 * r["camera"]["height_m"] / t["std"][0],
                   t["pitch_deg"] / t["std"][1], t["roll_deg"] / t["std"][2]]
                  for t, r in zip(table, results, strict=True)
                  if math.isfinite(t["height_pct"])])
    final = [at_frame(r, frames) for r in results]
    converged_at = []
    for r in results:
        first = next((row["frame"] for row in r["trajectory"] if row["converged"]), None)
        converged_at.append(first)
    keys = DEPTH_SOURCES
    merged = {k: [] for k in keys}
    merged_conv = {k: [] for k in keys}
    for r in results:
        conv = r["converged_index"]
        start = at if conv is None else min(at, conv)
        for k in keys:  # each frame counted once, for both windows
            counts = [jta_frame_counts_at(f, JTA_THRESHOLDS_M) for f in r["jta_frames"][k][start:]]
            merged[k].extend(counts[at - start:])
            if conv is not None:
                merged_conv[k].extend(counts[conv - start:])

    def f1(counts: list) -> dict:
        return {f"{t:g}": round(float(jta_scores([c[i] for c in counts])["f1"]), 4)
                for i, t in enumerate(JTA_THRESHOLDS_M)}

    jta = {k: f1(merged[k]) for k in keys}
    jta_conv = {k: f1(merged_conv[k]) for k in keys}
    worst_converged = max([row["error"][0] for r in results for row in r["trajectory"]
                           if row["converged"]] + [0.0])

    def pct(rows, key):
        return float(np.mean([bool(t[key]) for t in rows])) if rows else math.nan

    def q(rows, key, p):
        v = [t[key] for t in rows if math.isfinite(t[key])]
        return float(np.percentile(v, p)) if v else math.nan

    return {
        "sequences": len(results), "at_frame": at, "frames": frames,
        "eligible_sequences": len(eligible),
        "meets_target_fraction": pct(eligible, "meets_target"),
        "chance_within_target_mean": float(np.mean(
            [chance_within_target(t["std"], r["camera"]["height_m"])
             for t, r in eligible_pairs if all(math.isfinite(v) for v in t["std"])]))
        if eligible else math.nan,
        "mean_signed_error": [float(v) for v in np.nanmean(
            [t["signed_error"] for t in eligible], 0)] if eligible else None,
        "floor_eligible_sequences": len(floor_ok),
        "meets_target_fraction_where_floor_allows": pct(floor_ok, "meets_target"),
        "rms_error_over_std": [round(float(v), 3) for v in np.sqrt(np.mean(z ** 2, 0))]
        if len(z) else None,
        "false_convergence_seeds": false_conv,
        "converged_fraction": pct(table, "converged"),
        "median": {k: q(table, k, 50) for k in ("height_pct", "pitch_deg", "roll_deg")},
        "p90": {k: q(table, k, 90) for k in ("height_pct", "pitch_deg", "roll_deg")},
        "stature_floor_within_3pct_fraction": float(np.mean(
            [t["stature_floor_pct"] <= 3.0 for t in eligible])) if eligible else math.nan,
        "at_end": {"meets_target_fraction": pct(final, "meets_target"),
                   "median": {k: q(final, k, 50) for k in ("height_pct", "pitch_deg",
                                                           "roll_deg")},
                   "p90": {k: q(final, k, 90) for k in ("height_pct", "pitch_deg",
                                                        "roll_deg")}},
        "converged_first_frame": converged_at,
        "jta_f1_after_at_frame": jta,
        "jta_f1_after_convergence": jta_conv,
        "jta_after_convergence_frames": len(merged_conv["none"]),
        "worst_converged_height_pct": worst_converged,
        "cost_ms_per_frame_mean": float(np.mean([r["cost_ms_per_frame"] for r in results])),
        "per_sequence": [{**{k: r[k] for k in ("seed", "camera", "people_at_once",
                                              "standing_mean", "final", "resets")},
                          "at_frame": t} for r, t in zip(results, table, strict=True)],
    }


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sequences", type=int, default=20)
    p.add_argument("--seed", type=int, default=9000, help="first held-out seed")
    p.add_argument("--frames", type=int, default=600)
    p.add_argument("--at-frame", type=int, default=300)
    p.add_argument("--pixel-noise-px", type=float, default=2.0)
    p.add_argument("--static-probability", type=float,
                   default=StreamConfig.static_probability,
                   help="share of newcomers sitting, bending or standing still (0: walkers only)")
    p.add_argument("--false-rate", type=float, default=0.1)
    p.add_argument("--out", default=None, help="JSON summary")
    p.add_argument("--plot", default=None, help="PNG of the errors against frames")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--ids", choices=("tracker", "none"), default="tracker",
                   help="people's track ids: the node's 3D tracker (default config) or none "
                        "(the calibrator links people itself)")
    p.add_argument("--detections", choices=("gt", "model"), default="gt",
                   help="gt: GT 2D joints with noise (default); model: the model's detections "
                        "of rendered frames, the pipeline in ground_plane.mode auto")
    p.add_argument("--model", default=None,
                   help="--detections model: model directory (default: the bundled one)")
    p.add_argument("--sweep-rules", default=None, metavar="JSON",
                   help="replay the convergence rules of RULE_GRID instead (tuning seeds only)")
    p.add_argument("--cache", default=None, help="pickle of the recorded sequences (sweep)")
    args = p.parse_args(argv)
    import os

    if args.sweep_rules:
        rows = sweep_rules(args.seed, args.sequences, args.frames, args.at_frame,
                           args.pixel_noise_px, args.false_rate, args.ids, args.cache)
        for r in rows[:15]:
            print(json.dumps(r))
        Path(args.sweep_rules).write_text(json.dumps(rows, indent=1) + "\n")
        return {"rules": rows}

    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    stream_config = StreamConfig(frames=args.frames, static_probability=args.static_probability)
    ground = GroundPlaneConfig()
    results = []
    model = None
    if args.detections == "model":
        import torch

        from loco_ros.evaluation import model_dir
        from loco_ros.runtime.estimator import load_model

        torch.set_num_threads(args.threads)
        args.model = model_dir(args.model)
        model = load_model(Path(args.model))
    for i in range(args.sequences):
        r = run_sequence(args.seed + i, stream_config, ground, args.pixel_noise_px,
                         args.false_rate, args.ids, model)
        t = at_frame(r, args.at_frame)
        print(f"seed {r['seed']}: h {r['camera']['height_m']:.2f} m pitch "
              f"{r['camera']['pitch_deg']:.1f} roll {r['camera']['roll_deg']:.1f}, "
              f"{r['people_at_once']} people ({r['standing_mean']:.1f} standing): at "
              f"{args.at_frame}: h {t['height_pct']:.2f} % p {t['pitch_deg']:.2f} "
              f"r {t['roll_deg']:.2f} conv {t['converged']} (floor "
              f"{t['stature_floor_pct']:.2f} %, {t['people_seen']} seen) | "
              f"{r['final']}", flush=True)
        results.append(r)
    summary = summarise(results, args.at_frame, args.frames)
    summary["command"] = "python -m loco_ros.evaluation.self_calibration_eval " + " ".join(
        argv if argv is not None else __import__("sys").argv[1:])
    summary["config"] = {"pixel_noise_px": args.pixel_noise_px, "false_rate": args.false_rate,
                         "static_probability": args.static_probability, "ids": args.ids,
                         "detections": args.detections}
    if model is not None:
        summary["config"].update(model=str(args.model), model_commit=_model_commit(args.model),
                                 ids="tracker (the pipeline's own, as the node)")
        summary["per_sequence_model"] = [
            {"seed": r["seed"], "detected_mean": r["detected_mean"],
             "final_error": r["final_error"], "converged_index": r["converged_index"],
             "final": r["final"], "jta_f1": jta_after(r, 0)} for r in results]
    print(json.dumps({k: v for k, v in summary.items() if k != "per_sequence"}, indent=1))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(summary, indent=1) + "\n")
    if args.plot:
        plot(results, args.plot, args.at_frame)
    return summary



def _model_commit(path: str) -> str:
    """The last commit that changed the model directory's weights or model.yaml, "(modified
    since)" when the files differ from it, and the predictor's sha256 prefix."""
    import hashlib
    import subprocess

    files = ["model.yaml", "vha.safetensors", "predictor.safetensors", "refiner.safetensors"]
    digest = ""
    predictor = Path(path) / "predictor.safetensors"
    if predictor.is_file():
        digest = " predictor sha256 " + hashlib.sha256(predictor.read_bytes()).hexdigest()[:12]
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%h %cs", "--", *files], cwd=path,
                             capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *files], cwd=path,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return digest.strip()
    return out + (" (modified since)" if dirty else "") + digest


# --------------------------------------------------------------------------- rule sweep
# Choosing the convergence rule: each sequence is run once with a calibrator that never
# converges (its refits are then those of any rule up to the frame it converges), recording
# every refit's estimate and, per frame, the JTA counts of image-only depth, of the true
# ground and of snapping to the latest estimate. A rule is then replayed on the refits; after
# its convergence the estimate is taken as the latest refit (every 30 frames: the real
# calibrator refits less often once converged, so the replay is an approximation checked by
# a full run of the chosen rule).

_NEVER = {"min_people": 10 ** 9}


def record_sequence(seed: int, stream_config: StreamConfig, calib_config: SelfCalibrationConfig,
                    pixel_noise_px: float, false_rate: float, ground_config: GroundPlaneConfig,
                    ids: str = "tracker") -> dict:
    from dataclasses import replace as _replace

    stream = PedestrianStream(seed, stream_config)
    rng = np.random.default_rng(seed + 12345)
    calibrator = SelfCalibrator(_replace(calib_config, **_NEVER))
    cam = stream.camera
    tracker = None
    if ids == "tracker":
        from loco_ros.runtime.tracking import PersonTracker

        tracker = PersonTracker()
    refits, counts = [], {"none": [], "fixed": [], "latest": [], "fused_fixed": [],
                          "fused_latest": []}
    for index, frame in enumerate(stream.frames()):
        people, gt = noisy_people(stream, frame, rng, pixel_noise_px, false_rate)
        if tracker is not None:
            people = tracker.update(people, index / stream_config.fps)
        estimate = calibrator.update(people, cam.K)
        if (index + 1) % calib_config.refit_every_frames == 0:
            refits.append({"frame": index + 1, "estimate": estimate,
                           "error": errors(estimate, cam)})
        pred = {"none": people,
                "fixed": snap_with_config(people, cam.ground_plane, ground_config),
                "latest": (snap_with_config(people, estimate.ground_plane(), ground_config)
                           if estimate.has_value else people),
                "fused_fixed": fuse_with_config(people, cam.ground_plane, cam.K, ground_config,
                                                pixel_noise_px),
                "fused_latest": (fuse_with_config(people, estimate.ground_plane(), cam.K,
                                                  ground_config, pixel_noise_px, estimate)
                                 if estimate.has_value else people)}
        for key, value in pred.items():
            p = in_gt_order(value, gt)
            counts[key].append(list(jta_frame_counts_at((gt, p), JTA_THRESHOLDS_M)))
    return {"seed": seed, "refits": refits, "counts": counts,
            "height_m": cam.height_m}


def replay_rule(record: dict, rule: dict, stature_rel_std: float) -> int | None:
    """The frame at which ``rule`` (SelfCalibrationConfig's rule fields) first fires."""
    last_meets, last = False, None
    for r in record["refits"]:
        e = r["estimate"]
        meets = (e.has_value and e.frames >= rule["min_frames"] and e.people >= rule["min_people"]
                 and e.camera_height_std_m <= rule["max_height_std"] * e.camera_height_m
                 and max(e.pitch_std_deg, e.roll_std_deg) <= rule["max_angle_std_deg"]
                 and e.depth_std <= rule["max_depth_std_ratio"] * stature_rel_std
                 and e.inlier_fraction >= 0.5)
        agrees = last is not None and last.has_value and e.has_value and (
            abs(math.log(e.camera_height_m / last.camera_height_m)) <= rule["max_height_change"]
            and max(abs(e.pitch_deg - last.pitch_deg), abs(e.roll_deg - last.roll_deg))
            <= rule["max_angle_change_deg"])
        if meets and last_meets and agrees:
            return r["frame"]
        last_meets, last = meets, e
    return None


def score_rule(records: list[dict], rule: dict, stature_rel_std: float, from_frame: int,
               key_after: str = "latest") -> dict:
    """Replayed auto F1 per threshold from ``from_frame`` on and after convergence, the
    convergence frames, and the worst height error of a converged estimate."""
    f_auto, f_after, conv, worst = [], [], [], 0.0
    for rec in records:
        first = replay_rule(rec, rule, stature_rel_std)
        conv.append(first)
        for i in range(from_frame, len(rec["counts"]["none"])):
            key = key_after if first is not None and i + 1 >= first else "none"
            f_auto.append(rec["counts"][key][i])
        if first is not None:
            f_after.extend(rec["counts"][key_after][first - 1:])
            worst = max([worst] + [r["error"][0] for r in rec["refits"] if r["frame"] >= first])
    f1 = [round(100 * jta_scores([c[k] for c in f_auto])["f1"], 2)
          for k in range(len(JTA_THRESHOLDS_M))]
    f1_after = [round(100 * jta_scores([c[k] for c in f_after])["f1"], 2) if f_after else None
                for k in range(len(JTA_THRESHOLDS_M))]
    return {"f1_from": f1, "f1_after_convergence": f1_after, "converged_at": conv,
            "worst_converged_height_pct": round(worst, 2)}


RULE_GRID = {
    "max_depth_std_ratio": (0.3, 0.4, 0.5, 0.6, 0.8, 1.0, math.inf),
    "max_height_std": (0.02, 0.03, 0.05, 0.08),
    "max_angle_std_deg": (0.3, 0.5, 0.8, 1.2),
    "change": ((0.02, 0.3), (0.03, 0.5), (0.05, 1.0)),
    "min_people": (4, 6),
}


def sweep_rules(seed: int, sequences: int, frames: int, at: int, pixel_noise_px: float,
                false_rate: float, ids: str, cache: str | None = None) -> list[dict]:
    """Every rule of :data:`RULE_GRID` replayed on the sequences, best auto F1@0.8 first."""
    import itertools
    import pickle

    calib = SelfCalibrationConfig()
    ground = GroundPlaneConfig()
    records = None
    if cache and Path(cache).exists():
        records = pickle.loads(Path(cache).read_bytes())
    if records is None:
        records = []
        for i in range(sequences):
            records.append(record_sequence(seed + i, StreamConfig(frames=frames), calib,
                                           pixel_noise_px, false_rate, ground, ids))
            print(f"recorded seed {seed + i}", flush=True)
        if cache:
            Path(cache).write_bytes(pickle.dumps(records))
    rel = calib.stature_std_m / calib.stature_mean_m
    rows = []
    for ratio, h_std, a_std, (dh, da), people in itertools.product(*RULE_GRID.values()):
        rule = {"min_frames": calib.min_frames, "min_people": people, "max_height_std": h_std,
                "max_angle_std_deg": a_std, "max_depth_std_ratio": ratio,
                "max_height_change": dh, "max_angle_change_deg": da}
        rows.append({"rule": rule, **score_rule(records, rule, rel, at)})
    i08 = list(JTA_THRESHOLDS_M).index(0.8)
    rows.sort(key=lambda r: -r["f1_from"][i08])
    return rows


if __name__ == "__main__":
    main()
