"""Frames per second of the full pipeline (``LocoEstimator.estimate``: preprocess, network,
peaks, lifting, association, refiner) on rendered synthetic frames.

    python -m loco_ros.evaluation.speed --model weights/demo --frames 60 --backend auto
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from loco_ros.config import ModelConfig, load_yaml
from loco_ros.evaluation import add_model_argument, model_dir
from loco_ros.evaluation.evaluate import synthetic_frames
from loco_ros.runtime.estimator import LocoEstimator
from loco_ros.training.common import write_json


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_model_argument(p)
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--seed", type=int, default=99)
    p.add_argument("--backend", default="auto")
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="fp32", choices=("fp16", "fp32", "int8"),
                   help="int8: the ONNX Runtime CPU graph quantised on the model's frames")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    args.model = model_dir(args.model)
    torch.set_num_threads(args.threads)
    config = load_yaml(ModelConfig, Path(args.model) / "model.yaml")
    frames = list(synthetic_frames(config, args.frames + args.warmup, args.seed))
    est = LocoEstimator.from_dir(args.model, backend=args.backend, device=args.device,
                                 precision=args.precision)
    est.open()
    totals, stages = [], {}
    people = []
    for i, frame in enumerate(frames):
        t0 = time.perf_counter()
        res = est.estimate(frame.image, frame.K)
        dt = time.perf_counter() - t0
        if i < args.warmup:
            continue
        totals.append(dt)
        people.append(len(res.people))
        for k, v in res.timings_s.items():
            stages.setdefault(k, []).append(v)
    result = {
        "backend": est.describe(),
        "frames": len(totals),
        "mean_ms": 1000 * float(np.mean(totals)),
        "median_ms": 1000 * float(np.median(totals)),
        "p90_ms": 1000 * float(np.percentile(totals, 90)),
        "fps_mean": 1.0 / float(np.mean(totals)),
        "fps_median": 1.0 / float(np.median(totals)),
        "stages_median_ms": {k: 1000 * float(np.median(v)) for k, v in stages.items()},
        "people_per_frame": float(np.mean(people)),
    }
    est.close()
    print(json.dumps(result, indent=1))
    if args.out:
        write_json(args.out, result)
    return result


if __name__ == "__main__":
    main()
