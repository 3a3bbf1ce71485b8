"""Real people pasted into real photographs: a training source of real appearance in scenes
that the training videos do not show.

Each sample is a training background (:class:`loco_ros.training.real_images.PhotoBank`,
never a held-out still) with 1-4 of the cut-outs of
:func:`loco_ros.data.real_material.people_cutouts` pasted in, their teacher labels
(:mod:`loco_ros.teacher.label_cutouts`) moved with them, lifted to 3D from the stature prior
as the teacher videos are (:func:`loco_ros.teacher.pseudo3d.pseudo_3d_people`).

The layout follows a camera over flat ground: a horizon row and a ratio r = camera height /
stature are drawn per sample; a person whose feet stand ``d`` px below the horizon is then
``d / r`` px tall (nearer is lower and larger). People are pasted far to near, so the nearer
one covers the farther; pastes that overlap an earlier one by more than MAX_OVERLAP_IOU are
drawn again. Every draw comes from the sample's own generator: a sample is a pure function of
(seed, index).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from loco_ros.skeleton import JOINT_INDEX, JOINT_NAMES
from loco_ros.teacher.blazepose import box_iou
from loco_ros.teacher.labels import load_cutout_labels
from loco_ros.training.real_images import PhotoBank, paste_cutout, read_rgba

SAMPLE_WH = (768, 432)  # letterboxed to the network's input afterwards
MAX_OVERLAP_IOU = 0.3
# Joint order after a horizontal flip: left and right swap.
FLIPPED_JOINTS = tuple(
    JOINT_INDEX[n.replace("right_", "left_") if n.startswith("right_")
                else n.replace("left_", "right_")] for n in JOINT_NAMES)


@dataclass(frozen=True)
class CutoutPerson:
    """One cut-out and its teacher labels, in its own pixels: ``rgba`` (h, w, 4) uint8,
    ``joints_px`` (14, 2), ``visibility`` (14,), ``joints_world_m`` (14, 3)."""

    rgba: np.ndarray
    joints_px: np.ndarray
    visibility: np.ndarray
    joints_world_m: np.ndarray

    def flipped(self) -> CutoutPerson:
        """The mirror image: x mirrored, left and right joints swapped."""
        w = self.rgba.shape[1]
        order = list(FLIPPED_JOINTS)
        px = self.joints_px[order].copy()
        px[:, 0] = (w - 1) - px[:, 0]  # pixel centres
        world = self.joints_world_m[order].copy()
        world[:, 0] = -world[:, 0]
        return CutoutPerson(np.ascontiguousarray(self.rgba[:, ::-1]), px,
                            self.visibility[order], world)


def load_cutout_people(labels_path: str | Path, paths: Sequence[str | Path]
                       ) -> list[CutoutPerson]:
    """The labelled cut-outs: ``paths`` matched to the labels file by file name; cut-outs
    labelled with nobody are left out. The alpha edge is softened over a pixel (as rendered
    people's, :func:`loco_ros.training.real_images.composite`)."""
    labels = load_cutout_labels(labels_path)
    by_name = {Path(p).name: Path(p) for p in paths}
    missing = sorted(set(labels.names) - set(by_name))
    if missing:
        raise FileNotFoundError(f"{labels_path}: no image for {missing[:5]}")
    people = []
    for name, size, frame in zip(labels.names, labels.sizes, labels.people, strict=True):
        if frame.num_people == 0:
            continue
        rgba = read_rgba(by_name[name])
        if (rgba.shape[1], rgba.shape[0]) != size:
            raise ValueError(f"{name}: {rgba.shape[1]}x{rgba.shape[0]} px, labels say {size}")
        rgba[..., 3] = cv2.blur(rgba[..., 3], (3, 3))
        people.append(CutoutPerson(rgba, frame.joints_px[0], frame.visibility[0],
                                   frame.joints_world_m[0]))
    if not people:
        raise ValueError(f"{labels_path}: no labelled person")
    return people


def place_people(rng: np.random.Generator, heights_frac: tuple[float, float],
                 size_wh: tuple[int, int], aspects: Sequence[float]
                 ) -> list[tuple[int, np.ndarray]]:
    """(which, box [x0, y0, x1, y1] px) for cut-outs of width/height ``aspects``, far to near
    (see the module docstring); a cut-out whose draws keep overlapping is left out."""
    w, h = size_wh
    horizon = h * rng.uniform(0.15, 0.55)
    ratio = rng.uniform(0.5, 1.6)  # camera height / stature
    placed: list[tuple[int, np.ndarray]] = []
    for which, aspect in enumerate(aspects):
        for _ in range(20):
            feet = rng.uniform(horizon + 0.05 * h, 1.05 * h)
            tall = (feet - horizon) / ratio
            if not heights_frac[0] * h <= tall <= heights_frac[1] * h:
                continue
            cx = rng.uniform(0.0, w)
            box = np.array([cx - tall * aspect / 2, feet - tall, cx + tall * aspect / 2, feet])
            if not placed or box_iou(box, np.array([b for _, b in placed])).max() \
                    <= MAX_OVERLAP_IOU:
                placed.append((which, box))
                break
    return sorted(placed, key=lambda item: item[1][3])  # far (feet higher up) first


def paste_person(image: np.ndarray, person: CutoutPerson, box_px: np.ndarray, gain: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``image`` with ``person`` pasted to fill ``box_px`` (rounded to whole pixels, as
    :func:`paste_cutout` does) and its joints (14, 2) in the image's pixels."""
    h_in, w_in = person.rgba.shape[:2]
    w, h = max(1, round(box_px[2] - box_px[0])), max(1, round(box_px[3] - box_px[1]))
    centre = ((box_px[0] + box_px[2]) / 2, (box_px[1] + box_px[3]) / 2)
    x0, y0 = round(centre[0] - w / 2), round(centre[1] - h / 2)
    out = paste_cutout(image, person.rgba, centre, (w, h), gain)
    scale = np.array([w / w_in, h / h_in])
    return out, (person.joints_px + 0.5) * scale - 0.5 + [x0, y0]  # pixel centres


class PeopleCutoutSource:
    """Samples (image (H, W, 3) uint8, K (3, 3), joints (P, 14, 3) m, NaN where unknown), as
    the teacher video sources give them."""

    def __init__(self, people: Sequence[CutoutPerson], photos: PhotoBank, seed: int = 0,
                 count: tuple[int, int] = (1, 4), heights_frac: tuple[float, float] = (0.12, 0.9),
                 size_wh: tuple[int, int] = SAMPLE_WH, plate_share: float = 0.0,
                 object_share: float = 0.0) -> None:
        """``plate_share``, ``object_share``: the backgrounds' (see
        :meth:`PhotoBank.backdrop`)."""
        from loco_ros.data.video import nominal_K

        self.people, self.photos, self.seed = list(people), photos, seed
        self.plate_share, self.object_share = plate_share, object_share
        self.count, self.heights_frac, self.size_wh = count, heights_frac, size_wh
        self.K = nominal_K(*size_wh)

    def __len__(self) -> int:
        return len(self.people)

    def __call__(self, index: int, need_image: bool = True):
        from loco_ros.teacher.pseudo3d import pseudo_3d_people

        rng = np.random.default_rng([self.seed, int(index), 41])
        n = min(int(rng.integers(self.count[0], self.count[1] + 1)), len(self.people))
        chosen = [self.people[int(i)] for i in rng.choice(len(self.people), n, replace=False)]
        chosen = [p.flipped() if rng.random() < 0.5 else p for p in chosen]
        aspects = [p.rgba.shape[1] / p.rgba.shape[0] for p in chosen]
        image = self.photos.backdrop(rng, self.size_wh, self.plate_share, self.object_share)
        joints_px, visibility, world = [], [], []
        for which, box in place_people(rng, self.heights_frac, self.size_wh, aspects):
            person = chosen[which]
            image, joints = paste_person(image, person, box, float(rng.uniform(0.7, 1.2)))
            joints_px.append(joints)
            visibility.append(person.visibility)
            world.append(person.joints_world_m)
        if not joints_px:
            return (image if need_image else None), self.K, np.zeros((0, len(JOINT_NAMES), 3))
        joints = pseudo_3d_people(np.array(joints_px), np.array(visibility), np.array(world),
                                  self.K)
        return (image if need_image else None), self.K, joints
