"""The whole pipeline on the CPU with ONNX Runtime, fp32 graph against the int8 one, frames
alternated in one process (so both see the same machine load; the ratio is the figure).

    PYTHONPATH=. python benchmarks/cpu_precision.py --model weights/demo --frames 40 \
        --out weights/demo/logs/speed_int8.json

Frames are rendered synthetic scenes (``loco_ros.evaluation.evaluate.synthetic_frames``);
each frame goes through ``LocoEstimator.estimate`` (letterbox, network, peaks, lifting,
association, refiner). Prints per-stage medians and fps for both.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from loco_ros.config import ModelConfig, load_yaml
from loco_ros.evaluation import add_model_argument, model_dir
from loco_ros.evaluation.evaluate import synthetic_frames
from loco_ros.runtime.estimator import LocoEstimator

PRECISIONS = ("fp32", "int8")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_model_argument(p)
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--seed", type=int, default=99)
    p.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(1)  # the refiner; the network runs in ONNX Runtime
    path = model_dir(args.model)
    config = load_yaml(ModelConfig, Path(path) / "model.yaml")
    estimators = {
        precision: LocoEstimator.from_dir(path, backend="onnxruntime", device="cpu",
                                          precision=precision, cpu_threads=args.threads)
        for precision in PRECISIONS
    }
    for estimator in estimators.values():
        estimator.open()
    totals: dict[str, list[float]] = {k: [] for k in PRECISIONS}
    stages: dict[str, dict[str, list[float]]] = {k: {} for k in PRECISIONS}
    people: dict[str, list[int]] = {k: [] for k in PRECISIONS}
    frames = synthetic_frames(config, args.frames + args.warmup, args.seed)
    for i, frame in enumerate(tqdm(frames, total=args.frames + args.warmup, desc="frames")):
        order = PRECISIONS if i % 2 == 0 else PRECISIONS[::-1]
        for precision in order:
            result = estimators[precision].estimate(frame.image, frame.K)
            if i < args.warmup:
                continue
            totals[precision].append(sum(result.timings_s.values()))
            people[precision].append(len(result.people))
            for stage, seconds in result.timings_s.items():
                stages[precision].setdefault(stage, []).append(seconds)
    report = {
        "model": str(path),
        "frames": args.frames,
        "backends": {k: estimators[k].describe() for k in PRECISIONS},
        "median_ms": {k: 1000 * float(np.median(v)) for k, v in totals.items()},
        "fps_median": {k: 1.0 / float(np.median(v)) for k, v in totals.items()},
        "stages_median_ms": {k: {s: 1000 * float(np.median(v)) for s, v in d.items()}
                             for k, d in stages.items()},
        "people_per_frame": {k: float(np.mean(v)) for k, v in people.items()},
    }
    report["int8_over_fp32"] = report["median_ms"]["int8"] / report["median_ms"]["fp32"]
    print(json.dumps(report, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    return report


if __name__ == "__main__":
    main()
