"""The pieces every trainer's loop shares: start or resume a run, take an optimiser step,
log running means, keep the best weights. Each trainer keeps its own data and validation."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from loco_ros.config import ModelConfig
from loco_ros.training.common import (
    DistInfo,
    RunDir,
    TrainLog,
    all_reduce_mean,
    broadcast_module,
    wrap_ddp,
)


@dataclass
class Started:
    """Where a run begins: first step, best validation value so far, its log, the module to
    call in the loop (DDP-wrapped when distributed)."""

    step: int
    best: float
    log: TrainLog
    ddp: nn.Module
    elapsed_s: float = 0.0  # training time already spent before a resume (the time budget's)

    def clock_start(self) -> float:
        """The ``time.time()`` the run's time budget counts from: now, less the time the
        resumed checkpoint had already spent, so ``--max-minutes`` spans resumes."""
        return time.time() - self.elapsed_s


def start_run(run: RunDir, model: nn.Module, optimizer: torch.optim.Optimizer,
              config: ModelConfig, args, info: DistInfo, name: str, worst: float,
              train_module: nn.Module | None = None) -> Started:
    """Resume from ``run``'s checkpoint with ``--resume``, share rank 0's weights, wrap for
    DDP, save the config and open the JSON log. ``worst``: the best value before any
    validation. ``train_module``: what the loop calls, if not ``model`` (it must share
    ``model``'s parameter tensors)."""
    start, best, elapsed_s = 0, worst, 0.0
    if args.resume and run.has_checkpoint():
        state = run.load(model, optimizer)
        start = int(state["step"])
        best = float(state["extra"].get("best", worst))
        elapsed_s = float(state["extra"].get("elapsed_s", 0.0))
    broadcast_module(model, info)
    ddp = wrap_ddp(train_module if train_module is not None else model, info)
    if info.is_main:
        run.save_config(config)
    meta = {"trainer": name, "args": vars(args), "world_size": info.world_size,
            "params": sum(p.numel() for p in model.parameters())}
    log = TrainLog.resume(run.log_path, start, meta) if start else TrainLog(run.log_path, meta)
    return Started(start, best, log, ddp, elapsed_s)


def optimizer_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> float:
    """Backward and step on ``loss``; returns its value."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


class RunningMeans:
    """Per-step values averaged over ``--log-every`` steps and all ranks, then written to the
    log (with lr and time) and the progress bar."""

    def __init__(self, log: TrainLog, bar: tqdm, info: DistInfo, args) -> None:
        self._log, self._bar, self._info, self._args = log, bar, info, args
        self._values: dict[str, list[float]] = {}

    def add(self, step: int, lr: float, t0: float, values: dict[str, float],
            **extra: Any) -> None:
        """Record ``values`` of ``step`` (``loss`` first); ``extra`` goes to the log as is."""
        for key, value in values.items():
            self._values.setdefault(key, []).append(value)
        if step % self._args.log_every and step != self._args.steps:
            return
        means = {k: all_reduce_mean(float(np.mean(v)), self._info)
                 for k, v in self._values.items()}
        self._values = {}
        if self._info.is_main:
            self._log.train(step=step, **means, lr=lr, **extra, time_s=time.time() - t0)
            self._bar.set_postfix(loss=f"{means['loss']:.3g}", lr=f"{lr:.2g}")


def keep_best(run: RunDir, model: nn.Module, step: int, value: float, best: float, key: str,
              higher_is_better: bool = True) -> float:
    """Save ``model`` as the run's best weights if ``value`` beats ``best``; the new best."""
    if value > best if higher_is_better else value < best:
        run.save_best(model, {"step": str(step), key: f"{value:.6f}"})
        return value
    return best
