"""Draw the frames of a labelled real video where the model finds people the reference lacks.

A look at what the precision of ``loco evaluate --source real`` counts as false people:
every ``--step``-th frame is run as in the evaluation; the first four frames with an
unmatched person are drawn (reference white, the model in colour) into one picture.

    PYTHONPATH=. python tools/false_people_frames.py --video sports2d \
        --labels data/real/labels/sports2d.json --out docs/sports2d_trunk_phantom.jpg
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from loco_ros.data import real_material
from loco_ros.data.video import nominal_K, video_frames
from loco_ros.evaluation.real_footage import Model, draw_reference
from loco_ros.metrics import countable, frame_counts, visible_joints
from loco_ros.teacher.labels import load_labels
from loco_ros.visualization import draw_people_2d

VIDEOS = {"vtest": real_material.vtest_video, "sports2d": real_material.sports2d_video}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--video", choices=sorted(VIDEOS), required=True)
    p.add_argument("--labels", required=True)
    p.add_argument("--model", default="weights/demo")
    p.add_argument("--step", type=int, default=5)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    model = Model.load(args.model)
    labels = load_labels(args.labels)
    by_index = {f.index: f for f in labels.frames}
    w, h = labels.image_size
    K = nominal_K(w, h, None)
    frames = sorted(by_index)[::args.step]
    pictures, with_false = [], 0
    for index, image in video_frames(VIDEOS[args.video](), frames):
        ref = visible_joints(by_index[index].joints_px, by_index[index].visibility)
        people = model.people(image, K)
        counts = frame_counts(ref, people.uv_px, countable(ref, 0.1 * h))
        if counts.predicted > counts.matched:
            with_false += 1
            if len(pictures) < 4:
                picture = draw_people_2d(draw_reference(image, ref), people)
                pictures.append(cv2.resize(picture, (640, 360)))
    print(f"{with_false} of {len(frames)} frames have a person the reference lacks")
    if not pictures:
        return
    pictures += [np.zeros_like(pictures[0])] * (4 - len(pictures))
    grid = np.vstack([np.hstack(pictures[:2]), np.hstack(pictures[2:])])
    cv2.imwrite(args.out, cv2.cvtColor(grid, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])


if __name__ == "__main__":
    main()
