"""Label the real people cut-outs (Scratch's photographs of people) with the teacher; CLI.

    python -m loco_ros.teacher.label_cutouts     # -> data/real/labels/scratch_people.json
    python -m loco_ros.teacher.label_cutouts --sheet docs/teacher_check_cutouts.jpg

Each cut-out (one whole person on a transparent background, 90-220 px tall) is put on a
mid-grey canvas twice its size, and the finder of the videos runs on that canvas (whole
canvas, no tiles; torso at any angle: some of them stand on their hands); when it finds
nobody, the landmark model runs once more on an upright ROI around the cut-out's opaque
pixels. The best person is kept, its pixels moved back into the cut-out's own image. A
cut-out nobody is found on, or whose labels were judged wrong on the contact sheet
(:data:`REJECTED_BY_EYE`), is written with no person (training leaves it out).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from loco_ros.data import real_material
from loco_ros.skeleton import JOINT_NAMES
from loco_ros.teacher.blazepose import BlazePose, Pose, box_roi, tracking_roi
from loco_ros.teacher.finder import FinderConfig, accept, find_people
from loco_ros.teacher.label_video import frame_labels, teacher_description
from loco_ros.teacher.labels import CutoutLabels, FrameLabels, save_cutout_labels
from loco_ros.teacher.to_loco import HEAD_TOP_RULE, NECK_RULE
from loco_ros.training.real_images import read_rgba

DEFAULT_OUT = Path("data/real/labels/scratch_people.json")
CUTOUT_FINDER = FinderConfig(tile_fractions=(), max_tilt_deg=180.0)
CANVAS_GREY = 128
# Cut-outs whose teacher skeleton is wrong by eye (docs/teacher_check_cutouts.jpg): a tumbling
# breakdancer, a kneeling dancer behind her fan, a crouching girl hiding her face.
REJECTED_BY_EYE = ("breakdancer2.gif", "lee-fan.gif", "marissa-crouching.gif")


def on_canvas(rgba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cut-out centred on a grey square canvas of twice its longest side: (S, S, 3) uint8
    RGB, and the offset (2,) px of the cut-out's top-left corner in it."""
    h, w = rgba.shape[:2]
    side = 2 * max(h, w)
    offset = np.array([(side - w) // 2, (side - h) // 2])
    canvas = np.full((side, side, 3), CANVAS_GREY, np.float32)
    alpha = rgba[..., 3:].astype(np.float32) / 255.0
    region = canvas[offset[1]:offset[1] + h, offset[0]:offset[0] + w]
    region[:] = rgba[..., :3] * alpha + region * (1.0 - alpha)
    return np.clip(canvas + 0.5, 0, 255).astype(np.uint8), offset


def opaque_box(rgba: np.ndarray) -> np.ndarray:
    """[x0, y0, x1, y1] px of the cut-out's opaque pixels (alpha >= 128)."""
    ys, xs = np.nonzero(rgba[..., 3] >= 128)
    if xs.size == 0:
        return np.array([0.0, 0.0, rgba.shape[1], rgba.shape[0]])
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float64)


def find_cutout_person(model: BlazePose, canvas: np.ndarray, opaque_box_px: np.ndarray
                       ) -> Pose | None:
    """The teacher's person on a cut-out's canvas (:func:`on_canvas`), in canvas pixels;
    ``opaque_box_px``: the cut-out's opaque pixels in the canvas (the fallback's ROI)."""
    people = find_people(model, canvas, [], CUTOUT_FINDER)
    if people:
        return people[0]
    pose = model.landmarks(canvas, box_roi(opaque_box_px))
    if pose.flag >= 0.5:
        pose = model.landmarks(canvas, tracking_roi(pose))
    return pose if accept(pose, CUTOUT_FINDER) else None


def moved(frame: FrameLabels, shift_xy: np.ndarray) -> FrameLabels:
    """``frame`` with its pixels (joints and boxes) moved by ``shift_xy`` (2,) px."""
    return FrameLabels(frame.index, frame.joints_px + shift_xy, frame.visibility,
                       frame.joints_world_m, frame.box_px + np.tile(shift_xy, 2), frame.score)


def label_cutout(model: BlazePose, index: int, rgba: np.ndarray) -> FrameLabels:
    """LoCO labels of the cut-out's person in its own pixels (no person when none found)."""
    canvas, offset = on_canvas(rgba)
    pose = find_cutout_person(model, canvas, opaque_box(rgba) + np.tile(offset, 2))
    return moved(frame_labels(index, [pose] if pose is not None else []), -offset)


def label_cutouts(model: BlazePose, paths: list[Path]) -> CutoutLabels:
    names, sizes, people = [], [], []
    for i, path in enumerate(paths):
        rgba = read_rgba(path)
        names.append(path.name)
        sizes.append((rgba.shape[1], rgba.shape[0]))
        people.append(frame_labels(i, []) if path.name in REJECTED_BY_EYE
                      else label_cutout(model, i, rgba))
    material = real_material.MATERIALS["scratch"]
    teacher = (teacher_description(CUTOUT_FINDER) + " On a grey canvas twice the cut-out's "
               "size; fallback: an upright ROI around its opaque pixels.")
    return CutoutLabels(source=f"Debian {material.package} {material.version}, "
                        "usr/share/scratch/Media/Costumes/People", teacher=teacher,
                        joint_names=JOINT_NAMES, head_top_rule=HEAD_TOP_RULE,
                        neck_rule=NECK_RULE, names=tuple(names), sizes=tuple(sizes),
                        people=tuple(people))


def contact_sheet(labels: CutoutLabels, paths: list[Path], columns: int = 8,
                  panel_px: int = 200) -> np.ndarray:
    """Every cut-out on grey with its labels drawn (for checking by eye): (H, W, 3) BGR."""
    from loco_ros.teacher.contact_sheet import draw_frame

    panels = []
    for name, frame, path in zip(labels.names, labels.people, paths, strict=True):
        rgba = read_rgba(path)
        canvas, offset = on_canvas(rgba)
        margin = max(rgba.shape[:2]) // 4  # the canvas cropped to the cut-out and a margin
        x0, y0 = offset - margin
        shown = canvas[y0:y0 + rgba.shape[0] + 2 * margin, x0:x0 + rgba.shape[1] + 2 * margin]
        panel = draw_frame(shown[:, :, ::-1].copy(), moved(frame, offset - [x0, y0]),
                           Path(name).stem, panel_px)
        height = int(2 * panel_px)  # cut-outs are taller than wide: pad (or cut) to this
        panel = np.pad(panel[:height], ((0, max(0, height - panel.shape[0])), (0, 0), (0, 0)))
        panels.append(panel)
    panels += [np.zeros_like(panels[0])] * (-len(panels) % columns)
    rows = [np.concatenate(panels[r:r + columns], axis=1)
            for r in range(0, len(panels), columns)]
    return np.concatenate(rows, axis=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--sheet", type=Path, default=None,
                        help="also write a contact sheet of the labels (PNG)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    paths = real_material.people_cutouts()
    labels = label_cutouts(BlazePose(real_material.teacher_models(), args.threads), paths)
    save_cutout_labels(labels, args.out)
    found = sum(f.num_people for f in labels.people)
    print(f"{found} of {len(paths)} cut-outs labelled ({len(REJECTED_BY_EYE)} rejected by eye) "
          f"-> {args.out}")
    if args.sheet:
        args.sheet.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(args.sheet), contact_sheet(labels, paths))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
