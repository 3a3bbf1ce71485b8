"""precision int8: the demo model's graph quantised for ONNX Runtime on the CPU (real ONNX
Runtime, real weights, calibration on the model's own frames), against its fp32 graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from loco_ros.backends.selection import select_backend
from loco_ros.config import ModelConfig, load_yaml
from loco_ros.errors import ConfigError
from loco_ros.evaluation.evaluate import synthetic_frames
from loco_ros.export.quantize import calibration_images, float_3d_convolutions
from loco_ros.runtime.estimator import LocoEstimator, load_model
from loco_ros.runtime.node_config import NodeConfig

DEMO = Path(__file__).resolve().parents[1] / "weights" / "demo"


@pytest.fixture(scope="module")
def estimators(tmp_path_factory) -> dict[str, LocoEstimator]:
    cache = tmp_path_factory.mktemp("engines")
    out = {p: LocoEstimator.from_dir(DEMO, backend="onnxruntime", device="cpu", precision=p,
                                     engine_cache_dir=str(cache), cpu_threads=2)
           for p in ("fp32", "int8")}
    for estimator in out.values():
        estimator.open()
    yield out
    for estimator in out.values():
        estimator.close()


def test_int8_graph_keeps_3d_convolutions_float(estimators) -> None:
    assert "int8" in estimators["int8"].describe()
    cached = sorted(Path(estimators["int8"]._options["engine_cache_dir"]).glob("*.int8_*.onnx"))
    assert len(cached) == 1
    model = onnx.load(str(cached[0]))
    ops = {n.op_type for n in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    # the predictor's and the defuser's convolutions take float weights (an initializer, not
    # a dequantised tensor); the decoder's 2D ones are int8
    produced_by = {o for n in model.graph.node for o in n.output}
    convs = [n for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    quantised = {n.name for n in convs if n.input[1] in produced_by}
    assert quantised == {"/dec.0/Conv", "/dec.1/Conv", "/dec.2/Conv"}
    assert len(float_3d_convolutions(model)) == 2
    # metadata kept, so the backend's check against the model config passes
    assert any(p.key.startswith("loco_ros.") for p in model.metadata_props)


def test_int8_finds_the_same_people_as_fp32(estimators) -> None:
    config = load_yaml(ModelConfig, DEMO / "model.yaml")
    frames = list(synthetic_frames(config, 4, 3131))  # renders not among the calibration ones
    diffs, counts = [], []
    for frame in frames:
        fp32 = estimators["fp32"].estimate(frame.image, frame.K)
        int8 = estimators["int8"].estimate(frame.image, frame.K)
        counts.append((len(fp32.people), len(int8.people)))
        if len(fp32.people) and len(fp32.people) == len(int8.people):
            a, b = fp32.people.uv_px[:, 0], int8.people.uv_px[:, 0]  # head tops (P, 2)
            d = np.linalg.norm(a[:, None] - b[None], axis=-1).min(axis=1)
            diffs.extend(d[np.isfinite(d)].tolist())
    total = sum(a for a, _ in counts)
    assert total > 0, "the renders should hold people the demo model finds"
    assert sum(abs(a - b) for a, b in counts) <= max(1, total // 10), counts
    assert diffs and np.median(diffs) < 1.0, diffs  # head tops within 1 px (of 512)


def test_calibration_frames_are_required(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="calibration frames"):
        calibration_images(tmp_path)
    assert len(calibration_images(DEMO)) >= 4
    config, network, _ = load_model(DEMO)
    with pytest.raises(ConfigError, match="calibration frames"):
        select_backend(network, config, backend="onnxruntime", device="cpu",
                       precision="int8", engine_cache_dir=tmp_path)


def test_int8_elsewhere_is_said_and_bad_precisions_refused(tmp_path: Path) -> None:
    config, network, _ = load_model(DEMO)
    backend, reason = select_backend(network, config, backend="torch", device="cpu",
                                     precision="int8", engine_cache_dir=tmp_path)
    assert "torch runs fp32" in reason
    backend.close()
    with pytest.raises(ConfigError, match="precision"):
        select_backend(network, config, backend="torch", device="cpu", precision="int4")
    assert NodeConfig(precision="int8").precision == "int8"
    with pytest.raises(ConfigError):
        NodeConfig(precision="bf16")
