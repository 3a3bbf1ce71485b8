"""Where the network's time goes on the CPU: the code predictor (trunk + head) against the VHA
decoder, each exported as its own ONNX graph and run with the pipeline's ONNX Runtime options,
alternated with the whole graph in one process (shares within one run are the figure).

    PYTHONPATH=. python benchmarks/network_split.py --model weights/demo --runs 30 \
        --out weights/demo/logs/network_split.json
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn
from tqdm import tqdm

from loco_ros.backends.onnxruntime_backend import session_options
from loco_ros.evaluation import add_model_argument, model_dir
from loco_ros.export.onnx_export import DEFAULT_OPSET
from loco_ros.runtime.estimator import load_model


class _Decoder(nn.Module):
    def __init__(self, vha: nn.Module) -> None:
        super().__init__()
        self.vha = vha

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.vha.decode(code)


def _session(module: nn.Module, example: torch.Tensor, folder: Path, name: str,
             threads: int) -> ort.InferenceSession:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # constant shape checks while tracing
        torch.onnx.export(module.eval(), (example,), buffer, dynamo=False,
                          opset_version=DEFAULT_OPSET, input_names=["x"])
    path = folder / f"{name}.onnx"
    path.write_bytes(buffer.getvalue())
    return ort.InferenceSession(str(path), session_options(threads),
                                providers=["CPUExecutionProvider"])


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_model_argument(p)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    path = model_dir(args.model)
    _, network, _ = load_model(Path(path))
    image = torch.rand(1, *network.predictor.input_shape)
    with torch.no_grad():
        code = network.predictor(image)
    parts = {"whole": (network, image), "predictor": (network.predictor, image),
             "vha_decoder": (_Decoder(network.vha), code)}
    times: dict[str, list[float]] = {name: [] for name in parts}
    with tempfile.TemporaryDirectory() as folder:
        sessions = {name: _session(m, x, Path(folder), name, args.threads)
                    for name, (m, x) in parts.items()}
        inputs = {name: {"x": x.numpy()} for name, (_, x) in parts.items()}
        for i in tqdm(range(args.runs + args.warmup), desc="runs"):
            for name in (list(parts) if i % 2 == 0 else list(parts)[::-1]):
                start = time.perf_counter()
                sessions[name].run(None, inputs[name])
                if i >= args.warmup:
                    times[name].append(1000 * (time.perf_counter() - start))
    median_ms = {name: float(np.median(t)) for name, t in times.items()}
    result = {"model": path, "runs": args.runs, "threads": args.threads,
              "median_ms": median_ms,
              "share_of_whole": {name: median_ms[name] / median_ms["whole"]
                                 for name in ("predictor", "vha_decoder")}}
    print(json.dumps(result, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main()
