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
the image (the oracle's matching), by the GT person's distance (``person_distance_m``, the
bins of 3DPCK): the people the model finds at all; ``ankle_row_error_px`` is how far the
found people's detected ankles are from their GT rows (what the ground plane turns into
distance). ``--threshold`` scores another peak threshold than the model's.

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
    PCK_DISTANCE_EDGES_M,
    BinnedRecall,
    bin_label,
    format_markdown_table,
    jta_metric,
    match_people_in_image,
    person_distance_m,
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
DISTANCE_EDGES_M = (0.0, *PCK_DISTANCE_EDGES_M, float("inf"))  # of person_distance_m
MATCH_MAX_PX = 16.0


def image_pairs(people: People, gt_xyz_m: np.ndarray, K: np.ndarray,
                max_pixels: float = MATCH_MAX_PX) -> np.ndarray:
    """(M, 2) [gt, predicted] index pairs: GT people (G, J, 3) metres, NaN where absent,
    matched one-to-one to ``people`` in the image of intrinsics K (3, 3) by the mean pixel
    distance of their common joints."""
    return match_people_in_image(project_to_image(gt_xyz_m, K),
                                 project_to_image(people.xyz_m.astype(np.float64), K),
                                 max_pixels)


def with_oracle_depth(people: People, gt_xyz_m: np.ndarray, pairs: np.ndarray,
                      per_joint: bool = False) -> People:
    """``people`` with the GT distance of their matched GT person (see the module docstring).

    gt_xyz_m: (G, J, 3) metres, NaN where absent; pairs: (M, 2) from :func:`image_pairs`.
    Unmatched people and joints without a GT partner keep their distance (``per_joint``) or
    take their person's ratio. Pixels never move.
    """
    xyz = people.xyz_m.astype(np.float64).copy()
    for g, p in pairs:
        ratio = np.linalg.norm(gt_xyz_m[g], axis=-1) / np.linalg.norm(xyz[p], axis=-1)
        common = np.isfinite(ratio)
        person = np.median(ratio[common])
        scale = np.where(common, ratio, person) if per_joint else np.full_like(ratio, person)
        xyz[p] *= scale[:, None]
    return replace(people, xyz_m=xyz.astype(people.xyz_m.dtype))


def found_in_image(people: People, gt_xyz_m: np.ndarray, K: np.ndarray, pairs: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(G,) whether each GT person is matched (``pairs`` from :func:`image_pairs`), and (A,)
    the absolute image-row errors (px) of the matched people's detected ankles, the pixels
    the ground plane takes a person's distance from."""
    found = np.zeros(len(gt_xyz_m), bool)
    found[pairs[:, 0]] = True
    gt_uv = project_to_image(gt_xyz_m, K)[pairs[:, 0]]
    pred_uv = project_to_image(people.xyz_m.astype(np.float64), K)[pairs[:, 1]]
    rows = np.abs(pred_uv[:, ANKLES, 1] - gt_uv[:, ANKLES, 1])
    rows = rows[people.detected[pairs[:, 1]][:, ANKLES] & np.isfinite(rows)]
    return found, rows


def spread(errors: np.ndarray) -> dict:
    """Median and 90th percentile of absolute errors, and how many."""
    if errors.size == 0:
        return {"median": float("nan"), "p90": float("nan"), "count": 0}
    return {"median": float(np.median(errors)), "p90": float(np.percentile(errors, 90)),
            "count": int(errors.size)}


def error_budget(model_dir: str | Path, frames: int, seed: int, threads: int = 2,
                 progress: bool = True, threshold: float | None = None) -> dict:
    """JTA metric of :data:`ROWS`, GT people found in the image by distance and the found
    ankles' row errors over ``frames`` held-out synthetic frames of ``seed`` (``threshold``:
    a peak threshold instead of the model's)."""
    torch.set_num_threads(threads)
    config, network, refiner = load_model(Path(model_dir))
    if threshold is not None:
        config = replace(config, decode=replace(config.decode, threshold=threshold))
    scored = {k: [] for k in ROWS}
    found_2d, ankle_rows = BinnedRecall("distance_m", DISTANCE_EDGES_M), []
    frame_pipeline = evaluation_pipeline(network, config, refiner)
    for image, K, gt, ground in tqdm(synthetic_frames(config, frames, seed), total=frames,
                                     disable=not progress, desc="error budget"):
        gt = _finite_or_empty(gt)
        out = run_frame(frame_pipeline, image, K, ground)
        pairs = image_pairs(out.refined, gt, K)
        variants = {
            "refined": out.refined,
            "person_oracle": with_oracle_depth(out.refined, gt, pairs),
            "joint_oracle": with_oracle_depth(out.refined, gt, pairs, per_joint=True),
            "grounded": out.grounded,
        }
        wh = (image.shape[1], image.shape[0])
        for key, people in variants.items():
            scored[key].append((gt, people_in_image(people, wh, K), out.solitary))
        found, rows = found_in_image(out.refined, gt, K, pairs)
        found_2d.add(person_distance_m(gt), found)
        ankle_rows.append(rows)
    result = {"model_dir": str(model_dir), "frames": frames, "seed": seed,
              "threshold": config.decode.threshold, "found_2d": found_2d.rows(),
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
    found_header = (["GT people found in the image, by distance (m)"]
                    + [bin_label(b["distance_m"]) for b in found] + ["all"])
    counts = [(b["found"], b["reference"]) for b in found]
    counts.append((sum(f for f, _ in counts), sum(g for _, g in counts)))
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
