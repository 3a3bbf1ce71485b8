"""Label every frame of a video with the BlazePose teacher; CLI.

    python -m loco_ros.teacher.label_video                 # both videos -> data/real/labels/
    python -m loco_ros.teacher.label_video --video vtest --max-frames 20 --out /tmp/labels
    python -m loco_ros.teacher.label_video --video pose2sim  # its eight videos
    python -m loco_ros.teacher.label_video --video my_camera.mp4 --tiles 0.5 1.0 --out labels/

Known videos (fetched by :mod:`loco_ros.data.real_material`) carry a finder preset: vtest's
people are 60-200 px tall in a 768x576 frame, so the detector also runs on tiles of 0.45 and
0.56 of the frame height; sports2d's people are large, tiles of the full height suffice, and
the jumper lands bent over, so its torso may tilt 80 deg (60 on vtest). Pose2Sim's people
fill most of a portrait frame, and a bystander half of it; its mover leans far.
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import cv2
import numpy as np

from loco_ros.data import real_material
from loco_ros.skeleton import JOINT_NAMES
from loco_ros.teacher.blazepose import BlazePose, Pose
from loco_ros.teacher.finder import (
    FinderConfig,
    body_box,
    find_people,
    nested_duplicates,
    person_score,
)
from loco_ros.teacher.labels import FrameLabels, VideoLabels, save_labels
from loco_ros.teacher.to_loco import HEAD_TOP_RULE, NECK_RULE, to_loco

VIDEOS = {
    "vtest": (real_material.vtest_video, FinderConfig(tile_fractions=(0.45, 0.56))),
    # sports2d: the jumper lands bent over.
    "sports2d": (real_material.sports2d_video,
                 FinderConfig(tile_fractions=(1.0,), max_tilt_deg=80.0)),
    # market_street: old film, crowded; weak fits there are often not people (labels README).
    "market_street": (real_material.market_street_video,
                      FinderConfig(tile_fractions=(0.5, 1.0), min_label_score=0.7)),
    **{name: (partial(real_material.pose2sim_video, name),
              FinderConfig(tile_fractions=(0.5,), max_tilt_deg=80.0))
       for name in real_material.POSE2SIM_VIDEOS},
}
DEFAULT_OUT = Path("data/real/labels")


def teacher_description(cfg: FinderConfig) -> str:
    try:
        litert = version("ai-edge-litert")
    except PackageNotFoundError:
        litert = "?"
    tiles = ", ".join(f"{f:g}" for f in cfg.tile_fractions)
    return (f"BlazePose GHUM full (mediapipe 0.10.21) via ai-edge-litert {litert}; person finder: "
            f"BlazePose pose detector (min score {cfg.detector_min_score:g}) on the whole frame "
            f"and on half-overlapping square tiles of {tiles} x frame height, plus the previous "
            f"frame's people (alignment-landmark ROIs); landmark model run twice per candidate "
            f"(second on its own alignment ROI); kept if pose flag >= {cfg.min_flag:g}, mean "
            f"body visibility >= {cfg.min_body_visibility:g}, mean presence >= "
            f"{cfg.min_body_presence:g}, torso within {cfg.max_tilt_deg:g} deg of upright; "
            f"NMS IoU {cfg.nms_iou:g} on landmark boxes, then partial fits nested in a better "
            f"person's box dropped. No smoothing across frames."
            + (f" Written: people scoring >= {cfg.min_label_score:g} (pose flag x mean body "
               f"visibility; all are tracked)." if cfg.min_label_score > 0 else ""))


def frame_labels(index: int, people: list[Pose]) -> FrameLabels:
    """LoCO-joint labels of the people of one frame (nested partial duplicates dropped)."""
    if people:
        drop = nested_duplicates(np.array([body_box(p) for p in people]),
                                 np.array([person_score(p) for p in people]))
        people = [p for p, d in zip(people, drop, strict=True) if not d]
    n = len(people)
    px, vis, world = np.zeros((n, 14, 2)), np.zeros((n, 14)), np.zeros((n, 14, 3))
    for i, p in enumerate(people):
        px[i], vis[i] = to_loco(p.landmarks_px[:33, :2], p.visibility[:33])
        world[i], _ = to_loco(p.world_m[:33], p.visibility[:33])
    boxes = np.array([body_box(p) for p in people]).reshape(n, 4)
    return FrameLabels(index=index, joints_px=px, visibility=vis, joints_world_m=world,
                       box_px=boxes, score=np.array([person_score(p) for p in people]))


def label_video(video: Path, model: BlazePose, cfg: FinderConfig,
                max_frames: int | None = None, log_every: int = 50,
                frame_step: int = 1) -> VideoLabels:
    """Labels of every ``frame_step``-th decoded frame of ``video`` (0, step, 2 step, ...;
    at most ``max_frames`` of them)."""
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise OSError(f"cannot open {video}")
    fps = float(cap.get(cv2.CAP_PROP_FPS))
    frames: list[FrameLabels] = []
    previous: list[Pose] = []
    size = (0, 0)
    start = time.monotonic()
    index = -1
    while max_frames is None or len(frames) < max_frames:
        ok, bgr = cap.read()
        index += 1
        if not ok:
            break
        if index % frame_step:
            continue
        size = (bgr.shape[1], bgr.shape[0])
        previous = find_people(model, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), previous, cfg)
        frames.append(frame_labels(index, [p for p in previous
                                           if person_score(p) >= cfg.min_label_score]))
        if log_every and len(frames) % log_every == 0:
            print(f"{video.name}: {len(frames)} frames, {time.monotonic() - start:.0f} s",
                  flush=True)
    cap.release()
    return VideoLabels(source=video.name, image_size=size, fps=fps,
                       teacher=teacher_description(cfg), joint_names=JOINT_NAMES,
                       head_top_rule=HEAD_TOP_RULE, neck_rule=NECK_RULE, frames=tuple(frames))


def known_videos(selector: str) -> dict:
    """The :data:`VIDEOS` entries that ``selector`` names: one name, a family prefix
    (``pose2sim`` -> ``pose2sim_*``) or ``all``."""
    return {name: entry for name, entry in VIDEOS.items()
            if selector in (name, "all") or name.startswith(f"{selector}_")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", default="all",
                        help=f"one of {sorted(VIDEOS)}, all of them, or a video file of yours")
    parser.add_argument("--tiles", type=float, nargs="+", default=(0.5, 1.0),
                        help="your own video: detector tiles as fractions of the frame height "
                        "(smaller finds smaller people, and costs more)")
    parser.add_argument("--max-tilt-deg", type=float, default=60.0,
                        help="your own video: how far a kept person's torso may lean")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--max-frames", type=int, default=None)
    parser.add_argument("--frame-step", type=int, default=1,
                        help="label every N-th frame only (the labels then hold those frames)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    model = BlazePose(real_material.teacher_models(), num_threads=args.threads)
    jobs = {name: (path_fn(), cfg) for name, (path_fn, cfg) in known_videos(args.video).items()}
    if not jobs:
        own = Path(args.video)
        jobs = {own.stem: (own, FinderConfig(tile_fractions=tuple(args.tiles),
                                             max_tilt_deg=args.max_tilt_deg))}
    for name, (video, cfg) in jobs.items():
        start = time.monotonic()
        labels = label_video(video, model, cfg, args.max_frames, frame_step=args.frame_step)
        out = args.out / f"{name}.json"
        save_labels(labels, out)
        counts = [f.num_people for f in labels.frames]
        print(f"{name}: {len(counts)} frames, {np.mean(counts):.2f} people/frame "
              f"(min {min(counts)}, max {max(counts)}), {time.monotonic() - start:.0f} s -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
