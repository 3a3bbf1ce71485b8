"""Finding every person of a frame for the landmark model (BlazePose's detector alone misses
small people).

Candidate ROIs of a frame come from

1. the pose detector on the whole frame and on overlapping square tiles (each tile is
   letterboxed to 224 px, so a small person is seen upscaled); tile sides are fractions of
   the frame height, consecutive tiles overlap by half;
2. tracking: every person accepted in the previous frame gives the ROI of its alignment
   landmarks (what MediaPipe's own tracking does).

Candidates that describe the same ROI are merged (tracked ones first), the landmark model runs
once on each, then once more on the ROI of its own alignment landmarks (which centres and
scales the crop on the person); a person is kept when the pose flag and the mean
visibility/presence of the 33 body landmarks pass thresholds and the torso (hip centre ->
shoulder centre) is within ``max_tilt_deg`` of image-up (our footage has only upright
people; this rejects a yellow cloth on vtest's lawn that the model reads as a lying person),
and duplicates are removed by
NMS on the boxes of the body landmarks. The labeller then also drops partial fits nested in a
better person's box (:func:`nested_duplicates`); tracking still sees them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loco_ros.teacher.blazepose import BlazePose, Pose, Roi, box_iou, detection_rois, tracking_roi


@dataclass(frozen=True)
class FinderConfig:
    """``tile_fractions``: tile sides as fractions of the frame height (1.0 = square tiles of
    full height); the whole frame is always searched too. Thresholds in 0..1."""

    tile_fractions: tuple[float, ...] = (0.45, 0.56)
    detector_min_score: float = 0.4
    min_flag: float = 0.4
    min_body_visibility: float = 0.55
    min_body_presence: float = 0.7
    max_tilt_deg: float = 60.0
    nms_iou: float = 0.4
    refine: bool = True
    min_label_score: float = 0.0  # people scoring less are tracked but not written as labels


def tiles(width: int, height: int, side: int) -> list[tuple[int, int, int, int]]:
    """Square (x0, y0, x1, y1) tiles of ``side`` px covering the frame, half-overlapping."""
    side = min(side, width, height)
    step = max(1, side // 2)

    def starts(extent: int) -> list[int]:
        s = list(range(0, extent - side + 1, step))
        if s[-1] + side < extent:
            s.append(extent - side)
        return s

    return [(x, y, x + side, y + side) for y in starts(height) for x in starts(width)]


def body_box(pose: Pose, min_visibility: float = 0.3) -> np.ndarray:
    """[x0, y0, x1, y1] px of the 33 body landmarks (visible ones if at least 4 are)."""
    pts = pose.landmarks_px[:33, :2]
    seen = pose.visibility[:33] >= min_visibility
    if seen.sum() >= 4:
        pts = pts[seen]
    return np.concatenate([pts.min(0), pts.max(0)])


def person_score(pose: Pose) -> float:
    """Pose flag x mean body visibility, in 0..1."""
    return float(pose.flag * pose.visibility[:33].mean())


def _same_roi(a: Roi, b: Roi) -> bool:
    close = np.hypot(a.cx - b.cx, a.cy - b.cy) < 0.2 * max(a.size, b.size)
    return bool(close and 0.7 < a.size / max(b.size, 1e-6) < 1.4)


def merge_rois(rois: list[Roi]) -> list[Roi]:
    """First-come ROIs, dropping later ones that describe the same crop."""
    kept: list[Roi] = []
    for roi in rois:
        if roi.size > 8 and not any(_same_roi(roi, k) for k in kept):
            kept.append(roi)
    return kept


def detector_rois(model: BlazePose, image: np.ndarray, cfg: FinderConfig) -> list[Roi]:
    """Detector ROIs on the whole frame and on the tiles (frame px)."""
    h, w = image.shape[:2]
    regions = [None] + [t for f in cfg.tile_fractions for t in tiles(w, h, round(f * h))]
    rois: list[Roi] = []
    for region in regions:
        _, keypoints, _ = model.detect(image, region, cfg.detector_min_score)
        rois.extend(detection_rois(keypoints))
    return rois


def torso_tilt_deg(pose: Pose) -> float:
    """Angle (deg) between the hip-centre -> shoulder-centre vector and image-up."""
    lm = pose.landmarks_px
    d = (lm[11, :2] + lm[12, :2]) / 2.0 - (lm[23, :2] + lm[24, :2]) / 2.0
    return float(np.degrees(np.arctan2(abs(d[0]), -d[1])))


def accept(pose: Pose, cfg: FinderConfig) -> bool:
    return (pose.flag >= cfg.min_flag
            and torso_tilt_deg(pose) <= cfg.max_tilt_deg
            and pose.visibility[:33].mean() >= cfg.min_body_visibility
            and pose.presence[:33].mean() >= cfg.min_body_presence)


def nested_duplicates(boxes: np.ndarray, scores: np.ndarray, inside: float = 0.6,
                      shorter: float = 0.8) -> np.ndarray:
    """Mask (P,) of people that duplicate a better one: a partial fit of the same person.

    Person i is a duplicate when at least ``inside`` of its box (boxes (P, 4) px) lies in the
    box of a higher-scoring person j and it is less than ``shorter`` times j's height (two
    real people that overlap at a similar distance have similar heights).
    """
    drop = np.zeros(len(scores), dtype=bool)
    for i in range(len(scores)):
        for j in range(len(scores)):
            if j == i or scores[j] <= scores[i]:
                continue
            lo = np.maximum(boxes[i, :2], boxes[j, :2])
            hi = np.minimum(boxes[i, 2:], boxes[j, 2:])
            inter = np.prod(np.clip(hi - lo, 0.0, None))
            area = np.prod(np.clip(boxes[i, 2:] - boxes[i, :2], 1e-6, None))
            height_i, height_j = boxes[i, 3] - boxes[i, 1], boxes[j, 3] - boxes[j, 1]
            if inter >= inside * area and height_i < shorter * height_j:
                drop[i] = True
    return drop


def find_people(model: BlazePose, image: np.ndarray, previous: list[Pose],
                cfg: FinderConfig = FinderConfig()) -> list[Pose]:
    """Accepted people of one RGB frame (H, W, 3), best first; ``previous`` are the people
    of the previous frame (empty for the first)."""
    candidates = merge_rois([tracking_roi(p) for p in previous] + detector_rois(model, image, cfg))
    people: list[Pose] = []
    for roi in candidates:
        pose = model.landmarks(image, roi)
        if cfg.refine and pose.flag >= 0.5:
            pose = model.landmarks(image, tracking_roi(pose))
        if accept(pose, cfg):
            people.append(pose)
    people.sort(key=person_score, reverse=True)
    kept: list[Pose] = []
    for pose in people:
        if not kept or box_iou(body_box(pose), np.array([body_box(k) for k in kept])).max() \
                < cfg.nms_iou:
            kept.append(pose)
    return kept
