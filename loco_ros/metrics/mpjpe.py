"""Person matching and MPJPE (mean per-joint position error, reported in millimetres).

Inputs: G ground-truth people and P predicted people as (G, J, 3) / (P, J, 3) arrays, J = 14
joints, 3D points in metres (camera optical frame), absent joints NaN. Holds the Hungarian
person matching (mean joint distance cost, metres) and the root alignment helpers
("absolute", "hips", "head_top") shared with 3DPCK.
"""

from __future__ import annotations

import numpy as np

from loco_ros.matching import gated_assignment
from loco_ros.metrics._common import _as_people_array, _mean_joint_distance
from loco_ros.skeleton import JOINT_INDEX

_HIPS = (JOINT_INDEX["right_hip"], JOINT_INDEX["left_hip"])


def match_people_hungarian(
    gt: np.ndarray, pred: np.ndarray, max_distance_m: float | None = None
) -> np.ndarray:
    """One-to-one GT/prediction person matching minimising the mean joint distance.

    gt: (G, J, 3), pred: (P, J, 3) metres with NaN for absent joints. The cost of a pair is
    the mean 3D distance over joints finite in both; pairs with no common joint, or with
    cost > ``max_distance_m`` (when given), are never matched.
    Returns (N, 2) int64 rows (gt index, pred index), sorted by gt index.
    """
    return _match_by_mean_distance(_as_people_array(gt, "gt"), _as_people_array(pred, "pred"),
                                   max_distance_m)


def match_people_in_image(
    gt_uv_px: np.ndarray, pred_uv_px: np.ndarray, max_pixels: float | None = None
) -> np.ndarray:
    """:func:`match_people_hungarian` on image positions: gt (G, J, 2), pred (P, J, 2)
    pixels with NaN for absent joints; the cost is the mean pixel distance of common joints,
    so people match however wrong their depth is."""
    return _match_by_mean_distance(_as_people_array(gt_uv_px, "gt_uv_px", 2),
                                   _as_people_array(pred_uv_px, "pred_uv_px", 2), max_pixels)


def _match_by_mean_distance(g: np.ndarray, p: np.ndarray, max_cost: float | None,
                            gt_scale: np.ndarray | None = None) -> np.ndarray:
    """Hungarian matching of (G, J, C) and (P, J, C) people on their mean joint distance,
    divided per GT person by ``gt_scale`` (G,) when given."""
    if g.shape[0] == 0 or p.shape[0] == 0:
        return np.zeros((0, 2), np.int64)
    cost = _mean_joint_distance(g, p)
    if gt_scale is not None:
        cost = cost / np.asarray(gt_scale, np.float64)[:, None]
    allowed = np.isfinite(cost)
    if max_cost is not None:
        allowed &= cost <= max_cost
    return gated_assignment(cost, allowed)


def _root(people: np.ndarray, alignment: str) -> np.ndarray:
    """(N, J, 3) -> (N, 3) root per person (NaN when it cannot be formed)."""
    if alignment == "hips":
        return people[:, list(_HIPS)].mean(axis=1)  # NaN if either hip is missing
    if alignment == "head_top":
        return people[:, JOINT_INDEX["head_top"]]
    if alignment == "absolute":
        return np.zeros((people.shape[0], 3))
    raise ValueError("alignment must be 'hips', 'head_top' or 'absolute'")


def _aligned(people: np.ndarray, alignment: str) -> np.ndarray:
    return people - _root(people, alignment)[:, None, :]


def mpjpe_mm(
    gt: np.ndarray,
    pred: np.ndarray,
    pairs: np.ndarray | None = None,
    alignment: str = "absolute",
) -> float:
    """Mean per-joint position error of matched people, in **millimetres**.

    gt: (G, J, 3), pred: (P, J, 3) metres, NaN for absent joints. pairs: (N, 2) from
    :func:`match_people_hungarian` (computed when None). The mean runs over every joint
    finite in both members of every pair (unmatched people and holes are ignored: report it
    together with a detection score). alignment: "absolute" (camera frame), "hips" (both
    poses translated to their hip midpoint) or "head_top". NaN when nothing is comparable.
    """
    g = _as_people_array(gt, "gt")
    p = _as_people_array(pred, "pred")
    if pairs is None:
        pairs = match_people_hungarian(g, p)
    if len(pairs) == 0:
        return float("nan")
    ga = _aligned(g[pairs[:, 0]], alignment)
    pa = _aligned(p[pairs[:, 1]], alignment)
    err = np.linalg.norm(ga - pa, axis=2)
    err = err[np.isfinite(err)]
    return float(err.mean() * 1000.0) if err.size else float("nan")
