"""CPU cost of the ground-plane self-calibration per frame, at 20 people in view.

    python benchmarks/self_calibration.py [--people 20] [--frames 600]

Prints a markdown table (milliseconds): the mean cost per frame over the whole stream
(refits amortised), the median of the frames without a refit, and the median refit, for
people with the node's tracker ids (its default config) and without ids (the calibrator
links people itself). The people are a pedestrian stream's GT 2D joints with 2 px noise,
outliers and false people (generated and tracked before timing). Figures within one run
compare; absolute ones depend on the machine's load.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from loco_ros.calibration import SelfCalibrationConfig, SelfCalibrator
from loco_ros.evaluation.self_calibration_eval import noisy_people
from loco_ros.runtime.tracking import PersonTracker
from loco_ros.synthetic.pedestrians import PedestrianStream, StreamConfig
from loco_ros.synthetic.scene import SceneConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--frames", type=int, default=600)
    args = parser.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)
    scene = SceneConfig(camera_height_m=(3.0, 3.0), pitch_deg=(12.0, 12.0), roll_deg=(1, 1),
                        focal_jitter=0.0, distance_m=(3.0, 20.0))
    stream = PedestrianStream(7, StreamConfig(frames=args.frames, people=(args.people,) * 2,
                                              scene=scene))
    rng = np.random.default_rng(0)
    frames = [noisy_people(stream, f, rng, 2.0, 0.1)[0] for f in stream.frames()]
    tracker = PersonTracker()
    tracked = [tracker.update(p, i / stream.config.fps) for i, p in enumerate(frames)]
    config = SelfCalibrationConfig()
    people = np.mean([len(p) for p in frames])
    print(f"{len(frames)} frames, {people:.1f} people per frame (incl. false ones), refit "
          f"every {config.refit_every_frames} frames ({config.refit_every_converged_frames} "
          "once converged)")
    print("| ids | people | mean ms/frame | median ms, frame without refit | median ms, refit "
          "| converged at frame | estimate |")
    print("|---|---|---|---|---|---|---|")
    for name, stream_people in (("tracker", tracked), ("none", frames)):
        calibrator = SelfCalibrator(config)
        times, first = [], None
        for i, p in enumerate(stream_people):
            start = time.perf_counter()
            estimate = calibrator.update(p, stream.camera.K)
            times.append(time.perf_counter() - start)
            if estimate.converged and first is None:
                first = i + 1
        t = 1e3 * np.array(times)
        refit = (np.arange(1, len(t) + 1) % config.refit_every_frames) == 0
        print(f"| {name} | {args.people} | {t.mean():.3f} | {np.median(t[~refit]):.3f} | "
              f"{np.median(t[refit]):.2f} | {first} | {calibrator.estimate.summary()} |")


if __name__ == "__main__":
    main()
