"""A contact sheet of teacher labels drawn on video frames, for checking them by eye.

    python -m loco_ros.teacher.contact_sheet            # -> docs/teacher_check.png
    python -m loco_ros.teacher.contact_sheet --set pose2sim --labels data/real/labels/pose2sim \
        --panel-width 240 --columns 8 --out docs/teacher_check_pose2sim.png
    python -m loco_ros.teacher.contact_sheet --set market_street \
        --out docs/teacher_check_market_street.png

Each labelled person gets its box, its 14 joints and limbs (joints with visibility < 0.5
drawn hollow) and its score; the panel title says the video, frame and number of labels.
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from loco_ros.data import real_material
from loco_ros.data.video import video_frames
from loco_ros.skeleton import LIMBS
from loco_ros.teacher.labels import FrameLabels, load_labels

PANEL_SETS = {
    "default": (("vtest", real_material.vtest_video, (0, 200, 400, 600, 780)),
                ("sports2d", real_material.sports2d_video, (0, 100, 200))),
    "market_street": (("market_street", real_material.market_street_video,
                       (0, 360, 720, 1080, 1440, 1794)),),
    "pose2sim": tuple((name, partial(real_material.pose2sim_video, name), (20, 70))
                      for name in real_material.POSE2SIM_VIDEOS),
}


def draw_frame(bgr: np.ndarray, frame: FrameLabels, title: str, width: int = 640) -> np.ndarray:
    """The frame with its labels, scaled to ``width`` px wide."""
    s = width / bgr.shape[1]
    img = cv2.resize(bgr, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    for p in range(frame.num_people):
        j = frame.joints_px[p] * s
        box = (frame.box_px[p] * s).round().astype(int)
        cv2.rectangle(img, tuple(box[:2]), tuple(box[2:]), (0, 255, 255), 1)
        cv2.putText(img, f"{frame.score[p]:.2f}", (int(box[0]), int(box[1]) - 3),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 255, 255), 1, cv2.LINE_AA)
        for a, b in LIMBS:
            cv2.line(img, tuple(j[a].round().astype(int)), tuple(j[b].round().astype(int)),
                     (0, 0, 255) if b in (2, 3, 4, 8, 9, 10) else (255, 128, 0), 1, cv2.LINE_AA)
        for k, pt in enumerate(j.round().astype(int)):
            cv2.circle(img, tuple(pt), 2, (0, 255, 0), -1 if frame.visibility[p, k] >= 0.5 else 1)
    cv2.rectangle(img, (0, 0), (width, 22), (0, 0, 0), -1)
    cv2.putText(img, f"{title}  labelled: {frame.num_people}", (6, 16),
                cv2.FONT_HERSHEY_SIMPLEX, 0.5 * min(1.0, width / 480), (255, 255, 255), 1,
                cv2.LINE_AA)
    return img


def contact_sheet(labels_dir: Path, columns: int = 2, panel_set: str = "default",
                  width: int = 640) -> np.ndarray:
    panels = []
    for name, video_fn, indices in PANEL_SETS[panel_set]:
        labels = load_labels(labels_dir / f"{name}.json")
        by_index = {f.index: f for f in labels.frames}
        for i, rgb in video_frames(video_fn(), indices):
            bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
            panels.append(draw_frame(bgr, by_index[i], f"{name} frame {i}", width))
    height = max(p.shape[0] for p in panels)
    panels = [cv2.copyMakeBorder(p, 0, height - p.shape[0], 0, 0, cv2.BORDER_CONSTANT)
              for p in panels]
    while len(panels) % columns:
        panels.append(np.zeros_like(panels[0]))
    rows = [np.hstack(panels[r:r + columns]) for r in range(0, len(panels), columns)]
    return np.vstack(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=Path("data/real/labels"))
    parser.add_argument("--out", type=Path, default=Path("docs/teacher_check.png"))
    parser.add_argument("--set", choices=sorted(PANEL_SETS), default="default")
    parser.add_argument("--panel-width", type=int, default=640)
    parser.add_argument("--columns", type=int, default=2)
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet = contact_sheet(args.labels, args.columns, args.set, args.panel_width)
    sheet = sheet // 16 * 16 + 8  # 16 levels a channel: a small PNG
    cv2.imwrite(str(args.out), sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"{args.out}: {args.out.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
