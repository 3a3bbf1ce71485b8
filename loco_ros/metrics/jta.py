"""The LoCO paper's Table 3 JTA joint-detection metric (PR / RE / F1 at distance thresholds).

Greedy row-then-column minimum matching of joints of the same type, PR/RE/F1 per frame
averaged over frames. Inputs: G ground-truth people, P predicted people, J = 14 joints; 3D
points in metres (camera optical frame), absent joints NaN; thresholds in metres; scores are
fractions in [0, 1].
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from loco_ros.metrics._common import _as_people_array, _pairwise, _per_type
from loco_ros.skeleton import NUM_JOINTS
from loco_ros.types import Candidates

JTA_THRESHOLDS_M: tuple[float, ...] = (0.4, 0.8, 1.2)


@dataclass(frozen=True)
class JtaCounts:
    """Joint detection counts of one frame at one threshold (summed over joint types)."""

    tp: int
    fp: int
    fn: int

    def scores(self) -> tuple[float, float, float]:
        """(PR, RE, F1) of this frame as fractions in [0, 1].

        Zero denominators follow the authors' JTA evaluation: no GT and no prediction ->
        (1, 1, 1); GT but no prediction, or predictions but no GT -> (0, 0, 0).
        Otherwise PR = TP / (TP + FP), RE = TP / (TP + FN), F1 = 2 TP / (2 TP + FN + FP).
        """
        n_pred, n_gt = self.tp + self.fp, self.tp + self.fn
        if n_pred == 0 and n_gt == 0:
            return 1.0, 1.0, 1.0
        if n_pred == 0 or n_gt == 0:
            return 0.0, 0.0, 0.0
        pr = self.tp / n_pred
        re = self.tp / n_gt
        f1 = 2.0 * self.tp / (2.0 * self.tp + self.fn + self.fp)
        return pr, re, f1


def greedy_row_column_matches(dist: np.ndarray, threshold_m: float) -> np.ndarray:
    """The authors' JTA matching on one (N_gt, N_pred) distance matrix (metres).

    Entries above ``threshold_m`` are discarded (kept when <= threshold); each GT row keeps
    only its minimum, then each prediction column keeps only its minimum among what the rows
    kept (ties: the first index). Greedy, NOT an optimal assignment.
    Returns (N_gt,) int64: the matched prediction column of each GT row, -1 if none.
    """
    n_gt, n_pred = dist.shape
    match = np.full(n_gt, -1, np.int64)
    if n_gt == 0 or n_pred == 0:
        return match
    valid = np.where(np.isfinite(dist) & (dist <= threshold_m), dist, np.inf)
    col = np.argmin(valid, axis=1)
    row_min = valid[np.arange(n_gt), col]
    has = np.isfinite(row_min)
    kept = np.full((n_gt, n_pred), np.inf)
    kept[np.flatnonzero(has), col[has]] = row_min[has]
    best_row = np.argmin(kept, axis=0)
    col_ok = np.isfinite(kept[best_row, np.arange(n_pred)])
    match[best_row[col_ok]] = np.flatnonzero(col_ok)
    return match


def _type_distances(gt: np.ndarray, pred: np.ndarray | Sequence[np.ndarray],
                    solitary: Candidates | None) -> list[np.ndarray]:
    """Per joint type, the (G_k, P_k) distances (m) between its GT and predicted joints."""
    gt_k = _per_type(_as_people_array(gt, "gt"), "gt")
    pred_k = _per_type(pred, "pred")
    if solitary is not None and len(solitary):
        for k in range(NUM_JOINTS):
            extra = np.asarray(solitary.xyz_m[solitary.joint == k], np.float64)
            extra = extra[np.all(np.isfinite(extra), axis=1)]
            pred_k[k] = np.concatenate([pred_k[k], extra], axis=0)
    return [_pairwise(g, p) for g, p in zip(gt_k, pred_k, strict=True)]


def _counts(distances: list[np.ndarray], threshold_m: float) -> JtaCounts:
    tp = fp = fn = 0
    for dist in distances:
        matched = int((greedy_row_column_matches(dist, threshold_m) >= 0).sum())
        tp += matched
        fp += dist.shape[1] - matched
        fn += dist.shape[0] - matched
    return JtaCounts(tp=tp, fp=fp, fn=fn)


def jta_frame_counts(
    gt: np.ndarray,
    pred: np.ndarray | Sequence[np.ndarray],
    threshold_m: float,
    solitary: Candidates | None = None,
) -> JtaCounts:
    """TP / FP / FN of one frame with the JTA joint-detection metric (paper Table 3).

    gt: (G, J, 3) metres, NaN for absent joints (each finite joint is one GT point).
    pred: (P, J, 3) metres with NaN holes, or a list of J arrays (n_j, 3) of predicted
    joints per type. solitary: extra predicted joints (unassigned confident candidates).
    Per joint type: :func:`greedy_row_column_matches` at ``threshold_m``; TP = GT joints
    left with a match, FP = predictions - TP, FN = GT - TP; summed over the J types.
    """
    return _counts(_type_distances(gt, pred, solitary), threshold_m)


def jta_scores(counts: Iterable[JtaCounts]) -> dict[str, float]:
    """Per-frame PR, RE, F1 (see :meth:`JtaCounts.scores`) averaged over frames.

    Returns {"pr", "re", "f1"} as fractions in [0, 1] plus "frames" (count) and the summed
    "tp", "fp", "fn"; NaN scores when there is no frame.
    """
    rows = [(c.scores(), c) for c in counts]
    if not rows:
        nan = float("nan")
        return {"pr": nan, "re": nan, "f1": nan, "frames": 0, "tp": 0, "fp": 0, "fn": 0}
    scores = np.array([s for s, _ in rows], np.float64)
    return {
        "pr": float(scores[:, 0].mean()),
        "re": float(scores[:, 1].mean()),
        "f1": float(scores[:, 2].mean()),
        "frames": len(rows),
        "tp": sum(c.tp for _, c in rows),
        "fp": sum(c.fp for _, c in rows),
        "fn": sum(c.fn for _, c in rows),
    }


def jta_metric(
    frames: Iterable[tuple],
    thresholds_m: Sequence[float] = JTA_THRESHOLDS_M,
) -> dict[float, dict[str, float]]:
    """The JTA metric over frames: {t: {"pr", "re", "f1", ...}} for each threshold t (m).

    frames: iterable of ``(gt, pred)`` or ``(gt, pred, solitary)`` as in
    :func:`jta_frame_counts`. PR, RE, F1 are computed per frame, then averaged over frames
    (fractions in [0, 1]; the paper prints them x100).
    """
    per_frame = [jta_frame_counts_at(frame, thresholds_m) for frame in frames]
    return {float(t): jta_scores([c[i] for c in per_frame]) for i, t in enumerate(thresholds_m)}


def jta_frame_counts_at(frame: tuple, thresholds_m: Sequence[float]) -> tuple[JtaCounts, ...]:
    """:func:`jta_frame_counts` of one ``(gt, pred[, solitary])`` frame at each threshold
    (the distances computed once)."""
    distances = _type_distances(frame[0], frame[1], frame[2] if len(frame) > 2 else None)
    return tuple(_counts(distances, t) for t in thresholds_m)
