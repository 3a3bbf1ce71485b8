"""The one callable interface of every inference backend.

    volume = backend(image)                          # (1, 3, Hi, Wi) float32 in [0, 1]
    peaks = backend.find_peaks(volume, decode)       # types.Peaks, continuous voxels
    backend.close()                                  # frees GPU memory

``volume`` is the decoded heatmap (1, J, D, H, W) float32 where the backend computed it: a
numpy array for CPU backends, a device array (torch CUDA tensor, TensorRT device buffer) for
GPU ones. ``find_peaks`` runs where the volume lives, so a GPU volume never travels to the
host; only the compact peak list does. A GPU backend may reuse the volume's memory on its
next call: use a volume before calling the backend again.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np
import torch

from loco_ros.config import DecodeConfig
from loco_ros.errors import InputError, LocoError
from loco_ros.types import Peaks


class BackendError(LocoError):
    """An inference backend failed to run (not the input's fault)."""


class BackendUnavailable(BackendError):
    """A backend cannot be used on this machine (library not installed, no GPU)."""


def squeeze_batch(volume_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(J, D, H, W) of a volume shaped (1, J, D, H, W) or (J, D, H, W); InputError otherwise."""
    shape = tuple(int(s) for s in volume_shape)
    if len(shape) == 5 and shape[0] == 1:
        shape = shape[1:]
    if len(shape) != 4:
        raise InputError(f"volume: expected (1, J, D, H, W) or (J, D, H, W), got {shape}")
    return shape  # type: ignore[return-value]


def volume_to_numpy(volume: Any) -> np.ndarray:
    """A copy on the host (J, D, H, W) float32 of any backend's volume (tests, debugging)."""
    if isinstance(volume, torch.Tensor):
        array = volume.detach().float().cpu().numpy()
    elif hasattr(volume, "to_host"):
        array = volume.to_host()
    else:
        array = np.asarray(volume, dtype=np.float32)
    return array.reshape(squeeze_batch(array.shape))


class VolumeBackend(abc.ABC):
    """Image -> decoded volume, and peaks of that volume where it lives.

    Subclasses set ``name`` ("torch", "onnxruntime", "tensorrt") and ``device`` ("cpu",
    "cuda:0", ...). ``input_shape`` is (1, 3, Hi, Wi), ``output_shape`` (1, J, D, H, W).
    ``last_peak_overflow`` counts the peaks the last ``find_peaks`` found but could not
    return (GPU kernel with a bounded output buffer); CPU paths never drop any.
    """

    name: str = "backend"
    device: str = "cpu"

    def __init__(self, input_shape: tuple[int, int, int, int],
                 output_shape: tuple[int, int, int, int, int]) -> None:
        self.input_shape = tuple(int(s) for s in input_shape)
        self.output_shape = tuple(int(s) for s in output_shape)
        self.last_peak_overflow = 0

    @abc.abstractmethod
    def __call__(self, image: np.ndarray) -> Any:
        """Decoded volume (1, J, D, H, W) float32 of image (1, 3, Hi, Wi) float32 in [0, 1]."""

    @abc.abstractmethod
    def find_peaks(self, volume: Any, decode: DecodeConfig) -> Peaks:
        """Peaks of a volume this backend returned, per ``decode`` (threshold, neighbourhood,
        sub-voxel); same result as ``loco_ros.decoding.peaks.find_peaks`` on the host copy."""

    def close(self) -> None:  # noqa: B027 (optional hook: CPU backends hold nothing)
        """Release the backend's resources (GPU memory); the backend is unusable afterwards."""

    def check_image(self, image: np.ndarray) -> np.ndarray:
        """``image`` as a C-contiguous float32 (1, 3, Hi, Wi) array; InputError otherwise."""
        array = np.asarray(image)
        if array.shape != self.input_shape:
            raise InputError(f"{self.name} backend: expected image {self.input_shape}, got "
                             f"{array.shape}", "layout")
        if array.dtype != np.float32:
            raise InputError(f"{self.name} backend: expected float32, got {array.dtype}",
                             "layout")
        return np.ascontiguousarray(array)

    def describe(self) -> str:
        """One line: name, device and shapes."""
        return f"{self.name} on {self.device}, {self.input_shape} -> {self.output_shape}"

    def __enter__(self) -> VolumeBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
