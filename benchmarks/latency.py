"""Per-stage latency of the LoCO pipeline against the number of people (p50 / p95, ms).

    .venv/bin/python benchmarks/latency.py [--weights DIR] [--backend auto] [--device cuda]
        [--paper] [--repeats 20] [--people 1 10 30 60 100] [--compare-cpu]

Stages, one frame at a time as in ``LocoEstimator.estimate``: preprocess (letterbox of a
camera image, 1280x720 for the demo grid, 1920x1080 for the paper grid), network (image ->
volume on the selected backend), peaks (on the backend, where the volume lives), lifting,
association, refiner, message build (Pose3DArray: rclpy classes when the colcon-built
messages import, else rosbags' ROS-free classes).

The network's cost does not depend on what the image shows, but peaks, lifting, association,
refiner and message build do: they are fed the ground-truth volume of a synthetic scene with
N people rendered by the codec (``render_volumetric_heatmap``), uploaded to the backend's
device. Without ``--weights`` the network has random weights (``ModelConfig()``: 512x288,
D = 64, the default head) and the refiner too. ``--paper`` runs the paper grid (1920x1080,
D = 316): a 0.6 GB volume per frame, meant for a GPU (on a CPU it takes seconds per frame).

Prints a markdown table and the ratios t(100)/t(1) of the network and the total; writes
``docs/latency_<grid>_<backend>.json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from loco_ros.backends.base import VolumeBackend  # noqa: E402
from loco_ros.backends.selection import select_backend  # noqa: E402
from loco_ros.config import GridConfig, ModelConfig, load_yaml  # noqa: E402
from loco_ros.decoding.association import associate_people  # noqa: E402
from loco_ros.decoding.codec import render_volumetric_heatmap  # noqa: E402
from loco_ros.decoding.lifting import peaks_to_candidates, scale_intrinsics  # noqa: E402
from loco_ros.decoding.refiner import PoseRefiner, refine_people  # noqa: E402
from loco_ros.model.network import ImageToVolume  # noqa: E402
from loco_ros.model.predictor import CodePredictor  # noqa: E402
from loco_ros.model.vha import VolumetricHeatmapAutoencoder  # noqa: E402
from loco_ros.runtime.estimator import letterbox_image, load_model  # noqa: E402
from loco_ros.synthetic.scene import SceneConfig, sample_scene  # noqa: E402
from loco_ros.types import People  # noqa: E402

STAGES = ("preprocess", "network", "peaks", "lifting", "association", "refiner", "message")
PAPER_GRID = GridConfig(1920, 1080, depth_bins=316, depth_max_m=100.0, focal_px=1158.0)
CAMERA_WH = {"demo": (1280, 720), "paper": (1920, 1080)}


# ----------------------------------------------------------------------------- inputs


def crowd(grid: GridConfig, count: int) -> object:
    """The fullest of a few synthetic scenes asking for ``count`` people at ``grid``'s input
    size and canonical focal (space may run out before ``count``)."""
    scenes = SceneConfig(image_width=grid.image_width, image_height=grid.image_height,
                         focal_px=grid.focal_px, focal_jitter=0.0, people=(count, count),
                         pitch_deg=(0.0, 10.0),
                         distance_m=(2.0, min(60.0, 0.9 * grid.depth_max_m)))
    tries = [sample_scene(np.random.default_rng(seed), scenes) for seed in range(6)]
    return max(tries, key=lambda scene: scene.num_people)


def camera_frame(scene, camera_wh: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A camera image (H, W, 3) uint8 (noise: the network's cost ignores content) and its
    intrinsics: the scene's K scaled from the network size to ``camera_wh``."""
    scale = camera_wh[0] / scene.image_size[0]
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (camera_wh[1], camera_wh[0], 3), dtype=np.uint8)
    return image, scale_intrinsics(scene.K, scale, scale)


def random_model(config: ModelConfig) -> tuple[ImageToVolume, PoseRefiner]:
    torch.manual_seed(0)
    network = ImageToVolume(CodePredictor(config),
                            VolumetricHeatmapAutoencoder(config.grid, config.vha.version))
    return network.eval(), PoseRefiner(config.refiner.hidden).eval()


def message_builder() -> tuple[str, Callable[[People], object]]:
    """(label, People -> Pose3DArray) with rclpy classes when available, else rosbags'."""
    try:
        from std_msgs.msg import Header

        from loco_ros.ros.conversions import people_to_msg

        return "rclpy", lambda people: people_to_msg(people, Header(frame_id="camera"))
    except ImportError:
        from loco_ros.bags.messages import pose_array_msg

        return "rosbags", lambda people: pose_array_msg(people, 0, "camera")


def on_backend(backend: VolumeBackend, volume: np.ndarray) -> object:
    """A host volume (J, D, H, W) where ``backend.find_peaks`` expects its volumes."""
    batch = volume[None]
    if backend.name == "tensorrt":
        return backend.upload_volume(batch)
    if backend.device.startswith("cuda") and backend.name == "torch":
        return torch.from_numpy(batch).to(backend.device)
    return batch


# ----------------------------------------------------------------------------- timing


def run_scene(backend, config, refiner, scene, camera_wh, repeats, build) -> dict[str, list]:
    """Per-stage seconds of ``repeats`` frames (after one warm-up) of one scene."""
    image, K = camera_frame(scene, camera_wh)
    gt = render_volumetric_heatmap(scene.joints_xyz_m, scene.K, config.grid)
    gt_on_device = on_backend(backend, gt)
    times: dict[str, list] = {stage: [] for stage in (*STAGES, "total")}
    for i in range(repeats + 1):
        t = [time.perf_counter()]
        pre = letterbox_image(image, K, (config.grid.image_width, config.grid.image_height))
        t.append(time.perf_counter())
        backend(pre.image)
        t.append(time.perf_counter())
        if backend.name == "tensorrt":  # the engine's output buffer now holds its volume
            gt_on_device = on_backend(backend, gt)
            t[-1] = time.perf_counter()
        peaks = backend.find_peaks(gt_on_device, config.decode)
        t.append(time.perf_counter())
        candidates = peaks_to_candidates(peaks, config.grid, pre.K_net, pre.scale_xy, pre.pad_xy)
        t.append(time.perf_counter())
        people = associate_people(candidates, config.association)
        t.append(time.perf_counter())
        people = refine_people(refiner, people, K)
        t.append(time.perf_counter())
        build(people)
        t.append(time.perf_counter())
        if i == 0:
            continue  # warm-up
        for stage, start, stop in zip(STAGES, t[:-1], t[1:], strict=True):
            times[stage].append(stop - start)
        times["total"].append(sum(times[stage][-1] for stage in STAGES))
    times["found"] = [len(peaks), len(people)]
    return times


def summarise(times: dict[str, list]) -> dict[str, float]:
    """p50 / p95 in ms of every stage and the total."""
    out = {}
    for stage in (*STAGES, "total"):
        ms = 1e3 * np.asarray(times[stage])
        out[f"{stage}_p50"] = float(np.percentile(ms, 50))
        out[f"{stage}_p95"] = float(np.percentile(ms, 95))
    return out


def compare_cpu(network: ImageToVolume, config: ModelConfig, cache_dir: Path,
                repeats: int) -> dict[str, float]:
    """Median ms of one network call with torch and with onnxruntime on the CPU."""
    image = np.random.default_rng(0).random(
        (1, 3, config.grid.image_height, config.grid.image_width), dtype=np.float32)
    result = {}
    for name in ("torch", "onnxruntime"):
        backend, _ = select_backend(network, config, backend=name, device="cpu",
                                    engine_cache_dir=cache_dir)
        backend(image)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            backend(image)
            times.append(time.perf_counter() - start)
        result[name] = 1e3 * float(np.median(times))
        backend.close()
    return result


# ----------------------------------------------------------------------------- output


def print_table(rows: list[dict]) -> None:
    head = ["people", "peaks"] + [f"{s} p50/p95" for s in (*STAGES, "total")]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        cells = [str(row["people"]), str(row["peaks"])]
        cells += [f"{row[f'{s}_p50']:.2f} / {row[f'{s}_p95']:.2f}" for s in (*STAGES, "total")]
        print("| " + " | ".join(cells) + " |")


def plot(rows: list[dict], title: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    people = [row["people"] for row in rows]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for stage in (*STAGES, "total"):
        ax.plot(people, [max(row[f"{stage}_p50"], 1e-3) for row in rows], marker="o",
                label=stage, linewidth=2.5 if stage == "total" else 1.2)
    ax.set_xlabel("people in the scene")
    ax.set_ylabel("p50 latency (ms)")
    ax.set_yscale("log")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, help="model dir (model.yaml + safetensors)")
    parser.add_argument("--config", type=Path, help="model.yaml for random weights")
    parser.add_argument("--backend", default="auto",
                        choices=("auto", "tensorrt", "torch", "onnxruntime"))
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--precision", default="fp16", choices=("fp16", "fp32"))
    parser.add_argument("--paper", action="store_true", help="paper grid 1920x1080, D = 316")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--people", type=int, nargs="+", default=[1, 10, 30, 60, 100])
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "docs")
    parser.add_argument("--torch-threads", type=int, default=0,
                        help="torch.set_num_threads (0: torch's default)")
    parser.add_argument("--compare-cpu", action="store_true",
                        help="also time torch vs onnxruntime on the CPU (network only)")
    args = parser.parse_args()
    if args.torch_threads > 0:
        torch.set_num_threads(args.torch_threads)
    if args.weights:
        config, network, refiner = load_model(args.weights)
        refiner = refiner or PoseRefiner(config.refiner.hidden).eval()
        label = f"weights {args.weights}"
    else:
        config = load_yaml(ModelConfig, args.config) if args.config else ModelConfig()
        if args.paper:
            config = ModelConfig(grid=PAPER_GRID, predictor=config.predictor, vha=config.vha)
        network, refiner = random_model(config)
        label = "random weights"
    grid_name = "paper" if config.grid.image_width >= 1920 else "demo"
    backend, reason = select_backend(network, config, backend=args.backend, device=args.device,
                                     precision=args.precision, engine_cache_dir=args.cache_dir)
    message_label, build = message_builder()
    if backend.device.startswith("cuda"):
        refiner = refiner.to(backend.device)
    print(f"backend: {backend.describe()}\nreason: {reason}\nmodel: {label}, grid "
          f"{config.grid.image_width}x{config.grid.image_height}, volume {backend.output_shape}"
          f"\nmessages: {message_label}; CPU: {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} torch threads\n")
    rows = []
    for count in args.people:
        scene = crowd(config.grid, count)
        times = run_scene(backend, config, refiner, scene, CAMERA_WH[grid_name], args.repeats,
                          build)
        rows.append({"people": scene.num_people, "requested": count,
                     "peaks": times["found"][0], "people_found": times["found"][1],
                     **summarise(times)})
        print(f"  {scene.num_people} people: total p50 {rows[-1]['total_p50']:.1f} ms",
              file=sys.stderr)
    backend.close()
    print_table(rows)
    ratios = {k: rows[-1][f"{k}_p50"] / rows[0][f"{k}_p50"] for k in ("network", "total")}
    print(f"\nt({rows[-1]['people']})/t({rows[0]['people']}): network "
          f"{ratios['network']:.2f}, total {ratios['total']:.2f}")
    result = {"backend": backend.name, "device": backend.device, "reason": reason,
              "model": label, "grid": grid_name, "volume_shape": list(backend.output_shape),
              "messages": message_label, "repeats": args.repeats, "rows": rows,
              "ratios_last_over_first": ratios, "torch_threads": torch.get_num_threads(),
              "cpu_count": os.cpu_count(), "load_average_1m_at_end": os.getloadavg()[0]}
    if args.compare_cpu:
        result["cpu_network_ms"] = compare_cpu(network, config, args.cache_dir
                                               or Path("/tmp/loco_latency"), args.repeats)
        print("CPU network median ms:", json.dumps(result["cpu_network_ms"]))
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stem = args.out_dir / f"latency_{grid_name}_{backend.name}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2))
    plot(rows, f"LoCO latency, {grid_name} grid, {backend.name} on {backend.device} ({label})",
         stem.with_suffix(".png"))
    print(f"wrote {stem}.json and {stem}.png")


if __name__ == "__main__":
    main()
