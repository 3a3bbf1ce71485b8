"""2D metrics against a reference on real footage (no 3D ground truth exists there).

Inputs: R reference people and P predicted people as (R, J, 2) / (P, J, 2) pixel arrays of
the same image, J = 14 joints, NaN for absent joints; the reference also has a per-joint
visibility (R, J) in [0, 1].

- A person's height is the vertical extent of its visible reference joints (pixels).
- Two people match when the mean pixel distance of their common joints is at most
  ``max_mean_error`` (0.5) of the reference person's height; a Hungarian assignment makes the
  matching one-to-one (the person-level precision / recall).
- PCK@alpha: of the visible reference joints of matched people, the share whose predicted
  joint lies within alpha (0.2) of the person's height.
- Reference people too small or too hidden to count (:func:`countable`) are "ignore"
  people: a prediction matched to one is neither a hit nor a false person.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loco_ros.metrics._common import _as_people_array
from loco_ros.metrics.mpjpe import _match_by_mean_distance

VISIBLE = 0.5  # reference joints with visibility >= this are the visible ones


def visible_joints(ref_uv_px: np.ndarray, visibility: np.ndarray) -> np.ndarray:
    """(R, J, 2) reference pixels with NaN where visibility < VISIBLE."""
    uv = _as_people_array(ref_uv_px, "ref_uv_px", 2).copy()
    uv[np.asarray(visibility) < VISIBLE] = np.nan
    return uv


def person_height_px(uv_px: np.ndarray) -> np.ndarray:
    """(N, J, 2) -> (N,) vertical extent of the finite joints in pixels (0 if none)."""
    y = np.asarray(uv_px, np.float64)[..., 1]
    finite = np.isfinite(y)
    lo = np.where(finite, y, np.inf).min(axis=1)
    hi = np.where(finite, y, -np.inf).max(axis=1)
    return np.where(finite.any(axis=1), hi - lo, 0.0)


def countable(visible_uv_px: np.ndarray, min_height_px: float, min_joints: int = 6
              ) -> np.ndarray:
    """(R,) bool: reference people at least ``min_height_px`` tall with ``min_joints``
    visible joints; the others are ignored by :func:`frame_counts`."""
    n_visible = np.isfinite(visible_uv_px[..., 0]).sum(axis=1)
    return (person_height_px(visible_uv_px) >= min_height_px) & (n_visible >= min_joints)


@dataclass
class Pose2dCounts:
    """Sums over frames: matched / reference / predicted people, correct / visible joints."""

    matched: int = 0
    reference: int = 0
    predicted: int = 0
    joints_correct: int = 0
    joints_visible: int = 0

    def add(self, other: Pose2dCounts) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def scores(self) -> dict[str, float]:
        """precision, recall, F1 (people) and PCK (joints of matched people); NaN if empty."""
        pr = self.matched / self.predicted if self.predicted else float("nan")
        re = self.matched / self.reference if self.reference else float("nan")
        f1 = 2 * pr * re / (pr + re) if pr + re > 0 else float("nan")
        pck = self.joints_correct / self.joints_visible if self.joints_visible else float("nan")
        return {"precision": pr, "recall": re, "f1": f1, "pck": pck}


@dataclass(frozen=True)
class PersonMatch:
    """One image's one-to-one match: ``pairs`` (M, 2) int (reference, prediction) rows of
    countable reference people, ``ignored_predictions`` matched to ignored references, the
    reference heights (R,) px and which references count (R,) bool."""

    pairs: np.ndarray
    ignored_predictions: int
    height_px: np.ndarray
    countable: np.ndarray

    @property
    def found(self) -> np.ndarray:
        """(R,) bool: the reference people that a prediction matched."""
        found = np.zeros(len(self.height_px), bool)
        found[self.pairs[:, 0]] = True
        return found

    def counts(self, ref_visible_uv_px: np.ndarray, pred_uv_px: np.ndarray,
               alpha: float = 0.2) -> Pose2dCounts:
        """The image's counts, PCK@``alpha`` of the matched people's visible joints; the
        arrays are those the match was made of."""
        ref, pred, pairs = ref_visible_uv_px, pred_uv_px, self.pairs
        dist = np.linalg.norm(ref[pairs[:, 0]] - pred[pairs[:, 1]], axis=2)  # (M, J)
        visible = np.isfinite(ref[pairs[:, 0], :, 0])
        correct = visible & (dist <= alpha * self.height_px[pairs[:, 0]][:, None])  # NaN: wrong
        return Pose2dCounts(
            matched=len(pairs), reference=int(self.countable.sum()),
            predicted=len(pred) - self.ignored_predictions,
            joints_correct=int(correct.sum()), joints_visible=int(visible.sum()),
        )


def match_people(ref_visible_uv_px: np.ndarray, pred_uv_px: np.ndarray,
                 countable_ref: np.ndarray, max_mean_error: float = 0.5) -> PersonMatch:
    """Match (R, J, 2) visible reference pixels with (P, J, 2) predictions (see the module
    docstring); ``countable_ref`` (R,) bool from :func:`countable`."""
    ref = _as_people_array(ref_visible_uv_px, "ref_visible_uv_px", 2)
    pred = _as_people_array(pred_uv_px, "pred_uv_px", 2)
    height = np.maximum(person_height_px(ref), 1.0)
    pairs = _match_by_mean_distance(ref, pred, max_mean_error, gt_scale=height)
    counted = np.asarray(countable_ref, bool)
    ignored = {int(p) for r, p in pairs if not counted[r]}
    pairs = np.array([(r, p) for r, p in pairs if counted[r]], np.int64).reshape(-1, 2)
    return PersonMatch(pairs, len(ignored), height, counted)


def frame_counts(ref_visible_uv_px: np.ndarray, pred_uv_px: np.ndarray, countable_ref:
                 np.ndarray, alpha: float = 0.2, max_mean_error: float = 0.5) -> Pose2dCounts:
    """Counts of one image. ``ref_visible_uv_px`` (R, J, 2) from :func:`visible_joints`,
    ``pred_uv_px`` (P, J, 2), ``countable_ref`` (R,) bool from :func:`countable`."""
    ref = _as_people_array(ref_visible_uv_px, "ref_visible_uv_px", 2)
    pred = _as_people_array(pred_uv_px, "pred_uv_px", 2)
    return match_people(ref, pred, countable_ref, max_mean_error).counts(ref, pred, alpha)


# Reference heights as fractions of the image height: the bins of real-footage recall.
SIZE_EDGES_FRAC = (0.1, 0.15, 0.2, 0.3, 0.45, float("inf"))
