"""ONNX Runtime backend: the exported graph (``loco_ros.export``) on the CPU or the CUDA EP.

The volume comes back as a host numpy array on both execution providers (with the CUDA EP
the copy is part of the network stage); peaks use the sparse numpy path. On the CPU this is
the fastest path measured on the demo grid (see ``loco_ros.backends.select_backend``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from loco_ros.backends.base import BackendError, BackendUnavailable, VolumeBackend, squeeze_batch
from loco_ros.config import DecodeConfig, ModelConfig
from loco_ros.decoding import peaks as cpu_peaks
from loco_ros.errors import ConfigError, InputError, WeightsError
from loco_ros.export.onnx_export import INPUT_NAME, OUTPUT_NAME, check_onnx_metadata
from loco_ros.types import Peaks

CPU_EP = "CPUExecutionProvider"
CUDA_EP = "CUDAExecutionProvider"


def _import_ort():
    try:
        import onnxruntime
    except ImportError as err:
        raise BackendUnavailable(f"onnxruntime is not installed: {err}") from err
    return onnxruntime


def cuda_provider_available() -> bool:
    """True when this onnxruntime build has the CUDA execution provider."""
    try:
        return CUDA_EP in _import_ort().get_available_providers()
    except BackendUnavailable:
        return False


def _shape_of(value_info) -> tuple[int, ...]:
    """Static shape of an ORT NodeArg; ConfigError for symbolic dimensions."""
    shape = tuple(value_info.shape)
    if not all(isinstance(s, int) for s in shape):
        raise ConfigError(f"ONNX {value_info.name} has a dynamic shape {shape}; export with a "
                          "fixed input size")
    return shape


def session_options(threads: int = 0, spin: bool = False):
    """The pipeline's onnxruntime SessionOptions: every graph optimisation, ``threads``
    intra-op threads (0 = one per core), idle threads spinning only when ``spin``."""
    ort = _import_ort()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = int(threads)
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    return options


class OnnxRuntimeBackend(VolumeBackend):
    """An ONNX file exported by ``export_onnx`` run by onnxruntime.

    device: "cpu" or "cuda" (CUDA EP, BackendUnavailable when the build lacks it).
    threads: intra-op threads on the CPU (0 = onnxruntime's default, one per core).
    spin: let idle intra-op threads spin-wait after a run. Off by default: the pipeline's next
    stages (peaks, torch refiner) run right after the network, and spinning threads took
    their cores (measured on 2 cores: network 31-33 ms without spinning vs 37-39 ms with it,
    the torch refiner on 30 people 21 ms vs 35 ms).
    model_config: when given, the file's metadata must match its input size and grid.
    device_index: the CUDA device of the CUDA EP.
    """

    name = "onnxruntime"

    def __init__(self, onnx_path: str | Path, device: str = "cpu", threads: int = 0,
                 spin: bool = False, model_config: ModelConfig | None = None,
                 device_index: int = 0) -> None:
        ort = _import_ort()
        path = Path(onnx_path)
        if model_config is not None:
            check_onnx_metadata(path, model_config)
        if device not in ("cpu", "cuda"):
            raise ConfigError(f"onnxruntime backend: device must be cpu or cuda, not {device!r}")
        if device == "cuda" and not cuda_provider_available():
            raise BackendUnavailable("onnxruntime has no CUDAExecutionProvider in this build")
        options = session_options(threads, spin)
        providers = ([(CUDA_EP, {"device_id": int(device_index)}), CPU_EP]
                     if device == "cuda" else [CPU_EP])
        try:
            self._session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as err:  # onnxruntime raises its own exception types
            raise WeightsError(f"onnxruntime cannot load {path}: {err}") from err
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if [i.name for i in inputs] != [INPUT_NAME] or outputs[0].name != OUTPUT_NAME:
            raise WeightsError(f"{path}: expected input {INPUT_NAME!r} and output "
                               f"{OUTPUT_NAME!r}, got {[i.name for i in inputs]}, "
                               f"{[o.name for o in outputs]}")
        super().__init__(_shape_of(inputs[0]), _shape_of(outputs[0]))
        self.device = f"cuda:{int(device_index)}" if device == "cuda" else "cpu"
        self.path = path

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """(1, J, D, H, W) float32 numpy of image (1, 3, Hi, Wi) float32 in [0, 1]."""
        if self._session is None:
            raise BackendError("onnxruntime backend is closed")
        (volume,) = self._session.run([OUTPUT_NAME], {INPUT_NAME: self.check_image(image)})
        return volume

    def find_peaks(self, volume: np.ndarray, decode: DecodeConfig) -> Peaks:
        """Peaks of a (1, J, D, H, W) numpy volume (sparse CPU path)."""
        if not isinstance(volume, np.ndarray):
            raise InputError(f"onnxruntime backend: expected numpy, got {type(volume).__name__}")
        shape = squeeze_batch(volume.shape)
        return cpu_peaks.find_peaks(volume.reshape(shape), decode, method="sparse")

    def close(self) -> None:
        """Drop the session (and its CUDA memory with the CUDA EP)."""
        self._session = None
