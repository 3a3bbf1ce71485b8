"""Trainers on tiny configurations: the loss goes down, checkpoints are safetensors + JSON
that load, --resume continues from the saved step, and two gloo ranks end identical."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from loco_ros.config import GridConfig, ModelConfig, PredictorConfig, save_yaml
from loco_ros.decoding.refiner import PoseRefiner
from loco_ros.model.predictor import CodePredictor
from loco_ros.model.vha import VolumetricHeatmapAutoencoder
from loco_ros.model.weights import load_weights, read_weights
from loco_ros.training import common, train_predictor, train_refiner, train_vha

# 128x64 input, 8x16 heatmap cells, 16 depth bins: a VHA step takes milliseconds.
TINY = ModelConfig(
    grid=GridConfig(image_width=128, image_height=64, depth_bins=16, depth_max_m=16.0,
                    focal_px=100.0),
    predictor=PredictorConfig(head_channels=(32, 16, 16)),
)
SCENES = ["--people", "1", "3", "--distance", "2", "8"]
COMMON = ["--threads", "1", "--no-progress", "--log-every", "5"]


@pytest.fixture(scope="module")
def tiny_yaml(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "model.yaml"
    save_yaml(TINY, path)
    return path


def _log(run: Path) -> dict:
    return json.loads((run / "log.json").read_text())


def _first_last(log: dict) -> tuple[float, float]:
    losses = [r["loss"] for r in log["train"]]
    return float(np.mean(losses[:2])), float(np.mean(losses[-2:]))


@pytest.fixture(scope="module")
def vha_run(tiny_yaml, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("vha")
    train_vha.main(["--model-config", str(tiny_yaml), "--out", str(out), "--steps", "60",
                    "--batch-size", "2", "--lr", "3e-3", "--warmup", "5", "--val-every", "30",
                    "--val-scenes", "2", "--ckpt-every", "30", *SCENES, *COMMON])
    return out


def test_vha_loss_decreases_and_checkpoint_loads(vha_run, tiny_yaml) -> None:
    first, last = _first_last(_log(vha_run))
    assert last < 0.85 * first
    vha = VolumetricHeatmapAutoencoder(TINY.grid, 2)
    meta = load_weights(vha, vha_run / "vha.safetensors")
    assert "step" in meta
    load_weights(vha, vha_run / "checkpoint" / "vha.safetensors")
    state = json.loads((vha_run / "checkpoint" / "state.json").read_text())
    assert state["step"] == 60
    tensors, _ = read_weights(vha_run / "checkpoint" / "optimizer.safetensors")
    assert any(k.endswith(".exp_avg") for k in tensors)
    assert (vha_run / "loss.png").stat().st_size > 1000
    assert [r["step"] for r in _log(vha_run)["val"]] == [30, 60]
    assert not list(vha_run.rglob("*.pt")) and not list(vha_run.rglob("*.pkl"))


def test_vha_resume_continues_from_saved_step(vha_run, tiny_yaml, tmp_path) -> None:
    import shutil

    run = tmp_path / "vha"
    shutil.copytree(vha_run, run)
    out = train_vha.main(["--model-config", str(tiny_yaml), "--out", str(run), "--steps", "70",
                          "--batch-size", "2", "--lr", "3e-3", "--warmup", "5",
                          "--val-every", "1000", "--val-scenes", "2", "--resume", *SCENES,
                          *COMMON])
    assert out["step"] == 70
    log = _log(run)
    steps = [r["step"] for r in log["train"]]
    assert steps == sorted(set(steps)) and steps[0] == 5 and steps[-1] == 70
    assert log["meta"]["resumed_at_steps"] == [60]
    assert json.loads((run / "checkpoint" / "state.json").read_text())["step"] == 70


def test_time_budget_spans_resumes(vha_run, tiny_yaml, tmp_path) -> None:
    """A checkpoint keeps the training time spent; a resumed run counts on from it, so a run
    whose 60-minute budget is already spent takes one step at the floor learning rate."""
    import shutil

    run = tmp_path / "vha"
    shutil.copytree(vha_run, run)
    state_path = run / "checkpoint" / "state.json"
    state = json.loads(state_path.read_text())
    assert state["extra"]["elapsed_s"] > 0.0
    state["extra"]["elapsed_s"] = 3600.0
    state_path.write_text(json.dumps(state))
    out = train_vha.main(["--model-config", str(tiny_yaml), "--out", str(run), "--steps", "200",
                          "--batch-size", "2", "--lr", "3e-3", "--lr-min", "1e-5",
                          "--warmup", "5", "--max-minutes", "60", "--log-every", "1",
                          "--val-every", "1000", "--val-scenes", "2", "--resume", *SCENES,
                          *COMMON[:3]])
    assert out["step"] == 61
    assert _log(run)["train"][-1]["lr"] == pytest.approx(1e-5)
    assert json.loads(state_path.read_text())["extra"]["elapsed_s"] >= 3600.0


def test_optimizer_state_round_trip() -> None:
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.ones(4, 3)).sum().backward()
    opt.step()
    tensors, meta = common.optimizer_to_flat(opt)
    json.dumps(meta)
    opt2 = torch.optim.Adam(model.parameters(), lr=0.5)
    common.optimizer_from_flat(opt2, tensors, meta)
    a, b = opt.state_dict(), opt2.state_dict()
    assert a["param_groups"][0]["lr"] == b["param_groups"][0]["lr"] == 0.01
    for pid in a["state"]:
        for key, value in a["state"][pid].items():
            torch.testing.assert_close(value, b["state"][pid][key])


def test_predictor_trains_on_frozen_vha(vha_run, tiny_yaml, tmp_path) -> None:
    args = ["--model-config", str(tiny_yaml), "--vha", str(vha_run / "vha.safetensors"),
            "--out", str(tmp_path / "pred"), "--batch-size", "2", "--lr", "2e-3",
            "--warmup", "2", "--val-every", "20", "--val-scenes", "2", "--ckpt-every", "10",
            "--scale-aug", "0.2", *SCENES, *COMMON]
    train_predictor.main([*args, "--steps", "20"])
    first, last = _first_last(_log(tmp_path / "pred"))
    assert last < first
    model = CodePredictor(TINY)
    load_weights(model, tmp_path / "pred" / "predictor.safetensors")
    out = train_predictor.main([*args, "--steps", "25", "--resume"])
    assert out["step"] == 25
    assert _log(tmp_path / "pred")["meta"]["resumed_at_steps"] == [20]
    rec = _log(tmp_path / "pred")["val"][0]
    assert {"code_mse", "f1_0.8", "pr_0.4", "re_1.2", "f1_ground_0.8"} <= set(rec)


def test_refiner_learns_to_fill_holes(tiny_yaml, tmp_path) -> None:
    out = train_refiner.main(["--model-config", str(tiny_yaml), "--out", str(tmp_path / "ref"),
                              "--steps", "300", "--batch-size", "64", "--lr", "3e-3",
                              "--pool-scenes", "60", "--val-poses", "200",
                              "--val-every", "150", "--ckpt-every", "150", *COMMON])
    assert out["step"] == 300
    log = _log(tmp_path / "ref")
    first, last = _first_last(log)
    assert last < 0.3 * first
    assert log["val"][-1]["mpjpe_holes_mm"] < log["val"][0]["mpjpe_holes_mm"] + 1e-6
    load_weights(PoseRefiner(TINY.refiner.hidden), tmp_path / "ref" / "refiner.safetensors")


def _ddp_worker(rank: int, world: int, init: str, yaml_path: str, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    result = train_refiner.main(["--model-config", yaml_path, "--out", out, "--steps", "30",
                                 "--batch-size", "32", "--pool-scenes", "20",
                                 "--val-poses", "50", "--val-every", "30", "--ckpt-every", "30",
                                 "--dist-init-method", init, "--seed", "5", *COMMON])
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in common.unwrap(result["model"]).state_dict().items()}
    save_file(state, str(Path(out) / f"rank{rank}.safetensors"))


def test_two_gloo_ranks_end_with_identical_weights(tiny_yaml, tmp_path) -> None:
    init = f"file://{tmp_path / 'dist_init'}"
    out = tmp_path / "ddp"
    out.mkdir()
    mp.spawn(_ddp_worker, args=(2, init, str(tiny_yaml), str(out)), nprocs=2, join=True)
    a, _ = read_weights(out / "rank0.safetensors")
    b, _ = read_weights(out / "rank1.safetensors")
    assert set(a) == set(b)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    # the ranks saw different data, so the weights moved from the zero-initialised last layer
    assert float(a["fc3.weight"].abs().sum()) > 0
    assert json.loads((out / "checkpoint" / "state.json").read_text())["step"] == 30


def test_vha_crop_training_shares_weights_with_full_size(tiny_yaml, tmp_path) -> None:
    out = train_vha.main(["--model-config", str(tiny_yaml), "--out", str(tmp_path / "c"),
                          "--steps", "10", "--batch-size", "2", "--crop", "8", "8",
                          "--val-every", "10", "--val-scenes", "1", *SCENES, *COMMON])
    model = out["model"]
    assert model.heatmap_shape == (14, 16, 8, 16)  # validated / saved at full size
    fresh = VolumetricHeatmapAutoencoder(TINY.grid, 2)
    load_weights(fresh, tmp_path / "c" / "checkpoint" / "vha.safetensors")
    for (_, a), (_, b) in zip(fresh.named_parameters(), model.named_parameters(), strict=True):
        torch.testing.assert_close(a, b)
    first, last = _first_last(_log(tmp_path / "c"))
    assert np.isfinite(last)


def test_vha_freeze_encoder_keeps_the_codes(tiny_yaml, tmp_path) -> None:
    base = train_vha.main(["--model-config", str(tiny_yaml), "--out", str(tmp_path / "b"),
                           "--steps", "4", "--batch-size", "2", "--val-every", "4",
                           "--val-scenes", "1", *SCENES, *COMMON])["model"]
    init = tmp_path / "b" / "checkpoint" / "vha.safetensors"
    tuned = train_vha.main(["--model-config", str(tiny_yaml), "--out", str(tmp_path / "f"),
                            "--init", str(init), "--freeze-encoder", "--crop", "8", "8",
                            "--steps", "6", "--batch-size", "2", "--val-every", "6",
                            "--val-scenes", "1", *SCENES, *COMMON])["model"]
    before, after = base.state_dict(), tuned.state_dict()
    for name in before:
        same = torch.equal(before[name], after[name])
        assert same == name.startswith(("enc.", "fuse.")), name
