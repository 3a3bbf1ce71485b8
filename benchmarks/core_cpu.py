"""CPU time of the LoCO core stages against the number of people in the scene.

    python benchmarks/core_cpu.py [--grid demo|paper] [--repeats 5]

Prints a markdown table (milliseconds, median over repeats): heatmap rendering, dense
(torch max-pool) and sparse peak finding, lifting, association (greedy and Hungarian) and
the pose refiner, for scenes of 1, 10, 30, 60 and 100 people.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from loco_ros.config import AssociationConfig, DecodeConfig, GridConfig
from loco_ros.decoding.association import associate_people
from loco_ros.decoding.codec import render_volumetric_heatmap
from loco_ros.decoding.lifting import peaks_to_candidates
from loco_ros.decoding.peaks import find_peaks
from loco_ros.decoding.refiner import PoseRefiner, refine_people
from loco_ros.synthetic.scene import SceneConfig, sample_scene

GRIDS = {
    "demo": (GridConfig(), SceneConfig(distance_m=(2.0, 30.0))),
    "paper": (
        GridConfig(1920, 1080, depth_bins=316, depth_max_m=100.0, focal_px=1158.0),
        SceneConfig(image_width=1920, image_height=1080, focal_px=1158.0, focal_jitter=0.0,
                    distance_m=(2.0, 60.0)),
    ),
}
COUNTS = (1, 10, 30, 60, 100)


def _median_ms(function, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times)), result


def bench_scene(grid: GridConfig, scene, repeats: int, refiner: PoseRefiner) -> dict:
    """Median milliseconds of each stage on one scene."""
    decode = DecodeConfig()
    row = {"people": scene.num_people}
    row["render"], volume = _median_ms(
        lambda: render_volumetric_heatmap(scene.joints_xyz_m, scene.K, grid), repeats)
    tensor = torch.from_numpy(volume)
    row["peaks dense"], _ = _median_ms(lambda: find_peaks(tensor, decode, "dense"), repeats)
    row["peaks sparse"], peaks = _median_ms(lambda: find_peaks(volume, decode, "sparse"),
                                            repeats)
    row["lifting"], candidates = _median_ms(
        lambda: peaks_to_candidates(peaks, grid, scene.K), repeats)
    for method in ("greedy", "hungarian"):
        config = AssociationConfig(method=method)
        row[f"assoc. {method}"], people = _median_ms(
            lambda config=config: associate_people(candidates, config), repeats)
    row["refiner"], _ = _median_ms(lambda: refine_people(refiner, people, scene.K), repeats)
    return row


def crowd(scenes: SceneConfig, count: int):
    """The fullest of a few random scenes asking for ``count`` people (space may run out)."""
    config = SceneConfig(**{**scenes.__dict__, "people": (count, count), "pitch_deg": (0, 10)})
    tries = [sample_scene(np.random.default_rng(seed), config) for seed in range(8)]
    return max(tries, key=lambda scene: scene.num_people)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", choices=sorted(GRIDS), default="demo")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(2)
    grid, scenes = GRIDS[args.grid]
    refiner = PoseRefiner().eval()
    rows = []
    for count in COUNTS:
        rows.append(bench_scene(grid, crowd(scenes, count), args.repeats, refiner))
    keys = list(rows[0])
    print(f"grid {args.grid}: {grid.depth_bins}x{grid.height}x{grid.width} per joint; "
          "median ms over", args.repeats, "runs")
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(f"{row[k]:.2f}" if k != "people" else str(row[k])
                                for k in keys) + " |")


if __name__ == "__main__":
    main()
