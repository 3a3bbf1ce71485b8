"""Train the Volumetric Heatmap Autoencoder on GT heatmaps of synthetic 3D poses.

No images are needed: every sample is a random synthetic scene (loco_ros.synthetic.scene)
whose joints are rendered into a GT volumetric heatmap by ``codec.render_volumetric_heatmap``
(camera intrinsics of the scene, canonical-focal depth).

Loss: MSE, optionally foreground-weighted, ``mean((1 + fg_weight * target) * (y - target)^2)``.
The heatmaps are >99.9 % zeros, so plain MSE first learns to output zero everywhere; the
weight (default 10 at a target of 1, none on the background) makes the Gaussians matter from
the first steps. ``--fg-weight 0`` is the authors' plain MSE.

The loss is multiplied by ``--loss-scale`` (1e4): a mean over ~1e7 mostly-empty voxels
gives gradients close to Adam's eps. A fresh VHA is He-initialised (``kaiming_init``); with
PyTorch's default init and lr >= 1e-3 we saw it stay at the "output zero" minimum.

Sigma schedule (``--sigma-schedule 8:2000,4:4000``, the authors' 8 -> 4 -> 2): Gaussians of
sigma 8 until step 2000, 4 until step 4000, then the grid's sigma. Off by default.

Data: ``--data synthetic`` (default), ``shards`` (the 3D poses of ``loco generate shards``
output, assumed at the network input size) or ``jta`` (JTA's 3D poses, ``--jta-root``; the
full-HD intrinsics are letterboxed to the network input). Validation always uses synthetic
scenes.

Validation: F1 of the decoded peaks at 0 / 1 / 2 voxels (``metrics.peak_f1``, paper Table 2)
on fixed scenes of the validation seed; the best F1 at 1 voxel is kept as ``vha.safetensors``.

    python -m loco_ros.training.train_vha --model-config weights/demo/model.yaml \
        --out runs/vha --steps 3000 --batch-size 4
    torchrun --nproc_per_node 2 -m loco_ros.training.train_vha ...   # DDP (gloo on CPU)
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch

from loco_ros.config import DecodeConfig, GridConfig, ModelConfig, load_yaml
from loco_ros.decoding.peaks import find_peaks
from loco_ros.metrics import PeakCounts, peak_f1
from loco_ros.model.vha import VolumetricHeatmapAutoencoder, total_stride
from loco_ros.training import common, sources
from loco_ros.training.data import (
    SceneRanges,
    draw_scene,
    gt_voxels_per_joint,
    heatmap_of,
    scene_config,
)
from loco_ros.training.loop import RunningMeans, keep_best, optimizer_step, start_run

NAME = "vha"
PLOT = common.Plot("VHA training", "f1_1")
TOLERANCES = (0, 1, 2)


def parse_sigma_schedule(text: str | None) -> list[tuple[float, int]]:
    """"8:2000,4:4000" -> [(8.0, 2000), (4.0, 4000)] (sigma used until that step)."""
    if not text:
        return []
    out = []
    for part in text.split(","):
        sigma, until = part.split(":")
        out.append((float(sigma), int(until)))
    return out


def sigma_at(step: int, schedule: list[tuple[float, int]], final: float) -> float:
    for sigma, until in schedule:
        if step < until:
            return sigma
    return final


def weighted_mse(pred: torch.Tensor, target: torch.Tensor, fg_weight: float,
                 scale: float = 1.0) -> torch.Tensor:
    """``scale * mean((1 + fg_weight * target) * (pred - target)^2)``."""
    err = (pred - target) ** 2
    if fg_weight > 0:
        err = err * (1.0 + fg_weight * target)
    return err.mean() * scale


def kaiming_init(model: torch.nn.Module) -> None:
    """He-normal (fan-in, ReLU gain) convolution weights and zero biases.

    PyTorch's default init shrinks the activations by about sqrt(6) per ReLU layer; through
    the VHA's eight layers with a one-channel bottleneck the decoded output starts near 1e-2
    and training sits in the "predict zero" minimum. He init keeps the signal alive.
    """
    for m in model.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d)):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            torch.nn.init.zeros_(m.bias)


def vha_peak_counts(
    vha: VolumetricHeatmapAutoencoder,
    heatmaps: list[np.ndarray],
    gt_voxels: list[list[np.ndarray]],
    decode: DecodeConfig,
    device: torch.device | str = "cpu",
) -> dict[int, PeakCounts]:
    """Peak counts at 0/1/2 voxels of the VHA round trip on GT heatmaps (J, D, H, W)."""
    counts = {t: PeakCounts() for t in TOLERANCES}
    cfg = replace(decode, subvoxel=False)
    vha.eval()
    with torch.no_grad():
        for hm, gt in zip(heatmaps, gt_voxels, strict=True):
            out = vha(torch.from_numpy(hm)[None].to(device))[0].float().cpu().numpy()
            peaks = find_peaks(out, cfg)
            for t in TOLERANCES:
                counts[t] = counts[t] + peak_f1(gt, peaks, t)
    return counts


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="loco train-vha", description=__doc__.split("\n")[0])
    p.add_argument("--model-config", required=True, help="ModelConfig YAML (grid, vha)")
    common.add_common_args(p)
    p.add_argument("--fg-weight", type=float, default=10.0, help="foreground loss weight")
    p.add_argument("--sigma-schedule", default="", help='e.g. "8:2000,4:4000" (off: "")')
    p.add_argument("--people", type=int, nargs=2, default=(1, 20), metavar=("MIN", "MAX"))
    p.add_argument("--distance", type=float, nargs=2, default=(2.0, 25.0), metavar=("MIN", "MAX"))
    p.add_argument("--focal-jitter", type=float, default=0.3)
    p.add_argument("--val-scenes", type=int, default=24, help="validation scenes")
    p.add_argument("--init", default=None, help="start from these VHA weights (fine-tuning)")
    p.add_argument("--init-scheme", choices=("kaiming", "default"), default="kaiming",
                   help="weight init of a fresh VHA (see kaiming_init)")
    p.add_argument("--loss-scale", type=float, default=1e4,
                   help="constant factor on the loss: the mean over ~1e7 mostly-empty voxels "
                        "gives gradients near Adam's eps otherwise")
    p.add_argument("--crop", type=int, nargs=2, default=None, metavar=("H", "W"),
                   help="train on random H x W heatmap crops (multiples of 8; centred on a "
                        "random joint 80 %% of the time) instead of whole heatmaps")
    p.add_argument("--freeze-encoder", action="store_true",
                   help="train the decoder only: the codes stay as they are, so a code "
                        "predictor trained on this VHA's codes stays valid")
    sources.add_source_args(p)
    p.set_defaults(lr=5e-4)
    return p


def _ranges(args) -> SceneRanges:
    return SceneRanges(people=tuple(args.people), distance_m=tuple(args.distance),
                       focal_jitter=args.focal_jitter)


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    info = common.setup_distributed(args.device, args.dist_init_method)
    config: ModelConfig = load_yaml(ModelConfig, args.model_config)
    grid: GridConfig = config.grid
    run = common.RunDir(args.out, NAME)
    common.seed_everything(args.seed)
    train_grid = grid
    if args.crop:  # same weights (convolutions only), smaller volume
        ch, cw = args.crop
        if ch % 8 or cw % 8 or ch > grid.height or cw > grid.width:
            raise SystemExit(f"--crop must be multiples of 8 within {grid.height}x{grid.width}")
        train_grid = replace(grid, image_height=8 * ch, image_width=8 * cw)
    model = VolumetricHeatmapAutoencoder(grid, config.vha.version)
    if args.init_scheme == "kaiming":
        kaiming_init(model)
    model = model.to(info.device)
    if args.init:
        from loco_ros.model.weights import load_weights

        load_weights(model, args.init)
    if args.freeze_encoder:
        for p in [*model.enc.parameters(), *model.fuse.parameters()]:
            p.requires_grad_(False)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=args.lr)
    train_model = model
    if args.crop:
        train_model = VolumetricHeatmapAutoencoder(train_grid, config.vha.version).to(info.device)
        train_model.load_state_dict(model.state_dict())
        # share the parameter tensors: the optimizer (built on model) updates both
        for (_, a), (_, b) in zip(model.named_parameters(), train_model.named_parameters(),
                                  strict=True):
            b.data = a.data
        for name, mod in train_model.named_modules():
            src = model.get_submodule(name) if name else model
            for pname, _ in list(mod.named_parameters(recurse=False)):
                setattr(mod, pname, getattr(src, pname))
    started = start_run(run, model, optimizer, config, args, info, NAME, -1.0, train_model)
    start, best, log, ddp = started.step, started.best, started.log, started.ddp

    schedule = parse_sigma_schedule(args.sigma_schedule)
    scene_cfg = scene_config(grid, _ranges(args))
    per_step = info.world_size * args.batch_size

    source = sources.make_source(args.data, args.seed, args.shards, args.jta_root,
                                 args.jta_split, args.jta_frame_step)

    def crop(volume: np.ndarray, index: int) -> np.ndarray:
        if not args.crop:
            return volume
        ch, cw = args.crop
        rng = common.sample_rng(args.seed, index, stream=20)
        _, _, h, w = volume.shape
        hot = np.argwhere(volume.max(axis=(0, 1)) > 0.5)
        if len(hot) and rng.random() < 0.8:
            cy, cx = hot[rng.integers(len(hot))]
            y0 = int(np.clip(cy - ch // 2 + rng.integers(-4, 5), 0, h - ch))
            x0 = int(np.clip(cx - cw // 2 + rng.integers(-4, 5), 0, w - cw))
        else:
            y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        cell = total_stride(config.vha.version)  # whole code cells
        y0, x0 = y0 - y0 % cell, x0 - x0 % cell
        return np.ascontiguousarray(volume[:, :, y0:y0 + ch, x0:x0 + cw])

    def make(index: int) -> torch.Tensor:
        return torch.from_numpy(crop(make_full(index).numpy(), index))

    def make_full(index: int) -> torch.Tensor:
        step = index // per_step
        sigma = sigma_at(step, schedule, grid.sigma)
        if source is not None:  # GT poses of shards / JTA, network intrinsics by letterbox
            from loco_ros.decoding.codec import render_volumetric_heatmap
            from loco_ros.decoding.lifting import letterbox_intrinsics

            _, K, joints = source(index, need_image=False)
            src_wh = (grid.image_width, grid.image_height)
            if args.data == "jta":
                src_wh = (1920, 1080)
            K_net, _, _ = letterbox_intrinsics(K, src_wh, (grid.image_width, grid.image_height))
            g = replace(grid, sigma=float(sigma))
            return torch.from_numpy(render_volumetric_heatmap(joints, K_net, g))
        scene = draw_scene(args.seed, index, scene_cfg, stream=0)
        return torch.from_numpy(heatmap_of(scene, grid, sigma))

    def collate(items: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack(items)

    val_scenes = [draw_scene(args.val_seed, i, scene_cfg, stream=1)
                  for i in range(args.val_scenes)] if info.is_main else []
    val_hm = [heatmap_of(s, grid) for s in val_scenes]
    val_gt = [gt_voxels_per_joint(s, grid) for s in val_scenes]

    def validate(step: int) -> float:
        counts = vha_peak_counts(model, val_hm, val_gt, config.decode, info.device)
        rec = {f"f1_{t}": c.f1 for t, c in counts.items()}
        rec.update({f"pr_{t}": c.precision for t, c in counts.items()})
        rec.update({f"re_{t}": c.recall for t, c in counts.items()})
        log.val(step=step, **rec)
        model.train()
        return rec["f1_1"]

    loader = common.make_loader(make, start, args.steps, info, args.batch_size, args.workers,
                                collate)
    bar = common.progress_bar(args, start, info, "train-vha")
    t0 = started.clock_start()
    step = start
    model.train()
    running = RunningMeans(log, bar, info, args)
    for batch in loader:
        lr = common.schedule_lr(step, time.time() - t0, args)
        common.set_lr(optimizer, lr)
        target = batch.to(info.device, non_blocking=True)
        pred = ddp(target)
        loss = weighted_mse(pred, target, args.fg_weight, args.loss_scale)
        value = optimizer_step(optimizer, loss)
        step += 1
        bar.update(1)
        running.add(step, lr, t0, {"loss": value},
                    sigma=sigma_at(step - 1, schedule, grid.sigma))
        final_sigma = sigma_at(step, schedule, grid.sigma) == grid.sigma
        if info.is_main and final_sigma and (step % args.val_every == 0 or step == args.steps):
            f1 = validate(step)
            bar.write(f"step {step}: val F1@1 = {f1:.4f} (best {max(best, f1):.4f})")
            best = keep_best(run, model, step, f1, best, "val_f1_1")
        if common.checkpoint_or_stop(run, log, model, optimizer, step, best, args, info, t0,
                                     PLOT):
            break
    bar.close()
    if info.is_main:  # without any validation the latest weights ship
        common.finish_run(run, log, model, step, best >= 0, t0, PLOT, best_val_f1_1=best)
    common.cleanup_distributed()
    return {"step": step, "best_f1_1": best, "model": model}


if __name__ == "__main__":
    main()
