"""Inference backends: the choice, the callable interface, torch vs ONNX Runtime parity, and
the TensorRT engine cache (pure-Python parts here; engines themselves need TensorRT + GPU)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from loco_ros.backends.base import VolumeBackend, squeeze_batch, volume_to_numpy
from loco_ros.backends.cuda_peaks import DEFAULT_CAPACITY
from loco_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
from loco_ros.backends.selection import default_cache_dir, select_backend
from loco_ros.backends.tensorrt_engine import (
    TENSORRT_MISSING,
    EngineKey,
    cached_engine_bytes,
    check_precision,
    file_sha256,
    onnx_input_shape,
    read_engine_file,
    sidecar_mismatch,
    sidecar_path,
    store_engine,
    tensorrt_unavailable_reason,
)
from loco_ros.backends.torch_backend import TorchBackend
from loco_ros.config import DecodeConfig, ModelConfig, PredictorConfig
from loco_ros.decoding.peaks import find_peaks, neighbour_max_dense
from loco_ros.errors import ConfigError, InputError, WeightsError
from loco_ros.export.onnx_export import cached_onnx
from loco_ros.model.network import ImageToVolume
from loco_ros.model.predictor import CodePredictor
from loco_ros.model.vha import VolumetricHeatmapAutoencoder
from loco_ros.types import Peaks

CONFIG = ModelConfig(predictor=PredictorConfig(head_channels=(64, 32, 32)))  # demo grid
INPUT_SHAPE = (1, 3, 288, 512)
VOLUME_SHAPE = (14, 64, 40, 64)


def random_network(seed: int = 0) -> ImageToVolume:
    """Random-weight network of CONFIG whose volume reaches about 1 (thousands of peaks)."""
    torch.manual_seed(seed)
    vha = VolumetricHeatmapAutoencoder(CONFIG.grid, CONFIG.vha.version)
    with torch.no_grad():
        vha.dec[-1].weight.mul_(20.0)
    return ImageToVolume(CodePredictor(CONFIG), vha).eval()


@pytest.fixture(scope="module")
def network() -> ImageToVolume:
    return random_network()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("engines")


@pytest.fixture(scope="module")
def onnx_path(network: ImageToVolume, cache_dir: Path) -> Path:
    return cached_onnx(CONFIG, network.predictor, network.vha, cache_dir, progress=False)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.random.default_rng(3).random(INPUT_SHAPE, dtype=np.float32)


# ----------------------------------------------------------------------------- selection


def test_select_backend_on_cpu_picks_a_cpu_backend_with_a_reason(network, cache_dir) -> None:
    backend, reason = select_backend(network, CONFIG, device="cpu", engine_cache_dir=cache_dir)
    assert isinstance(backend, VolumeBackend)
    assert backend.name == "onnxruntime" and backend.device == "cpu"
    assert "fastest CPU path" in reason and "device=cpu" in reason
    backend.close()
    backend, reason = select_backend(network, CONFIG, backend="torch", device="cpu",
                                     engine_cache_dir=cache_dir)
    assert (backend.name, backend.device, reason) == ("torch", "cpu", "torch on CPU")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback without a GPU")
def test_select_backend_falls_back_to_the_cpu_without_a_gpu(network, cache_dir, caplog) -> None:
    backend, reason = select_backend(network, CONFIG, device="cuda", engine_cache_dir=cache_dir)
    assert backend.device == "cpu" and "CPU fallback" in reason and "no TensorRT" in reason
    with caplog.at_level(logging.WARNING):
        backend, reason = select_backend(network, CONFIG, backend="tensorrt", device="cuda",
                                         engine_cache_dir=cache_dir)
    assert backend.device == "cpu" and "no TensorRT" in reason
    assert "tensorrt requested but unavailable" in caplog.text


def test_select_backend_rejects_unknown_names(network) -> None:
    with pytest.raises(ConfigError, match="backend"):
        select_backend(network, CONFIG, backend="tflite")
    with pytest.raises(ConfigError, match="device"):
        select_backend(network, CONFIG, device="tpu")


def test_default_cache_dir_follows_xdg(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "loco_ros" / "engines"


# ----------------------------------------------------------------------------- interface


def assert_same_peaks_up_to_ties(a: Peaks, b: Peaks, vol_a: np.ndarray, vol_b: np.ndarray,
                                 tie: float) -> None:
    """Same peaks, except voxels whose margin over their neighbours is within ``tie``.

    The two volumes differ by float rounding, so near-ties may go either way; a random-weight
    VHA makes many: its bilinear upsampling gives plateaus that ONNX Runtime computes as exact
    ties (no peak) where torch's rounding leaves a 1-ulp maximum (about half the peaks here).
    """
    def keys(p: Peaks) -> np.ndarray:
        voxel = np.floor(p.voxel + 0.5).astype(np.int64)
        return np.ravel_multi_index((p.joint, *voxel.T), VOLUME_SHAPE)

    ka, kb = keys(a), keys(b)
    only = np.setxor1d(ka, kb)
    for volume in (vol_a, vol_b):
        margin = volume - neighbour_max_dense(torch.from_numpy(volume)).numpy()
        assert np.all(np.abs(margin.reshape(-1)[only]) <= tie), "a real peak differs"
    common, ia, ib = np.intersect1d(ka, kb, return_indices=True)
    assert common.size > 1000
    np.testing.assert_allclose(a.value[ia], b.value[ib], atol=1e-4)
    # Sub-voxel offsets of near-flat maxima (curvature ~ rounding) are ill-conditioned: most
    # agree to 1e-3 voxel; the integer voxel (the key) is the same for all.
    offset_diff = np.abs(a.voxel[ia] - b.voxel[ib])
    assert np.quantile(offset_diff, 0.95) <= 1e-3 and offset_diff.max() <= 0.5


def test_torch_and_onnxruntime_give_the_same_peaks(network, onnx_path, image) -> None:
    with TorchBackend(network) as tb, OnnxRuntimeBackend(onnx_path, model_config=CONFIG) as ob:
        vol_t, vol_o = tb(image), ob(image)
        assert vol_t.shape == vol_o.shape == (1, *VOLUME_SHAPE)
        assert float(np.abs(vol_t - vol_o).max()) <= 1e-4
        peaks_t, peaks_o = tb.find_peaks(vol_t, CONFIG.decode), ob.find_peaks(vol_o, CONFIG.decode)
    assert len(peaks_t) > 100
    assert_same_peaks_up_to_ties(peaks_t, peaks_o, vol_t[0], vol_o[0], tie=1e-5)
    reference = find_peaks(vol_t[0], CONFIG.decode)  # the backend is the reference path
    np.testing.assert_array_equal(peaks_t.voxel, reference.voxel)


def test_backends_find_peaks_with_and_without_batch_axis(network, image) -> None:
    backend = TorchBackend(network)
    volume = backend(image)
    decode = DecodeConfig(neighbourhood=6, subvoxel=False)
    with_batch, without = backend.find_peaks(volume, decode), backend.find_peaks(volume[0], decode)
    np.testing.assert_array_equal(with_batch.voxel, without.voxel)
    assert backend.last_peak_overflow == 0


def test_backends_reject_malformed_images(network, onnx_path) -> None:
    for backend in (TorchBackend(network), OnnxRuntimeBackend(onnx_path)):
        with pytest.raises(InputError, match="expected image"):
            backend(np.zeros((1, 3, 100, 100), np.float32))
        with pytest.raises(InputError, match="float32"):
            backend(np.zeros(INPUT_SHAPE, np.float64))
        assert backend.input_shape == INPUT_SHAPE
        assert backend.output_shape == (1, *VOLUME_SHAPE)


def test_onnxruntime_backend_checks_the_model_config(onnx_path) -> None:
    other = ModelConfig(vha=CONFIG.vha.__class__(version=3), predictor=CONFIG.predictor)
    with pytest.raises(WeightsError, match="does not match"):
        OnnxRuntimeBackend(onnx_path, model_config=other)
    with pytest.raises(ConfigError, match="device"):
        OnnxRuntimeBackend(onnx_path, device="tpu")


def test_volume_helpers() -> None:
    volume = np.zeros((1, *VOLUME_SHAPE), np.float32)
    assert squeeze_batch(volume.shape) == VOLUME_SHAPE
    assert squeeze_batch(VOLUME_SHAPE) == VOLUME_SHAPE
    assert volume_to_numpy(torch.from_numpy(volume)).shape == VOLUME_SHAPE
    with pytest.raises(InputError):
        squeeze_batch((2, *VOLUME_SHAPE))


# ----------------------------------------------------------------------------- TensorRT cache


def make_key(**change) -> EngineKey:
    fields = dict(onnx_sha256="ab" * 32, input_shape=INPUT_SHAPE, precision="fp16",
                  tensorrt_version="10.3.0", gpu_name="NVIDIA H100 80GB HBM3",
                  compute_capability=(9, 0))
    fields.update(change)
    return EngineKey(**fields)


def test_engine_key_digest_covers_every_field() -> None:
    base = make_key()
    assert base.digest() == make_key().digest() and len(base.digest()) == 64
    changes = [dict(onnx_sha256="cd" * 32), dict(input_shape=(1, 3, 1080, 1920)),
               dict(precision="fp32"), dict(tensorrt_version="10.4.0"),
               dict(gpu_name="NVIDIA H200"), dict(compute_capability=(8, 9))]
    digests = {make_key(**c).digest() for c in changes}
    assert len(digests) == len(changes) and base.digest() not in digests


def test_engine_cache_hit_miss_and_mismatch(tmp_path: Path, caplog) -> None:
    engine = tmp_path / "model.fp16.engine"
    key = make_key()
    assert sidecar_mismatch(engine, key) == "no cached engine"
    store_engine(engine, b"serialized engine", key)
    assert sidecar_mismatch(engine, key) is None
    assert cached_engine_bytes(engine, key) == b"serialized engine"
    assert json.loads(sidecar_path(engine).read_text())["key"] == key.digest()
    with caplog.at_level(logging.WARNING):
        assert cached_engine_bytes(engine, make_key(tensorrt_version="10.4.0")) is None
    assert "cache key differs: tensorrt_version '10.3.0' -> '10.4.0'" in caplog.text
    assert "building a new engine" in caplog.text


def test_engine_cache_rejects_missing_or_garbled_sidecars(tmp_path: Path) -> None:
    engine = tmp_path / "model.fp32.engine"
    key = make_key(precision="fp32")
    engine.write_bytes(b"engine without sidecar")
    assert "no key sidecar" in sidecar_mismatch(engine, key)
    sidecar_path(engine).write_text("{ not json")
    assert "unreadable" in sidecar_mismatch(engine, key)
    sidecar_path(engine).write_text(json.dumps({"key": "0" * 64, "fields": key.fields()}))
    assert "sidecar digest does not match" in sidecar_mismatch(engine, key)


def test_unreadable_engine_files_raise_weights_error(tmp_path: Path) -> None:
    path = tmp_path / "x.engine"
    with pytest.raises(WeightsError, match="cannot read"):
        read_engine_file(path)
    path.write_bytes(b"")
    with pytest.raises(WeightsError, match="empty"):
        read_engine_file(path)


def test_engine_key_inputs_from_the_onnx_file(onnx_path: Path) -> None:
    assert onnx_input_shape(onnx_path) == INPUT_SHAPE
    assert file_sha256(onnx_path) == file_sha256(onnx_path) and len(file_sha256(onnx_path)) == 64
    assert check_precision("fp32") == "fp32"
    with pytest.raises(ConfigError):
        check_precision("int8")


def test_tensorrt_absence_is_reported() -> None:
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        assert TENSORRT_MISSING in tensorrt_unavailable_reason()
    else:
        pytest.skip("TensorRT is installed here")


# ----------------------------------------------------------------------------- TensorRT (GPU)


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_tensorrt_backend_matches_onnxruntime(onnx_path, cache_dir, image, precision) -> None:
    pytest.importorskip("tensorrt", reason=TENSORRT_MISSING)
    pytest.importorskip("pycuda", reason="PyCUDA is not installed")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    from loco_ros.backends.tensorrt_backend import DeviceVolume, TensorRTBackend

    with TensorRTBackend.from_onnx(onnx_path, cache_dir, precision, progress=False) as backend:
        volume = backend(image)
        assert isinstance(volume, DeviceVolume)
        host = volume_to_numpy(volume)
        want = OnnxRuntimeBackend(onnx_path)(image)[0]
        assert float(np.abs(host - want).max()) <= (1e-3 if precision == "fp32" else 5e-2)
        # The random network's volume has thousands of near-tied peaks and may overflow the
        # kernel's buffer, so the kernel is compared on a volume that cannot: a rendered
        # ground-truth heatmap (20 people, at most 14 x 20 peaks), uploaded as if the engine
        # had produced it.
        truth = rendered_volume(20)
        peaks = backend.find_peaks(backend.upload_volume(truth[None]), CONFIG.decode)
        assert backend.last_peak_overflow == 0
        reference = find_peaks(truth, CONFIG.decode)
        assert 0 < len(reference) <= 14 * 20 < DEFAULT_CAPACITY
        np.testing.assert_array_equal(peaks.joint, reference.joint)
        np.testing.assert_array_equal(peaks.value, reference.value)
        np.testing.assert_allclose(peaks.voxel, reference.voxel, atol=1e-5)
    again = TensorRTBackend.from_onnx(onnx_path, cache_dir, precision, progress=False)
    assert "(cached)" in again.description
    again.close()


def _tensorrt_engine_module():
    """loco_ros.backends.tensorrt_engine where TensorRT and a CUDA GPU exist, else a skip."""
    pytest.importorskip("tensorrt", reason=TENSORRT_MISSING)
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    from loco_ros.backends import tensorrt_engine

    return tensorrt_engine


@pytest.mark.gpu
def test_corrupt_engines_raise_weights_error(tmp_path: Path) -> None:
    te = _tensorrt_engine_module()
    runtime = te.import_tensorrt().Runtime(te.trt_logger())
    with pytest.raises(WeightsError, match="corrupt"):
        te.deserialize_engine(runtime, b"garbage, not an engine", tmp_path / "x.engine")


@pytest.mark.gpu
def test_get_engine_builds_caches_and_rebuilds_on_key_change(onnx_path, tmp_path,
                                                             caplog) -> None:
    te = _tensorrt_engine_module()
    with caplog.at_level(logging.INFO):
        _, _, status = te.get_engine(onnx_path, tmp_path, "fp16", 1 << 28, progress=False)
    assert status.endswith("(built)")
    assert "TensorRT build" in caplog.text
    assert te.get_engine(onnx_path, tmp_path, "fp16", progress=False)[2].endswith("(cached)")
    assert te.get_engine(onnx_path, tmp_path, "fp32", progress=False)[2].endswith("(built)")


@pytest.mark.gpu
def test_get_engine_rejects_a_corrupt_cached_engine(onnx_path, tmp_path) -> None:
    te = _tensorrt_engine_module()
    te.get_engine(onnx_path, tmp_path, "fp32", progress=False)
    engine_path = tmp_path / f"{onnx_path.stem}.fp32.engine"
    engine_path.write_bytes(b"bit rot")  # the sidecar still matches
    with pytest.raises(WeightsError, match="corrupt"):
        te.get_engine(onnx_path, tmp_path, "fp32", progress=False)
    with pytest.raises(WeightsError, match="corrupt"):
        te.load_engine(engine_path)


@pytest.mark.gpu
def test_unparsable_onnx_raises_weights_error(tmp_path) -> None:
    te = _tensorrt_engine_module()
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"!not onnx")
    with pytest.raises(WeightsError):
        te.build_serialized_engine(bad, "fp16", progress=False)


# ----------------------------------------------------------------------------- torch CUDA (GPU)


def rendered_volume(people: int) -> np.ndarray:
    """Ground-truth heatmap (J, D, H, W) of random joints at CONFIG's grid (no near-ties)."""
    from loco_ros.decoding.codec import render_volumetric_heatmap

    rng = np.random.default_rng(people)
    joints = np.stack([rng.uniform(-4, 4, (people, 14)), rng.uniform(-1.5, 1.5, (people, 14)),
                       rng.uniform(3, 25, (people, 14))], axis=2)
    K = np.array([[400.0, 0.0, 256.0], [0.0, 400.0, 144.0], [0.0, 0.0, 1.0]])
    return render_volumetric_heatmap(joints, K, CONFIG.grid)


def test_peak_overflow_is_counted_and_reaches_the_estimate(network, random_model_dir) -> None:
    """A full kernel buffer: the dropped peaks are counted (PeakResult.dropped), the backend
    keeps it in last_peak_overflow and LocoEstimator passes it on as Estimate.peaks_dropped
    (the node counts it in /diagnostics as peaks_dropped)."""
    from loco_ros.backends.cuda_peaks import peaks_from_buffers
    from loco_ros.runtime.estimator import LocoEstimator

    capacity, found = 3, 5
    index = np.array([[0, 1, 2, 3], [0, 1, 2, 1], [1, 0, 0, 0]], np.int32)
    result = peaks_from_buffers(found, index, np.ones(3, np.float32),
                                np.zeros((3, 3), np.float32), capacity, VOLUME_SHAPE)
    assert result.overflowed and result.dropped == 2 and len(result.peaks) == 3
    assert list(result.peaks.joint) == [0, 0, 1]  # sorted like the CPU reference

    estimator = LocoEstimator.from_dir(random_model_dir, backend="torch", device="cpu")
    estimator.open()
    estimator._backend.last_peak_overflow = 0
    K = np.array([[400.0, 0, 256], [0, 400.0, 144], [0, 0, 1]])
    assert estimator.estimate(np.zeros((288, 512, 3), np.uint8), K).peaks_dropped == 0

    class Overflowing(type(estimator._backend)):
        def find_peaks(self, volume, decode):
            peaks = super().find_peaks(volume, decode)
            self.last_peak_overflow = 7
            return peaks

    estimator._backend.__class__ = Overflowing
    assert estimator.estimate(np.zeros((288, 512, 3), np.uint8), K).peaks_dropped == 7
    estimator.close()


@pytest.mark.gpu
@pytest.mark.parametrize("peak_method", ["dense", "kernel"])
def test_torch_cuda_backend_finds_the_reference_peaks_on_the_gpu(network, image,
                                                                  peak_method) -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    if peak_method == "kernel":
        pytest.importorskip("cupy", reason="CuPy is not installed")
    import copy

    with TorchBackend(copy.deepcopy(network), "cuda", peak_method=peak_method) as backend:
        volume = backend(image)
        assert volume.is_cuda and tuple(volume.shape) == (1, *VOLUME_SHAPE)
        host = rendered_volume(20)
        peaks = backend.find_peaks(torch.from_numpy(host[None]).cuda(), CONFIG.decode)
        reference = find_peaks(host, CONFIG.decode)
        np.testing.assert_array_equal(peaks.joint, reference.joint)
        np.testing.assert_array_equal(peaks.value, reference.value)
        np.testing.assert_allclose(peaks.voxel, reference.voxel, atol=1e-5)
        assert backend.peak_method == peak_method
