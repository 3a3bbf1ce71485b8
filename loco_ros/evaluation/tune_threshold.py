"""Pick the peak threshold (``decode.threshold``) of a model on VALIDATION scenes.

For each candidate threshold: the VHA round-trip F1 at 1 voxel on GT heatmaps and, unless
``--no-pipeline``, the pipeline's JTA F1 at 0.8 m without and with the refiner, and with the
refiner and the scene camera's ground plane, on synthetic scenes of
``--seed`` (the trainers' validation seed by default, never the test seed).

    python -m loco_ros.evaluation.tune_threshold --model weights/demo --frames 48 \
        --thresholds 0.1 0.15 0.2 0.3
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from loco_ros.decoding.peaks import find_peaks
from loco_ros.evaluation import add_model_argument, model_dir
from loco_ros.evaluation.pipeline import evaluation_pipeline, people_in_image, run_frame
from loco_ros.metrics import PeakCounts, jta_metric, peak_f1
from loco_ros.runtime.estimator import load_model
from loco_ros.synthetic.render import render_scene
from loco_ros.training.common import sample_rng, write_json
from loco_ros.training.data import (
    SceneRanges,
    draw_scene,
    gt_people,
    gt_voxels_per_joint,
    heatmap_of,
    scene_config,
)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_model_argument(p)
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--seed", type=int, default=1000003)
    p.add_argument("--thresholds", type=float, nargs="+", default=[0.1, 0.15, 0.2, 0.3])
    p.add_argument("--min-joints", type=int, nargs="+", default=None,
                   help="also try these association.min_joints values (pipeline only)")
    p.add_argument("--no-pipeline", action="store_true")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    args.model = model_dir(args.model)
    torch.set_num_threads(args.threads)
    config, network, refiner = load_model(Path(args.model))
    grid = config.grid
    cfg = scene_config(grid, SceneRanges())
    scenes = [draw_scene(args.seed, i, cfg, stream=1) for i in range(args.frames)]
    images = [render_scene(s, sample_rng(args.seed, i, 11)) for i, s in enumerate(scenes)]
    decoded = []
    with torch.no_grad():
        for s in scenes:
            hm = torch.from_numpy(heatmap_of(s, grid))[None]
            decoded.append(network.vha(hm)[0].numpy())
    result = {}
    grid_pts = [(t, m) for t in args.thresholds
                for m in (args.min_joints or [config.association.min_joints])]
    for t, m in grid_pts:
        cfg_t = replace(config, decode=replace(config.decode, threshold=t),
                        association=replace(config.association, min_joints=m))
        counts = PeakCounts()
        for s, out in zip(scenes, decoded, strict=True):
            peaks = find_peaks(out, replace(cfg_t.decode, subvoxel=False))
            counts = counts + peak_f1(gt_voxels_per_joint(s, grid), peaks, 1)
        row = {"vha_f1_1": counts.f1, "vha_pr_1": counts.precision, "vha_re_1": counts.recall}
        if not args.no_pipeline:
            frames = {"plain": [], "refined": [], "grounded": []}
            frame_pipeline = evaluation_pipeline(network, cfg_t, refiner)
            for s, image in zip(scenes, images, strict=True):
                o = run_frame(frame_pipeline, image, s.K, s.camera.ground_plane)
                gt = gt_people(s)
                for key, people in (("plain", o.detected), ("refined", o.refined),
                                    ("grounded", o.grounded)):
                    if people is not None:
                        frames[key].append(
                            (gt, people_in_image(people, s.image_size, s.K), o.solitary))
            for key, fr in frames.items():
                if fr:
                    r = jta_metric(fr, (0.8,))[0.8]
                    row[f"{key}_f1_0.8"] = r["f1"]
                    row[f"{key}_pr_0.8"] = r["pr"]
                    row[f"{key}_re_0.8"] = r["re"]
        result[f"{t:g}/{m}"] = row
        text = ", ".join(f"{k} {v:.4f}" for k, v in row.items())
        print(f"threshold {t:g} min_joints {m}: {text}", flush=True)
    if args.out:
        write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
