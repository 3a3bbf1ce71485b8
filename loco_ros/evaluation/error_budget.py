"""Where does a model lose its JTA F1: in depth, or in 2D peaks and association?

Runs the pipeline on held-out synthetic frames and scores its people as they are, and again
after an oracle gives them their depth while every pixel stays where the model put it:

- "oracle person depth": each predicted person matched to a GT person in the image (Hungarian
  on the mean pixel distance of their common joints) is moved along its camera rays to the GT
  person's distance (all its joints scaled by the median GT / predicted distance ratio of the
  common joints), so only the person's own shape is left to the model;
- "oracle joint depth": every common joint at its GT distance.

The oracle rows are the F1 that perfect depth would give this model's 2D detections; the gap
to 100 % is what its 2D peaks and association lose, which no depth prior (stature, ground
plane) can win back. ``found_2d`` counts the GT people that some predicted person matches in
the image (the oracle's matching), by the GT person's distance: the people the model finds
at all; ``ankle_row_error_px`` is how far the found people's detected ankles are from their
GT rows (what the ground plane turns into distance). ``--threshold`` scores another peak
threshold than the model's.

    python -m loco_ros.evaluation.error_budget --model weights/demo --frames 400 --seed 777 \
        --out weights/demo/logs/error_budget.json
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from loco_ros.decoding.ground_plane import ANKLES
from loco_ros.decoding.lifting import project_to_image
from loco_ros.evaluation import add_model_argument, model_dir
from loco_ros.evaluation.evaluate import _finite_or_empty, synthetic_frames
from loco_ros.evaluation.pipeline import evaluation_pipeline, people_in_image, run_frame
from loco_ros.metrics import (
    JTA_THRESHOLDS_M,
    format_markdown_table,
    jta_metric,
    match_people_in_image,
)
from loco_ros.runtime.estimator import load_model
from loco_ros.training.common import write_json
from loco_ros.types import People

ROWS = {
    "refined": "LoCO + refiner",
    "person_oracle": "LoCO + refiner, oracle person depth",
    "joint_oracle": "LoCO + refiner, oracle joint depth",
    "grounded": "LoCO + refiner + ground plane",
}
DISTANCE_BINS_FROM_M = (0.0, 10.0, 20.0, 30.0)  # where each bin starts; the last is open
MATCH_MAX_PX = 16.0


def with_oracle_depth(people: People, gt_xyz_m: np.ndarray, K: np.ndarray,
                      per_joint: bool = False, max_pixels: float = MATCH_MAX_PX) -> People:
    """``people`` with the GT distance of their matched GT person (see the module docstring).

    gt_xyz_m: (G, J, 3) metres, NaN where absent; K: (3, 3) intrinsics of the image the
    people's ``uv_px`` refer to. Unmatched people and joints without a GT partner keep their
    distance (``per_joint``) or take their person's ratio. Pixels never move.
    """
    xyz = people.xyz_m.astype(np.float64).copy()
    pairs = match_people_in_image(project_to_image(gt_xyz_m, K), project_to_image(xyz, K),
                                  max_pixels)
    for g, p in pairs:
        ratio = np.linalg.norm(gt_xyz_m[g], axis=-1) / np.linalg.norm(xyz[p], axis=-1)
        common = np.isfinite(ratio)
        person = np.median(ratio[common])
        scale = np.where(common, ratio, person) if per_joint else np.full_like(ratio, person)
        xyz[p] *= scale[:, None]
    return replace(people, xyz_m=xyz.astype(people.xyz_m.dtype))


def found_in_image(people: People, gt_xyz_m: np.ndarray, K: np.ndarray,
                   max_pixels: float = MATCH_MAX_PX
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per GT person (G,): its median joint distance (m) and whether a predicted person
    matches it in the image (the matching of :func:`with_oracle_depth`); and (A,) the
    absolute image-row errors (px) of the matched people's detected ankles, the pixels the
    ground plane takes a person's distance from."""
    distance_m = np.array([np.nanmedian(np.linalg.norm(g, axis=-1)) for g in gt_xyz_m])
    gt_uv = project_to_image(gt_xyz_m, K)
    pred_uv = project_to_image(people.xyz_m.astype(np.float64), K)
    pairs = match_people_in_image(gt_uv, pred_uv, max_pixels)
    found = np.zeros(len(gt_xyz_m), bool)
    found[pairs[:, 0]] = True
    rows = np.abs(pred_uv[pairs[:, 1]][:, ANKLES, 1] - gt_uv[pairs[:, 0]][:, ANKLES, 1])
    rows = rows[people.detected[pairs[:, 1]][:, ANKLES] & np.isfinite(rows)]
    return distance_m, found, rows


def found_by_distance(distance_m: np.ndarray, found: np.ndarray) -> dict:
    """GT people and those found per distance bin (``from_m``: :data:`DISTANCE_BINS_FROM_M`)."""
    index = np.digitize(distance_m, DISTANCE_BINS_FROM_M[1:])
    bins = len(DISTANCE_BINS_FROM_M)
    return {"from_m": list(DISTANCE_BINS_FROM_M),
            "gt": np.bincount(index, minlength=bins).tolist(),
            "found": np.bincount(index[found], minlength=bins).tolist()}


def spread(errors: np.ndarray) -> dict:
    """Median and 90th percentile of absolute errors, and how many."""
    if errors.size == 0:
        return {"median": float("nan"), "p90": float("nan"), "count": 0}
    return {"median": float(np.median(errors)), "p90": float(np.percentile(errors, 90)),
            "count": int(errors.size)}


def error_budget(model_dir: str | Path, frames: int, seed: int, threads: int = 2,
                 progress: bool = True, threshold: float | None = None) -> dict:
    """JTA metric of :data:`ROWS` and :func:`found_by_distance` over ``frames`` held-out
    synthetic frames of ``seed`` (``threshold``: a peak threshold instead of the model's)."""
    torch.set_num_threads(threads)
    config, network, refiner = load_model(Path(model_dir))
    if threshold is not None:
        config = replace(config, decode=replace(config.decode, threshold=threshold))
    scored = {k: [] for k in ROWS}
    distances, found, ankle_rows = [], [], []
    frame_pipeline = evaluation_pipeline(network, config, refiner)
    for image, K, gt, ground in tqdm(synthetic_frames(config, frames, seed), total=frames,
                                     disable=not progress, desc="error budget"):
        gt = _finite_or_empty(gt)
        out = run_frame(frame_pipeline, image, K, ground)
        variants = {
            "refined": out.refined,
            "person_oracle": with_oracle_depth(out.refined, gt, K),
            "joint_oracle": with_oracle_depth(out.refined, gt, K, per_joint=True),
            "grounded": out.grounded,
        }
        wh = (image.shape[1], image.shape[0])
        for key, people in variants.items():
            scored[key].append((gt, people_in_image(people, wh, K), out.solitary))
        frame_distance, frame_found, frame_rows = found_in_image(out.refined, gt, K)
        distances.append(frame_distance)
        found.append(frame_found)
        ankle_rows.append(frame_rows)
    result = {"model_dir": str(model_dir), "frames": frames, "seed": seed,
              "threshold": config.decode.threshold,
              "found_2d": found_by_distance(np.concatenate(distances), np.concatenate(found)),
              "ankle_row_error_px": spread(np.concatenate(ankle_rows)),
              "jta": {}}
    for key, frames_list in scored.items():
        res = jta_metric(frames_list, JTA_THRESHOLDS_M)
        result["jta"][key] = {f"{t:g}": r for t, r in res.items()}
    return result


def markdown(result: dict) -> str:
    """The result as a markdown table (F1, PR, RE at 0.8 m and F1 at each threshold)."""
    rows = []
    for key, name in ROWS.items():
        r = result["jta"][key]
        rows.append([name] + [100 * r[t]["f1"] for t in ("0.4", "0.8", "1.2")]
                    + [100 * r["0.8"]["pr"], 100 * r["0.8"]["re"]])
    header = ["people", "F1@0.4m", "F1@0.8m", "F1@1.2m", "PR@0.8m", "RE@0.8m"]
    found, ankles = result["found_2d"], result["ankle_row_error_px"]
    starts = found["from_m"]
    spans = zip(starts, starts[1:] + [None], strict=True)
    found_header = ["GT people found in the image"] + [
        f"{a:g}-{b:g} m" if b is not None else f">= {a:g} m" for a, b in spans] + ["all"]
    counts = zip(found["found"] + [sum(found["found"])], found["gt"] + [sum(found["gt"])],
                 strict=True)
    found_row = ["found / GT"] + [f"{f} / {g}" for f, g in counts]
    return (f"Model `{result['model_dir']}`, {result['frames']} frames of seed "
            f"{result['seed']}, threshold {result['threshold']:g}\n\n"
            + format_markdown_table(header, rows, ".1f") + "\n\n"
            + format_markdown_table(found_header, [found_row])
            + "\n\nImage-row error of the found people's detected ankles: median "
            f"{ankles['median']:.2f} px, 90th percentile {ankles['p90']:.2f} px "
            f"({ankles['count']} ankles)\n")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_argument(p, "model directory")
    p.add_argument("--frames", type=int, default=400)
    p.add_argument("--seed", type=int, default=777)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=None, help="JSON file for the result")
    p.add_argument("--threshold", type=float, default=None,
                   help="peak threshold (default: the model's decode.threshold)")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    args.model = model_dir(args.model)
    result = error_budget(args.model, args.frames, args.seed, args.threads,
                          not args.no_progress, args.threshold)
    print(markdown(result))
    if args.out:
        write_json(Path(args.out), result)
    return result


if __name__ == "__main__":
    main()
