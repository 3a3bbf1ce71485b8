"""Grouping of 3D joint candidates into people (paper Sec. 3.3, supplementary).

Two methods, chosen by :class:`loco_ros.config.AssociationConfig.method`:

``"greedy"`` (the paper's heuristic)
    Every ``head_top`` candidate starts a person, strongest first. For each joint type
    k = 1..13 the person takes the nearest still unused candidate of type k if its 3D
    distance to the person's head is under ``skeleton.ASSOCIATION_LIMIT_M[k]`` (strictly),
    else that slot stays a hole. Because candidates of different types never compete, the
    result equals the authors' loop "for each head, for each type"; only the head order
    matters, and ties in confidence keep the input order (stable sort).

``"hungarian"`` (global variant)
    Per joint type, one minimum-cost assignment (``scipy.optimize.linear_sum_assignment``)
    of heads x candidates on the 3D distance; pairs at or over the limit are forbidden
    (large cost, dropped afterwards), so the assignment first maximises the number of
    joints attached, then minimises their summed distance.

Holes: ``xyz_m`` and ``uv_px`` NaN, ``confidence`` 0, ``detected`` False.
Person score: mean confidence over the 14 slots, holes counting 0 (so a complete, confident
person scores near 1 and a lone head scores at most 1/14).
People with fewer than ``min_joints`` detected joints (head included) are dropped.
With ``duplicate_frac`` > 0, a person whose detected joints lie in the image, on average,
within ``duplicate_frac`` of a stronger person's image height of that person's joints (4 or
more in common) is dropped: the same person found again at another depth (a volume unsure
of depth has two modes along the ray for every joint, and each head mode starts a person).
Output order: by head confidence, strongest first.
"""

from __future__ import annotations

import numpy as np

from loco_ros.config import AssociationConfig
from loco_ros.errors import InputError
from loco_ros.matching import gated_assignment
from loco_ros.skeleton import ASSOCIATION_LIMIT_M, HEAD_TOP, NUM_JOINTS
from loco_ros.types import Candidates, People

SOLITARY_THRESHOLD = 0.6
"""Confidence above which the authors keep an unassigned candidate as a solitary joint."""

_FORBIDDEN = 1.0e6  # cost of a pair over the limit in the Hungarian variant (metres)


def _check_candidates(candidates: Candidates) -> None:
    m = len(candidates)
    shapes_ok = (
        candidates.joint.shape == (m,)
        and candidates.xyz_m.shape == (m, 3)
        and candidates.uv_px.shape == (m, 2)
        and candidates.confidence.shape == (m,)
    )
    if not shapes_ok:
        raise InputError("candidates: expected joint (M,), xyz_m (M,3), uv_px (M,2), conf (M,)")
    if m and (candidates.joint.min() < 0 or candidates.joint.max() >= NUM_JOINTS):
        raise InputError(f"candidates: joint types must be in [0, {NUM_JOINTS})")


def _distances(heads_xyz: np.ndarray, xyz: np.ndarray) -> np.ndarray:
    """(P, 3), (N, 3) metres -> (P, N) float64 Euclidean distances; inf where non-finite."""
    diff = heads_xyz[:, None, :].astype(np.float64) - xyz[None, :, :].astype(np.float64)
    dist = np.sqrt(np.einsum("pnc,pnc->pn", diff, diff))
    dist[~np.isfinite(dist)] = np.inf
    return dist


def _greedy_type(dist: np.ndarray, limit: float) -> np.ndarray:
    """Heads in order take their nearest unused column under ``limit``.

    dist: (P, N) metres, rows already in head order. Returns (P,) column index, -1 = hole.
    """
    n_rows = dist.shape[0]
    chosen = np.full(n_rows, -1, np.int64)
    if dist.shape[1] == 0:
        return chosen
    work = dist.copy()
    start = 0
    # Vectorised sequential greedy: every row up to the first one whose nearest column was
    # already claimed by an earlier row of the batch gets its nearest column; the loop then
    # resumes at that row with the claimed columns removed (one pass per conflict).
    while start < n_rows:
        cols = np.argmin(work[start:], axis=1)
        valid = work[start:][np.arange(cols.size), cols] < limit
        stop = _first_conflict(cols, valid)
        take = np.flatnonzero(valid[:stop])
        chosen[start + take] = cols[take]
        work[:, cols[take]] = np.inf
        start += max(stop, 1)
    return chosen


def _first_conflict(cols: np.ndarray, valid: np.ndarray) -> int:
    """Index of the first valid entry whose column already appears earlier (len if none)."""
    keys = np.where(valid, cols, -1 - np.arange(cols.size))  # invalid rows never collide
    _, first = np.unique(keys, return_index=True)
    repeated = np.ones(cols.size, bool)
    repeated[first] = False
    hits = np.flatnonzero(repeated)
    return int(hits[0]) if hits.size else int(cols.size)


def _hungarian_type(dist: np.ndarray, limit: float) -> np.ndarray:
    """Minimum-cost assignment of rows to columns, pairs >= ``limit`` forbidden.

    dist: (P, N) metres. Returns (P,) column index, -1 = hole.
    """
    chosen = np.full(dist.shape[0], -1, np.int64)
    pairs = gated_assignment(dist, dist < limit, _FORBIDDEN)
    chosen[pairs[:, 0]] = pairs[:, 1]
    return chosen


def assign_candidates(candidates: Candidates, config: AssociationConfig) -> np.ndarray:
    """Indices of the candidates grouped into people, before the ``min_joints`` filter.

    candidates: M candidates (metres, camera optical frame).
    Returns (P, J) int64 indices into ``candidates`` (-1 for holes); row p is the person
    started by the p-th strongest head, column 0 its head. Non-finite candidates are never
    assigned (they can still start no person: a non-finite head is ignored).
    """
    _check_candidates(candidates)
    joint = candidates.joint.astype(np.int64)
    finite = np.all(np.isfinite(candidates.xyz_m), axis=1)
    order = np.argsort(-candidates.confidence.astype(np.float64), kind="stable")
    heads = order[(joint[order] == HEAD_TOP) & finite[order]]
    index = np.full((heads.shape[0], NUM_JOINTS), -1, np.int64)
    index[:, HEAD_TOP] = heads
    if heads.shape[0] == 0:
        return index
    heads_xyz = candidates.xyz_m[heads]
    solve = _greedy_type if config.method == "greedy" else _hungarian_type
    for k in range(NUM_JOINTS):
        if k == HEAD_TOP:
            continue
        of_type = order[(joint[order] == k) & finite[order]]  # strongest first
        dist = _distances(heads_xyz, candidates.xyz_m[of_type])
        chosen = solve(dist, float(ASSOCIATION_LIMIT_M[k]))
        hit = chosen >= 0
        index[hit, k] = of_type[chosen[hit]]
    return index


def people_from_indices(candidates: Candidates, index: np.ndarray, min_joints: int = 1) -> People:
    """Build :class:`People` from (P, J) candidate indices (-1 = hole).

    Drops people with fewer than ``min_joints`` assigned slots. Score = mean confidence over
    the J slots with holes counting 0. ``track_id`` is P empty strings.
    """
    keep = (index >= 0).sum(axis=1) >= min_joints
    index = index[keep]
    n_people = index.shape[0]
    if n_people == 0:
        return People.empty()
    hit = index >= 0
    safe = np.where(hit, index, 0)
    xyz = np.where(hit[..., None], candidates.xyz_m[safe], np.nan).astype(np.float32)
    uv = np.where(hit[..., None], candidates.uv_px[safe], np.nan).astype(np.float32)
    conf = np.where(hit, candidates.confidence[safe], 0.0).astype(np.float32)
    return People(
        xyz_m=xyz,
        confidence=conf,
        detected=hit.copy(),
        uv_px=uv,
        score=conf.mean(axis=1).astype(np.float32),
        track_id=("",) * n_people,
    )


def associate_people(candidates: Candidates, config: AssociationConfig) -> People:
    """Group joint candidates into people around their head_top candidates.

    candidates: M candidates, xyz_m (M, 3) metres in the camera optical frame.
    Returns P people (J = 14 slots, holes NaN / confidence 0 / detected False), strongest
    head first, with score = mean slot confidence (holes 0) and empty track ids.
    Raises :class:`InputError` on malformed candidate arrays.
    """
    index = assign_candidates(candidates, config)
    if config.duplicate_frac > 0:
        index = index[~image_duplicates(candidates, index, config.duplicate_frac)]
    return people_from_indices(candidates, index, config.min_joints)


def image_duplicates(candidates: Candidates, index: np.ndarray, frac: float,
                     min_common: int = 4) -> np.ndarray:
    """(P,) bool: people (rows of the (P, J) candidate ``index``) that repeat, in the image, a
    person of higher score (mean slot confidence, holes 0) that is kept."""
    hit = index >= 0
    safe = np.where(hit, index, 0)
    uv = np.where(hit[..., None], candidates.uv_px[safe], np.nan)  # (P, J, 2)
    score = np.where(hit, candidates.confidence[safe], 0.0).mean(axis=1)
    y = np.where(hit, uv[..., 1], np.nan)
    height = np.nanmax(y, axis=1) - np.nanmin(y, axis=1)  # every row has its head
    drop = np.zeros(index.shape[0], bool)
    kept: list[int] = []
    for i in np.argsort(-score, kind="stable"):
        for j in kept:
            common = hit[i] & hit[j]
            if common.sum() >= min_common and np.mean(np.linalg.norm(
                    uv[i, common] - uv[j, common], axis=1)) < frac * height[j]:
                drop[i] = True
                break
        if not drop[i]:
            kept.append(i)
    return drop


def _assigned_mask_from_people(candidates: Candidates, people: People) -> np.ndarray:
    """(M,) bool: candidate equals (same type, same xyz) a detected slot of ``people``."""
    used = np.zeros(len(candidates), bool)
    for k in range(NUM_JOINTS):
        cand = np.flatnonzero(candidates.joint == k)
        slots = people.xyz_m[people.detected[:, k], k]
        if cand.size == 0 or slots.shape[0] == 0:
            continue
        same = np.all(candidates.xyz_m[cand][:, None, :] == slots[None, :, :], axis=2)
        used[cand[same.any(axis=1)]] = True
    return used


def unassigned_candidates(
    candidates: Candidates,
    people: People | np.ndarray,
    threshold: float = SOLITARY_THRESHOLD,
) -> Candidates:
    """Confident candidates that no person took: the authors' "solitary joints".

    people: the output of :func:`associate_people` (a candidate counts as taken when a
    detected slot of its type holds exactly its xyz, so pass the people *before* the
    refiner moves joints), or the (P, J) index array of :func:`assign_candidates`.
    threshold: keep candidates with confidence strictly above it (authors: 0.6).
    Returns the Mu <= M remaining candidates, input order.
    """
    _check_candidates(candidates)
    if isinstance(people, People):
        used = _assigned_mask_from_people(candidates, people)
    else:
        used = np.zeros(len(candidates), bool)
        taken = np.asarray(people, np.int64).ravel()
        used[taken[taken >= 0]] = True
    keep = ~used & (candidates.confidence > threshold)
    return Candidates(
        joint=candidates.joint[keep],
        xyz_m=candidates.xyz_m[keep],
        uv_px=candidates.uv_px[keep],
        confidence=candidates.confidence[keep],
    )
