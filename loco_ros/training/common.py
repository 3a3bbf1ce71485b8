"""Shared training machinery (ROS-free): seeding, distributed set-up, deterministic sample
indexing, checkpoints without pickle, JSON logs and loss plots.

Checkpoint layout of a training run directory ``out/``::

    out/model.yaml                  ModelConfig (config.save_yaml)
    out/<name>.safetensors          best weights so far (by the validation metric), or the
                                    latest when there is no validation
    out/checkpoint/<name>.safetensors   latest weights (for --resume)
    out/checkpoint/optimizer.safetensors  optimizer tensors, keys "state.<param>.<key>"
    out/checkpoint/state.json       step, optimizer scalars / param groups, best metric, args
    out/log.json                    {"train": [...], "val": [...], "meta": {...}}
    out/loss.png                    loss curve (and validation metric)

Nothing is pickled: tensors are safetensors, everything else JSON.

Data is indexed, not streamed: sample ``i`` of a run is a pure function of (seed, i), and
step ``s`` on rank ``r`` of ``world`` ranks with per-rank batch ``B`` uses samples
``((s * world + r) * B + j)``, ``j < B``. Resuming at step ``s`` therefore reproduces exactly
the data the run would have seen, and ranks never see the same sample (the role of a
DistributedSampler).
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from loco_ros.config import ModelConfig, load_yaml, save_yaml
from loco_ros.model.weights import load_weights, read_weights, save_weights

CHECKPOINT_DIR = "checkpoint"
STATE_JSON = "state.json"
OPTIMIZER_WEIGHTS = "optimizer.safetensors"
LOG_JSON = "log.json"
LOSS_PNG = "loss.png"


# ----------------------------------------------------------------------------- seeding


def seed_everything(seed: int) -> None:
    """Seed Python, numpy's legacy global RNG and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def sample_rng(seed: int, index: int, stream: int = 0) -> np.random.Generator:
    """The numpy Generator of sample ``index`` of a run seeded ``seed`` (``stream`` separates
    independent uses, e.g. 0 = training data, 1 = validation)."""
    return np.random.default_rng([int(seed), int(stream), int(index)])


# ----------------------------------------------------------------------------- distributed


@dataclass(frozen=True)
class DistInfo:
    """Rank, world size and device of this process."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup_distributed(device: str = "cpu", init_method: str | None = None) -> DistInfo:
    """Initialise torch.distributed when launched with several ranks (torchrun sets RANK,
    WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT; tests may pass ``init_method="file://..."``).

    Backend: NCCL for CUDA, gloo for CPU. With one rank nothing is initialised.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    if device == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("--device cuda requested but CUDA is not available")
        torch.cuda.set_device(local_rank % torch.cuda.device_count())
        dev = torch.device("cuda", torch.cuda.current_device())
    else:
        dev = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if dev.type == "cuda" else "gloo"
        kwargs: dict[str, Any] = {"backend": backend, "rank": rank, "world_size": world}
        if init_method:
            kwargs["init_method"] = init_method
        dist.init_process_group(**kwargs)
    return DistInfo(rank=rank, world_size=world, device=dev)


def cleanup_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def wrap_ddp(model: nn.Module, info: DistInfo) -> nn.Module:
    """DistributedDataParallel around ``model`` when there are several ranks."""
    if not info.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [info.device.index] if info.device.type == "cuda" else None
    return DDP(model, device_ids=ids)


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") else model


def all_reduce_mean(value: float, info: DistInfo) -> float:
    """Mean of a scalar over ranks (for logging)."""
    if not info.distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=info.device)
    dist.all_reduce(t)
    return float(t.item()) / info.world_size


def any_rank(flag: bool, info: DistInfo) -> bool:
    """True on every rank when ``flag`` is True on some rank (keeps ranks in step)."""
    if not info.distributed:
        return bool(flag)
    t = torch.tensor([1.0 if flag else 0.0], device=info.device)
    dist.all_reduce(t)
    return bool(t.item() > 0)


def broadcast_module(model: nn.Module, info: DistInfo) -> None:
    """Copy rank 0's parameters and buffers to every rank."""
    if not info.distributed:
        return
    for t in list(model.parameters()) + list(model.buffers()):
        dist.broadcast(t.data, 0)


def step_indices(step: int, rank: int, world: int, batch: int) -> list[int]:
    """Sample indices of ``step`` on ``rank`` (see the module docstring)."""
    first = (step * world + rank) * batch
    return list(range(first, first + batch))


# ----------------------------------------------------------------------------- schedules


def cosine_lr(step: int, total: int, lr: float, lr_min: float, warmup: int) -> float:
    """Linear warm-up for ``warmup`` steps, then cosine decay from ``lr`` to ``lr_min``."""
    if warmup > 0 and step < warmup:
        return lr * (step + 1) / warmup
    span = max(1, total - warmup)
    t = min(1.0, (step - warmup) / span)
    return lr_min + 0.5 * (lr - lr_min) * (1.0 + math.cos(math.pi * t))


def schedule_lr(step: int, elapsed_s: float, args) -> float:
    """Cosine learning rate of ``step`` (see :func:`cosine_lr`); with ``--max-minutes`` the
    schedule's progress is max(step / steps, elapsed / max_minutes), so a run on a busy CPU
    still anneals to ``lr_min`` by its time budget (then it stops). ``elapsed_s`` counts the
    time before a resume too (the checkpoint keeps it)."""
    total = args.steps
    if args.max_minutes > 0 and step >= args.warmup:
        frac_time = elapsed_s / (60.0 * args.max_minutes)
        frac_step = (step - args.warmup) / max(1, args.steps - args.warmup)
        step = args.warmup + max(frac_time, frac_step) * (args.steps - args.warmup)
    return cosine_lr(int(min(step, total)), total, args.lr, args.lr_min, args.warmup)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


# ----------------------------------------------------------------------------- optimizer I/O


def _json_safe(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def optimizer_to_flat(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimizer state dict into safetensors tensors and JSON scalars."""
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, entries in sd["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{pid}.{key}"] = value
            else:
                scalars.setdefault(str(pid), {})[key] = _json_safe(value)
    groups = _json_safe(sd["param_groups"])
    return tensors, {"scalars": scalars, "param_groups": groups}


def optimizer_from_flat(
    optimizer: torch.optim.Optimizer, tensors: Mapping[str, torch.Tensor], meta: dict
) -> None:
    """Inverse of :func:`optimizer_to_flat` (loads into ``optimizer``)."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        _, pid, key = name.split(".", 2)
        state.setdefault(int(pid), {})[key] = value
    for pid, entries in meta.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(entries)
    groups = meta["param_groups"]
    for g in groups:
        if "betas" in g and isinstance(g["betas"], list):
            g["betas"] = tuple(g["betas"])
    optimizer.load_state_dict({"state": state, "param_groups": groups})


# ----------------------------------------------------------------------------- checkpoints


class RunDir:
    """A training run directory (see the module docstring); ``name`` is the weights stem
    (``vha``, ``predictor``, ``refiner``)."""

    def __init__(self, out: str | Path, name: str) -> None:
        self.out = Path(out)
        self.name = name
        self.ckpt = self.out / CHECKPOINT_DIR

    @property
    def weights_path(self) -> Path:
        return self.out / f"{self.name}.safetensors"

    @property
    def latest_weights_path(self) -> Path:
        return self.ckpt / f"{self.name}.safetensors"

    @property
    def state_path(self) -> Path:
        return self.ckpt / STATE_JSON

    @property
    def log_path(self) -> Path:
        return self.out / LOG_JSON

    def has_checkpoint(self) -> bool:
        return self.state_path.is_file() and self.latest_weights_path.is_file()

    def save_config(self, config: ModelConfig) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        save_yaml(config, self.out / "model.yaml")

    def load_config(self) -> ModelConfig:
        return load_yaml(ModelConfig, self.out / "model.yaml")

    def save(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        step: int,
        extra: dict[str, Any] | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        """Latest weights + optimizer + JSON state (written last, so a crash in between
        leaves the previous complete checkpoint readable by step)."""
        self.ckpt.mkdir(parents=True, exist_ok=True)
        meta = {"step": str(step), **(metadata or {})}
        save_weights(unwrap(model), self.latest_weights_path, meta)
        tensors, opt_meta = optimizer_to_flat(optimizer)
        save_weights(tensors, self.ckpt / OPTIMIZER_WEIGHTS, {"step": str(step)})
        state = {"step": step, "optimizer": opt_meta, "extra": _json_safe(extra or {}),
                 "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        os.replace(tmp, self.state_path)

    def save_best(self, model: nn.Module, metadata: Mapping[str, str] | None = None) -> None:
        save_weights(unwrap(model), self.weights_path, dict(metadata or {}))

    def load(self, model: nn.Module, optimizer: torch.optim.Optimizer | None) -> dict[str, Any]:
        """Load the latest checkpoint into ``model`` (and ``optimizer``); returns the state
        JSON (``state["step"]`` is the next step to run)."""
        state = json.loads(self.state_path.read_text())
        load_weights(unwrap(model), self.latest_weights_path)
        if optimizer is not None:
            tensors, _ = read_weights(self.ckpt / OPTIMIZER_WEIGHTS)
            optimizer_from_flat(optimizer, tensors, state["optimizer"])
        return state


# ----------------------------------------------------------------------------- logs


class TrainLog:
    """JSON log of training losses and validation metrics, with a matplotlib plot."""

    def __init__(self, path: str | Path, meta: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.data: dict[str, Any] = {"meta": _json_safe(meta or {}), "train": [], "val": []}

    @classmethod
    def resume(cls, path: str | Path, step: int, meta: dict[str, Any] | None = None) -> TrainLog:
        """Reload an existing log, dropping entries after ``step`` (they are redone)."""
        log = cls(path, meta)
        p = Path(path)
        if p.is_file():
            old = json.loads(p.read_text())
            log.data["train"] = [r for r in old.get("train", []) if r["step"] <= step]
            log.data["val"] = [r for r in old.get("val", []) if r["step"] <= step]
            log.data["meta"] = {**old.get("meta", {}), **log.data["meta"]}
            log.data["meta"].setdefault("resumed_at_steps", [])
            log.data["meta"]["resumed_at_steps"].append(step)
        return log

    def train(self, **record: Any) -> None:
        self.data["train"].append(_json_safe(record))

    def val(self, **record: Any) -> None:
        self.data["val"].append(_json_safe(record))

    def set_meta(self, **meta: Any) -> None:
        self.data["meta"].update(_json_safe(meta))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1))
        os.replace(tmp, self.path)

    def plot(self, png: str | Path, title: str = "", val_key: str | None = None) -> None:
        """Loss (log scale, raw and smoothed) vs step; ``val_key`` of the validation records
        on a second axis."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        train = self.data["train"]
        fig, ax = plt.subplots(figsize=(7, 4))
        if train:
            steps = np.array([r["step"] for r in train])
            loss = np.array([r["loss"] for r in train], np.float64)
            ax.plot(steps, loss, color="C0", alpha=0.3, lw=0.8, label="loss")
            k = max(1, len(loss) // 50)
            if k > 1:
                smooth = np.convolve(loss, np.ones(k) / k, mode="valid")
                ax.plot(steps[k - 1:], smooth, color="C0", lw=1.5, label=f"loss (mean of {k})")
            if np.all(loss > 0):
                ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("training loss")
        lines, labels = ax.get_legend_handles_labels()
        val = [r for r in self.data["val"] if val_key and val_key in r]
        if val:
            ax2 = ax.twinx()
            ax2.plot([r["step"] for r in val], [r[val_key] for r in val], "o-", color="C1",
                     label=val_key)
            ax2.set_ylabel(val_key)
            l2, lab2 = ax2.get_legend_handles_labels()
            lines, labels = lines + l2, labels + lab2
        if lines:
            ax.legend(lines, labels, loc="best", fontsize=8)
        ax.set_title(title)
        fig.tight_layout()
        Path(png).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(png, dpi=90)
        plt.close(fig)


# ----------------------------------------------------------------------------- misc


@dataclass(frozen=True)
class Plot:
    """Title and validation metric of a trainer's loss plot."""

    title: str
    val_key: str


def progress_bar(args, start: int, info: DistInfo, name: str) -> tqdm:
    """The training progress bar (main rank only, off with --no-progress)."""
    return tqdm(total=args.steps, initial=start, disable=args.no_progress or not info.is_main,
                desc=name, dynamic_ncols=True)


def checkpoint_or_stop(run: RunDir, log: TrainLog, model: nn.Module,
                       optimizer: torch.optim.Optimizer, step: int, best: float, args,
                       info: DistInfo, t0: float, plot: Plot) -> bool:
    """Checkpoint when due (every ``--ckpt-every``, last step, out of time); True = stop now.

    The time budget (``--max-minutes``) is agreed on by every rank, so all stop together.
    """
    out_of_time = any_rank(args.max_minutes > 0 and (time.time() - t0) / 60 > args.max_minutes,
                           info)
    if info.is_main and (step % args.ckpt_every == 0 or step == args.steps or out_of_time):
        run.save(model, optimizer, step, {"best": best, "elapsed_s": time.time() - t0})
        log.save()
        log.plot(run.out / LOSS_PNG, plot.title, plot.val_key)
    return out_of_time


def finish_run(run: RunDir, log: TrainLog, model: nn.Module, step: int, validated: bool,
               t0: float, plot: Plot, **meta: Any) -> None:
    """Ship the latest weights if no validation picked a best, then the final log and plot."""
    if not validated:
        run.save_best(model, {"step": str(step)})
    log.set_meta(final_step=step, wall_s=time.time() - t0, **meta)
    log.save()
    log.plot(run.out / LOSS_PNG, plot.title, plot.val_key)


def add_common_args(parser) -> None:
    """Arguments every trainer shares."""
    parser.add_argument("--out", required=True, help="run directory (checkpoints, logs)")
    parser.add_argument("--steps", type=int, default=1000, help="total optimisation steps")
    parser.add_argument("--batch-size", type=int, default=4, help="samples per step per rank")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (Adam)")
    parser.add_argument("--lr-min", type=float, default=1e-5, help="final cosine learning rate")
    parser.add_argument("--warmup", type=int, default=50, help="linear warm-up steps")
    parser.add_argument("--seed", type=int, default=0, help="training data / init seed")
    parser.add_argument("--val-seed", type=int, default=1000003, help="validation data seed")
    parser.add_argument("--val-every", type=int, default=250, help="validate every N steps")
    parser.add_argument("--ckpt-every", type=int, default=100, help="checkpoint every N steps")
    parser.add_argument("--log-every", type=int, default=10, help="log the loss every N steps")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--resume", action="store_true", help="continue from out/checkpoint")
    parser.add_argument("--max-minutes", type=float, default=0.0,
                        help="time budget: the cosine schedule anneals by this wall time and "
                        "the run stops there (after a checkpoint); 0 = off")
    parser.add_argument("--dist-init-method", default=None,
                        help="torch.distributed init_method (default: env:// from torchrun)")
    parser.add_argument("--no-progress", action="store_true", help="disable the tqdm bar")


class IndexedDataset(torch.utils.data.Dataset):
    """Map-style dataset whose item ``i`` is ``make(i)`` (a pure function of the index)."""

    def __init__(self, make: Callable[[int], Any], size: int = 2**62) -> None:
        self.make = make
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> Any:
        return self.make(int(index))


class StepSampler(torch.utils.data.Sampler):
    """Batches of sample indices for steps ``start..steps-1`` of one rank."""

    def __init__(self, start: int, steps: int, rank: int, world: int, batch: int) -> None:
        self.start, self.steps = start, steps
        self.rank, self.world, self.batch = rank, world, batch

    def __iter__(self) -> Iterator[list[int]]:
        for s in range(self.start, self.steps):
            yield step_indices(s, self.rank, self.world, self.batch)

    def __len__(self) -> int:
        return max(0, self.steps - self.start)


def make_loader(make: Callable[[int], Any], start: int, steps: int, info: DistInfo, batch: int,
                workers: int, collate: Callable | None = None) -> torch.utils.data.DataLoader:
    """DataLoader over the indexed samples of steps ``start..steps-1`` of this rank."""
    return torch.utils.data.DataLoader(
        IndexedDataset(make),
        batch_sampler=StepSampler(start, steps, info.rank, info.world_size, batch),
        num_workers=workers,
        collate_fn=collate,
        persistent_workers=False,
        prefetch_factor=4 if workers > 0 else None,
    )


def write_json(path: str | Path, data: Any) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(_json_safe(data), indent=1))
