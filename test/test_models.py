"""Shapes and invariants of the networks (VHA, backbones, predictor, refiner) and weight files.

Paper-grid and Inception models are checked on the "meta" device (shapes only, no memory);
small real forwards cover the demo grid. Untrained round trips are not asserted.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from loco_ros.config import GridConfig, ModelConfig, PredictorConfig, VHAConfig
from loco_ros.decoding.refiner import (
    FILLED_CONFIDENCE_FACTOR,
    PoseRefiner,
    denormalise_pose,
    normalise_pose,
    refine_people,
)
from loco_ros.errors import ConfigError, InputError, WeightsError
from loco_ros.model.backbones import CompactBackbone, InceptionV3Trunk, build_backbone
from loco_ros.model.predictor import CodePredictor
from loco_ros.model.vha import VolumetricHeatmapAutoencoder, code_shape, total_stride
from loco_ros.model.weights import load_weights, read_weights, save_weights
from loco_ros.skeleton import MAX_HEAD_DISTANCE_M, NUM_JOINTS
from loco_ros.types import People

DEMO = GridConfig()
PAPER = GridConfig(image_width=1920, image_height=1080, depth_bins=316, depth_max_m=100.0)
SMALL_HEAD = (32, 16, 16)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ------------------------------------------------------------------------------------- VHA


def test_grids_are_the_documented_ones() -> None:
    assert (PAPER.depth_bins, PAPER.height, PAPER.width) == (316, 136, 240)
    assert (DEMO.depth_bins, DEMO.height, DEMO.width) == (64, 40, 64)
    assert [total_stride(v) for v in (1, 2, 3)] == [2, 4, 8]


@pytest.mark.parametrize(
    ("version", "demo_code", "paper_code"),
    [
        (1, (32, 20, 32), (158, 68, 120)),
        (2, (16, 10, 16), (79, 34, 60)),
        (3, (8, 5, 8), (39, 17, 30)),
    ],
)
def test_code_shape(version: int, demo_code: tuple, paper_code: tuple) -> None:
    assert code_shape(DEMO, version) == demo_code
    assert code_shape(PAPER, version) == paper_code


@pytest.mark.parametrize("version", [1, 2, 3])
def test_vha_demo_grid_forward(version: int) -> None:
    torch.manual_seed(0)
    vha = VolumetricHeatmapAutoencoder(DEMO, version).eval()
    heatmap = torch.rand(1, NUM_JOINTS, 64, 40, 64)
    with torch.no_grad():
        code = vha.encode(heatmap)
        assert tuple(code.shape) == (1, *code_shape(DEMO, version))
        out = vha.decode(torch.randn_like(code))  # negative codes too: output stays >= 0
        assert tuple(out.shape) == (1, NUM_JOINTS, 64, 40, 64)
        assert out.min() >= 0.0
        assert tuple(vha(heatmap).shape) == tuple(heatmap.shape)


@pytest.mark.parametrize("version", [1, 2, 3])
def test_vha_paper_grid_shapes_on_meta(version: int) -> None:
    with torch.device("meta"):
        vha = VolumetricHeatmapAutoencoder(PAPER, version)
        code = vha.encode(torch.empty(2, NUM_JOINTS, 316, 136, 240))
        out = vha.decode(code)
    assert tuple(code.shape) == (2, *code_shape(PAPER, version))
    assert tuple(out.shape) == (2, NUM_JOINTS, 316, 136, 240)


def test_vha_v2_parameter_count_matches_the_authors() -> None:
    with torch.device("meta"):
        vha = VolumetricHeatmapAutoencoder(PAPER, 2)
    assert n_params(vha) == 3_448_442
    assert math.isclose(n_params(vha), 3.45e6, rel_tol=0.01)
    # 896x compression: 14 x 316 x 136 x 240 -> 79 x 34 x 60
    assert (14 * 316 * 136 * 240) // math.prod(vha.code_shape) == 896


def test_vha_other_grid_and_errors() -> None:
    grid = GridConfig(image_width=640, image_height=480, depth_bins=100)  # H, W = 64, 80
    assert code_shape(grid, 3) == (12, 8, 10)
    with torch.device("meta"):
        vha = VolumetricHeatmapAutoencoder(grid, 3)
        assert tuple(vha.decode(torch.empty(1, 12, 8, 10)).shape) == (1, 14, 100, 64, 80)
        with pytest.raises(InputError):
            vha.encode(torch.empty(1, NUM_JOINTS, 64, 40, 64))
        with pytest.raises(InputError):
            vha.decode(torch.empty(12, 8, 10))
    with pytest.raises(ConfigError):
        VolumetricHeatmapAutoencoder(DEMO, 4)
    with pytest.raises(ConfigError):
        code_shape(DEMO, 0)


# ------------------------------------------------------------------------------- backbones


def test_backbone_sizes() -> None:
    with torch.device("meta"):
        inception, compact = InceptionV3Trunk(), CompactBackbone()
        assert tuple(inception(torch.empty(1, 3, 1080, 1920)).shape) == (1, 2048, 32, 58)
        assert tuple(compact(torch.empty(1, 3, 288, 500)).shape) == (1, 256, 9, 16)
    assert n_params(inception) == 21_785_568  # Inception-v3 without aux head and classifier
    assert n_params(compact) < 1_500_000
    assert (inception.out_channels, inception.stride, inception.aligned) == (2048, 32, False)
    assert (compact.out_channels, compact.stride, compact.aligned) == (256, 32, True)
    assert isinstance(build_backbone("compact"), CompactBackbone)
    with pytest.raises(ConfigError):
        build_backbone("resnet50")


# ------------------------------------------------------------------------------- predictor


def _config(width: int, height: int, version: int, backbone: str, head=SMALL_HEAD,
            depth_bins: int = 64) -> ModelConfig:
    grid = GridConfig(image_width=width, image_height=height, depth_bins=depth_bins)
    return ModelConfig(grid=grid, vha=VHAConfig(version),
                       predictor=PredictorConfig(backbone=backbone, head_channels=head))


def _forward_with_up_size(model: CodePredictor, image: torch.Tensor):
    """Predictor output and the spatial size right after the transposed convolution."""
    sizes = []
    handle = model.up.register_forward_hook(lambda m, i, o: sizes.append(tuple(o.shape[-2:])))
    try:
        out = model(image)
    finally:
        handle.remove()
    return out, sizes[0]


@pytest.mark.parametrize("size", [(512, 288), (640, 480), (320, 240), (1000, 600), (96, 80)])
@pytest.mark.parametrize("version", [1, 2, 3])
def test_compact_predictor_output_is_the_code_grid(size: tuple[int, int], version: int) -> None:
    torch.manual_seed(0)
    config = _config(*size, version, "compact")
    model = CodePredictor(config).eval()
    with torch.no_grad():
        out, up_size = _forward_with_up_size(model, torch.rand(1, 3, size[1], size[0]))
    assert tuple(out.shape) == (1, *code_shape(config.grid, version))
    if version == 2:  # aligned backbone + v2: exact, never resized
        assert up_size == tuple(out.shape[-2:])


def test_compact_demo_predictor_with_paper_head_on_meta() -> None:
    config = _config(512, 288, 2, "compact", head=(1024, 512, 256))
    with torch.device("meta"):
        model = CodePredictor(config)
        assert tuple(model(torch.empty(2, 3, 288, 512)).shape) == (2, 16, 10, 16)


@pytest.mark.parametrize("version", [1, 2, 3])
@pytest.mark.parametrize("size", [(1920, 1080), (512, 288), (1280, 720)])
def test_inception_predictor_output_on_meta(size: tuple[int, int], version: int) -> None:
    config = _config(*size, version, "inception_v3", head=(1024, 512, 256), depth_bins=316)
    with torch.device("meta"):
        model = CodePredictor(config)
        out, up_size = _forward_with_up_size(model, torch.empty(1, 3, size[1], size[0]))
    assert tuple(out.shape) == (1, *code_shape(config.grid, version))
    if size == (1920, 1080) and version == 2:  # the authors' arithmetic: 16x29 -> 34x60
        assert up_size == (34, 60)
        assert n_params(model) == 65_847_855


def test_inception_predictor_small_real_forward() -> None:
    torch.manual_seed(0)
    config = _config(128, 128, 2, "inception_v3")
    model = CodePredictor(config).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 128, 128))
    assert tuple(out.shape) == (1, 16, 4, 4)
    assert torch.isfinite(out).all()


def test_predictor_normalises_inside_and_checks_input() -> None:
    model = CodePredictor(_config(512, 288, 2, "compact"))
    assert "mean" not in model.state_dict() and "std" not in model.state_dict()
    torch.testing.assert_close(model.mean.flatten(), torch.tensor([0.485, 0.456, 0.406]))
    with pytest.raises(InputError):
        model(torch.rand(1, 3, 288, 500))
    with pytest.raises(InputError):
        model(torch.rand(3, 288, 512))


# --------------------------------------------------------------------------------- refiner


def _poses(count: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    head = rng.uniform([-3, -2, 4], [3, 0, 20], (count, 1, 3))
    rel = rng.uniform(-1, 1, (count, NUM_JOINTS, 3)) * MAX_HEAD_DISTANCE_M[:, None] / 2
    return (head + rel).astype(np.float32)


def test_refiner_shapes_and_residual() -> None:
    torch.manual_seed(0)
    refiner = PoseRefiner(hidden=32)
    x = torch.rand(5, 39)
    torch.testing.assert_close(refiner(x), x)  # last layer starts at zero: identity
    torch.nn.init.normal_(refiner.fc3.weight)
    mlp = refiner.fc3(torch.relu(refiner.fc2(torch.relu(refiner.fc1(x)))))
    torch.testing.assert_close(refiner(x), x + mlp)
    assert tuple(PoseRefiner()(torch.zeros(0, 39)).shape) == (0, 39)
    assert PoseRefiner().fc1.out_features == 128


def test_normalise_round_trip_and_holes() -> None:
    xyz = _poses(4)
    present = np.ones((4, NUM_JOINTS), bool)
    present[0, 5] = False
    xyz[0, 5] = np.nan
    present[1, 0] = False  # no head: every value is a hole
    x = normalise_pose(xyz, present)
    assert x.shape == (4, 39) and x.dtype == np.float32
    assert np.all(x[0, 12:15] == -1.0) and np.all(x[1] == -1.0)
    assert np.all((x[2:] >= 0) & (x[2:] <= 1))
    back = denormalise_pose(xyz[:, 0], x)
    np.testing.assert_allclose(back[2:], xyz[2:], atol=1e-5)
    np.testing.assert_allclose(np.delete(back[0], 5, 0), np.delete(xyz[0], 5, 0), atol=1e-5)
    # torch gives the same numbers
    xt = normalise_pose(torch.from_numpy(xyz), torch.from_numpy(present))
    np.testing.assert_allclose(xt.numpy(), x, atol=1e-6)
    bt = denormalise_pose(torch.from_numpy(xyz[:, 0]), xt)
    np.testing.assert_allclose(bt[2:].numpy(), back[2:], atol=1e-5)
    with pytest.raises(InputError):
        normalise_pose(xyz[:, :13], present[:, :13])


def _people(xyz: np.ndarray, detected: np.ndarray) -> People:
    count = xyz.shape[0]
    xyz = np.where(detected[..., None], xyz, np.nan).astype(np.float32)
    uv = np.where(detected[..., None], np.full((count, NUM_JOINTS, 2), 100.0), np.nan)
    confidence = np.where(detected, 0.8, 0.0).astype(np.float32)
    return People(xyz, confidence, detected.copy(), uv.astype(np.float32),
                  np.full(count, 0.7, np.float32),
                  tuple(f"t{i}" for i in range(count)))


def test_refine_people_fills_holes_and_passes_headless_people() -> None:
    xyz = _poses(3, seed=1)
    detected = np.ones((3, NUM_JOINTS), bool)
    detected[0, [4, 10]] = False
    detected[1, 0] = False  # no head: unchanged
    people = _people(xyz, detected)
    intrinsics = np.array([[400.0, 0, 256], [0, 400.0, 144], [0, 0, 1]])
    refiner = PoseRefiner(hidden=16)  # identity: holes land at the -1 encoding
    out = refine_people(refiner, people, intrinsics)

    np.testing.assert_array_equal(out.detected, people.detected)
    np.testing.assert_array_equal(out.xyz_m[1], people.xyz_m[1])  # headless person untouched
    np.testing.assert_array_equal(out.uv_px[1], people.uv_px[1])
    assert np.isfinite(out.xyz_m[[0, 2]]).all()
    np.testing.assert_allclose(out.xyz_m[0][detected[0]], xyz[0][detected[0]], atol=1e-5)
    expected = xyz[0, 0] + (-1.0 - 0.5) * 2 * MAX_HEAD_DISTANCE_M[4]
    np.testing.assert_allclose(out.xyz_m[0, 4], expected, atol=1e-5)
    filled = out.confidence[0, [4, 10]]
    np.testing.assert_allclose(filled, FILLED_CONFIDENCE_FACTOR * 0.8, rtol=1e-6)
    np.testing.assert_array_equal(out.confidence[0][detected[0]], np.float32(0.8))
    x, y, z = out.xyz_m[0, 4].astype(np.float64)
    np.testing.assert_allclose(out.uv_px[0, 4], [400 * x / z + 256, 400 * y / z + 144],
                               rtol=1e-5)
    np.testing.assert_array_equal(out.uv_px[0][detected[0]], 100.0)
    assert out.track_id == people.track_id
    np.testing.assert_array_equal(out.score, people.score)

    no_k = refine_people(refiner, people)
    assert np.isnan(no_k.uv_px[0, [4, 10]]).all()
    assert refine_people(refiner, People.empty()) is not None


def test_refine_people_replaces_detected_joints() -> None:
    xyz = _poses(2, seed=2)
    people = _people(xyz, np.ones((2, NUM_JOINTS), bool))
    refiner = PoseRefiner(hidden=8)
    with torch.no_grad():
        refiner.fc3.bias.fill_(0.1)  # shifts every normalised coordinate by 0.1
    out = refine_people(refiner, people)
    shift = 0.1 * 2 * MAX_HEAD_DISTANCE_M[1:, None]
    np.testing.assert_allclose(out.xyz_m[:, 1:] - xyz[:, 1:], np.broadcast_to(shift, (2, 13, 3)),
                               atol=1e-5)
    np.testing.assert_array_equal(out.xyz_m[:, 0], xyz[:, 0])  # the head is the anchor
    np.testing.assert_array_equal(out.uv_px, people.uv_px)


# --------------------------------------------------------------------------------- weights


def test_weights_round_trip(tmp_path) -> None:
    torch.manual_seed(0)
    model = CodePredictor(_config(512, 288, 2, "compact"))
    path = tmp_path / "sub" / "predictor.safetensors"
    save_weights(model, path, {"version": "2"})
    other = CodePredictor(_config(512, 288, 2, "compact"))
    assert load_weights(other, path) == {"version": "2"}
    for (name, a), b in zip(model.state_dict().items(), other.state_dict().values(),
                            strict=True):
        assert torch.equal(a, b), name
    tensors, metadata = read_weights(path)
    assert set(tensors) == set(model.state_dict()) and metadata == {"version": "2"}
    assert path.read_bytes()[8:9] == b"{"  # safetensors: u64 header length, then JSON
    assert list(tmp_path.joinpath("sub").iterdir()) == [path]  # no temporary left over


def test_weights_errors(tmp_path) -> None:
    vha = VolumetricHeatmapAutoencoder(DEMO, 2)
    path = tmp_path / "vha.safetensors"
    with pytest.raises(WeightsError, match="not found"):
        load_weights(vha, path)
    save_weights(vha, path)
    data = path.read_bytes()
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="corrupt"):
        load_weights(vha, truncated)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x80\x04not a safetensors file at all")
    with pytest.raises(WeightsError, match="corrupt"):
        load_weights(vha, garbage)
    with pytest.raises(WeightsError, match="shape mismatch"):
        load_weights(VolumetricHeatmapAutoencoder(DEMO, 3), path)
    save_weights({"enc.0.weight": torch.zeros(1)}, tmp_path / "partial.safetensors")
    with pytest.raises(WeightsError, match="missing keys"):
        load_weights(vha, tmp_path / "partial.safetensors")
    with pytest.raises(WeightsError, match="metadata"):
        save_weights(vha, tmp_path / "bad.safetensors", {"epoch": 3})  # type: ignore[dict-item]


def test_backbone_only_load_across_vha_versions(tmp_path) -> None:
    torch.manual_seed(0)
    source = CodePredictor(_config(512, 288, 2, "compact"))
    path = tmp_path / "predictor.safetensors"
    save_weights(source, path)
    target = CodePredictor(_config(512, 288, 1, "compact"))  # other code size: other head
    head_before = {k: v.clone() for k, v in target.state_dict().items()
                   if not k.startswith("backbone.")}
    with pytest.raises(WeightsError, match="shape mismatch"):
        load_weights(target, path)
    load_weights(target, path, prefix="backbone.")
    for name, value in target.state_dict().items():
        if name.startswith("backbone."):
            assert torch.equal(value, source.state_dict()[name]), name
        else:
            assert torch.equal(value, head_before[name]), name
    with pytest.raises(WeightsError, match="no tensors named"):
        load_weights(target, path, prefix="nothing.")
