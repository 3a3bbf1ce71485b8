"""Draw the frames of a labelled real video where the model finds people the reference lacks.

A look at what the precision of ``loco evaluate --source real`` counts as false people:
every ``--step``-th frame (of those labelled) is run and scored as in the evaluation
(:func:`loco_ros.evaluation.real_footage.scored_frames`); the first four frames with an
unmatched person are drawn (reference white, the model in colour) into one picture.

    PYTHONPATH=. python tools/false_people_frames.py --video sports2d \
        --labels data/real/labels/sports2d.json --out docs/sports2d_unmatched_people.jpg
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from loco_ros.data.real_material import video_path
from loco_ros.evaluation.real_footage import Model, scored_frames


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--video", required=True, help='"vtest", "sports2d" or a path')
    p.add_argument("--labels", required=True)
    p.add_argument("--model", default="weights/demo")
    p.add_argument("--step", type=int, default=5)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    frames, _, scored = scored_frames(Model.load(args.model), video_path(args.video),
                                      args.labels, range(0, 1 << 30, args.step),
                                      progress=False)
    pictures, with_false = [], 0
    for frame in scored:
        if frame.counts.predicted > frame.counts.matched:
            with_false += 1
            if len(pictures) < 4:
                pictures.append(cv2.resize(frame.picture(), (640, 360)))
    print(f"{with_false} of {len(frames)} frames have a person the reference lacks")
    if not pictures:
        return
    pictures += [np.zeros_like(pictures[0])] * (4 - len(pictures))
    grid = np.vstack([np.hstack(pictures[:2]), np.hstack(pictures[2:])])
    cv2.imwrite(args.out, cv2.cvtColor(grid, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])


if __name__ == "__main__":
    main()
