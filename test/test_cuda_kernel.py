"""The CUDA peak kernel (loco_ros/kernels/peaks.cu) against the CPU reference
(loco_ros.decoding.peaks).

Without a GPU: the kernel compiles to PTX with nvcc (syntax and type errors fail here), and
the very same source, compiled for the CPU by g++ with stand-ins for the CUDA built-ins, runs
block by block, thread by thread over its grid-stride loop and must give the reference's
peaks. With a GPU (marked gpu): the PyCUDA and CuPy launchers give the reference's peaks.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from loco_ros.backends.cuda_peaks import (
    KERNEL_NAME,
    KERNEL_PATH,
    PeakResult,
    peaks_from_buffers,
)
from loco_ros.config import DecodeConfig, GridConfig
from loco_ros.decoding.codec import render_volumetric_heatmap
from loco_ros.decoding.peaks import find_peaks
from loco_ros.skeleton import NUM_JOINTS
from loco_ros.types import Peaks

GRID = GridConfig()  # demo grid: (14, 64, 40, 64)
K_NET = np.array([[400.0, 0.0, 256.0], [0.0, 400.0, 144.0], [0.0, 0.0, 1.0]])
DECODES = [
    DecodeConfig(),
    DecodeConfig(neighbourhood=6),
    DecodeConfig(threshold=0.3, subvoxel=False),
]

HARNESS = r"""
// Runs loco_find_peaks on the CPU: every (block, thread) of the launch in turn.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>
using std::fmax; using std::fmin; using std::isfinite; using std::log;
#define __global__
#define __device__
#define __forceinline__ inline
struct LocoDim3 { unsigned int x, y, z; };
static LocoDim3 blockIdx, blockDim, gridDim, threadIdx;
static unsigned int atomicAdd(unsigned int* address, unsigned int value) {
    const unsigned int old = *address;
    *address += value;
    return old;
}
#include "peaks.cu"

int main(int argc, char** argv) {
    if (argc != 13) { std::fprintf(stderr, "bad arguments\n"); return 2; }
    const int J = std::atoi(argv[2]), D = std::atoi(argv[3]), H = std::atoi(argv[4]);
    const int W = std::atoi(argv[5]);
    const float threshold = std::strtof(argv[6], nullptr);
    const int neighbourhood = std::atoi(argv[7]), subvoxel = std::atoi(argv[8]);
    const int capacity = std::atoi(argv[9]);
    const size_t n = (size_t)J * D * H * W;
    std::vector<float> volume(n);
    FILE* in = std::fopen(argv[1], "rb");
    if (!in || std::fread(volume.data(), sizeof(float), n, in) != n) return 3;
    std::fclose(in);
    std::vector<int> index(4 * (size_t)capacity, -1);
    std::vector<float> value(capacity, -1.0f), offset(3 * (size_t)capacity, -9.0f);
    unsigned int count = 0;
    gridDim.x = (unsigned)std::atoi(argv[10]);
    blockDim.x = (unsigned)std::atoi(argv[11]);
    for (blockIdx.x = 0; blockIdx.x < gridDim.x; ++blockIdx.x) {
        for (threadIdx.x = 0; threadIdx.x < blockDim.x; ++threadIdx.x) {
            loco_find_peaks(volume.data(), J, D, H, W, threshold, neighbourhood, subvoxel,
                            capacity, &count, index.data(), value.data(), offset.data());
        }
    }
    FILE* out = std::fopen(argv[12], "wb");
    std::fwrite(&count, sizeof(count), 1, out);
    std::fwrite(index.data(), sizeof(int), index.size(), out);
    std::fwrite(value.data(), sizeof(float), value.size(), out);
    std::fwrite(offset.data(), sizeof(float), offset.size(), out);
    std::fclose(out);
    return 0;
}
"""


# ----------------------------------------------------------------------------- volumes


def rendered_volume(people: int, seed: int = 0) -> np.ndarray:
    """Ground-truth heatmap (J, D, H, W) of ``people`` random skeleton-sized point clouds."""
    rng = np.random.default_rng(seed)
    heads = np.stack([rng.uniform(-4, 4, people), rng.uniform(-1.5, 0.5, people),
                      rng.uniform(4, 25, people)], axis=1)
    joints = heads[:, None, :] + rng.uniform(-0.4, 0.4, (people, NUM_JOINTS, 3))
    joints[:, :, 1] += np.linspace(0.0, 1.6, NUM_JOINTS)  # head at the top, feet below
    return render_volumetric_heatmap(joints, K_NET, GRID)


def random_volume(seed: int = 0) -> np.ndarray:
    """Uniform noise (J, 12, 10, 16) with zero, negative, NaN, +inf and plateau voxels."""
    rng = np.random.default_rng(seed)
    volume = rng.random((NUM_JOINTS, 12, 10, 16), dtype=np.float32)
    volume[rng.random(volume.shape) < 0.15] = 0.0
    volume[rng.random(volume.shape) < 0.05] *= -1.0
    volume[rng.random(volume.shape) < 0.01] = np.nan
    volume[3, 5, 5, 5] = np.inf
    volume[4, 2:4, 2:4, 2:4] = 0.99  # a plateau: no peak inside it
    volume[5, 0, 0, 0] = 2.0  # a corner peak: out-of-volume neighbours ignored
    return volume


def assert_same_peaks(got: Peaks, want: Peaks, atol: float = 1e-5) -> None:
    np.testing.assert_array_equal(got.joint, want.joint)
    np.testing.assert_array_equal(np.floor(got.voxel + 0.5), np.floor(want.voxel + 0.5))
    np.testing.assert_array_equal(got.value, want.value)
    np.testing.assert_allclose(got.voxel, want.voxel, rtol=0, atol=atol)


# ----------------------------------------------------------------------------- PTX (CI)


def test_kernel_compiles_to_ptx(tmp_path: Path) -> None:
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc is not installed")
    ptx = tmp_path / "peaks.ptx"
    run = subprocess.run([nvcc, "-ptx", "--Werror", "all-warnings", "-o", str(ptx),
                          str(KERNEL_PATH)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert f".entry {KERNEL_NAME}(" in ptx.read_text()


# ----------------------------------------------------------------------------- CPU emulation


@pytest.fixture(scope="module")
def emulated_kernel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The kernel compiled for the CPU with g++ (skips without a C++ compiler)."""
    cxx = shutil.which("g++") or shutil.which("clang++")
    if cxx is None:
        pytest.skip("no C++ compiler to run the kernel on the CPU")
    folder = tmp_path_factory.mktemp("kernel")
    (folder / "harness.cpp").write_text(HARNESS)
    binary = folder / "harness"
    run = subprocess.run([cxx, "-O2", "-std=c++17", "-Wall", "-Werror", "-I",
                          str(KERNEL_PATH.parent), "-o", str(binary), str(folder / "harness.cpp")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return binary


def run_emulated(binary: Path, volume: np.ndarray, decode: DecodeConfig, capacity: int = 4096,
                 blocks: int = 7, threads: int = 64) -> PeakResult:
    """Launch the CPU-compiled kernel on ``volume`` (J, D, H, W); the result as on the GPU."""
    folder = binary.parent
    np.ascontiguousarray(volume, np.float32).tofile(folder / "volume.bin")
    threshold = repr(float(np.float32(decode.threshold)))
    args = [str(folder / "volume.bin"), *map(str, volume.shape), threshold,
            str(decode.neighbourhood), str(int(decode.subvoxel)), str(capacity), str(blocks),
            str(threads), str(folder / "out.bin")]
    subprocess.run([str(binary), *args], check=True, timeout=60)
    raw = (folder / "out.bin").read_bytes()
    count = int(np.frombuffer(raw, np.uint32, 1)[0])
    body = np.frombuffer(raw, np.float32, offset=4)  # index (int32), value, offset
    index = body[: 4 * capacity].view(np.int32).reshape(capacity, 4)
    value = body[4 * capacity : 5 * capacity]
    offset = body[5 * capacity :].reshape(capacity, 3)
    return peaks_from_buffers(count, index, value, offset, capacity, volume.shape)


@pytest.mark.parametrize("decode", DECODES, ids=["26", "6", "26-nosub"])
def test_emulated_kernel_matches_reference_on_random_volumes(
        emulated_kernel: Path, decode: DecodeConfig) -> None:
    for seed in range(3):
        volume = random_volume(seed)
        result = run_emulated(emulated_kernel, volume, decode)
        assert not result.overflowed
        want = find_peaks(volume, decode)
        assert len(want) > 50
        assert_same_peaks(result.peaks, want)


@pytest.mark.parametrize("people", [1, 10, 60])
def test_emulated_kernel_matches_reference_on_rendered_volumes(
        emulated_kernel: Path, people: int) -> None:
    volume = rendered_volume(people, seed=people)
    for decode in DECODES[:2]:
        result = run_emulated(emulated_kernel, volume, decode, blocks=64, threads=256)
        want = find_peaks(volume, decode)
        assert len(want) >= people  # isolated Gaussians: about one peak per joint
        assert_same_peaks(result.peaks, want)


def test_emulated_kernel_offsets_recover_rendered_voxels(emulated_kernel: Path) -> None:
    """One joint, exact Gaussian: the log-parabola offset gives its continuous voxel back."""
    joints = np.zeros((1, NUM_JOINTS, 3))
    joints[0, :, :] = [0.37, -0.21, 10.3]  # every joint at one point; only voxels matter
    volume = render_volumetric_heatmap(joints, K_NET, GRID)
    result = run_emulated(emulated_kernel, volume, DecodeConfig())
    assert len(result.peaks) == NUM_JOINTS
    d = 10.3 * np.sqrt(1 + (0.37 / 10.3) ** 2 + (0.21 / 10.3) ** 2) / GRID.depth_step_m
    want = [d, (144.0 - 0.21 * 400 / 10.3) / 8, (256 + 0.37 * 400 / 10.3) / 8]
    np.testing.assert_allclose(result.peaks.voxel, np.tile(want, (NUM_JOINTS, 1)), atol=1e-4)


def test_emulated_kernel_counts_but_drops_peaks_over_capacity(emulated_kernel: Path) -> None:
    volume = random_volume(7)
    want = find_peaks(volume, DecodeConfig())
    result = run_emulated(emulated_kernel, volume, DecodeConfig(), capacity=20)
    assert result.found == len(want) and result.overflowed
    assert len(result.peaks) == 20 and result.dropped == len(want) - 20
    # the 20 returned are true peaks (which 20 depends on thread timing)
    flat = np.ravel_multi_index(
        (want.joint, *np.floor(want.voxel + 0.5).astype(np.int64).T), volume.shape)
    got = np.ravel_multi_index(
        (result.peaks.joint, *np.floor(result.peaks.voxel + 0.5).astype(np.int64).T),
        volume.shape)
    assert np.isin(got, flat).all()


def test_emulated_kernel_empty_and_all_below_threshold(emulated_kernel: Path) -> None:
    volume = np.full((NUM_JOINTS, 8, 8, 8), 0.05, np.float32)
    result = run_emulated(emulated_kernel, volume, DecodeConfig())
    assert result.found == 0 and len(result.peaks) == 0


# ----------------------------------------------------------------------------- host side


def test_peaks_from_buffers_sorts_like_the_reference() -> None:
    index = np.array([[2, 1, 1, 1], [0, 3, 0, 0], [0, 1, 2, 3], [9, 9, 9, 9]], np.int32)
    value = np.array([0.5, 0.6, 0.7, -1.0], np.float32)
    offset = np.array([[0.1, 0, 0], [0, 0.2, 0], [0, 0, -0.3], [9, 9, 9]], np.float32)
    result = peaks_from_buffers(3, index, value, offset, capacity=4, shape=(3, 4, 4, 4))
    np.testing.assert_array_equal(result.peaks.joint, [0, 0, 2])
    np.testing.assert_allclose(result.peaks.voxel, [[1, 2, 2.7], [3, 0.2, 0], [1.1, 1, 1]])
    np.testing.assert_array_equal(result.peaks.value, np.float32([0.7, 0.6, 0.5]))
    assert result.peaks.voxel.dtype == np.float32 and result.peaks.joint.dtype == np.int64
    assert not result.overflowed


def test_peaks_from_buffers_reports_overflow() -> None:
    index = np.zeros((2, 4), np.int32)
    index[1] = [0, 0, 0, 1]
    result = peaks_from_buffers(5, index, np.ones(2, np.float32), np.zeros((2, 3), np.float32),
                                capacity=2, shape=(1, 2, 2, 2))
    assert len(result.peaks) == 2 and result.found == 5 and result.dropped == 3


# ----------------------------------------------------------------------------- GPU


def _gpu_or_skip(module: str) -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    pytest.importorskip(module, reason=f"{module} is not installed")


@pytest.mark.gpu
@pytest.mark.parametrize("source", ["random", "rendered"])
def test_pycuda_kernel_matches_reference(source: str) -> None:
    _gpu_or_skip("pycuda")
    import pycuda.driver as cuda

    from loco_ros.backends.cuda_peaks import PyCudaPeakFinder

    volume = random_volume(1) if source == "random" else rendered_volume(30, seed=3)
    cuda.init()
    context = cuda.Device(0).retain_primary_context()
    context.push()
    try:
        finder, stream = PyCudaPeakFinder(), cuda.Stream()
        device_volume = cuda.to_device(np.ascontiguousarray(volume))
        for decode in DECODES:
            result = finder.find_peaks_ptr(int(device_volume), volume.shape, decode, stream)
            assert not result.overflowed
            assert_same_peaks(result.peaks, find_peaks(volume, decode))
        device_volume.free()
        finder.close()
    finally:
        cuda.Context.pop()
        context.detach()


@pytest.mark.gpu
@pytest.mark.parametrize("source", ["random", "rendered"])
def test_cupy_kernel_matches_reference(source: str) -> None:
    _gpu_or_skip("cupy")
    from loco_ros.backends.cuda_peaks import CupyPeakFinder

    volume = random_volume(2) if source == "random" else rendered_volume(30, seed=4)
    finder = CupyPeakFinder()
    tensor = torch.from_numpy(volume).cuda()
    for decode in DECODES:
        result = finder.find_peaks_tensor(tensor, decode)
        assert not result.overflowed
        assert_same_peaks(result.peaks, find_peaks(volume, decode))
    small = CupyPeakFinder(capacity=10).find_peaks_tensor(tensor, DecodeConfig())
    assert small.overflowed and len(small.peaks) == 10
    finder.close()
