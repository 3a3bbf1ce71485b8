"""Write the bundled demo bag: people walking past a fixed camera, with ground truth.

    python tools/make_demo_bag.py [--out data/demo/walkers] [--seed 3] [--frames 80]

Deterministic for a seed. Topics: /camera/image (rgb8 512x288), /camera/camera_info,
/people/poses3d_gt (loco_ros/msg/Pose3DArray with the true joints and identities).
"""

from __future__ import annotations

import argparse
import shutil
from dataclasses import replace
from pathlib import Path

from loco_ros.synthetic.bag import write_scene_bag
from loco_ros.synthetic.sequence import SequenceConfig, walking_sequence


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/demo/walkers"))
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--frames", type=int, default=80)
    parser.add_argument("--fps", type=float, default=10.0)
    args = parser.parse_args()
    config = replace(SequenceConfig(), frames=args.frames, fps=args.fps, people=(4, 8),
                     sensor_noise=False)
    scenes, ids = walking_sequence(args.seed, config)
    shutil.rmtree(args.out, ignore_errors=True)
    write_scene_bag(args.out, scenes, ids, fps=args.fps, seed=args.seed)
    print(f"wrote {args.out}: {len(scenes)} frames, {len(ids)} people")


if __name__ == "__main__":
    main()
