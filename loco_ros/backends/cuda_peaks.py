"""Peaks of a GPU volume with the CUDA kernel ``loco_ros/kernels/peaks.cu``.

Two launchers of the same kernel source:

- :class:`PyCudaPeakFinder` (TensorRT backend): compiled with ``pycuda.compiler.SourceModule``
  (PyCUDA caches the cubin on disk), volume given as a raw device pointer;
- :class:`CupyPeakFinder` (torch CUDA backend): compiled with ``cupy.RawKernel`` (NVRTC,
  cached by CuPy), volume given as a CUDA tensor, launched on torch's current stream.

Both zero a counter, launch one thread per voxel (grid-stride loop), copy the counter back and
then only the rows that were written. The result equals
``loco_ros.decoding.peaks.find_peaks`` on the
host copy (same set and order, offsets within float32 rounding); when more than ``capacity``
peaks exist the extra ones are counted, not returned (``PeakResult.dropped``). pycuda and
cupy are imported only when a finder is built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from loco_ros.backends.base import BackendUnavailable
from loco_ros.config import DecodeConfig
from loco_ros.errors import InputError
from loco_ros.types import Peaks

KERNEL_PATH = Path(__file__).resolve().parent.parent / "kernels" / "peaks.cu"
KERNEL_NAME = "loco_find_peaks"
THREADS_PER_BLOCK = 256
MAX_BLOCKS = 4096  # grid-stride loop beyond this
DEFAULT_CAPACITY = 4096  # peaks returned at most per volume (J = 14 joints x ~290 people)


def kernel_source() -> str:
    """CUDA C source of the peak kernel."""
    return KERNEL_PATH.read_text()


def launch_blocks(total_voxels: int) -> int:
    """Blocks of ``THREADS_PER_BLOCK`` threads for a volume of ``total_voxels``."""
    return max(1, min(math.ceil(total_voxels / THREADS_PER_BLOCK), MAX_BLOCKS))


@dataclass(frozen=True)
class PeakResult:
    """Peaks returned by the kernel and how many it found (``found`` may exceed
    ``capacity``; the difference was dropped)."""

    peaks: Peaks
    found: int
    capacity: int

    @property
    def dropped(self) -> int:
        """Peaks found but not returned because the output buffer was full."""
        return max(0, self.found - self.capacity)

    @property
    def overflowed(self) -> bool:
        return self.found > self.capacity


def peaks_from_buffers(found: int, index: np.ndarray, value: np.ndarray, offset: np.ndarray,
                       capacity: int, shape: tuple[int, int, int, int]) -> PeakResult:
    """PeakResult from the kernel's host copies, sorted like the CPU reference.

    found: the counter. index: (N, 4) int32 (k, d, h, w), value: (N,) float32, offset: (N, 3)
    float32 (dd, dh, dw), N = min(found, capacity) rows (the written slots, any order).
    Peaks are sorted by joint then flat voxel index; voxel = integer voxel + offset.
    """
    n = min(int(found), int(capacity))
    if n == 0:
        return PeakResult(Peaks.empty(), int(found), int(capacity))
    index = np.asarray(index[:n], np.int64)
    flat = np.ravel_multi_index(tuple(index.T), shape)  # (N,) order of the CPU reference
    order = np.argsort(flat, kind="stable")
    voxel = index[order, 1:].astype(np.float32) + np.asarray(offset[:n], np.float32)[order]
    peaks = Peaks(joint=index[order, 0], voxel=voxel.astype(np.float32),
                  value=np.asarray(value[:n], np.float32)[order])
    return PeakResult(peaks, int(found), int(capacity))


def _check_shape(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    if len(shape) != 4 or min(shape) < 1:
        raise InputError(f"volume: expected (J, D, H, W), got {tuple(shape)}")
    if math.prod(shape) >= 2**62:
        raise InputError(f"volume {tuple(shape)} is too large")
    return tuple(int(s) for s in shape)  # type: ignore[return-value]


def _scalar_args(shape: tuple[int, int, int, int], decode: DecodeConfig,
                 capacity: int) -> tuple:
    """Kernel arguments after the volume pointer, up to the output buffers."""
    return (*(np.int32(s) for s in shape), np.float32(decode.threshold),
            np.int32(decode.neighbourhood), np.int32(1 if decode.subvoxel else 0),
            np.int32(capacity))


class PyCudaPeakFinder:
    """The kernel through PyCUDA; build and call it with a PyCUDA context current."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        try:
            import pycuda.driver as cuda
            from pycuda.compiler import SourceModule
        except ImportError as err:
            raise BackendUnavailable(f"PyCUDA is not installed: {err}") from err
        self._cuda = cuda
        self.capacity = int(capacity)
        self._kernel = SourceModule(kernel_source(), no_extern_c=True).get_function(KERNEL_NAME)
        self._count = cuda.mem_alloc(4)  # (1,) uint32
        self._index = cuda.mem_alloc(self.capacity * 4 * 4)  # (Mmax, 4) int32
        self._value = cuda.mem_alloc(self.capacity * 4)  # (Mmax,) float32
        self._offset = cuda.mem_alloc(self.capacity * 3 * 4)  # (Mmax, 3) float32
        self._host_count = cuda.pagelocked_empty((1,), np.uint32)
        self._host_index = cuda.pagelocked_empty((self.capacity, 4), np.int32)
        self._host_value = cuda.pagelocked_empty((self.capacity,), np.float32)
        self._host_offset = cuda.pagelocked_empty((self.capacity, 3), np.float32)

    def find_peaks_ptr(self, volume_ptr: int, shape: tuple[int, int, int, int],
                       decode: DecodeConfig, stream) -> PeakResult:
        """Peaks of the float32 (J, D, H, W) volume at device address ``volume_ptr``, on
        ``stream`` (a pycuda Stream); returns after the copies finished."""
        shape = _check_shape(shape)
        cuda = self._cuda
        cuda.memset_d32_async(self._count, 0, 1, stream)
        self._kernel(np.uintp(volume_ptr), *_scalar_args(shape, decode, self.capacity),
                     self._count, self._index, self._value, self._offset,
                     block=(THREADS_PER_BLOCK, 1, 1), grid=(launch_blocks(math.prod(shape)), 1),
                     stream=stream)
        cuda.memcpy_dtoh_async(self._host_count, self._count, stream)
        stream.synchronize()
        found = int(self._host_count[0])
        n = min(found, self.capacity)
        if n:
            cuda.memcpy_dtoh_async(self._host_index[:n], self._index, stream)
            cuda.memcpy_dtoh_async(self._host_value[:n], self._value, stream)
            cuda.memcpy_dtoh_async(self._host_offset[:n], self._offset, stream)
            stream.synchronize()
        return peaks_from_buffers(found, self._host_index, self._host_value, self._host_offset,
                                  self.capacity, shape)

    def close(self) -> None:
        """Free the device buffers (needs the context current)."""
        for buffer in (self._count, self._index, self._value, self._offset):
            buffer.free()


class CupyPeakFinder:
    """The kernel through CuPy, for CUDA tensors of the torch backend."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, device_index: int = 0) -> None:
        try:
            import cupy
        except ImportError as err:
            raise BackendUnavailable(f"CuPy is not installed: {err}") from err
        self._cupy = cupy
        self.capacity = int(capacity)
        self.device_index = int(device_index)
        self._kernel = cupy.RawKernel(kernel_source(), KERNEL_NAME)
        with cupy.cuda.Device(self.device_index):
            self._count = cupy.zeros((1,), cupy.uint32)
            self._index = cupy.zeros((self.capacity, 4), cupy.int32)
            self._value = cupy.zeros((self.capacity,), cupy.float32)
            self._offset = cupy.zeros((self.capacity, 3), cupy.float32)

    def find_peaks_tensor(self, volume, decode: DecodeConfig) -> PeakResult:
        """Peaks of a CUDA torch tensor (J, D, H, W) (cast to contiguous float32), launched on
        torch's current stream of its device."""
        import torch

        cupy = self._cupy
        shape = _check_shape(tuple(volume.shape))
        volume = volume.detach().to(torch.float32).contiguous()
        torch_stream = torch.cuda.current_stream(volume.device)
        with cupy.cuda.Device(self.device_index), \
                cupy.cuda.ExternalStream(torch_stream.cuda_stream) as stream:
            array = cupy.from_dlpack(volume)  # zero-copy view of the tensor
            self._count.fill(0)
            self._kernel((launch_blocks(math.prod(shape)),), (THREADS_PER_BLOCK,),
                         (array, *_scalar_args(shape, decode, self.capacity),
                          self._count, self._index, self._value, self._offset))
            found = int(self._count.get(stream=stream)[0])
            n = min(found, self.capacity)
            host = [buf[:n].get(stream=stream) for buf in (self._index, self._value, self._offset)]
            stream.synchronize()
        return peaks_from_buffers(found, *host, self.capacity, shape)

    def find_peaks_array(self, volume, decode: DecodeConfig) -> PeakResult:
        """Peaks of a CuPy array (J, D, H, W), through a torch view of it."""
        import torch

        return self.find_peaks_tensor(torch.from_dlpack(volume), decode)

    def close(self) -> None:
        """Drop the device buffers (CuPy's pool keeps them until freed)."""
        self._count = self._index = self._value = self._offset = None
        self._cupy.get_default_memory_pool().free_all_blocks()
