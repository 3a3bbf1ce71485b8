"""TensorRT 10 engines from the exported ONNX: build, cache on disk, load.

    engine, runtime, status = get_engine("model.onnx", cache_dir, precision="fp16")
    engine, runtime = load_engine("model.engine")    # built offline (trtexec): no key check

Cache: ``<cache_dir>/<onnx stem>.<precision>.engine`` plus a JSON sidecar
``<...>.engine.json`` holding the key, the sha256 of (ONNX file hash, input shape, precision,
TensorRT version, GPU name, compute capability) and those fields. A cached engine whose key
differs (new weights, another GPU, a TensorRT upgrade) is rebuilt, with a log line naming what
changed; an engine that TensorRT cannot deserialize is rejected with WeightsError (delete it
to rebuild). The key, sidecar and file checks are plain Python and need neither TensorRT nor
PyCUDA; ``tensorrt`` and ``pycuda`` are imported only to build or load an engine.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import onnx
from tqdm import tqdm

from loco_ros.backends.base import BackendError, BackendUnavailable
from loco_ros.errors import ConfigError, WeightsError
from loco_ros.export.onnx_export import package_version

LOG = logging.getLogger(__name__)

TENSORRT_MISSING = ("TensorRT is not installed (cannot be installed on these machines; see "
                    "shared/ros2-on-pypi.md)")
PYCUDA_MISSING = "PyCUDA is not installed (a source package: it builds against a CUDA toolkit)"
PRECISIONS = ("fp16", "fp32")
DEFAULT_WORKSPACE_BYTES = 4 << 30


def import_tensorrt() -> Any:
    """The ``tensorrt`` module; BackendUnavailable with TENSORRT_MISSING when absent."""
    try:
        import tensorrt
    except ImportError as err:
        raise BackendUnavailable(f"{TENSORRT_MISSING}: {err}") from err
    return tensorrt


def import_pycuda() -> Any:
    """``pycuda.driver``, initialised; BackendUnavailable with PYCUDA_MISSING when absent."""
    try:
        import pycuda.driver as cuda
    except ImportError as err:
        raise BackendUnavailable(f"{PYCUDA_MISSING}: {err}") from err
    cuda.init()
    return cuda


def tensorrt_unavailable_reason() -> str | None:
    """Why the TensorRT backend cannot run here (TensorRT or PyCUDA missing), or None."""
    for check in (import_tensorrt, import_pycuda):
        try:
            check()
        except BackendUnavailable as err:
            return str(err)
        except Exception as err:  # pycuda's cuda.init() raises its own error without a driver
            return f"PyCUDA cannot initialise CUDA: {err}"
    return None


# ----------------------------------------------------------------------------- cache key


@dataclass(frozen=True)
class EngineKey:
    """Everything an engine depends on; ``digest()`` names it in the sidecar."""

    onnx_sha256: str
    input_shape: tuple[int, ...]
    precision: str
    tensorrt_version: str
    gpu_name: str
    compute_capability: tuple[int, int]

    def fields(self) -> dict[str, Any]:
        """JSON-ready fields (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def digest(self) -> str:
        """sha256 (hex) of the fields as canonical JSON."""
        text = json.dumps(self.fields(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def file_sha256(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """sha256 (hex) of a file's bytes; WeightsError if it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(chunk_bytes), b""):
                digest.update(block)
    except OSError as err:
        raise WeightsError(f"cannot read {path}: {err}") from err
    return digest.hexdigest()


def onnx_input_shape(onnx_path: str | Path) -> tuple[int, ...]:
    """Static shape of the ONNX graph's first input; ConfigError when it is dynamic."""
    try:
        model = onnx.load(str(onnx_path), load_external_data=False)
    except Exception as err:  # onnx raises DecodeError and others on bad files
        raise WeightsError(f"ONNX file {onnx_path} is missing, corrupt or not ONNX: {err}"
                           ) from err
    dims = model.graph.input[0].type.tensor_type.shape.dim
    if not all(d.HasField("dim_value") for d in dims):
        raise ConfigError(f"{onnx_path}: TensorRT engines are built for a fixed input size")
    return tuple(int(d.dim_value) for d in dims)


def check_precision(precision: str) -> str:
    """``precision`` if it is fp16 or fp32, else ConfigError."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return precision


# ----------------------------------------------------------------------------- disk cache


def sidecar_path(engine_path: str | Path) -> Path:
    """The JSON sidecar next to an engine file: ``<engine>.json``."""
    engine_path = Path(engine_path)
    return engine_path.with_name(engine_path.name + ".json")


def sidecar_mismatch(engine_path: str | Path, key: EngineKey) -> str | None:
    """None when the engine file exists and its sidecar holds ``key``, else why not."""
    engine_path = Path(engine_path)
    sidecar = sidecar_path(engine_path)
    if not engine_path.is_file():
        return "no cached engine"
    if not sidecar.is_file():
        return f"no key sidecar {sidecar.name}"
    try:
        data = json.loads(sidecar.read_text())
        stored_digest, stored = str(data["key"]), dict(data["fields"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        return f"key sidecar {sidecar.name} is unreadable ({err})"
    if stored_digest == key.digest():
        return None
    changed = [f"{name} {stored.get(name)!r} -> {value!r}"
               for name, value in key.fields().items() if stored.get(name) != value]
    return "cache key differs: " + (", ".join(changed) or "sidecar digest does not match")


def _write_bytes_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def store_engine(engine_path: str | Path, data: bytes, key: EngineKey) -> None:
    """Write the engine, then its sidecar (a crash in between leaves no valid sidecar)."""
    engine_path = Path(engine_path)
    sidecar_path(engine_path).unlink(missing_ok=True)
    _write_bytes_atomically(engine_path, data)
    sidecar = {"key": key.digest(), "fields": key.fields(), "loco_ros": package_version(),
               "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    _write_bytes_atomically(sidecar_path(engine_path), json.dumps(sidecar, indent=2).encode())


def read_engine_file(engine_path: str | Path) -> bytes:
    """The bytes of an engine file; WeightsError if missing, unreadable or empty."""
    try:
        data = Path(engine_path).read_bytes()
    except OSError as err:
        raise WeightsError(f"cannot read TensorRT engine {engine_path}: {err}") from err
    if not data:
        raise WeightsError(f"TensorRT engine {engine_path} is empty")
    return data


def cached_engine_bytes(engine_path: str | Path, key: EngineKey) -> bytes | None:
    """The cached engine for ``key``, or None (logged: why it must be built)."""
    reason = sidecar_mismatch(engine_path, key)
    if reason is None:
        return read_engine_file(engine_path)
    log = LOG.info if reason == "no cached engine" else LOG.warning
    log("TensorRT engine %s: %s; building a new engine (this can take minutes)",
        engine_path, reason)
    return None


def deserialize_engine(runtime: Any, data: bytes, engine_path: str | Path) -> Any:
    """``runtime.deserialize_cuda_engine(data)``; WeightsError if it raises or returns None."""
    hint = "delete it (and its .json sidecar) to rebuild it, or rebuild it with trtexec"
    try:
        engine = runtime.deserialize_cuda_engine(data)
    except Exception as err:  # TensorRT raises RuntimeError/TypeError on bad bytes
        raise WeightsError(f"TensorRT engine {engine_path} is corrupt or incompatible "
                           f"(deserialization raised {err!r}); {hint}") from err
    if engine is None:
        raise WeightsError(f"TensorRT engine {engine_path} is corrupt or was built for another "
                           f"GPU or TensorRT version (deserialization failed); {hint}")
    return engine


# ----------------------------------------------------------------------------- TensorRT


@functools.lru_cache(maxsize=1)
def trt_logger() -> Any:
    """One TensorRT logger (warnings and errors) for the process: it must outlive engines."""
    trt = import_tensorrt()
    return trt.Logger(trt.Logger.WARNING)


def gpu_identity(device_index: int = 0) -> tuple[str, tuple[int, int]]:
    """(name, (major, minor) compute capability) of CUDA device ``device_index``."""
    device = import_pycuda().Device(device_index)
    major, minor = device.compute_capability()
    return device.name(), (int(major), int(minor))


def _progress_monitor(trt: Any, show_bar: bool) -> Any:
    """An IProgressMonitor: a tqdm bar per build phase (on a terminal), a log line per
    top-level phase (always)."""

    class TqdmProgressMonitor(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)
            self._bars: dict[str, tqdm] = {}
            self._lock = threading.Lock()  # TensorRT calls back from several threads

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            with self._lock:
                if parent_phase is None:
                    LOG.info("TensorRT build: %s (%d steps)", phase_name, num_steps)
                self._bars[phase_name] = tqdm(total=num_steps, desc=phase_name, leave=False,
                                              position=len(self._bars),
                                              disable=None if show_bar else True)

        def step_complete(self, phase_name: str, step: int) -> bool:
            with self._lock:
                bar = self._bars.get(phase_name)
                if bar is not None:
                    bar.update(step + 1 - bar.n)
            return True  # False would cancel the build

        def phase_finish(self, phase_name: str) -> None:
            with self._lock:
                bar = self._bars.pop(phase_name, None)
                if bar is not None:
                    bar.close()

    return TqdmProgressMonitor()


def build_serialized_engine(onnx_path: str | Path, precision: str = "fp16",
                            workspace_bytes: int = DEFAULT_WORKSPACE_BYTES,
                            progress: bool = True) -> bytes:
    """Build a serialized TensorRT engine from an ONNX file (fixed input shape).

    precision "fp16" sets BuilderFlag.FP16 (layers may run in fp16; inputs and outputs stay
    float32), "fp32" builds without it. workspace_bytes caps the builder's workspace pool.
    """
    trt = import_tensorrt()
    check_precision(precision)
    builder = trt.Builder(trt_logger())
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, trt_logger())
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise WeightsError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_bytes))
    if precision == "fp16":
        if not hasattr(trt.BuilderFlag, "FP16"):
            raise ConfigError(f"TensorRT {trt.__version__} has no FP16 builder flag; use fp32")
        config.set_flag(trt.BuilderFlag.FP16)
    monitor = _progress_monitor(trt, progress)
    config.progress_monitor = monitor
    start = time.monotonic()
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendError(f"TensorRT failed to build an engine from {onnx_path} (see the "
                           "TensorRT log above)")
    LOG.info("TensorRT %s engine built in %.0f s", precision, time.monotonic() - start)
    return bytes(serialized)


def get_engine(onnx_path: str | Path, cache_dir: str | Path, precision: str = "fp16",
               workspace_bytes: int = DEFAULT_WORKSPACE_BYTES, device_index: int = 0,
               progress: bool = True) -> tuple[Any, Any, str]:
    """(engine, runtime, status) for ``onnx_path``: the cached engine when its key matches,
    else a new build stored in ``cache_dir``. Call with the device's CUDA context current.
    The runtime must outlive the engine. status says which engine file and "cached"/"built".
    """
    trt = import_tensorrt()
    onnx_path = Path(onnx_path)
    gpu_name, capability = gpu_identity(device_index)
    key = EngineKey(file_sha256(onnx_path), onnx_input_shape(onnx_path),
                    check_precision(precision), trt.__version__, gpu_name, capability)
    engine_path = Path(cache_dir) / f"{onnx_path.stem}.{precision}.engine"
    data, status = cached_engine_bytes(engine_path, key), "cached"
    if data is None:
        data, status = build_serialized_engine(onnx_path, precision, workspace_bytes,
                                               progress), "built"
        store_engine(engine_path, data, key)
    runtime = trt.Runtime(trt_logger())
    engine = deserialize_engine(runtime, data, engine_path)
    return engine, runtime, f"{precision} engine {engine_path} ({status})"


def load_engine(engine_path: str | Path) -> tuple[Any, Any]:
    """(engine, runtime) of an engine file built elsewhere (e.g. ``trtexec --saveEngine``).

    No cache-key check: the file must match this GPU and TensorRT version (logged as a
    warning); a file TensorRT rejects raises WeightsError.
    """
    trt = import_tensorrt()
    LOG.warning("loading TensorRT engine %s without a cache-key check: it must have been built "
                "for this GPU and TensorRT %s", engine_path, trt.__version__)
    runtime = trt.Runtime(trt_logger())
    return deserialize_engine(runtime, read_engine_file(engine_path), engine_path), runtime
