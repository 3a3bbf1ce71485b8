"""Static int8 quantisation of the exported graph, for ONNX Runtime on the CPU.

    int8 = cached_int8_onnx(fp32_onnx, calibration_images(model_dir), cache_dir, config)
    backend = OnnxRuntimeBackend(int8, "cpu")            # same input and output as fp32

Most of a CPU frame is convolutions, and the VHA decoder's 2D convolutions are the largest
part (its last 5x5 convolution alone is about a third of the graph's time). ONNX Runtime runs
int8 convolutions with VNNI / AMX where the CPU has them, so those are quantised (QDQ, weights
per channel, activation ranges calibrated on real frames through the same letterbox as the
pipeline). The rest stays float:

- the code predictor: quantising it changed the decoded volume ten times more (mean error
  0.012 on voxels above 0.2, 13 % of the voxels above the 0.4 threshold flipped, on held-out
  vtest frames) than quantising the decoder alone (0.002, 1.5 %);
- the decoder's 3D convolutions (defuser): ONNX Runtime's int8 3D convolution is slower than
  its float one (the two layers went from 12 % to 57 % of the graph's time).

A model directory ships its calibration frames in ``int8_calibration/`` (JPEG or PNG; the
demo model's are frames of its own training split). The quantised graph is cached next to the
fp32 export, named by the digests of the fp32 file, the frames and the ONNX Runtime version.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
import onnx

from loco_ros.config import ModelConfig
from loco_ros.errors import ConfigError

LOG = logging.getLogger(__name__)

CALIBRATION_DIR = "int8_calibration"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
MIN_CALIBRATION_IMAGES = 4


def calibration_images(model_dir: str | Path) -> list[Path]:
    """The calibration frames of a model directory, sorted; ConfigError when there are fewer
    than MIN_CALIBRATION_IMAGES (precision int8 cannot be calibrated then)."""
    folder = Path(model_dir) / CALIBRATION_DIR
    paths = sorted(p for p in folder.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES) \
        if folder.is_dir() else []
    if len(paths) < MIN_CALIBRATION_IMAGES:
        raise ConfigError(
            f"precision int8 needs at least {MIN_CALIBRATION_IMAGES} calibration frames in "
            f"{folder} (JPEG/PNG frames of the camera's kind of scene); found {len(paths)}")
    return paths


def _network_input(path: Path, size_wh: tuple[int, int]) -> np.ndarray:
    """(1, 3, Hi, Wi) float32 RGB in [0, 1] of an image file, letterboxed as the pipeline
    does (nominal intrinsics: only the pixels matter here)."""
    from loco_ros.data.video import nominal_K
    from loco_ros.runtime.estimator import letterbox_image

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ConfigError(f"cannot read calibration image {path}")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return letterbox_image(rgb, nominal_K(rgb.shape[1], rgb.shape[0]), size_wh).image


def float_3d_convolutions(model: onnx.ModelProto) -> list[str]:
    """Names of the Conv nodes whose weight is 5-D (3D convolutions)."""
    rank = {init.name: len(init.dims) for init in model.graph.initializer}
    return [n.name for n in model.graph.node
            if n.op_type == "Conv" and len(n.input) > 1 and rank.get(n.input[1]) == 5]


def float_nodes(model: onnx.ModelProto) -> list[str]:
    """Nodes left in float: the code predictor's (ONNX names under ``/predictor/``, from the
    ImageToVolume module) and the 3D convolutions; see the module docstring."""
    predictor = [n.name for n in model.graph.node if n.name.startswith("/predictor/")]
    return predictor + float_3d_convolutions(model)


class _Frames:
    """onnxruntime's CalibrationDataReader protocol over image files."""

    def __init__(self, input_name: str, paths: Sequence[Path], size_wh: tuple[int, int]):
        self._items: Iterator[Path] = iter(paths)
        self._input_name, self._size_wh = input_name, size_wh

    def get_next(self) -> dict[str, np.ndarray] | None:
        path = next(self._items, None)
        return None if path is None else {self._input_name: _network_input(path, self._size_wh)}


def quantize_int8(fp32_path: str | Path, out_path: str | Path, images: Sequence[Path],
                  size_wh: tuple[int, int]) -> Path:
    """Write the int8 (QDQ) version of ``fp32_path`` (its decoder's 2D convolutions) to
    ``out_path``, activations calibrated
    (min-max) on ``images`` letterboxed to ``size_wh`` (Wi, Hi); the fp32 file's
    ``metadata_props`` are kept. Returns ``out_path``."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    out_path = Path(out_path)
    source = onnx.load(str(fp32_path))
    if not any(n.name.startswith("/predictor/") for n in source.graph.node):
        raise ConfigError(f"{fp32_path}: not a loco_ros export (no /predictor/ nodes)")
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32_path), str(prepared))
        quantize_static(
            str(prepared), str(Path(tmp) / "int8.onnx"),
            _Frames(source.graph.input[0].name, images, size_wh),
            quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8, nodes_to_exclude=float_nodes(source))
        quantized = onnx.load(str(Path(tmp) / "int8.onnx"))
    onnx.helper.set_model_props(quantized, {p.key: p.value for p in source.metadata_props})
    partial = out_path.with_suffix(".partial")
    onnx.save(quantized, str(partial))
    partial.replace(out_path)
    return out_path


def _digest(paths: Sequence[Path]) -> str:
    import onnxruntime

    digest = hashlib.sha256(onnxruntime.__version__.encode())
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:20]


def cached_int8_onnx(fp32_path: str | Path, images: Sequence[Path] | None, cache_dir: str | Path,
                     config: ModelConfig) -> Path:
    """The int8 graph of ``fp32_path`` (an export of ``config``'s model) calibrated on
    ``images``, from ``cache_dir`` when made before (same fp32 file, frames and ONNX Runtime
    version), else quantised now. ConfigError with fewer than MIN_CALIBRATION_IMAGES."""
    if not images or len(images) < MIN_CALIBRATION_IMAGES:
        raise ConfigError(f"precision int8 needs at least {MIN_CALIBRATION_IMAGES} calibration "
                          f"frames of the model (<model_dir>/{CALIBRATION_DIR}/); use fp32")
    path = Path(cache_dir) / f"{Path(fp32_path).stem}.int8_{_digest([fp32_path, *images])}.onnx"
    if path.is_file():
        LOG.info("using cached int8 graph %s", path)
        return path
    LOG.info("quantising %s to int8 on %d calibration frames", fp32_path, len(images))
    size_wh = (config.grid.image_width, config.grid.image_height)
    return quantize_int8(fp32_path, path, images, size_wh)
