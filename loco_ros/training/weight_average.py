"""Weights part of the way from one model to another: (1 - alpha) * start + alpha * tuned.

Weight-space ensembling of a fine-tuned model with the model it started from (WiSE-FT,
Wortsman et al., CVPR 2022) often keeps most of what the fine-tuning gained on new material
and loses less on the old, at no training cost. Both files must hold the same tensors (names,
shapes, dtypes): two predictors of one architecture, one fine-tuned from the other. Integer
tensors (BatchNorm's step counters) are taken from ``tuned``.

    python -m loco_ros.training.weight_average --start weights/demo/predictor.safetensors \\
        --tuned runs/real15/predictor/predictor.safetensors --alpha 0.5 --out mid.safetensors
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from loco_ros.errors import WeightsError
from loco_ros.model.weights import read_weights, save_weights


def interpolate_tensors(start: dict[str, torch.Tensor], tuned: dict[str, torch.Tensor],
                        alpha: float) -> dict[str, torch.Tensor]:
    """(1 - alpha) * start + alpha * tuned per floating-point tensor; ``tuned``'s others."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], not {alpha}")
    if set(start) != set(tuned):
        odd = sorted(set(start) ^ set(tuned))
        raise WeightsError(f"the two weight sets hold different tensors: {odd[:5]}")
    mixed = {}
    for name, a in start.items():
        b = tuned[name]
        if a.shape != b.shape or a.dtype != b.dtype:
            raise WeightsError(f"{name}: {tuple(a.shape)} {a.dtype} != {tuple(b.shape)} "
                               f"{b.dtype}")
        mixed[name] = torch.lerp(a, b, alpha) if a.is_floating_point() else b.clone()
    return mixed


def interpolate_files(start: str | Path, tuned: str | Path, alpha: float, out: str | Path
                      ) -> None:
    """:func:`interpolate_tensors` of two safetensors files into ``out`` (with the sources and
    alpha in its metadata)."""
    a, _ = read_weights(start)
    b, _ = read_weights(tuned)
    save_weights(interpolate_tensors(a, b, alpha), out,
                 {"start": str(start), "tuned": str(tuned), "alpha": f"{alpha:g}"})


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--start", required=True, help="the weights the fine-tuning started from")
    p.add_argument("--tuned", required=True, help="the fine-tuned weights")
    p.add_argument("--alpha", type=float, required=True, help="0: start, 1: tuned")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    interpolate_files(args.start, args.tuned, args.alpha, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
