"""`loco evaluate` writes its JSON / markdown; the shipped demo model really works."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from loco_ros import cli
from loco_ros.config import GridConfig, ModelConfig, PredictorConfig, save_yaml
from loco_ros.decoding.refiner import PoseRefiner
from loco_ros.evaluation.evaluate import evaluate, synthetic_frames
from loco_ros.model.predictor import CodePredictor
from loco_ros.model.vha import VolumetricHeatmapAutoencoder
from loco_ros.model.weights import save_weights
from loco_ros.runtime.estimator import load_model

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "weights" / "demo"

TINY = ModelConfig(
    grid=GridConfig(image_width=128, image_height=64, depth_bins=16, depth_max_m=16.0,
                    focal_px=100.0),
    predictor=PredictorConfig(head_channels=(32, 16, 16)),
)


@pytest.fixture
def tiny_model(tmp_path) -> Path:
    """A model directory with random weights (plumbing only)."""
    torch.manual_seed(0)
    out = tmp_path / "model"
    out.mkdir()
    save_yaml(TINY, out / "model.yaml")
    save_weights(CodePredictor(TINY), out / "predictor.safetensors")
    save_weights(VolumetricHeatmapAutoencoder(TINY.grid, 2), out / "vha.safetensors")
    save_weights(PoseRefiner(TINY.refiner.hidden), out / "refiner.safetensors")
    return out


def test_evaluate_cli_writes_json_and_markdown(tiny_model, tmp_path) -> None:
    extra = tmp_path / "v3.safetensors"
    save_weights(VolumetricHeatmapAutoencoder(TINY.grid, 3), extra)
    out = tmp_path / "eval"
    rc = cli.main(["evaluate", "--model", str(tiny_model), "--source", "synthetic",
                   "--frames", "3", "--people", "1", "3", "--distance", "2", "8",
                   "--vha", f"v3={extra}:3", "--out", str(out), "--threads", "1",
                   "--no-progress"])
    assert rc == 0
    result = json.loads((out / "metrics.json").read_text())
    assert result["frames"] == 3
    assert [v["label"] for v in result["vha"]] == ["v2 (model)", "v3"]
    assert {"f1_0", "f1_1", "f1_2", "paper_f1_1", "paper_re_2", "compression",
            "code_shape"} <= set(result["vha"][0])
    assert "rounded voxel (paper eq. 1)" in (out / "metrics.md").read_text()
    for key in ("plain", "refined", "grounded"):
        assert set(result["jta"][key]) == {"0.4", "0.8", "1.2"}
        assert {"pr", "re", "f1"} <= set(result["jta"][key]["0.8"])
        assert {"absolute", "hips_aligned"} <= set(result["mpjpe_mm"][key])
        pck = result["pck3d_150mm"][key]
        assert "All" in pck["by_distance"] and "left_ankle" in pck["by_joint"]
    assert result["fps"] > 0
    text = (out / "metrics.md").read_text()
    for needle in ("F1@1", "LoCO + refiner", "3DPCK@150mm", "MPJPE"):
        assert needle in text


def test_generate_bag_then_evaluate_from_bag(tiny_model, tmp_path) -> None:
    bag = tmp_path / "bag"
    assert cli.main(["generate", "bag", "--out", str(bag), "--frames", "2", "--width", "128",
                     "--height", "64", "--focal", "100", "--people", "1", "2",
                     "--distance", "2", "8"]) == 0
    result = cli.main(["evaluate", "--model", str(tiny_model), "--source", "bag",
                       "--bag", str(bag), "--image-topic", "/camera/image",
                       "--out", str(tmp_path / "ev"), "--threads", "1", "--no-progress"])
    assert result == 0
    data = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert data["frames"] == 2 and data["gt_people"] >= 1
    # scenes with different cameras: no /tf_static, so no ground-plane row
    assert "grounded" not in data["jta"]
    assert cli.main(["evaluate", "--model", str(tiny_model), "--source", "bag",
                     "--bag", str(bag), "--image-topic", "/camera/image", "--no-vha",
                     "--camera-height-m", "2.0", "--pitch-deg", "10", "--out",
                     str(tmp_path / "ev2"), "--threads", "1", "--no-progress"]) == 0
    data = json.loads((tmp_path / "ev2" / "metrics.json").read_text())
    assert "grounded" in data["jta"]
    # auto: the online self-calibration over the bag's frames in order (two frames: it
    # cannot converge, so the people keep the image-only depth), reported and scored
    assert cli.main(["evaluate", "--model", str(tiny_model), "--source", "bag",
                     "--bag", str(bag), "--image-topic", "/camera/image", "--no-vha",
                     "--ground-plane", "auto", "--out", str(tmp_path / "ev3"), "--threads",
                     "1", "--no-progress"]) == 0
    data = json.loads((tmp_path / "ev3" / "metrics.json").read_text())
    assert "auto" in data["jta"] and "grounded" not in data["jta"]
    assert data["jta"]["auto"] == data["jta"]["refined"]
    assert data["ground_calibration"]["converged"] is False
    assert data["ground_calibration"]["first_converged_frame"] == 0
    assert "Ground self-calibration" in (tmp_path / "ev3" / "metrics.md").read_text()


# ----------------------------------------------------------------------------- trained model

TEST_SEED = 4242  # not a training or validation seed


# Measured on the 400-scene held-out set (weights/demo/logs/eval_heldout/metrics.md): the
# VHA (unchanged since session 3) F1@1 0.877 (paper protocol 0.921); the session-11 predictor
# (EfficientNet-Lite0, trained with real images and object negatives) pipeline F1@0.8 m with
# the refiner 0.426, with the ground plane 0.618 (this test's 60 frames: 0.369 / 0.563) --
# still under the
# synthetic-only session-4 predictor (0.453 / 0.689), reported in the issue. The floors sit
# under the measurements; the targets are tracked in the issue, not asserted here.
VHA_F1_FLOOR = 0.82
PAPER_VHA_F1_FLOOR = 0.88
PIPELINE_F1_FLOOR = 0.32
GROUNDED_F1_FLOOR = 0.48
VHA_SCENES = 16
PIPELINE_FRAMES = 60


def _demo_vha_scores() -> dict:
    config, _, _ = load_model(DEMO)
    frames = synthetic_frames(config, VHA_SCENES, TEST_SEED)
    return evaluate(DEMO, frames, pipeline=False, threads=2, progress=False)["vha"][0]


def _demo_pipeline() -> dict:
    config, _, _ = load_model(DEMO)
    frames = synthetic_frames(config, PIPELINE_FRAMES, TEST_SEED + 1)
    return evaluate(DEMO, frames, vha=False, threads=2, progress=False)


def test_demo_vha_round_trip_on_rendered_gt_heatmaps() -> None:
    scores = _demo_vha_scores()
    assert scores["f1_1"] >= VHA_F1_FLOOR
    # Gaussians on the rounded voxels (paper eq. 1) leave no near-ties to resolve.
    assert scores["paper_f1_1"] >= PAPER_VHA_F1_FLOOR
    assert scores["paper_f1_1"] > scores["f1_1"]


def test_demo_pipeline_finds_people_on_held_out_images() -> None:
    result = _demo_pipeline()
    refined = result["jta"]["refined"]["0.8"]
    assert refined["f1"] >= PIPELINE_F1_FLOOR, result["jta"]
    assert refined["tp"] > 0
    assert np.isfinite(result["mpjpe_mm"]["refined"]["absolute"])
    # The scene camera's ground plane removes the stature ambiguity of monocular depth.
    grounded = result["jta"]["grounded"]["0.8"]
    assert grounded["f1"] >= GROUNDED_F1_FLOOR, result["jta"]
    assert grounded["f1"] > refined["f1"] + 0.05


def test_depth_ceiling_keeps_pixels_and_scales_distance_by_stature() -> None:
    """The stature-only depth of the ceiling tool: same pixels, distance x assumed / true
    height; a person of exactly the assumed height stays where it is."""
    from loco_ros.decoding.lifting import project_to_image
    from loco_ros.evaluation.depth_ceiling import held_out_people, stature_depth_frames

    config, _, _ = load_model(DEMO)
    held_out = held_out_people(config, 4, 777, progress=False)
    statures = np.concatenate([heights for _, heights in held_out])
    frames = stature_depth_frames(held_out, 1.70)
    people = np.concatenate([gt for gt, _ in frames])
    preds = np.concatenate([pred for _, pred in frames])
    assert len(statures) == len(people) > 4
    K = np.array([[400.0, 0, 256], [0, 400.0, 144], [0, 0, 1]])
    ok = np.isfinite(people).all(-1)
    np.testing.assert_allclose(project_to_image(preds[ok], K), project_to_image(people[ok], K),
                               atol=1e-6)
    ratio = np.linalg.norm(preds, axis=-1) / np.linalg.norm(people, axis=-1)
    np.testing.assert_allclose(np.nanmean(ratio, axis=1), 1.70 / statures, rtol=1e-9)
