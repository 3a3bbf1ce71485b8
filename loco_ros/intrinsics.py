"""Which intrinsics apply to an image: latest or exact-stamp CameraInfo, scaled, or fallback."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from loco_ros.errors import InputError
from loco_ros.lifting import check_intrinsics


@dataclass(frozen=True)
class CameraModel:
    """Intrinsics K (3, 3) in pixels of an image of width x height pixels."""

    K: np.ndarray
    width: int
    height: int

    def scaled_to(self, width: int, height: int) -> np.ndarray:
        """K (3, 3) for the same camera delivering width x height images (pixel centres)."""
        if (width, height) == (self.width, self.height) or self.width <= 0 or self.height <= 0:
            return self.K
        sx, sy = width / self.width, height / self.height
        K = self.K.copy()
        K[0, 0], K[1, 1] = K[0, 0] * sx, K[1, 1] * sy
        K[0, 2] = (K[0, 2] + 0.5) * sx - 0.5
        K[1, 2] = (K[1, 2] + 0.5) * sy - 0.5
        return K


class IntrinsicsSource:
    """Remembers CameraInfo and answers which K applies to an image (thread-safe).

    mode "latest": the newest CameraInfo; "exact": the one whose stamp equals the image's.
    A fallback K (from parameters) is used when no CameraInfo has been seen.
    """

    def __init__(self, mode: str = "latest", fallback: CameraModel | None = None,
                 history: int = 64) -> None:
        if mode not in ("latest", "exact"):
            raise ValueError(f"camera_info_mode must be latest or exact, not {mode!r}")
        self._mode, self._fallback, self._history = mode, fallback, history
        self._by_stamp: OrderedDict[int, CameraModel] = OrderedDict()
        self._lock = threading.Lock()

    def update(self, K: np.ndarray, width: int, height: int, stamp_ns: int) -> None:
        """Store a CameraInfo; InputError (and nothing stored) for zero or NaN focal lengths."""
        model = CameraModel(check_intrinsics(K), int(width), int(height))
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
        """K (3, 3) for an image of width x height taken at stamp_ns, or InputError."""
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
        return model.scaled_to(width, height)
