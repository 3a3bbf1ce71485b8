"""Shared fixtures: a private ROS domain per test, rclpy contexts, deterministic people."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from loco_ros.data import real_material
from loco_ros.skeleton import NUM_JOINTS
from loco_ros.types import People

TEST_DIR = Path(__file__).resolve().parent
REPO_ROOT = TEST_DIR.parent
_domain_counter = itertools.count()


def fetched(function, *args):
    """Real material, or a skip with the reason where the registries cannot deliver it."""
    try:
        return function(*args)
    except real_material.FetchError as exc:
        pytest.skip(f"real material not fetchable here: {exc}")


def make_people(count: int, seed: int = 0, holes: bool = True) -> People:
    """Deterministic People with a few NaN holes and track ids, for message round trips."""
    rng = np.random.default_rng(seed)
    xyz = rng.uniform(-5, 20, (count, NUM_JOINTS, 3)).astype(np.float32)
    uv = rng.uniform(0, 1900, (count, NUM_JOINTS, 2)).astype(np.float32)
    confidence = rng.uniform(0, 1, (count, NUM_JOINTS)).astype(np.float32)
    detected = rng.uniform(0, 1, (count, NUM_JOINTS)) > 0.3
    if holes and count:
        xyz[0, 3], uv[0, 3], confidence[0, 3], detected[0, 3] = np.nan, np.nan, 0.0, False
    score = rng.uniform(0, 1, count).astype(np.float32)
    ids = tuple(f"t{i}" for i in range(count))
    return People(xyz, confidence, detected, uv, score, ids)


def assert_people_equal(a: People, b: People) -> None:
    """Every field equal (NaN == NaN)."""
    np.testing.assert_array_equal(a.xyz_m, b.xyz_m)
    np.testing.assert_array_equal(a.uv_px, b.uv_px)
    np.testing.assert_array_equal(a.confidence, b.confidence)
    np.testing.assert_array_equal(a.detected, b.detected)
    np.testing.assert_array_equal(a.score, b.score)
    assert tuple(a.track_id) == tuple(b.track_id)


@pytest.fixture
def ros_domain_id() -> int:
    """A ROS domain of this test alone (the run's base from tools/env.sh plus a counter)."""
    base = int(os.environ.get("ROS_DOMAIN_ID", "1"))
    return 1 + (base + 7 * next(_domain_counter)) % 200


@pytest.fixture
def ros_env(ros_domain_id: int) -> dict[str, str]:
    """Environment for child processes that join this test's domain."""
    env = dict(os.environ)
    env["ROS_DOMAIN_ID"] = str(ros_domain_id)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def rclpy_context(ros_domain_id: int) -> Iterator[object]:
    """An initialised rclpy Context on this test's domain, shut down afterwards."""
    import rclpy
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context, domain_id=ros_domain_id)
    yield context
    context.try_shutdown()


def spin_until(
    executor: object, condition: Callable[[], bool], timeout_s: float = 20.0
) -> bool:
    """Spin ``executor`` until ``condition()`` holds or the timeout passes; returns it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        executor.spin_once(timeout_sec=0.05)
    return condition()


@pytest.fixture
def start_process(ros_env: dict[str, str]) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start Python scripts as separate processes; they are interrupted and reaped at the end."""
    processes: list[subprocess.Popen] = []

    def start(*args: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, *args], env=ros_env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )
        processes.append(proc)
        return proc

    yield start
    for proc in processes:
        if proc.poll() is None:
            proc.send_signal(2)  # SIGINT: clean DDS shutdown, shared-memory segments freed
    for proc in processes:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def random_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete model directory with untrained (seeded random) weights at the demo grid.

    For tests where what the network sees does not matter (faults, wiring, parity between
    paths); tests of what the model sees use the trained demo model (weights/demo).
    """
    import torch

    from loco_ros.config import DecodeConfig, ModelConfig, PredictorConfig, save_yaml
    from loco_ros.decoding.refiner import PoseRefiner
    from loco_ros.model.predictor import CodePredictor
    from loco_ros.model.vha import VolumetricHeatmapAutoencoder
    from loco_ros.model.weights import save_weights
    from loco_ros.runtime.estimator import (
        MODEL_CONFIG,
        PREDICTOR_WEIGHTS,
        REFINER_WEIGHTS,
        VHA_WEIGHTS,
    )

    torch.manual_seed(0)
    # The untrained network's volume peaks near 0.07: a lower threshold makes it "see" ~20
    # people per image, so outputs are not trivially empty.
    config = ModelConfig(predictor=PredictorConfig(head_channels=(32, 32, 32)),
                         decode=DecodeConfig(threshold=0.065))
    out = tmp_path_factory.mktemp("random_model")
    save_yaml(config, out / MODEL_CONFIG)
    save_weights(CodePredictor(config), out / PREDICTOR_WEIGHTS)
    save_weights(VolumetricHeatmapAutoencoder(config.grid, config.vha.version),
                 out / VHA_WEIGHTS)
    save_weights(PoseRefiner(config.refiner.hidden), out / REFINER_WEIGHTS)
    return out


@pytest.fixture
def demo_model_without_refiner(tmp_path):
    """The trained demo model with the refiner off, so positions are the raw lifted peaks."""
    import dataclasses

    from loco_ros.config import ModelConfig, load_yaml, save_yaml
    from loco_ros.runtime.estimator import MODEL_CONFIG, default_model_dir

    source = default_model_dir()
    config = load_yaml(ModelConfig, source / MODEL_CONFIG)
    config = dataclasses.replace(
        config, refiner=dataclasses.replace(config.refiner, enabled=False))
    for weights in source.glob("*.safetensors"):
        (tmp_path / weights.name).symlink_to(weights)
    save_yaml(config, tmp_path / MODEL_CONFIG)
    return tmp_path
