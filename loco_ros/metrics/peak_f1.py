"""The VHA's peak-detection F1 at 0 / 1 / 2 voxels (LoCO paper Table 2).

GT and predicted peaks are voxel coordinates (d, h, w) of the volumetric heatmap, per joint
type (J = 14); the match tolerance is a Euclidean distance in voxels; precision, recall and
F1 are fractions in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from loco_ros.errors import InputError
from loco_ros.matching import gated_assignment
from loco_ros.metrics._common import _pairwise
from loco_ros.skeleton import NUM_JOINTS
from loco_ros.types import Peaks


@dataclass(frozen=True)
class PeakCounts:
    """Additive peak-detection counts (sum frames with ``+``); scores are fractions."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: PeakCounts) -> PeakCounts:
        return PeakCounts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 1 when nothing was predicted."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """TP / (TP + FN); 1 when there is no GT peak."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        """2 TP / (2 TP + FP + FN); 1 when there is neither GT nor prediction."""
        den = 2 * self.tp + self.fp + self.fn
        return 2.0 * self.tp / den if den else 1.0


def peak_f1(
    gt_voxels: Sequence[np.ndarray],
    pred_peaks: Peaks,
    tolerance_voxels: float,
    round_pred: bool = True,
) -> PeakCounts:
    """Peak-detection counts of a decoded volume against its GT peaks (paper Table 2).

    gt_voxels: J arrays (n_j, 3) of integer GT voxels (d, h, w) per joint type.
    pred_peaks: predicted peaks; their continuous voxels are rounded to the nearest integer
    voxel first when ``round_pred`` (the authors' peaks are integer voxels).
    A prediction matches a GT peak of the same type when their **Euclidean** voxel distance
    is <= ``tolerance_voxels`` (0, 1, 2 in the paper). Matching is one-to-one and optimal
    (Hungarian: most matches, then least total distance), per joint type.
    Returns :class:`PeakCounts`; read ``.f1`` (``.precision``, ``.recall``).
    """
    if len(gt_voxels) != NUM_JOINTS:
        raise InputError(f"gt_voxels: expected {NUM_JOINTS} arrays, got {len(gt_voxels)}")
    pred_voxel = np.asarray(pred_peaks.voxel, np.float64).reshape(-1, 3)
    if round_pred:
        pred_voxel = np.rint(pred_voxel)
    joint = np.asarray(pred_peaks.joint, np.int64)
    tp = fp = fn = 0
    for k in range(NUM_JOINTS):
        g = np.asarray(gt_voxels[k], np.float64).reshape(-1, 3)
        p = pred_voxel[joint == k]
        matched = 0
        if g.shape[0] and p.shape[0]:
            dist = _pairwise(g, p)
            allowed = dist <= tolerance_voxels + 1e-9
            matched = len(gated_assignment(dist, allowed))
        tp += matched
        fp += p.shape[0] - matched
        fn += g.shape[0] - matched
    return PeakCounts(tp=tp, fp=fp, fn=fn)
