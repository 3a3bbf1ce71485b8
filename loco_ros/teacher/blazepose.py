"""MediaPipe BlazePose (person detector + GHUM "full" landmark model) run with ai-edge-litert.

The two ``.tflite`` files come from the ``mediapipe`` 0.10.21 wheel
(:func:`loco_ros.data.real_material.teacher_models`). Pre/post-processing follows MediaPipe's
pose graphs (``pose_detection_cpu``, ``pose_detection_to_roi``, ``pose_landmark_by_roi``,
``pose_landmarks_to_roi``), re-implemented here:

- Detector: RGB image letterboxed (aspect kept, zero border) to 224x224, values in [-1, 1].
  Outputs 2254 SSD anchors x 12 regressors (box centre x, y, width, height, then 4 keypoints
  x, y; all in input pixels relative to the anchor centre) and one score logit each.
  Anchors: 5 layers, strides 8, 16, 32, 32, 32, min scale 0.1484375, max scale 0.75, offset
  0.5, aspect ratio 1 plus one interpolated scale, fixed size 1 (28*28*2 + 14*14*2 + 7*7*6 =
  2254). Kept with sigmoid score >= 0.5, merged by weighted NMS (IoU 0.3).
  Keypoint 0 is the hip centre, keypoint 1 a point above the head that encodes size/rotation.
- ROI: centre = hip centre, rotation = 90 deg - angle(hip -> head point) (0 for an upright
  person), side = 2 * |hip -> head point| * 1.25 (square, pixels).
- Landmark model: the ROI resampled to 256x256 RGB in [0, 1]. Outputs: ``Identity`` (195 =
  39 x [x, y, z, visibility logit, presence logit], crop pixels), ``Identity_1`` pose flag
  (probability a pose is present), ``Identity_2`` segmentation, ``Identity_3`` heatmaps,
  ``Identity_4`` (117 = 39 x [x, y, z] world landmarks, metres, hip-centred, only rotated by
  the ROI rotation). Landmarks 33 / 34 are the hip-centre / head-point alignment points that
  give the next frame's ROI (same rule as the detector's keypoints 0 / 1).
  MediaPipe's heatmap refinement and temporal smoothing are not applied.

Units: image points are pixels (x right, y down) of the full frame; world points are metres.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

DETECTOR_SIZE = 224
LANDMARK_SIZE = 256
NUM_LANDMARKS = 39
ROI_SCALE = 1.25
DETECTION_MIN_SCORE = 0.5
DETECTION_NMS_IOU = 0.3


@dataclass(frozen=True)
class Roi:
    """A square, rotated crop: centre (px), side (px), rotation (rad, image y down)."""

    cx: float
    cy: float
    size: float
    angle: float


@dataclass(frozen=True)
class Pose:
    """One person from the landmark model.

    ``landmarks_px`` (39, 3): x, y in frame pixels, z in the same pixel scale (relative depth);
    ``visibility``, ``presence`` (39,) in 0..1; ``world_m`` (39, 3) metres, hip-centred;
    ``flag`` the model's pose-present score in 0..1; ``roi`` the crop it came from.
    """

    landmarks_px: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    world_m: np.ndarray
    flag: float
    roi: Roi


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))


def ssd_anchors() -> np.ndarray:
    """Anchor centres (2254, 2), normalised to [0, 1] of the 224x224 input (sizes are all 1)."""
    strides = (8, 16, 32, 32, 32)
    centres = []
    layer = 0
    while layer < len(strides):
        per_cell = 0
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            per_cell += 2  # aspect ratio 1 and the interpolated scale (fixed size anyway)
            last += 1
        cells = int(np.ceil(DETECTOR_SIZE / strides[layer]))
        ys, xs = np.meshgrid((np.arange(cells) + 0.5) / cells, (np.arange(cells) + 0.5) / cells,
                             indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(grid, per_cell, axis=0))
        layer = last
    return np.concatenate(centres).astype(np.float32)


def decode_detections(raw: np.ndarray, logits: np.ndarray, anchors: np.ndarray,
                      min_score: float = DETECTION_MIN_SCORE):
    """Detector outputs to boxes.

    ``raw`` (2254, 12), ``logits`` (2254,) or (2254, 1), ``anchors`` (2254, 2).
    Returns ``boxes`` (K, 4) [x0, y0, x1, y1], ``keypoints`` (K, 4, 2) and ``scores`` (K,),
    coordinates normalised to [0, 1] of the detector input.
    """
    scores = _sigmoid(np.clip(logits.reshape(-1), -100.0, 100.0))
    keep = scores >= min_score
    r = raw[keep] / DETECTOR_SIZE
    a = anchors[keep]
    centre = r[:, 0:2] + a
    half = r[:, 2:4] / 2.0
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = r[:, 4:12].reshape(-1, 4, 2) + a[:, None, :]
    return boxes, keypoints, scores[keep]


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one box (4,) with boxes (N, 4), all [x0, y0, x1, y1]."""
    lo = np.maximum(box[:2], boxes[:, :2])
    hi = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0.0, None), axis=1)
    area = lambda b: np.prod(np.clip(b[..., 2:] - b[..., :2], 0.0, None), axis=-1)  # noqa: E731
    return inter / np.maximum(area(box) + area(boxes) - inter, 1e-12)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
                 iou: float = DETECTION_NMS_IOU):
    """MediaPipe's weighted NMS: each cluster (IoU > ``iou`` with its best box) becomes the
    score-weighted mean of its boxes and keypoints, with the best score. Shapes as
    :func:`decode_detections`; returns the merged (boxes, keypoints, scores)."""
    order = np.argsort(-scores)
    remaining = list(order)
    out_b, out_k, out_s = [], [], []
    while remaining:
        best = remaining[0]
        overlaps = box_iou(boxes[best], boxes[remaining]) > iou
        members = np.array(remaining)[overlaps]
        w = scores[members][:, None]
        out_b.append((boxes[members] * w).sum(0) / w.sum())
        out_k.append((keypoints[members] * w[:, :, None]).sum(0) / w.sum())
        out_s.append(scores[best])
        remaining = [i for i, o in zip(remaining, overlaps, strict=True) if not o]
    if not out_b:
        return np.zeros((0, 4)), np.zeros((0, 4, 2)), np.zeros(0)
    return np.array(out_b), np.array(out_k), np.array(out_s)


def alignment_roi(hip_xy: np.ndarray, head_xy: np.ndarray, scale: float = ROI_SCALE) -> Roi:
    """ROI from the hip centre and the above-head point (both (2,), pixels)."""
    d = np.asarray(head_xy, float) - np.asarray(hip_xy, float)
    angle = np.pi / 2.0 - np.arctan2(-d[1], d[0])
    angle = (angle + np.pi) % (2.0 * np.pi) - np.pi
    size = 2.0 * float(np.hypot(*d)) * scale
    return Roi(float(hip_xy[0]), float(hip_xy[1]), size, float(angle))


def box_roi(box_px: np.ndarray, height_to_size: float = 1.35) -> Roi:
    """Upright ROI for a person box [x0, y0, x1, y1] (px, e.g. from a people detector): centre
    at the box centre, side ``height_to_size`` times the box height."""
    x0, y0, x1, y1 = (float(v) for v in box_px)
    return Roi((x0 + x1) / 2.0, (y0 + y1) / 2.0, (y1 - y0) * height_to_size, 0.0)


def roi_to_image(roi: Roi, out_size: int) -> np.ndarray:
    """2x3 affine map from crop pixels (out_size x out_size) to frame pixels."""
    c, s = np.cos(roi.angle), np.sin(roi.angle)
    a = np.array([[c, -s], [s, c]]) * (roi.size / out_size)
    b = np.array([roi.cx, roi.cy]) - a @ np.array([out_size / 2.0, out_size / 2.0])
    return np.concatenate([a, b[:, None]], axis=1)


def crop(image: np.ndarray, roi: Roi, out_size: int) -> np.ndarray:
    """The ROI of an (H, W, 3) image resampled to (out_size, out_size, 3), zero outside."""
    return cv2.warpAffine(image, roi_to_image(roi, out_size), (out_size, out_size),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def letterbox(image: np.ndarray, size: int):
    """Aspect-kept resize of (H, W, 3) into (size, size, 3), centred, zero border.

    Returns the padded image and (scale, offset_x, offset_y): input px = (letterbox px -
    offset) / scale.
    """
    h, w = image.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    out = np.zeros((size, size, 3), image.dtype)
    ox, oy = (size - nw) // 2, (size - nh) // 2
    out[oy:oy + nh, ox:ox + nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA
                                             if scale < 1 else cv2.INTER_LINEAR)
    return out, (scale, ox, oy)


def decode_landmarks(raw: np.ndarray, world: np.ndarray, flag: float, roi: Roi) -> Pose:
    """Landmark model outputs (195,), (117,), pose flag to a :class:`Pose` in frame pixels."""
    lm = raw.reshape(NUM_LANDMARKS, 5).astype(np.float64)
    m = roi_to_image(roi, LANDMARK_SIZE)
    xy = lm[:, :2] @ m[:, :2].T + m[:, 2]
    z = lm[:, 2:3] * (roi.size / LANDMARK_SIZE)
    c, s = np.cos(roi.angle), np.sin(roi.angle)
    w = world.reshape(NUM_LANDMARKS, 3).astype(np.float64)
    wxy = w[:, :2] @ np.array([[c, -s], [s, c]]).T
    return Pose(landmarks_px=np.concatenate([xy, z], axis=1), visibility=_sigmoid(lm[:, 3]),
                presence=_sigmoid(lm[:, 4]), world_m=np.concatenate([wxy, w[:, 2:]], axis=1),
                flag=float(flag), roi=roi)


class BlazePose:
    """The two interpreters. Images are RGB uint8 (H, W, 3)."""

    def __init__(self, models_dir: Path, num_threads: int = 1):
        from ai_edge_litert.interpreter import Interpreter

        models_dir = Path(models_dir)
        self._det = Interpreter(
            model_path=str(models_dir / "pose_detection/pose_detection.tflite"),
            num_threads=num_threads)
        self._lmk = Interpreter(
            model_path=str(models_dir / "pose_landmark/pose_landmark_full.tflite"),
            num_threads=num_threads)
        for it in (self._det, self._lmk):
            it.allocate_tensors()
        self._anchors = ssd_anchors()
        self._det_out = {d["name"]: d["index"] for d in self._det.get_output_details()}
        self._lmk_out = {d["name"]: d["index"] for d in self._lmk.get_output_details()}

    def detect(self, image: np.ndarray, region: tuple[int, int, int, int] | None = None,
               min_score: float = DETECTION_MIN_SCORE):
        """Pose detections in ``image[y0:y1, x0:x1]`` for ``region`` = (x0, y0, x1, y1) (whole
        image if None). Returns (boxes (K, 4), keypoints (K, 4, 2), scores (K,)) in frame px."""
        x0, y0, x1, y1 = region or (0, 0, image.shape[1], image.shape[0])
        padded, (scale, ox, oy) = letterbox(image[y0:y1, x0:x1], DETECTOR_SIZE)
        tensor = (padded.astype(np.float32) / 127.5 - 1.0)[None]
        self._det.set_tensor(self._det.get_input_details()[0]["index"], tensor)
        self._det.invoke()
        raw = self._det.get_tensor(self._det_out["Identity"])[0]
        logits = self._det.get_tensor(self._det_out["Identity_1"])[0]
        boxes, kps, scores = weighted_nms(*decode_detections(raw, logits, self._anchors,
                                                             min_score))
        to_px = lambda p: (p * DETECTOR_SIZE - [ox, oy]) / scale + [x0, y0]  # noqa: E731
        boxes = np.concatenate([to_px(boxes[:, :2]), to_px(boxes[:, 2:])], axis=1)
        return boxes, to_px(kps), scores

    def landmarks(self, image: np.ndarray, roi: Roi) -> Pose:
        """Run the landmark model on one ROI."""
        tensor = (crop(image, roi, LANDMARK_SIZE).astype(np.float32) / 255.0)[None]
        self._lmk.set_tensor(self._lmk.get_input_details()[0]["index"], tensor)
        self._lmk.invoke()
        get = lambda n: self._lmk.get_tensor(self._lmk_out[n])  # noqa: E731
        return decode_landmarks(get("Identity")[0], get("Identity_4")[0],
                                float(get("Identity_1").reshape(-1)[0]), roi)


def detection_rois(keypoints_px: np.ndarray) -> list[Roi]:
    """ROIs of detector keypoints (K, 4, 2) px: keypoint 0 hip centre, 1 head point."""
    return [alignment_roi(k[0], k[1]) for k in keypoints_px]


def tracking_roi(pose: Pose) -> Roi:
    """Next frame's ROI from a pose's alignment landmarks 33 (hip centre) and 34 (head)."""
    return alignment_roi(pose.landmarks_px[33, :2], pose.landmarks_px[34, :2])
