"""How far can depth from one image go? The JTA metric of a perfect detector that knows
everything about every person except its stature.

One camera sees a person's size in pixels; size gives distance only through the person's
height, which it cannot see. This tool takes the held-out synthetic set, keeps every GT joint
on its true pixel, and puts each person at the distance it would have if it were
``--assumed-height-m`` tall (every joint scaled along its camera ray by assumed / true height).
Its JTA F1 is the ceiling of any method that gets depth from apparent size; the ground plane
(loco_ros.decoding.ground_plane) is not bound by it.

    python -m loco_ros.evaluation.depth_ceiling --frames 400 --seed 777 \
        --metrics weights/demo/logs/eval_heldout/metrics.json \
        --budget weights/demo/logs/error_budget.json --plot docs/depth_sources.png

``--metrics`` (a ``loco evaluate`` result on the same frames) and ``--plot`` draw the model's
F1 with image-only depth and with the ground plane next to this ceiling; ``--budget`` (an
``evaluation.error_budget`` result on the same frames) adds the model's own 2D detections
with perfect person depth.
"""

from __future__ import annotations

import argparse

import numpy as np
from tqdm import tqdm

from loco_ros.config import ModelConfig, load_yaml
from loco_ros.evaluation import add_model_argument, model_dir
from loco_ros.metrics import JTA_THRESHOLDS_M, jta_metric


def held_out_people(config: ModelConfig, frames: int, seed: int, people=(1, 20),
                    distance=(2.0, 25.0), focal_jitter: float = 0.3, progress: bool = True):
    """Per frame of the held-out stream: (GT people (P, 14, 3) m with NaN, statures (P,) m)."""
    from loco_ros.training.data import SceneRanges, draw_scene, gt_people, scene_config

    cfg = scene_config(config.grid, SceneRanges(tuple(people), tuple(distance), focal_jitter))
    out = []
    for i in tqdm(range(frames), disable=not progress, desc="depth ceiling"):
        scene = draw_scene(seed, i, cfg, stream=5)  # the evaluation's held-out stream
        gt = np.asarray(gt_people(scene), np.float64).reshape(-1, 14, 3)
        out.append((gt, np.asarray(scene.heights_m, np.float64)))
    return out


def stature_depth_frames(people: list, assumed_height_m: float) -> list:
    """(gt, pred) per frame of :func:`held_out_people`: pred = gt scaled per person by
    assumed / true stature (same pixels, distance from stature alone)."""
    return [(gt, gt * (assumed_height_m / heights)[:, None, None]) for gt, heights in people]


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_argument(p, "model directory (its grid)")
    p.add_argument("--frames", type=int, default=400)
    p.add_argument("--seed", type=int, default=777)
    p.add_argument("--assumed-height-m", type=float, nargs="+",
                   default=[1.62, 1.66, 1.70, 1.74, 1.78, 1.82],
                   help="statures to try; the best F1@0.8 m is the ceiling")
    p.add_argument("--out", default=None, help="JSON file for the result")
    p.add_argument("--metrics", default=None, help="loco evaluate metrics.json to compare")
    p.add_argument("--budget", default=None,
                   help="error_budget JSON of the model on the same frames: adds its 2D "
                        "detections with perfect person depth to the plot")
    p.add_argument("--plot", default=None, help="PNG: the model's F1 next to the ceiling")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    args.model = model_dir(args.model)
    config = load_yaml(ModelConfig, f"{args.model}/model.yaml")
    people = held_out_people(config, args.frames, args.seed, progress=not args.no_progress)
    statures = np.concatenate([heights for _, heights in people])
    rows = {}
    for height in args.assumed_height_m:
        res = jta_metric(stature_depth_frames(people, height), JTA_THRESHOLDS_M)
        rows[f"{height:g}"] = {f"{t:g}": r["f1"] for t, r in res.items()}
        print(f"assumed stature {height:.2f} m: F1 "
              + ", ".join(f"{100 * r['f1']:.1f} % at {t:g} m" for t, r in res.items()))
    best = max(rows, key=lambda h: rows[h]["0.8"])
    result = {"frames": args.frames, "seed": args.seed, "stature_mean_m": float(statures.mean()),
              "stature_std_m": float(statures.std()), "f1_by_assumed_height": rows,
              "best_assumed_height_m": float(best), "ceiling_f1": rows[best]}
    print(f"statures: mean {statures.mean():.3f} m, std {statures.std():.3f} m "
          f"({100 * statures.std() / statures.mean():.1f} %); ceiling (perfect 2D, depth from "
          f"stature {best} m): F1@0.8 m {100 * rows[best]['0.8']:.1f} %")
    if args.out:
        from loco_ros.training.common import write_json

        write_json(args.out, result)
    if args.plot:
        plot_depth_sources(result, args.metrics, args.plot, args.budget)
    return result


def plot_depth_sources(result: dict, metrics_path: str | None, png: str,
                       budget_path: str | None = None) -> None:
    """Grouped bars of JTA F1 at each threshold: the model (image only, with the ground
    plane) from ``metrics_path``, the stature-only ceiling, and from ``budget_path``
    (``evaluation.error_budget``) the model's own 2D detections with perfect person depth."""
    import json
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars = {}
    if metrics_path:
        jta = json.loads(Path(metrics_path).read_text())["jta"]
        names = {"refined": "model, depth from the image", "grounded": "model + ground plane"}
        bars.update({label: {t: v["f1"] for t, v in jta[key].items()}
                     for key, label in names.items() if key in jta})
    bars[f"perfect 2D, depth from stature {result['best_assumed_height_m']:g} m"] = \
        result["ceiling_f1"]
    if budget_path:
        oracle = json.loads(Path(budget_path).read_text())["jta"]["person_oracle"]
        bars["model's 2D, perfect person depth"] = {t: v["f1"] for t, v in oracle.items()}
    thresholds = list(result["ceiling_f1"])
    fig, ax = plt.subplots(figsize=(7, 3.6), dpi=110)
    width = 0.8 / len(bars)
    for i, (label, f1) in enumerate(bars.items()):
        x = np.arange(len(thresholds)) + (i - (len(bars) - 1) / 2) * width
        values = [100 * f1[t] for t in thresholds]
        ax.bar(x, values, width, label=label)
        for xi, v in zip(x, values, strict=True):
            ax.text(xi, v + 1, f"{v:.0f}", ha="center", fontsize=8)
    if "0.8" in thresholds:
        at = thresholds.index("0.8")
        ax.hlines(80, at - 0.45, at + 0.45, colors="k", linestyles="--",
                  label="target F1 at 0.8 m (80 %)")
    ax.set_xticks(np.arange(len(thresholds)), [f"{t} m" for t in thresholds])
    ax.set_ylabel("JTA F1 (%)")
    ax.set_ylim(0, 125)
    ax.set_yticks(range(0, 101, 20))
    ax.set_title(f"Held-out synthetic set ({result['frames']} frames): where depth comes from",
                 fontsize=10)
    ax.legend(fontsize=8, loc="upper center", ncol=2)
    fig.tight_layout()
    Path(png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)
    plt.close(fig)


if __name__ == "__main__":
    main()
