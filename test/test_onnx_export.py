"""ONNX export of predictor + VHA decoder: parity with torch, checker, metadata, cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from loco_ros.config import GridConfig, ModelConfig, PredictorConfig
from loco_ros.errors import WeightsError
from loco_ros.export.onnx_export import (
    INPUT_NAME,
    OUTPUT_NAME,
    cached_onnx,
    check_onnx_metadata,
    export_onnx,
    onnx_metadata,
    read_onnx_metadata,
)
from loco_ros.model.network import ImageToVolume
from loco_ros.model.predictor import CodePredictor
from loco_ros.model.vha import VolumetricHeatmapAutoencoder

CONFIG = ModelConfig(predictor=PredictorConfig(head_channels=(64, 32, 32)))  # demo grid
INPUT_SHAPE = (1, 3, 288, 512)
OUTPUT_SHAPE = (1, 14, 64, 40, 64)


def random_modules(seed: int = 0) -> tuple[CodePredictor, VolumetricHeatmapAutoencoder]:
    """Random-weight predictor and VHA of CONFIG; the last decoder layer is scaled so that
    the decoded volume reaches about 1 (many voxels above the peak threshold)."""
    torch.manual_seed(seed)
    predictor = CodePredictor(CONFIG).eval()
    vha = VolumetricHeatmapAutoencoder(CONFIG.grid, CONFIG.vha.version).eval()
    with torch.no_grad():
        vha.dec[-1].weight.mul_(20.0)
    return predictor, vha


@pytest.fixture(scope="module")
def modules() -> tuple[CodePredictor, VolumetricHeatmapAutoencoder]:
    return random_modules()


@pytest.fixture(scope="module")
def exported(modules, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(CONFIG, *modules, tmp_path_factory.mktemp("onnx") / "model.onnx",
                       progress=False)


def images(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(42)
    return [rng.random(INPUT_SHAPE, dtype=np.float32) for _ in range(count)]


def test_image_to_volume_is_decode_of_predict(modules) -> None:
    predictor, vha = modules
    network = ImageToVolume(predictor, vha)
    x = torch.from_numpy(images(1)[0])
    with torch.no_grad():
        np.testing.assert_array_equal(network(x).numpy(), vha.decode(predictor(x)).numpy())
    assert network.input_shape == INPUT_SHAPE[1:] and network.output_shape == OUTPUT_SHAPE[1:]


def test_onnxruntime_matches_torch_fp32(modules, exported: Path) -> None:
    network = ImageToVolume(*modules).eval()
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    for image in images(2):
        with torch.no_grad():
            want = network(torch.from_numpy(image)).numpy()
        (got,) = session.run([OUTPUT_NAME], {INPUT_NAME: image})
        assert got.shape == OUTPUT_SHAPE and got.dtype == np.float32
        assert float(want.max()) > 0.5  # the comparison covers values above the threshold
        assert float(np.abs(got - want).max()) <= 1e-4


def test_graph_passes_the_checker_with_fixed_shapes(exported: Path) -> None:
    model = onnx.load(str(exported))
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == [INPUT_NAME]
    assert [o.name for o in model.graph.output] == [OUTPUT_NAME]

    def dims(value_info) -> tuple[int, ...]:
        return tuple(d.dim_value for d in value_info.type.tensor_type.shape.dim)

    assert dims(model.graph.input[0]) == INPUT_SHAPE
    assert dims(model.graph.output[0]) == OUTPUT_SHAPE
    assert {o.domain: o.version for o in model.opset_import}[""] == 17


def test_metadata_describes_the_model(exported: Path) -> None:
    meta = read_onnx_metadata(exported)
    assert meta == onnx_metadata(CONFIG)
    assert meta["loco_ros.input_shape"] == "1,3,288,512"
    assert meta["loco_ros.output_shape"] == "1,14,64,40,64"
    assert meta["loco_ros.input_size_wh"] == "512x288"
    assert meta["loco_ros.vha_version"] == "2"
    assert '"depth_bins": 64' in meta["loco_ros.grid"]
    assert '"head_channels": [64, 32, 32]' in meta["loco_ros.predictor"]
    assert meta["loco_ros.torch_version"] == torch.__version__
    check_onnx_metadata(exported, CONFIG)


def test_metadata_check_rejects_another_grid(exported: Path) -> None:
    other = ModelConfig(grid=GridConfig(image_width=640), predictor=CONFIG.predictor)
    with pytest.raises(WeightsError, match="input_shape"):
        check_onnx_metadata(exported, other)


def test_export_keeps_training_mode_and_rejects_wrong_predictor(tmp_path: Path) -> None:
    predictor, vha = random_modules(1)
    predictor.train()
    export_onnx(CONFIG, predictor, vha, tmp_path / "m.onnx", progress=False)
    assert predictor.training and not vha.training
    other = ModelConfig(grid=GridConfig(image_width=640), predictor=CONFIG.predictor)
    with pytest.raises(WeightsError, match="does not match"):
        export_onnx(other, predictor, vha, tmp_path / "bad.onnx", progress=False)
    assert not (tmp_path / "bad.onnx").exists()


def test_unreadable_files_raise_weights_error(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="not found"):
        read_onnx_metadata(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00\x01 definitely not a protobuf \xff" * 10)
    with pytest.raises(WeightsError, match="corrupt"):
        read_onnx_metadata(bad)


def test_cached_onnx_exports_once_per_weights(tmp_path: Path) -> None:
    predictor, vha = random_modules(2)
    first = cached_onnx(CONFIG, predictor, vha, tmp_path, progress=False)
    stamp = first.stat().st_mtime_ns
    assert cached_onnx(CONFIG, predictor, vha, tmp_path, progress=False) == first
    assert first.stat().st_mtime_ns == stamp
    with torch.no_grad():
        vha.dec[0].bias.add_(1.0)
    second = cached_onnx(CONFIG, predictor, vha, tmp_path, progress=False)
    assert second != first and second.is_file()
