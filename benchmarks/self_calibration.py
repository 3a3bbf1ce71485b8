"""CPU cost of the ground-plane self-calibration per frame, at 20 people in view.

    python benchmarks/self_calibration.py [--people 20] [--frames 600]

Prints a markdown table (milliseconds): the mean cost per frame over the whole stream
(refits amortised; wall clock, and this process's CPU time), the median frame of each kind
(one that only stores the people; every 10th, that measures, links and samples the pending
frames in one batch; every 30th, that also refits) and the slowest frame, for people with
the 3D tracker's ids (default config) and without ids (the calibrator links people itself:
what ``ground_plane.mode auto`` in FramePipeline feeds it, the estimator's people before
tracking). The people are a pedestrian stream's GT 2D joints with 2 px noise, outliers and
false people (generated and tracked before timing). Each row is the fastest of
``--repeats`` runs of the stream (less of the machine's load). Figures within one run
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
    parser.add_argument("--repeats", type=int, default=3)
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
    print("| ids | people | mean ms/frame | mean CPU ms/frame | median ms: store / batch / "
          "refit frame | max ms | converged at frame | estimate |")
    print("|---|---|---|---|---|---|---|---|")
    number = np.arange(1, len(frames) + 1)
    refit = number % config.refit_every_frames == 0
    batch = ~refit & (number % SelfCalibrator.BATCH_FRAMES == 0)
    store = ~refit & ~batch
    for name, stream_people in (("tracker", tracked), ("none", frames)):
        best = None
        for _ in range(args.repeats):
            calibrator = SelfCalibrator(config)
            times, first = [], None
            cpu = time.process_time()
            for i, p in enumerate(stream_people):
                start = time.perf_counter()
                estimate = calibrator.update(p, stream.camera.K)
                times.append(time.perf_counter() - start)
                if estimate.converged and first is None:
                    first = i + 1
            cpu = time.process_time() - cpu
            t = 1e3 * np.array(times)
            if best is None or t.mean() < best[0].mean():
                best = (t, 1e3 * cpu / len(t), first, calibrator.estimate.summary())
        t, cpu_ms, first, summary = best
        print(f"| {name} | {args.people} | {t.mean():.3f} | {cpu_ms:.3f} | "
              f"{np.median(t[store]):.3f} / {np.median(t[batch]):.2f} / "
              f"{np.median(t[refit]):.2f} | {t.max():.1f} | {first} | {summary} |")


if __name__ == "__main__":
    main()
