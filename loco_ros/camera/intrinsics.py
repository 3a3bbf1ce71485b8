"""Which camera applies to an image: latest or exact-stamp CameraInfo, or the fallback.

The CameraInfo becomes the ImageCamera of the received image by ``lens.image_camera``
(ROI, binning, resize; raw images keep the lens distortion, rectified ones use P).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from loco_ros.camera.lens import CameraModel, ImageCamera, delivered_size, image_camera
from loco_ros.errors import InputError

__all__ = ["CameraModel", "IntrinsicsSource"]


class IntrinsicsSource:
    """Remembers CameraInfo and answers which camera applies to an image (thread-safe).

    mode "latest": the newest CameraInfo; "exact": the one whose stamp equals the image's.
    A fallback K (from parameters) is used when no CameraInfo has been seen. rectified: the
    images are rectified (P, no distortion), else raw (K and the lens distortion).
    """

    def __init__(self, mode: str = "latest", fallback: CameraModel | None = None,
                 history: int = 64, rectified: bool = False) -> None:
        if mode not in ("latest", "exact"):
            raise ValueError(f"camera_info_mode must be latest or exact, not {mode!r}")
        self._mode, self._fallback, self._history = mode, fallback, history
        self._rectified = rectified
        self._by_stamp: OrderedDict[int, CameraModel] = OrderedDict()
        self._lock = threading.Lock()

    def update(self, K: np.ndarray, width: int, height: int, stamp_ns: int) -> None:
        """Store a distortion-free camera; InputError (nothing stored) for bad focal lengths."""
        self.update_model(CameraModel(K, int(width), int(height)), stamp_ns)

    def update_model(self, model: CameraModel, stamp_ns: int) -> None:
        """Store a CameraInfo's model; InputError (nothing stored) when it cannot serve this
        input (e.g. rectified images and no usable P)."""
        image_camera(model, *delivered_size(model), self._rectified)
        with self._lock:
            self._by_stamp[stamp_ns] = model
            self._by_stamp.move_to_end(stamp_ns)
            while len(self._by_stamp) > self._history:
                self._by_stamp.popitem(last=False)

    def reset(self) -> None:
        """Forget every CameraInfo (e.g. after time jumped backwards)."""
        with self._lock:
            self._by_stamp.clear()

    @property
    def has_camera_info(self) -> bool:
        with self._lock:
            return bool(self._by_stamp)

    def lookup(self, width: int, height: int, stamp_ns: int) -> np.ndarray:
        """Pinhole K (3, 3) for an image of width x height taken at stamp_ns, or InputError."""
        return self.lookup_camera(width, height, stamp_ns).K

    def lookup_camera(self, width: int, height: int, stamp_ns: int) -> ImageCamera:
        """K (3, 3) and lens of an image of width x height taken at stamp_ns, or InputError."""
        with self._lock:
            if self._mode == "exact":
                model = self._by_stamp.get(stamp_ns)
            else:
                model = next(reversed(self._by_stamp.values()), None)
        if model is None and self._fallback is not None:
            model = self._fallback
        if model is None:
            what = "with this stamp" if self._mode == "exact" and self.has_camera_info else "yet"
            raise InputError(
                f"no CameraInfo {what} and no fallback intrinsics; not publishing",
                "no_camera_info")
        return image_camera(model, width, height, self._rectified)
