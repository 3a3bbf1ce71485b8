"""Weights between two predictors (WiSE-FT): on the shipped predictor's real weights."""

from __future__ import annotations

import pytest
import torch

from loco_ros.config import ModelConfig, load_yaml
from loco_ros.errors import WeightsError
from loco_ros.model.predictor import CodePredictor
from loco_ros.model.weights import load_weights, read_weights, save_weights
from loco_ros.resources import find_data_path
from loco_ros.training.weight_average import interpolate_tensors, main

DEMO = find_data_path("weights/demo")


@pytest.fixture(scope="module")
def shipped() -> dict[str, torch.Tensor]:
    return read_weights(DEMO / "predictor.safetensors")[0]


def _tuned(start: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """As if fine-tuned: every float tensor moved, the step counters on."""
    g = torch.Generator().manual_seed(0)
    return {k: v + torch.randn(v.shape, generator=g) if v.is_floating_point() else v + 7
            for k, v in start.items()}


def test_the_ends_and_the_middle(shipped) -> None:
    tuned = _tuned(shipped)
    floats = [k for k, v in shipped.items() if v.is_floating_point()]
    counters = [k for k, v in shipped.items() if not v.is_floating_point()]
    assert floats and counters  # BatchNorm's num_batches_tracked are integer tensors
    start_end = interpolate_tensors(shipped, tuned, 0.0)
    tuned_end = interpolate_tensors(shipped, tuned, 1.0)
    mid = interpolate_tensors(shipped, tuned, 0.5)
    for k in floats:
        torch.testing.assert_close(start_end[k], shipped[k])
        torch.testing.assert_close(tuned_end[k], tuned[k])
        torch.testing.assert_close(mid[k], (shipped[k] + tuned[k]) / 2)
    for k in counters:
        assert torch.equal(mid[k], tuned[k])


def test_the_file_loads_into_the_predictor_with_its_sources(shipped, tmp_path) -> None:
    tuned_path = tmp_path / "tuned.safetensors"
    save_weights(_tuned(shipped), tuned_path)
    out = tmp_path / "mid.safetensors"
    main(["--start", str(DEMO / "predictor.safetensors"), "--tuned", str(tuned_path),
          "--alpha", "0.25", "--out", str(out)])
    model = CodePredictor(load_yaml(ModelConfig, DEMO / "model.yaml"))
    metadata = load_weights(model, out)
    assert metadata["alpha"] == "0.25" and metadata["tuned"] == str(tuned_path)
    name = next(k for k, v in shipped.items() if v.is_floating_point())
    torch.testing.assert_close(model.state_dict()[name],
                               0.75 * shipped[name] + 0.25 * read_weights(tuned_path)[0][name])


def test_different_models_or_alpha_outside_0_1_are_refused(shipped) -> None:
    first = next(iter(shipped))
    with pytest.raises(WeightsError, match="different tensors"):
        interpolate_tensors(shipped, {k: v for k, v in shipped.items() if k != first}, 0.5)
    wrong = dict(shipped, **{first: torch.zeros(3)})
    with pytest.raises(WeightsError, match=first):
        interpolate_tensors(shipped, wrong, 0.5)
    with pytest.raises(ValueError, match="alpha"):
        interpolate_tensors(shipped, shipped, 1.5)
