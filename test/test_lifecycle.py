"""LocoEstimator open/close discipline and `loco export` (ROS-free)."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest

from loco_ros.backends.base import BackendError
from loco_ros.runtime.estimator import LocoEstimator

K = np.array([[400.0, 0.0, 256.0], [0.0, 400.0, 144.0], [0.0, 0.0, 1.0]])


def _image() -> np.ndarray:
    return np.zeros((288, 512, 3), np.uint8)


class _GatedBackend:
    """Wraps a backend: the network call waits for ``release``; close is recorded."""

    def __init__(self, inner, events: list[str]) -> None:
        self.inner, self.events = inner, events
        self.entered, self.release = threading.Event(), threading.Event()
        self.name, self.device, self.last_peak_overflow = inner.name, inner.device, 0

    def __call__(self, image):
        self.entered.set()
        assert self.release.wait(60.0)
        self.events.append("network done")
        return self.inner(image)

    def find_peaks(self, volume, decode):
        self.events.append("peaks")
        return self.inner.find_peaks(volume, decode)

    def close(self) -> None:
        self.events.append("backend closed")
        self.inner.close()


@pytest.fixture
def estimator(random_model_dir) -> LocoEstimator:
    return LocoEstimator.from_dir(random_model_dir, backend="torch", device="cpu")


def test_a_closed_estimator_raises_instead_of_reopening(estimator) -> None:
    assert not estimator.is_open
    estimator.estimate(_image(), K)  # the first use opens it
    assert estimator.is_open
    estimator.close()
    with pytest.raises(BackendError, match="after close"):
        estimator.estimate(_image(), K)
    assert not estimator.is_open, "estimate() must not reopen a closed backend"
    estimator.open()
    assert len(estimator.estimate(_image(), K).people.xyz_m) >= 0
    estimator.close()


def test_close_waits_for_the_image_in_progress(estimator) -> None:
    events: list[str] = []
    estimator.open()
    gated = _GatedBackend(estimator._backend, events)
    estimator._backend = gated
    worker = threading.Thread(target=lambda: estimator.estimate(_image(), K))
    worker.start()
    assert gated.entered.wait(60.0)
    closer = threading.Thread(target=estimator.close)
    closer.start()
    closer.join(0.2)
    assert "backend closed" not in events  # still waiting for the image in progress
    gated.release.set()
    worker.join(60.0)
    closer.join(60.0)
    assert events == ["network done", "peaks", "backend closed"]


def test_loco_export_fills_the_cache_the_node_reads(random_model_dir, tmp_path, caplog,
                                                    capsys) -> None:
    from loco_ros.cli import main

    cache = tmp_path / "engines"
    assert main(["export", "--model-dir", str(random_model_dir), "--cache-dir", str(cache)]) == 0
    printed = capsys.readouterr().out
    (onnx,) = cache.glob("loco_*.onnx")
    assert f"onnx: {onnx}" in printed
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        assert "tensorrt: not built: " in printed
    files = sorted(p.name for p in cache.iterdir())
    estimator = LocoEstimator.from_dir(random_model_dir, backend="onnxruntime", device="cpu",
                                       engine_cache_dir=str(cache))
    with caplog.at_level(logging.INFO, logger="loco_ros.export.onnx_export"):
        estimator.open()
    assert f"using cached ONNX export {onnx}" in caplog.text  # no export at activation
    assert sorted(p.name for p in cache.iterdir()) == files
    estimator.close()


def test_loco_help_lists_export(capsys) -> None:
    from loco_ros.cli import main

    assert main(["--help"]) == 0
    assert "loco export" in capsys.readouterr().out
