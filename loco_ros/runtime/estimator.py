"""The public API: one RGB image and its intrinsics in, metric 3D people out.

    estimator = LocoEstimator.from_dir("weights/demo")   # model.yaml + *.safetensors
    estimator.open()
    result = estimator.estimate(image_rgb, K)            # (H, W, 3) uint8, (3, 3) pixels
    result = estimator.estimate(raw_rgb, K, lens=lens)   # a raw image: peaks undistorted
    result.people.xyz_m                                   # (P, 14, 3) metres, camera frame

The pipeline reads as one line per stage: preprocess (letterbox to the network input),
network (code predictor + VHA decoder), peaks, lifting, association, refiner.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from loco_ros.backends.base import BackendError
from loco_ros.camera.lens import LensDistortion
from loco_ros.config import ModelConfig, load_yaml
from loco_ros.decoding.association import associate_people, unassigned_candidates
from loco_ros.decoding.lifting import check_intrinsics, letterbox_intrinsics, peaks_to_candidates
from loco_ros.decoding.refiner import PoseRefiner, refine_people
from loco_ros.errors import InputError, WeightsError
from loco_ros.model.network import ImageToVolume
from loco_ros.model.predictor import CodePredictor
from loco_ros.model.vha import VolumetricHeatmapAutoencoder
from loco_ros.model.weights import load_weights
from loco_ros.resources import find_data_path
from loco_ros.types import Candidates, People

MODEL_CONFIG = "model.yaml"
PREDICTOR_WEIGHTS = "predictor.safetensors"
VHA_WEIGHTS = "vha.safetensors"
REFINER_WEIGHTS = "refiner.safetensors"


@dataclass(frozen=True)
class Estimate:
    """People of one image and the time (s) each stage took; also what the metrics read:
    the people before the refiner and the candidates (for the solitary joints)."""

    people: People  # refined when a refiner ran
    timings_s: dict[str, float] = field(default_factory=dict)
    peaks_dropped: int = 0  # peaks a GPU kernel found but could not return (full buffer)
    unrefined: People | None = None  # the associated people when a refiner ran, else None
    candidates: Candidates | None = None  # every lifted peak (M candidates)

    @property
    def associated(self) -> People:
        """The people as association made them (before any refiner)."""
        return self.people if self.unrefined is None else self.unrefined

    @property
    def solitary(self) -> Candidates:
        """Confident candidates no person took (the authors' solitary joints)."""
        if self.candidates is None:
            raise ValueError("this Estimate carries no candidates")
        return unassigned_candidates(self.candidates, self.associated)


@dataclass(frozen=True)
class Preprocessed:
    """Network input (1, 3, Hi, Wi) float32 in [0, 1], its intrinsics and the letterbox."""

    image: np.ndarray
    K_net: np.ndarray
    scale_xy: tuple[float, float]
    pad_xy: tuple[int, int]


def default_model_dir() -> Path:
    """The bundled demo model (weights/demo in the checkout or share/loco_ros)."""
    return find_data_path("weights/demo", marker=MODEL_CONFIG)


def letterbox_image(image_rgb: np.ndarray, K: np.ndarray, size_wh: tuple[int, int]
                    ) -> Preprocessed:
    """Resize (aspect kept) and pad an (H, W, 3) uint8 image into the network input size."""
    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
        raise InputError(f"expected (H, W, 3) uint8 RGB, got {image_rgb.shape} {image_rgb.dtype}",
                         "layout")
    src_wh = (image_rgb.shape[1], image_rgb.shape[0])
    K_net, scale_xy, pad_xy = letterbox_intrinsics(check_intrinsics(K), src_wh, size_wh)
    new_wh = (round(src_wh[0] * scale_xy[0]), round(src_wh[1] * scale_xy[1]))
    resized = image_rgb if new_wh == src_wh else cv2.resize(
        image_rgb, new_wh, interpolation=cv2.INTER_AREA)
    canvas = np.zeros((size_wh[1], size_wh[0], 3), np.float32)  # (Hi, Wi, 3)
    canvas[pad_xy[1]:pad_xy[1] + new_wh[1], pad_xy[0]:pad_xy[0] + new_wh[0]] = resized
    canvas *= 1.0 / 255.0
    chw = np.ascontiguousarray(canvas.transpose(2, 0, 1)[None])  # (1, 3, Hi, Wi)
    return Preprocessed(chw, K_net, scale_xy, pad_xy)


def load_model(model_dir: Path) -> tuple[ModelConfig, ImageToVolume, PoseRefiner | None]:
    """Config, network and refiner of a model directory (safetensors only)."""
    config_path = model_dir / MODEL_CONFIG
    if not config_path.is_file():
        raise WeightsError(f"no {MODEL_CONFIG} in model directory {model_dir}")
    config = load_yaml(ModelConfig, config_path)
    predictor = CodePredictor(config)
    vha = VolumetricHeatmapAutoencoder(config.grid, config.vha.version)
    load_weights(predictor, model_dir / PREDICTOR_WEIGHTS)
    load_weights(vha, model_dir / VHA_WEIGHTS)
    refiner = None
    if config.refiner.enabled:
        refiner = PoseRefiner(config.refiner.hidden)
        load_weights(refiner, model_dir / REFINER_WEIGHTS)
        refiner.eval()
    return config, ImageToVolume(predictor, vha).eval(), refiner


def with_int8_calibration(options: dict, model_dir: Path) -> dict:
    """LocoEstimator ``options`` with, for precision int8 without calibration frames given,
    the model directory's ``int8_calibration/`` frames."""
    if options.get("precision") != "int8" or options.get("int8_calibration") is not None:
        return options
    from loco_ros.export.quantize import calibration_images

    return {**options, "int8_calibration": calibration_images(model_dir)}


class LocoEstimator:
    """The LoCO pipeline with a chosen backend; see the module docstring."""

    def __init__(self, config: ModelConfig, network: ImageToVolume,
                 refiner: PoseRefiner | None, backend: str = "auto", device: str = "cpu",
                 precision: str = "fp16", engine_cache_dir: str | None = None,
                 device_index: int = 0, cpu_threads: int = 0,
                 int8_calibration: Sequence[Path] | None = None) -> None:
        self.config, self.network, self.refiner = config, network, refiner
        self._options = dict(backend=backend, device=device, precision=precision,
                             engine_cache_dir=engine_cache_dir, device_index=device_index,
                             cpu_threads=cpu_threads, int8_calibration=int8_calibration)
        self._backend = None
        self._reason = "not opened"
        self._closed = False
        # estimate() holds it for a whole image: close() waits for an image in progress, so a
        # backend is never used after it was closed, whatever thread closes it.
        self._lock = threading.Lock()

    @classmethod
    def from_dir(cls, model_dir: str | Path | None = None, **options) -> LocoEstimator:
        """Load a model directory (default: the bundled demo model); WeightsError if broken."""
        path = Path(model_dir) if model_dir else default_model_dir()
        config, network, refiner = load_model(path)
        return cls(config, network, refiner, **with_int8_calibration(options, path))

    def open(self) -> None:
        """Create the inference backend (allocates GPU memory where one is used); also
        after close(). The first estimate() opens it too, a closed one it does not."""
        with self._lock:
            self._open_locked()

    def _open_locked(self) -> None:
        if self._backend is None:
            from loco_ros.backends import select_backend

            self._backend, self._reason = select_backend(
                self.network, self.config, **self._options)
            self._closed = False

    def close(self) -> None:
        """Release the backend and its GPU memory (after an estimate() in progress ends);
        estimate() then raises BackendError until open() is called again."""
        with self._lock:
            if self._backend is not None:
                self._backend.close()
            self._backend, self._reason, self._closed = None, "closed", True

    @property
    def is_open(self) -> bool:
        """True while a backend is open."""
        return self._backend is not None

    def describe(self) -> str:
        """The model's input and grid, then the backend, its device and why it was chosen."""
        grid, version = self.config.grid, self.config.vha.version
        model = (f"{grid.image_width}x{grid.image_height} input, {grid.depth_bins} depth bins "
                 f"over {grid.depth_min_m:g}-{grid.depth_max_m:g} m, VHA v{version}")
        if self._backend is None:
            return f"{model}; backend not open ({self._reason})"
        return f"{model}; {self._backend.name} on {self._backend.device}: {self._reason}"

    @property
    def input_size_wh(self) -> tuple[int, int]:
        """Network input (width, height) in pixels."""
        return self.config.grid.image_width, self.config.grid.image_height

    def estimate(self, image_rgb: np.ndarray, K: np.ndarray,
                 lens: LensDistortion | None = None) -> Estimate:
        """People in one (H, W, 3) uint8 RGB image with intrinsics K (3, 3, source pixels).

        lens: the distortion of a raw image (None: pinhole or rectified). Peaks are then
        undistorted before lifting; the people's uv_px stay pixels of image_rgb.
        """
        with self._lock:
            if self._closed:
                raise BackendError("LocoEstimator.estimate() after close(): call open() first")
            self._open_locked()
            return self._estimate(self._backend, image_rgb, K, lens)

    def _estimate(self, backend, image_rgb: np.ndarray, K: np.ndarray,
                  lens: LensDistortion | None) -> Estimate:
        K = check_intrinsics(K)
        undistort = None if lens is None else partial(lens.undistort_px, K=K)
        distort = None if lens is None else partial(lens.distort_px, K=K)
        timings: dict[str, float] = {}
        clock = _StageClock(timings)
        pre = clock("preprocess", letterbox_image, image_rgb, K, self.input_size_wh)
        volume = clock("network", backend, pre.image)
        peaks = clock("peaks", backend.find_peaks, volume, self.config.decode)
        candidates = clock("lifting", peaks_to_candidates, peaks, self.config.grid, pre.K_net,
                           pre.scale_xy, pre.pad_xy, undistort)
        people = clock("association", associate_people, candidates, self.config.association)
        unrefined = None
        if self.refiner is not None:
            unrefined = people
            people = clock("refiner", refine_people, self.refiner, people, K, distort)
        return Estimate(people, timings, int(backend.last_peak_overflow), unrefined, candidates)


class _StageClock:
    """Calls a stage and records its wall time under a name."""

    def __init__(self, timings: dict[str, float]) -> None:
        self._timings = timings

    def __call__(self, name: str, function, *args):
        start = time.perf_counter()
        result = function(*args)
        self._timings[name] = time.perf_counter() - start
        return result
