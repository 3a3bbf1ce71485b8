"""Per-frame cost of :class:`loco_ros.runtime.tracking.PersonTracker` (CPU, milliseconds).

Synthetic scenes: N people walking in straight lines at 0.8-1.8 m/s over a 16 m x 16 m
area, 30 fps, i.i.d. joint noise of 5 cm and 10% of the joints missing. Prints p50/p95 of
``update()`` per frame, without and with One Euro smoothing, as a markdown table.

    .venv/bin/python benchmarks/tracking.py [--frames 300] [--people 1 10 30 60 100]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loco_ros.metrics import format_markdown_table  # noqa: E402
from loco_ros.runtime.tracking import PersonTracker, TrackingConfig  # noqa: E402
from loco_ros.skeleton import (
    NUM_JOINTS,  # noqa: E402
    STANDING_POSE_M,  # noqa: E402
)
from loco_ros.types import People  # noqa: E402

FPS = 30.0
POSE = STANDING_POSE_M.astype(np.float64)


def scene(n_people: int, frames: int, seed: int = 0) -> list[People]:
    """Detections of ``n_people`` walkers for ``frames`` frames."""
    rng = np.random.default_rng(seed)
    start = np.c_[rng.uniform(-8, 8, n_people), np.full(n_people, -1.0),
                  rng.uniform(4, 20, n_people)]
    angle = rng.uniform(0, 2 * np.pi, n_people)
    speed = rng.uniform(0.8, 1.8, n_people)
    vel = np.c_[speed * np.cos(angle), np.zeros(n_people), speed * np.sin(angle)]
    out = []
    for f in range(frames):
        xyz = (start + vel * f / FPS)[:, None, :] + POSE[None]
        xyz = xyz + rng.normal(0.0, 0.05, xyz.shape)
        xyz[rng.random(xyz.shape[:2]) < 0.1] = np.nan
        xyz = xyz[rng.permutation(n_people)].astype(np.float32)
        out.append(People(
            xyz_m=xyz,
            confidence=np.ones((n_people, NUM_JOINTS), np.float32),
            detected=np.isfinite(xyz).all(axis=2),
            uv_px=np.zeros((n_people, NUM_JOINTS, 2), np.float32),
            score=np.ones(n_people, np.float32),
            track_id=("",) * n_people,
        ))
    return out


def time_tracker(frames: list[People], config: TrackingConfig) -> np.ndarray:
    """(F,) milliseconds per ``update()``."""
    tracker = PersonTracker(config)
    ms = np.empty(len(frames))
    for f, people in enumerate(frames):
        start = time.perf_counter()
        tracker.update(people, f / FPS)
        ms[f] = (time.perf_counter() - start) * 1000.0
    return ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--people", type=int, nargs="+", default=[1, 10, 30, 60, 100])
    args = parser.parse_args()
    rows = []
    for n in args.people:
        frames = scene(n, args.frames)
        plain = time_tracker(frames, TrackingConfig())
        smooth = time_tracker(frames, TrackingConfig(smoothing=True))
        rows.append([n, args.frames, *np.percentile(plain, [50, 95]),
                     *np.percentile(smooth, [50, 95])])
    header = ["people", "frames", "p50 ms", "p95 ms", "p50 ms (One Euro)", "p95 ms (One Euro)"]
    print(format_markdown_table(header, rows, ".3f"))


if __name__ == "__main__":
    main()
