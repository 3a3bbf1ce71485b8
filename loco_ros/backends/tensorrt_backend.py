"""TensorRT backend: an engine run with the TensorRT 10 tensor-address API and PyCUDA.

    backend = TensorRTBackend.from_onnx("model.onnx", cache_dir, precision="fp16")
    volume = backend(image)                          # DeviceVolume: stays on the GPU
    peaks = backend.find_peaks(volume, decode)       # CUDA kernel, compact list copied back

One page-locked host input, one device input and one device output buffer, allocated once
and bound with ``context.set_tensor_address``; a call copies the image in on a PyCUDA stream,
runs ``execute_async_v3`` and leaves the volume on the GPU. The device's primary CUDA context
(shared with torch and the CUDA runtime TensorRT uses) is pushed around every call, so the
backend works from any thread.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from loco_ros.backends.base import BackendError, VolumeBackend, squeeze_batch
from loco_ros.backends.cuda_peaks import DEFAULT_CAPACITY, PyCudaPeakFinder
from loco_ros.backends.tensorrt_engine import (
    DEFAULT_WORKSPACE_BYTES,
    get_engine,
    import_pycuda,
    import_tensorrt,
    load_engine,
)
from loco_ros.config import DecodeConfig
from loco_ros.decoding import peaks as cpu_peaks
from loco_ros.errors import InputError
from loco_ros.types import Peaks


@dataclass(frozen=True)
class DeviceVolume:
    """A float32 volume (1, J, D, H, W) in the GPU memory of ``owner``; valid until the
    owner's next call."""

    ptr: int
    shape: tuple[int, ...]
    owner: TensorRTBackend

    def to_host(self) -> np.ndarray:
        """A host copy (1, J, D, H, W) float32 (tests and debugging only)."""
        return self.owner.copy_to_host(self)


class TensorRTBackend(VolumeBackend):
    """A deserialized engine with one float32 input (1, 3, Hi, Wi) and one float32 output."""

    name = "tensorrt"

    def __init__(self, engine: Any, runtime: Any, description: str = "",
                 peak_capacity: int = DEFAULT_CAPACITY, device_index: int = 0) -> None:
        self._trt, self._cuda = import_tensorrt(), import_pycuda()
        self._cuda_context = self._cuda.Device(device_index).retain_primary_context()
        self.device = f"cuda:{device_index}"
        self.description = description
        self._engine, self._runtime = engine, runtime
        try:
            with self._active():
                self._setup(peak_capacity)
        except BaseException:
            self._cuda_context.detach()
            self._cuda_context = None
            raise

    @classmethod
    def from_onnx(cls, onnx_path: str | Path, cache_dir: str | Path, precision: str = "fp16",
                  workspace_bytes: int = DEFAULT_WORKSPACE_BYTES, device_index: int = 0,
                  peak_capacity: int = DEFAULT_CAPACITY, progress: bool = True
                  ) -> TensorRTBackend:
        """Backend of the cached (or newly built) engine of an ONNX export."""
        cuda = import_pycuda()
        context = cuda.Device(device_index).retain_primary_context()
        context.push()
        try:
            engine, runtime, status = get_engine(onnx_path, cache_dir, precision,
                                                 workspace_bytes, device_index, progress)
        finally:
            cuda.Context.pop()
            context.detach()
        return cls(engine, runtime, status, peak_capacity, device_index)

    @classmethod
    def from_engine_file(cls, engine_path: str | Path, device_index: int = 0,
                         peak_capacity: int = DEFAULT_CAPACITY) -> TensorRTBackend:
        """Backend of an engine built offline (trtexec); no cache-key check (warned)."""
        cuda = import_pycuda()
        context = cuda.Device(device_index).retain_primary_context()
        context.push()
        try:
            engine, runtime = load_engine(engine_path)
        finally:
            cuda.Context.pop()
            context.detach()
        return cls(engine, runtime, f"engine {engine_path} (not key-checked)", peak_capacity,
                   device_index)

    @contextlib.contextmanager
    def _active(self) -> Iterator[None]:
        """The device's primary context current for the block."""
        if self._cuda_context is None:
            raise BackendError("tensorrt backend is closed")
        self._cuda_context.push()
        try:
            yield
        finally:
            self._cuda.Context.pop()

    def _io_names(self) -> tuple[str, str]:
        """(input name, output name); BackendError unless one float32 input and output."""
        trt, engine = self._trt, self._engine
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        if len(inputs) != 1 or len(outputs) != 1:
            raise BackendError(f"engine must have 1 input and 1 output, has {inputs}, {outputs}")
        for name in names:
            if engine.get_tensor_dtype(name) != trt.DataType.FLOAT:
                raise BackendError(f"engine tensor {name!r} is {engine.get_tensor_dtype(name)}, "
                                   "expected float32 I/O (build without fp16 I/O formats)")
        return inputs[0], outputs[0]

    def _setup(self, peak_capacity: int) -> None:
        """Execution context, bound buffers, stream and peak kernel (context current)."""
        cuda = self._cuda
        input_name, output_name = self._io_names()
        self._context = self._engine.create_execution_context()
        input_shape = tuple(self._engine.get_tensor_shape(input_name))
        output_shape = tuple(self._context.get_tensor_shape(output_name))
        if min(input_shape) < 1 or min(output_shape) < 1 or input_shape[0] != 1:
            raise BackendError(f"engine needs a fixed batch-1 input, has {input_shape} -> "
                               f"{output_shape}")
        super().__init__(input_shape, output_shape)
        squeeze_batch(output_shape)
        self._host_input = cuda.pagelocked_empty(input_shape, np.float32)  # (1, 3, Hi, Wi)
        self._d_input = cuda.mem_alloc(self._host_input.nbytes)
        self._d_output = cuda.mem_alloc(math.prod(output_shape) * 4)  # (1, J, D, H, W) f32
        self._context.set_tensor_address(input_name, int(self._d_input))
        self._context.set_tensor_address(output_name, int(self._d_output))
        self._stream = cuda.Stream()
        self._finder = PyCudaPeakFinder(peak_capacity)

    def __call__(self, image: np.ndarray) -> DeviceVolume:
        """Run the engine on image (1, 3, Hi, Wi) float32; the volume stays on the GPU."""
        image = self.check_image(image)
        with self._active():
            np.copyto(self._host_input, image)
            self._cuda.memcpy_htod_async(self._d_input, self._host_input, self._stream)
            if not self._context.execute_async_v3(self._stream.handle):
                raise BackendError("TensorRT execute_async_v3 failed (see the TensorRT log)")
            self._stream.synchronize()  # the stage time includes the GPU work
        return DeviceVolume(int(self._d_output), self.output_shape, self)

    def find_peaks(self, volume: DeviceVolume | np.ndarray, decode: DecodeConfig) -> Peaks:
        """Peaks of this backend's DeviceVolume with the CUDA kernel (or of a host array on
        the CPU); ``last_peak_overflow`` counts peaks dropped by a full output buffer."""
        if isinstance(volume, np.ndarray):
            return cpu_peaks.find_peaks(volume.reshape(squeeze_batch(volume.shape)), decode,
                                        method="sparse")
        if not isinstance(volume, DeviceVolume) or volume.owner is not self:
            raise InputError("tensorrt backend: volume must come from this backend")
        with self._active():
            result = self._finder.find_peaks_ptr(volume.ptr, squeeze_batch(volume.shape),
                                                 decode, self._stream)
        self.last_peak_overflow = result.dropped
        return result.peaks

    def copy_to_host(self, volume: DeviceVolume) -> np.ndarray:
        """Host copy (1, J, D, H, W) float32 of a DeviceVolume of this backend."""
        host = np.empty(volume.shape, np.float32)
        with self._active():
            self._cuda.memcpy_dtoh_async(host, volume.ptr, self._stream)
            self._stream.synchronize()
        return host

    def upload_volume(self, volume: np.ndarray) -> DeviceVolume:
        """Copy a host volume (1, J, D, H, W) float32 into the output buffer, as if the engine
        had produced it (benchmarks and tests of the GPU peak path)."""
        host = np.ascontiguousarray(volume, np.float32).reshape(self.output_shape)
        with self._active():
            self._cuda.memcpy_htod_async(self._d_output, host, self._stream)
            self._stream.synchronize()
        return DeviceVolume(int(self._d_output), self.output_shape, self)

    def close(self) -> None:
        """Free the buffers, the execution context and the engine; release the context."""
        if self._cuda_context is None:
            return
        with self._active():
            self._finder.close()
            self._d_input.free()
            self._d_output.free()
            self._context = self._engine = self._runtime = None
            self._stream = self._host_input = None
        self._cuda_context.detach()
        self._cuda_context = None
