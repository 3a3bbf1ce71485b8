"""Cheap check of the paper's JTA grid (config/models/paper_jta.yaml) on synthetic full-HD
scenes: the GT heatmap round trip (render -> peaks -> lifting) holds, and a VHA v2 of that
grid trains (a handful of batch-1 steps reduce the loss on the same scenes).

One paper-grid heatmap is 14 x 316 x 136 x 240 float32 = 580 MB and a VHA step on a CPU
takes minutes, so this runs a few steps only:

    python -m loco_ros.training.paper_grid_check --scenes 2 --steps 4 --out runs/paper_check
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from loco_ros.config import ModelConfig, load_yaml
from loco_ros.decoding.codec import encode_joints_to_voxels, render_volumetric_heatmap
from loco_ros.decoding.lifting import peaks_to_candidates
from loco_ros.decoding.peaks import find_peaks
from loco_ros.metrics import PeakCounts, peak_f1
from loco_ros.model.vha import VolumetricHeatmapAutoencoder
from loco_ros.skeleton import NUM_JOINTS
from loco_ros.training.data import SceneRanges, draw_scene, gt_voxels_per_joint, scene_config
from loco_ros.training.train_vha import kaiming_init, weighted_mse


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model-config", default="config/models/paper_jta.yaml")
    p.add_argument("--scenes", type=int, default=2)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=2020)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    config = load_yaml(ModelConfig, args.model_config)
    grid = config.grid
    cfg = scene_config(grid, SceneRanges(people=(1, 20), distance_m=(2.0, 60.0),
                                         focal_jitter=0.0))
    scenes = [draw_scene(args.seed, i, cfg, stream=7) for i in range(args.scenes)]
    result: dict = {"grid": {"shape": [NUM_JOINTS, grid.depth_bins, grid.height, grid.width],
                             "bytes_per_heatmap": 4 * NUM_JOINTS * grid.depth_bins
                             * grid.height * grid.width},
                    "scenes": [], "vha": {}}
    heatmaps = []
    counts = PeakCounts()
    for scene in scenes:
        t0 = time.time()
        hm = render_volumetric_heatmap(scene.joints_xyz_m, scene.K, grid)
        t_render = time.time() - t0
        peaks = find_peaks(hm, config.decode)
        t_peaks = time.time() - t0 - t_render
        gt_vox = gt_voxels_per_joint(scene, grid)
        counts = counts + peak_f1(gt_vox, replace_peaks_integer(peaks), 0)
        cand = peaks_to_candidates(peaks, grid, scene.K)
        _, valid = encode_joints_to_voxels(scene.joints_xyz_m, scene.K, grid)
        errors = []
        for k in range(NUM_JOINTS):
            gt = scene.joints_xyz_m[valid[:, k], k]
            pr = cand.xyz_m[cand.joint == k]
            if len(gt) and len(pr):
                d = np.linalg.norm(gt[:, None] - pr[None], axis=2)
                errors.extend(d.min(axis=1).tolist())
        result["scenes"].append({
            "people": scene.num_people, "valid_joints": int(valid.sum()),
            "peaks": len(peaks), "render_s": t_render, "peaks_s": t_peaks,
            "lift_error_median_m": float(np.median(errors)) if errors else None,
            "lift_error_p95_m": float(np.percentile(errors, 95)) if errors else None,
        })
        heatmaps.append(torch.from_numpy(hm))
    result["gt_round_trip_f1_0"] = counts.f1
    vha = VolumetricHeatmapAutoencoder(grid, config.vha.version)
    kaiming_init(vha)
    result["vha"]["params"] = sum(q.numel() for q in vha.parameters())
    result["vha"]["code_shape"] = list(vha.code_shape)
    opt = torch.optim.Adam(vha.parameters(), lr=args.lr)
    losses, times = [], []
    for step in range(args.steps):
        x = heatmaps[step % len(heatmaps)][None]
        t0 = time.time()
        loss = weighted_mse(vha(x), x, 10.0, 1e4)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.time() - t0)
        losses.append(float(loss))
        print(f"paper-grid VHA step {step}: loss {losses[-1]:.3f} ({times[-1]:.1f} s)",
              flush=True)
    with torch.no_grad():  # loss of every scene after the steps vs before (same weights init)
        after = [float(weighted_mse(vha(h[None]), h[None], 10.0, 1e4)) for h in heatmaps]
    result["vha"].update(losses=losses, step_s=times, loss_after_per_scene=after,
                         first_pass_loss_per_scene=losses[:len(heatmaps)])
    print(json.dumps(result, indent=1))
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "paper_grid_check.json").write_text(json.dumps(result, indent=1))
    return result


def replace_peaks_integer(peaks):
    """Peaks with rounded voxels (the F1 at 0 voxels compares integer voxels)."""
    return replace(peaks, voxel=np.floor(peaks.voxel + 0.5).astype(np.float32))


if __name__ == "__main__":
    main()
