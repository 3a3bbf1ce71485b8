"""Train the Pose Refiner on GT poses with removed joints and noisy coordinates (paper
Sec. 3.4: "randomly removed joints and Gaussian noise on the coordinates").

GT poses are the people of synthetic scenes (camera frame, so the pose orientations seen
through a real camera: pitch, roll, yaw), a pool of ``--pool-scenes`` scenes drawn from the
seed. Every step corrupts a batch of them (per-sample randomness from the seed and the step):

- every coordinate of every joint (head included) gets Gaussian noise of a per-person sigma
  drawn uniformly in [0, ``--noise-max``] metres;
- each of the 13 non-head joints is removed with a per-person probability drawn in
  [0, ``--drop-max``]; with probability ``--drop-legs`` the lower legs (knees, ankles) are
  removed too (people cut by the image bottom); a removed joint is a hole (-1) in the input.

Input: ``refiner.normalise_pose`` of the corrupted pose (holes -1). Target: the CLEAN joints
relative to the NOISY head, normalised the same way, because ``refine_people`` puts the
refined joints back around the detected (noisy) head. Loss: MSE over all 39 values (holes
included: the refiner fills them).

Validation: mean 3D error (mm) of all 13 joints after refinement on fixed corrupted poses
of the validation seed (lower is better; the best is kept as ``refiner.safetensors``), next
to the error of the corrupted input on its present joints.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from loco_ros.config import ModelConfig, load_yaml
from loco_ros.decoding.refiner import PoseRefiner, denormalise_pose, normalise_pose
from loco_ros.skeleton import HEAD_TOP, NUM_JOINTS
from loco_ros.training import common
from loco_ros.training.data import SceneRanges, draw_scene, scene_config
from loco_ros.training.loop import RunningMeans, keep_best, optimizer_step, start_run

NAME = "refiner"
PLOT = common.Plot("Pose refiner training", "mpjpe_mm")
LEG_JOINTS = (9, 10, 12, 13)


def pose_pool(seed: int, scenes: int, config, stream: int = 0) -> np.ndarray:
    """(N, J, 3) float32 GT poses (camera frame, metres) of ``scenes`` synthetic scenes."""
    poses = [draw_scene(seed, i, config, stream).joints_xyz_m for i in range(scenes)]
    return np.concatenate(poses, 0).astype(np.float32)


def corrupt(poses: np.ndarray, rng: np.random.Generator, noise_max: float, drop_max: float,
            drop_legs: float) -> tuple[np.ndarray, np.ndarray]:
    """Noisy poses (B, J, 3) and the (B, J) presence mask (head always present)."""
    b = poses.shape[0]
    sigma = rng.uniform(0.0, noise_max, (b, 1, 1))
    noisy = poses + rng.standard_normal(poses.shape) * sigma
    p_drop = rng.uniform(0.0, drop_max, (b, 1))
    present = rng.random((b, NUM_JOINTS)) >= p_drop
    legs = rng.random(b) < drop_legs
    present[np.ix_(legs, LEG_JOINTS)] = False
    present[:, HEAD_TOP] = True
    return noisy.astype(np.float32), present


def make_batch(poses: np.ndarray, noisy: np.ndarray, present: np.ndarray
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Refiner input (B, 39) and target (B, 39) (clean joints around the noisy head)."""
    x = normalise_pose(noisy, present)
    target_abs = poses.copy()
    target_abs[:, HEAD_TOP] = noisy[:, HEAD_TOP]
    y = normalise_pose(target_abs, np.ones_like(present))
    return torch.from_numpy(x), torch.from_numpy(y)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="loco train-refiner", description=__doc__.split("\n")[0])
    p.add_argument("--model-config", required=True, help="ModelConfig YAML (refiner.hidden)")
    common.add_common_args(p)
    p.add_argument("--pool-scenes", type=int, default=4000, help="scenes of the GT pose pool")
    p.add_argument("--noise-max", type=float, default=0.08, help="max noise sigma (m)")
    p.add_argument("--drop-max", type=float, default=0.4, help="max joint removal probability")
    p.add_argument("--drop-legs", type=float, default=0.15, help="probability to remove legs")
    p.add_argument("--val-poses", type=int, default=2000)
    p.set_defaults(batch_size=256, steps=6000, val_every=500, ckpt_every=500, log_every=50,
                   warmup=100)
    return p


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    info = common.setup_distributed(args.device, args.dist_init_method)
    config: ModelConfig = load_yaml(ModelConfig, args.model_config)
    run = common.RunDir(args.out, NAME)
    common.seed_everything(args.seed)
    model = PoseRefiner(config.refiner.hidden).to(info.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    started = start_run(run, model, optimizer, config, args, info, NAME, float("inf"))
    start, best, log, ddp = started.step, started.best, started.log, started.ddp

    cfg = scene_config(config.grid, SceneRanges(people=(1, 30)))
    pool = pose_pool(args.seed, args.pool_scenes, cfg, stream=0)
    val_pool = pose_pool(args.val_seed, max(1, args.val_poses // 8), cfg, stream=1)
    val_pool = val_pool[: args.val_poses]
    vrng = common.sample_rng(args.val_seed, 0, stream=3)
    v_noisy, v_present = corrupt(val_pool, vrng, args.noise_max, args.drop_max, args.drop_legs)
    vx, _ = make_batch(val_pool, v_noisy, v_present)

    def validate(step: int) -> float:
        model.eval()
        with torch.no_grad():
            out = model(vx.to(info.device)).cpu().numpy()
        refined = denormalise_pose(v_noisy[:, HEAD_TOP], out)
        err = np.linalg.norm(refined[:, 1:] - val_pool[:, 1:], axis=2) * 1000.0
        hole = ~v_present[:, 1:]
        noisy_err = np.linalg.norm(v_noisy[:, 1:] - val_pool[:, 1:], axis=2) * 1000.0
        rec = {"mpjpe_mm": float(err.mean()), "mpjpe_present_mm": float(err[~hole].mean()),
               "mpjpe_holes_mm": float(err[hole].mean()) if hole.any() else float("nan"),
               "input_present_mm": float(noisy_err[~hole].mean())}
        log.val(step=step, **rec)
        model.train()
        return rec["mpjpe_mm"]

    bar = common.progress_bar(args, start, info, "train-refiner")
    t0 = started.clock_start()
    running = RunningMeans(log, bar, info, args)
    model.train()
    step = start
    while step < args.steps:
        lr = common.schedule_lr(step, time.time() - t0, args)
        common.set_lr(optimizer, lr)
        rng = common.sample_rng(args.seed, step * info.world_size + info.rank, stream=2)
        idx = rng.integers(0, pool.shape[0], args.batch_size)
        noisy, present = corrupt(pool[idx], rng, args.noise_max, args.drop_max, args.drop_legs)
        x, y = make_batch(pool[idx], noisy, present)
        loss = torch.mean((ddp(x.to(info.device)) - y.to(info.device)) ** 2)
        value = optimizer_step(optimizer, loss)
        step += 1
        bar.update(1)
        running.add(step, lr, t0, {"loss": value})
        if info.is_main and (step % args.val_every == 0 or step == args.steps):
            err = validate(step)
            best = keep_best(run, model, step, err, best, "val_mpjpe_mm", higher_is_better=False)
        if common.checkpoint_or_stop(run, log, model, optimizer, step, best, args, info, t0,
                                     PLOT):
            break
    bar.close()
    if info.is_main:
        common.finish_run(run, log, model, step, bool(np.isfinite(best)), t0, PLOT,
                          best_val_mpjpe_mm=best)
    common.cleanup_distributed()
    return {"step": step, "best_mpjpe_mm": best, "model": model}


if __name__ == "__main__":
    main()
