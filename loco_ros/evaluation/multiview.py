"""A metric 3D reference for real footage: teacher 2D joints of several calibrated,
synchronised views, triangulated.

The teacher (BlazePose, :mod:`loco_ros.teacher`) labels each view alone; a joint seen in
two or more views is triangulated (linear DLT), robustly: every pair of views proposes a
point, the proposal that most views agree with (reprojection within ``inlier_px``) wins and
is re-triangulated from those views. A view whose teacher swapped left and right, or found
the wrong person, drops out of that joint. Which labelled person of a view is the reference
person is chosen the same way: the combination (one candidate per view) whose triangulated
joints reproject best.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

MIN_VISIBILITY = 0.5  # teacher joints less visible than this are not triangulated


def triangulate(P: np.ndarray, uv_px: np.ndarray) -> np.ndarray:
    """Linear (DLT) triangulation: P (V, 3, 4) projections, uv_px (V, 2) -> (3,) point."""
    rows = np.concatenate([uv_px[:, :1] * P[:, 2] - P[:, 0],
                           uv_px[:, 1:] * P[:, 2] - P[:, 1]])
    _, _, vt = np.linalg.svd(rows)
    return vt[-1, :3] / vt[-1, 3]


def reprojection_px(P: np.ndarray, uv_px: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    """(V,) pixel distance of each view's ``uv_px`` from the projection of ``xyz`` (3,);
    inf where the point is behind that camera."""
    h = P @ np.append(xyz, 1.0)
    err = np.linalg.norm(h[:, :2] / h[:, 2:] - uv_px, axis=1)
    return np.where(h[:, 2] > 0, err, np.inf)


def robust_triangulate(P: np.ndarray, uv_px: np.ndarray, inlier_px: float = 40.0
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(3,) point and (V,) inlier mask from V >= 2 views (P (V, 3, 4), uv_px (V, 2)); NaN
    point and no inliers when no two views agree."""

    def proposal(pair: tuple[int, int]) -> tuple[np.ndarray, tuple[int, float]]:
        err = reprojection_px(P, uv_px, triangulate(P[list(pair)], uv_px[list(pair)]))
        inliers = err <= inlier_px
        return inliers, _rank(int(inliers.sum()), err[inliers])

    best = min(map(proposal, itertools.combinations(range(len(P)), 2)), key=lambda c: c[1])[0]
    if best.sum() < 2:
        return np.full(3, np.nan), np.zeros(len(P), bool)
    xyz = triangulate(P[best], uv_px[best])
    return xyz, reprojection_px(P, uv_px, xyz) <= inlier_px


def triangulate_person(P: np.ndarray, joints_px: np.ndarray, visibility: np.ndarray,
                       inlier_px: float = 40.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One person seen in V views: P (V, 3, 4), joints_px (V, J, 2), visibility (V, J) ->
    (J, 3) lab metres (NaN where fewer than two views agree), (J,) median reprojection
    error of the inlier views (px) and (J,) number of inlier views."""
    J = joints_px.shape[1]
    xyz, err, count = np.full((J, 3), np.nan), np.full(J, np.nan), np.zeros(J, np.int64)
    for j in range(J):
        seen = (visibility[:, j] >= MIN_VISIBILITY) & np.isfinite(joints_px[:, j]).all(-1)
        if seen.sum() < 2:
            continue
        point, inliers = robust_triangulate(P[seen], joints_px[seen, j], inlier_px)
        if inliers.any():
            xyz[j], count[j] = point, inliers.sum()
            err[j] = np.median(reprojection_px(P[seen][inliers], joints_px[seen, j][inliers],
                                               point))
    return xyz, err, count


def reference_person(P: np.ndarray, candidates: Sequence[tuple[np.ndarray, np.ndarray]],
                     inlier_px: float = 40.0) -> tuple[np.ndarray, np.ndarray]:
    """The one person that the views agree on. ``candidates[v]`` = (joints_px (N_v, J, 2),
    visibility (N_v, J)) of view v's labelled people; views without any are skipped. Every
    combination of one candidate per view is triangulated; the one with the most inlier
    observations (joints x views), then the lowest median reprojection error, wins.
    Returns (J, 3) lab metres and (J,) error px (:func:`triangulate_person`)."""
    views = [v for v, (px, _) in enumerate(candidates) if len(px)]
    if len(views) < 2:
        J = candidates[views[0]][0].shape[1] if views else 14
        return np.full((J, 3), np.nan), np.full(J, np.nan)

    def fit(choice: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, tuple[int, float]]:
        px = np.stack([candidates[v][0][c] for v, c in zip(views, choice, strict=True)])
        vis = np.stack([candidates[v][1][c] for v, c in zip(views, choice, strict=True)])
        xyz, err, count = triangulate_person(P[views], px, vis, inlier_px)
        return xyz, err, _rank(int(count.sum()), err[np.isfinite(err)], np.median)

    choices = itertools.product(*(range(len(candidates[v][0])) for v in views))
    xyz, err, _ = min(map(fit, choices), key=lambda c: c[2])
    return xyz, err


def _rank(agreeing: int, errors_px: np.ndarray, average=np.mean) -> tuple[int, float]:
    """Sort key of a fit: the most agreeing observations first, then the lowest average
    reprojection error of them (px)."""
    return -agreeing, float(average(errors_px)) if errors_px.size else np.inf
