"""Metric 3D accuracy on real footage: the model on calibrated real views against the
teacher's joints triangulated from four views (Pose2Sim's single-person demo).

    loco evaluate --source multiview --out DIR [--views cam01 cam02] [--frame-step S]

Pose2Sim's demo films one real man on a force platform with four calibrated cameras
(:mod:`loco_ros.camera.qualisys`); the teacher labels every view
(``data/real/labels/pose2sim/``), and :mod:`loco_ros.evaluation.multiview` triangulates the
man's joints, metres in the lab frame. Each evaluated view runs through the pipeline with its
true intrinsics; the predicted person matched to the reference in the image (mean joint
distance under half its height) is compared in that camera's frame:

- ``found``: share of frames where the man is matched (the real-footage rule, which lets a
  skeleton near him count); ``pck_2d``: share of his reference joints whose prediction lies
  within 0.2 of his height in the image (unmatched frames count as misses);
- ``mpjpe_mm``: mean 3D joint error, camera frame (absolute, depth included);
- ``mpjpe_hips_mm``: the same after moving both to their hip centre (pose only);
- ``root_depth_error_pct``: hip centre depth error over the true depth (median of |.|, and
  the median signed: + is too far);
- ``joints_within_0.4/0.8_m``: share of reference joints whose prediction is that close
  (unmatched frames count as misses).

Training takes Pose2Sim's cam03 and cam04 only (``data/real/teacher_sets``), with depth from
the stature cue, never from this triangulation: cam01 and cam02 are views no model here was
trained on (of the same room and man).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from loco_ros.data.video import video_frames
from loco_ros.decoding.lifting import project_to_image
from loco_ros.metrics.mpjpe import match_people_in_image
from loco_ros.metrics.pose2d import person_height_px
from loco_ros.skeleton import JOINT_INDEX

VIEWS = ("cam01", "cam02", "cam03", "cam04")
EVAL_VIEWS = ("cam01", "cam02")  # never trained on
HIPS = [JOINT_INDEX["right_hip"], JOINT_INDEX["left_hip"]]
WITHIN_M = (0.4, 0.8)


@dataclass(frozen=True)
class MultiviewReference:
    """The triangulated man: ``xyz_lab_m`` (F, J, 3) lab metres (NaN where untriangulated),
    ``error_px`` (F, J) median reprojection error of the inlier views, the cameras."""

    cameras: dict
    xyz_lab_m: np.ndarray
    error_px: np.ndarray


def pose2sim_reference(labels_dir: str | Path, demo: str = "single") -> MultiviewReference:
    """The reference of Pose2Sim's ``demo`` ("single") from its four views' teacher labels."""
    from loco_ros.camera.qualisys import read_qca
    from loco_ros.data import real_material
    from loco_ros.evaluation.multiview import reference_person
    from loco_ros.teacher.labels import load_labels

    cameras = read_qca(real_material.pose2sim_demo(demo) / "calibration/Calib.qca.txt")
    labels = [load_labels(Path(labels_dir) / f"pose2sim_{demo}_{view}.json") for view in VIEWS]
    P = np.stack([cameras[view].projection() for view in VIEWS])
    frames = min(len(v.frames) for v in labels)
    xyz, err = np.full((frames, 14, 3), np.nan), np.full((frames, 14), np.nan)
    for f in range(frames):
        candidates = [(v.frames[f].joints_px, v.frames[f].visibility) for v in labels]
        xyz[f], err[f] = reference_person(P, candidates)
    return MultiviewReference(cameras, xyz, err)


def score_frame(ref_cam_m: np.ndarray, K: np.ndarray, people) -> dict | None:
    """One frame: reference (J, 3) camera metres, the model's people -> the matched person's
    errors, or None when the man is not matched."""
    ref_uv = project_to_image(ref_cam_m, K)
    height = float(person_height_px(ref_uv[None])[0])
    pairs = match_people_in_image(ref_uv[None], people.uv_px, 0.5 * height)
    if len(pairs) == 0:
        return None
    pred = people.xyz_m[pairs[0, 1]].astype(np.float64)
    pixels = np.linalg.norm(people.uv_px[pairs[0, 1]] - ref_uv, axis=1)
    dist = np.linalg.norm(pred - ref_cam_m, axis=1)
    both = np.isfinite(dist)
    hips_ref, hips_pred = ref_cam_m[HIPS].mean(0), pred[HIPS].mean(0)
    posed = np.linalg.norm((pred - hips_pred) - (ref_cam_m - hips_ref), axis=1)
    return {"joint_error_m": dist[both].tolist(),
            "posed_error_m": posed[np.isfinite(posed)].tolist(),
            "root_depth_m": float(hips_ref[2]), "root_depth_pred_m": float(hips_pred[2]),
            "pck_2d_hits": int((pixels <= 0.2 * height).sum())}


def evaluate_view(model, reference: MultiviewReference, view: str, video: Path,
                  frames: range, progress: bool = True) -> tuple[dict, np.ndarray | None]:
    """Scores of one view (module docstring) and an overlay of its middle frame."""
    from loco_ros.evaluation.real_footage import draw_reference
    from loco_ros.visualization import draw_people_2d

    camera = reference.cameras[view]
    usable = [f for f in frames if np.isfinite(reference.xyz_lab_m[f]).all(-1).sum() >= 8]
    scored, picture, reference_joints = [], None, 0
    for f, image in tqdm(video_frames(video, usable), total=len(usable), desc=f"multiview {view}",
                         disable=None if progress else True):
        ref = camera.to_camera(reference.xyz_lab_m[f])
        people = model.people(image, camera.K)
        scored.append(score_frame(ref, camera.K, people))
        reference_joints += int(np.isfinite(ref).all(-1).sum())
        if f == usable[len(usable) // 2]:
            picture = draw_people_2d(draw_reference(image, project_to_image(ref, camera.K)[None]),
                                     people)
            cv2.putText(picture, f"Pose2Sim {view} frame {f}", (8, 40),
                        cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 0), 3)
    return summarise(view, scored, reference_joints), picture


def summarise(view: str, scored: list[dict | None], reference_joints: int) -> dict:
    """Totals of :func:`score_frame` results over a view's frames, which hold
    ``reference_joints`` triangulated joints in all."""
    hits = [s for s in scored if s is not None]
    result = {"view": view, "frames": len(scored), "found": len(hits) / max(len(scored), 1),
              "pck_2d": sum(s["pck_2d_hits"] for s in hits) / max(reference_joints, 1)}
    if not hits:
        return result
    joints = np.concatenate([s["joint_error_m"] for s in hits])
    posed = np.concatenate([s["posed_error_m"] for s in hits])
    depth = np.array([[s["root_depth_m"], s["root_depth_pred_m"]] for s in hits])
    rel = (depth[:, 1] - depth[:, 0]) / depth[:, 0]
    result.update({
        "mpjpe_mm": 1000 * float(joints.mean()), "mpjpe_hips_mm": 1000 * float(posed.mean()),
        "root_depth_m_median": float(np.median(depth[:, 0])),
        "root_depth_error_pct": 100 * float(np.median(np.abs(rel))),
        "root_depth_signed_pct": 100 * float(np.median(rel)),
        **{f"joints_within_{m:g}_m": float((joints <= m).sum() / reference_joints)
           for m in WITHIN_M}})
    return result


def markdown(results: list[dict], reference_px: float) -> str:
    from loco_ros.metrics.tables import format_markdown_table

    rows = [[f"Pose2Sim single demo, {r['view']} ({r['frames']} frames)",
             f"{100 * r['found']:.1f} %", f"{100 * r['pck_2d']:.1f} %",
             f"{r.get('mpjpe_mm', np.nan):.0f}",
             f"{r.get('mpjpe_hips_mm', np.nan):.0f}",
             f"{r.get('root_depth_error_pct', np.nan):.1f} % "
             f"({r.get('root_depth_signed_pct', np.nan):+.1f} %)",
             f"{100 * r.get('joints_within_0.4_m', np.nan):.1f} / "
             f"{100 * r.get('joints_within_0.8_m', np.nan):.1f} %"] for r in results]
    table = format_markdown_table(
        ["real views (reference: teacher triangulated from 4 calibrated views)", "found",
         "PCK@0.2 2D", "MPJPE mm", "MPJPE mm, hip-aligned", "hip depth error, median |.| (signed)",
         "joints within 0.4 / 0.8 m"], rows)
    return table + f"\nReference: median reprojection error {reference_px:.1f} px (1920 px " \
                   "frames).\n"


def run(model, args: argparse.Namespace) -> dict:
    """``--source multiview``: every view of ``args.views``; writes into ``args.out``."""
    from loco_ros.data.real_material import video_path
    from loco_ros.evaluation.real_footage import overlay_grid

    reference = pose2sim_reference(Path(args.labels_dir) / "pose2sim")
    frames = range(0, reference.xyz_lab_m.shape[0], args.frame_step)
    results, pictures = [], []
    for view in args.views:
        result, picture = evaluate_view(model, reference, view,
                                        video_path(f"pose2sim_single_{view}"), frames,
                                        not args.no_progress)
        results.append(result)
        pictures += [picture] if picture is not None else []
    reference_px = float(np.nanmedian(reference.error_px))
    out = {"views": results, "reference_error_px_median": reference_px,
           "reference_joints_triangulated": float(np.isfinite(reference.error_px).mean())}
    text = markdown(results, reference_px)
    if args.out:
        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "multiview_metrics.json").write_text(json.dumps(out, indent=1))
        (folder / "multiview_metrics.md").write_text(text)
        if pictures:
            grid = overlay_grid(pictures, (360, 640), len(pictures))
            cv2.imwrite(str(folder / "multiview_overlay.png"), grid[:, :, ::-1])
    print(text)
    return out
