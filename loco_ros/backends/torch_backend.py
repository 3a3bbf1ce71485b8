"""Torch backend: the ImageToVolume module itself, on the CPU or a CUDA GPU.

On the CPU the volume is a numpy array and peaks use the sparse numpy path. On CUDA the
volume stays a CUDA tensor; peaks run on the GPU with the CUDA kernel through CuPy when CuPy
is installed (``peak_method="kernel"``), else with the torch dense path
(``loco_ros.decoding.peaks.find_peaks_dense``); either way only the compact peak list is
copied back.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn

from loco_ros.backends.base import BackendUnavailable, VolumeBackend, squeeze_batch
from loco_ros.config import DecodeConfig
from loco_ros.decoding import peaks as cpu_peaks
from loco_ros.errors import ConfigError, InputError
from loco_ros.types import Peaks

LOG = logging.getLogger(__name__)

PEAK_METHODS = ("auto", "kernel", "dense")


def _network_shapes(network: nn.Module) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(1, 3, Hi, Wi), (1, J, D, H, W) of an ImageToVolume-like module."""
    try:
        return (1, *network.predictor.input_shape), (1, *network.vha.heatmap_shape)
    except AttributeError as err:
        raise ConfigError("network must have .predictor.input_shape and .vha.heatmap_shape "
                          "(an ImageToVolume)") from err


class TorchBackend(VolumeBackend):
    """``network`` (ImageToVolume) in inference mode on ``device`` ("cpu", "cuda", "cuda:1")."""

    name = "torch"

    def __init__(self, network: nn.Module, device: str = "cpu", peak_method: str = "auto",
                 peak_capacity: int = 4096) -> None:
        super().__init__(*_network_shapes(network))
        if peak_method not in PEAK_METHODS:
            raise ConfigError(f"peak_method must be one of {PEAK_METHODS}, got {peak_method!r}")
        self._device = torch.device(device)
        if self._device.type == "cuda" and not torch.cuda.is_available():
            raise BackendUnavailable("torch backend: CUDA requested but no CUDA GPU is visible")
        self.device = str(self._device)
        self._network = network.to(self._device).eval()
        self._kernel = None
        if self._device.type == "cuda" and peak_method != "dense":
            self._kernel = self._make_kernel(peak_method, peak_capacity)
        self.peak_method = "kernel" if self._kernel else (
            "dense" if self._device.type == "cuda" else "sparse")

    def _make_kernel(self, peak_method: str, capacity: int):
        """The CuPy peak kernel, or None (auto) when CuPy cannot be used."""
        from loco_ros.backends.cuda_peaks import CupyPeakFinder

        try:
            return CupyPeakFinder(capacity=capacity, device_index=self._device.index or 0)
        except BackendUnavailable as err:
            if peak_method == "kernel":
                raise
            LOG.info("torch backend: %s; peaks use the torch dense path", err)
            return None

    def __call__(self, image: np.ndarray) -> np.ndarray | torch.Tensor:
        """(1, J, D, H, W) float32: numpy on the CPU, a CUDA tensor on the GPU."""
        x = torch.from_numpy(self.check_image(image))
        with torch.inference_mode():
            if self._device.type == "cpu":
                return self._network(x).float().numpy()
            volume = self._network(x.to(self._device, non_blocking=True)).float()
            torch.cuda.synchronize(self._device)  # the stage time includes the GPU work
            return volume

    def find_peaks(self, volume: np.ndarray | torch.Tensor, decode: DecodeConfig) -> Peaks:
        """Peaks of a volume (1, J, D, H, W) from this backend, computed where it lives."""
        shape = squeeze_batch(tuple(volume.shape))
        if isinstance(volume, torch.Tensor) and volume.device.type == "cuda":
            volume = volume.reshape(shape)
            if self._kernel is not None:
                result = self._kernel.find_peaks_tensor(volume, decode)
                self.last_peak_overflow = result.dropped
                return result.peaks
            with torch.inference_mode():
                return cpu_peaks.find_peaks(volume, decode, method="dense")
        if isinstance(volume, torch.Tensor):
            volume = volume.numpy()
        if not isinstance(volume, np.ndarray):
            raise InputError(f"torch backend: cannot find peaks in {type(volume).__name__}")
        return cpu_peaks.find_peaks(volume.reshape(shape), decode, method="sparse")

    def close(self) -> None:
        """Drop the network and the kernel buffers; empties the CUDA cache on the GPU."""
        if self._kernel is not None:
            self._kernel.close()
            self._kernel = None
        if self._device.type == "cuda":
            self._network.to("cpu")
            torch.cuda.empty_cache()
