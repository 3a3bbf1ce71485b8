"""The choice of the inference backend (``select_backend``) for a network and a device.

    backend, reason = select_backend(network, model_config, backend="auto", device="cuda")
    volume = backend(image)                      # (1, 3, Hi, Wi) float32 -> (1, J, D, H, W)
    peaks = backend.find_peaks(volume, model_config.decode)

``auto`` picks, in order:

1. TensorRT (+ PyCUDA, peaks with the CUDA kernel) when both import and a CUDA GPU is there;
2. torch on CUDA (peaks on the GPU: CUDA kernel through CuPy, else torch's dense path);
3. on the CPU, ONNX Runtime. Measured on the demo grid (512x288, D = 64, default head
   (1024, 512, 256), random weights, 2 cores, ``benchmarks/latency.py --compare-cpu``):
   ONNX Runtime 43-59 ms per network call vs torch 83-87 ms; with a small head (64, 32, 32)
   14 ms vs 79 ms. ONNX Runtime also degrades gracefully when other processes load the CPU,
   torch does not: with a training job on both cores torch's default 2 OpenMP threads took
   2.2-2.3 s per call (ONNX Runtime 45 ms); with ``torch.set_num_threads(1)`` 85 ms. Torch is
   the CPU fallback when onnxruntime is missing.

``precision`` int8 is the ONNX Runtime CPU path only (``loco_ros.export.quantize``: the float
graph statically quantised on the model's calibration frames, cached); TensorRT then builds
fp16 and the other backends run fp32, and the reason says so.

An explicit backend that cannot run here (TensorRT not installed, no GPU) falls back the
same way, with a warning; the returned reason says what was chosen and why. A TensorRT engine
build that fails falls back under ``auto`` and raises when TensorRT was asked for; a corrupt
cached engine always raises WeightsError (delete the file to rebuild). TensorRT, PyCUDA
and CuPy are imported only when used, so this package works without them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from loco_ros.backends.base import BackendError, BackendUnavailable, VolumeBackend
from loco_ros.config import ModelConfig
from loco_ros.errors import ConfigError

LOG = logging.getLogger(__name__)

BACKENDS = ("auto", "tensorrt", "torch", "onnxruntime")
PRECISIONS = ("fp16", "fp32", "int8")
DEVICES = ("cuda", "cpu")
CPU_CHOICE = ("onnxruntime on CPU: the fastest CPU path (demo grid: 43-59 ms vs torch 83-87 ms "
              "per network call; see loco_ros.backends.selection)")


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/loco_ros/engines`` (default ``~/.cache/loco_ros/engines``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "loco_ros" / "engines"


def _gpu_unavailable_reason(device: str, device_index: int = 0) -> str | None:
    """None when ``device`` is cuda and torch sees GPU ``device_index``, else why no GPU is
    used."""
    if device == "cpu":
        return "device=cpu requested"
    if not torch.cuda.is_available():
        return "no CUDA GPU visible to torch"
    if not 0 <= device_index < torch.cuda.device_count():
        return f"no CUDA device {device_index} ({torch.cuda.device_count()} visible)"
    return None


def _onnx_for(network: nn.Module, config: ModelConfig, cache_dir: Path,
              onnx_path: str | Path | None) -> Path:
    """The given ONNX file, or the cached export of ``network`` in ``cache_dir``."""
    if onnx_path:
        return Path(onnx_path)
    from loco_ros.export.onnx_export import cached_onnx

    return cached_onnx(config, network.predictor, network.vha, cache_dir)


def _tensorrt(network, config, cache_dir, onnx_path, precision, peak_capacity, device_index
              ) -> tuple[VolumeBackend, str]:
    from loco_ros.backends.tensorrt_backend import TensorRTBackend

    onnx = _onnx_for(network, config, cache_dir, onnx_path)
    backend = TensorRTBackend.from_onnx(onnx, cache_dir, precision, device_index=device_index,
                                        peak_capacity=peak_capacity)
    name = torch.cuda.get_device_name(device_index)
    return backend, f"TensorRT + PyCUDA on {name}: {backend.description}"


def _torch_cuda(network, peak_capacity, device_index) -> tuple[VolumeBackend, str]:
    from loco_ros.backends.torch_backend import TorchBackend

    backend = TorchBackend(network, f"cuda:{device_index}", peak_capacity=peak_capacity)
    return backend, (f"torch on CUDA ({torch.cuda.get_device_name(device_index)}), peaks on "
                     f"the GPU ({backend.peak_method})")


def _cpu(network, config, cache_dir, onnx_path, prefer: str, threads: int = 0,
         precision: str = "fp32", calibration: Sequence[Path] | None = None
         ) -> tuple[VolumeBackend, str]:
    """ONNX Runtime on the CPU (unless ``prefer`` is torch or onnxruntime is missing), on the
    int8 graph when ``precision`` is int8."""
    from loco_ros.backends.torch_backend import TorchBackend

    if prefer != "torch":
        from loco_ros.backends.onnxruntime_backend import OnnxRuntimeBackend

        try:
            onnx = _onnx_for(network, config, cache_dir, onnx_path)
            if precision == "int8":
                from loco_ros.export.quantize import cached_int8_onnx

                onnx = cached_int8_onnx(onnx, calibration, cache_dir, config)
            backend = OnnxRuntimeBackend(onnx, "cpu", threads=threads, model_config=config)
            reason = CPU_CHOICE if prefer == "auto" else "onnxruntime on CPU (requested)"
            return backend, reason + (", int8" if precision == "int8" else ", fp32")
        except BackendUnavailable as err:
            LOG.warning("onnxruntime unavailable (%s); using torch on the CPU", err)
    note = " (int8 is the onnxruntime CPU path; torch runs fp32)" if precision == "int8" else ""
    return TorchBackend(network, "cpu"), "torch on CPU" + note


def select_backend(
    network: nn.Module,
    model_config: ModelConfig,
    backend: str = "auto",
    device: str = "cuda",
    precision: str = "fp16",
    engine_cache_dir: str | Path | None = None,
    onnx_path: str | Path | None = None,
    peak_capacity: int = 4096,
    device_index: int = 0,
    cpu_threads: int = 0,
    int8_calibration: Sequence[Path] | None = None,
) -> tuple[VolumeBackend, str]:
    """(backend, reason): the inference backend for ``network`` (an ImageToVolume) per the
    module docstring.

    backend: auto | tensorrt | torch | onnxruntime. device: cuda (falls back to the CPU when no
    GPU is visible) | cpu. precision: fp16 | fp32 (TensorRT) | int8 (ONNX Runtime on the CPU,
    calibrated on ``int8_calibration`` frames; elsewhere as fp16). engine_cache_dir: ONNX
    exports and TensorRT engines (default ``default_cache_dir()``). onnx_path: use this ONNX
    file instead of exporting ``network``. device_index: the CUDA device. cpu_threads:
    onnxruntime's intra-op threads on the CPU (0 = its default; torch's are the caller's,
    ``torch.set_num_threads``).
    """
    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if device not in DEVICES:
        raise ConfigError(f"device must be one of {DEVICES}, got {device!r}")
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    cache_dir = Path(engine_cache_dir) if engine_cache_dir else default_cache_dir()
    notes: list[str] = []
    no_gpu = _gpu_unavailable_reason(device, device_index)
    if backend in ("auto", "tensorrt"):
        from loco_ros.backends.tensorrt_engine import tensorrt_unavailable_reason

        why = no_gpu or tensorrt_unavailable_reason()
        if why is None:
            try:
                chosen, reason = _tensorrt(
                    network, model_config, cache_dir, onnx_path,
                    "fp16" if precision == "int8" else precision, peak_capacity, device_index)
                note = " (int8 is the onnxruntime CPU path; fp16 here)"
                return chosen, reason + (note if precision == "int8" else "")
            except BackendError as err:  # a failed build; a corrupt engine (WeightsError) raises
                if backend == "tensorrt":
                    raise
                LOG.warning("TensorRT backend failed, falling back: %s", err)
                why = f"failed: {err}"
        notes.append(f"no TensorRT ({why})")
    if backend in ("auto", "torch", "tensorrt") and no_gpu is None:
        chosen, reason = _torch_cuda(network, peak_capacity, device_index)
    elif backend == "onnxruntime" and no_gpu is None and _ort_has_cuda():
        from loco_ros.backends.onnxruntime_backend import OnnxRuntimeBackend

        onnx = _onnx_for(network, model_config, cache_dir, onnx_path)
        chosen = OnnxRuntimeBackend(onnx, "cuda", model_config=model_config,
                                    device_index=device_index)
        reason = "onnxruntime with the CUDA execution provider (requested)"
    else:
        if device == "cuda":
            notes.append(f"CPU fallback ({no_gpu or 'onnxruntime has no CUDA provider'})")
        prefer = "auto" if backend == "tensorrt" else backend
        chosen, reason = _cpu(network, model_config, cache_dir, onnx_path, prefer, cpu_threads,
                              precision, int8_calibration)
    if backend == "tensorrt":
        LOG.warning("backend tensorrt requested but unavailable: %s", "; ".join(notes))
    return chosen, "; ".join([*notes, reason])


def _ort_has_cuda() -> bool:
    from loco_ros.backends.onnxruntime_backend import cuda_provider_available

    return cuda_provider_available()
