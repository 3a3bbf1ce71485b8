"""Evaluation metrics (pure numpy/scipy): JTA joint detection, MPJPE, 3DPCK, VHA peak F1.

Inputs use the letters of docs/CONVENTIONS.md: G ground-truth people, P predicted people,
K = 14 joints; 3D points in metres (camera optical frame), absent joints NaN.

- :func:`jta_frame_counts` / :func:`jta_metric`: the LoCO paper's Table 3 metric (greedy
  row-then-column minimum matching of joints of the same type, PR/RE/F1 per frame averaged
  over frames).
- :func:`match_people_hungarian`, :func:`mpjpe_mm`: person matching and MPJPE in millimetres.
- :func:`pck3d`: PandaNet's 3DPCK@150mm with distance bins and per-joint breakdown.
- :func:`peak_f1`: the VHA's F1 of peaks at 0/1/2 voxels (paper Table 2).
- :func:`format_markdown_table` and ``*_table`` helpers print the results.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from loco_ros.errors import InputError
from loco_ros.skeleton import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS
from loco_ros.types import Candidates, Peaks

JTA_THRESHOLDS_M: tuple[float, ...] = (0.4, 0.8, 1.2)
PCK_DISTANCE_EDGES_M: tuple[float, ...] = (10.0, 20.0, 30.0, 40.0)

# PandaNet Table 4 groups that exist in the 14-joint LoCO skeleton (no clavicles, spines).
JOINT_GROUPS: dict[str, tuple[int, ...]] = {
    "head": (JOINT_INDEX["head_top"],),
    "neck": (JOINT_INDEX["neck"],),
    "shoulders": (JOINT_INDEX["right_shoulder"], JOINT_INDEX["left_shoulder"]),
    "elbows": (JOINT_INDEX["right_elbow"], JOINT_INDEX["left_elbow"]),
    "wrists": (JOINT_INDEX["right_wrist"], JOINT_INDEX["left_wrist"]),
    "hips": (JOINT_INDEX["right_hip"], JOINT_INDEX["left_hip"]),
    "knees": (JOINT_INDEX["right_knee"], JOINT_INDEX["left_knee"]),
    "ankles": (JOINT_INDEX["right_ankle"], JOINT_INDEX["left_ankle"]),
}
_HIPS = (JOINT_INDEX["right_hip"], JOINT_INDEX["left_hip"])
_FORBIDDEN = 1.0e9


# ----------------------------------------------------------------------------- helpers


def _as_people_array(x: np.ndarray, name: str) -> np.ndarray:
    """(N, K, 3) float64 copy; raises InputError on any other shape."""
    arr = np.asarray(x, np.float64)
    if arr.ndim != 3 or arr.shape[1:] != (NUM_JOINTS, 3):
        raise InputError(f"{name}: expected shape (N, {NUM_JOINTS}, 3), got {arr.shape}")
    return arr


def _per_type(points: np.ndarray | Sequence[np.ndarray], name: str) -> list[np.ndarray]:
    """(N, K, 3) with NaN holes, or K arrays (n_k, 3) -> K arrays (n_k, 3) of finite points."""
    if isinstance(points, np.ndarray) and points.ndim == 3:
        arr = _as_people_array(points, name)
        out = []
        for k in range(NUM_JOINTS):
            pts = arr[:, k]
            out.append(pts[np.all(np.isfinite(pts), axis=1)])
        return out
    if len(points) != NUM_JOINTS:
        raise InputError(f"{name}: expected (N, K, 3) or a list of {NUM_JOINTS} (n, 3) arrays")
    out = []
    for pts in points:
        pts = np.asarray(pts, np.float64).reshape(-1, 3)
        out.append(pts[np.all(np.isfinite(pts), axis=1)])
    return out


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, 3), (M, 3) -> (N, M) Euclidean distances."""
    diff = a[:, None, :] - b[None, :, :]
    return np.sqrt(np.einsum("nmc,nmc->nm", diff, diff))


def _mean_joint_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, K, 3), (M, K, 3) -> (N, M) mean distance over joints finite in both (inf if none)."""
    diff = a[:, None, :, :] - b[None, :, :, :]
    dist = np.sqrt(np.einsum("nmkc,nmkc->nmk", diff, diff))
    both = np.isfinite(dist)
    count = both.sum(axis=2)
    total = np.where(both, dist, 0.0).sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.inf)


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den elementwise, NaN where den == 0."""
    num = np.asarray(num, np.float64)
    den = np.asarray(den, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.maximum(den, 1e-300), np.nan)


# ----------------------------------------------------------------------------- JTA metric


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


def jta_frame_counts(
    gt: np.ndarray,
    pred: np.ndarray | Sequence[np.ndarray],
    threshold_m: float,
    solitary: Candidates | None = None,
) -> JtaCounts:
    """TP / FP / FN of one frame with the JTA joint-detection metric (paper Table 3).

    gt: (G, K, 3) metres, NaN for absent joints (each finite joint is one GT point).
    pred: (P, K, 3) metres with NaN holes, or a list of K arrays (n_k, 3) of predicted
    joints per type. solitary: extra predicted joints (unassigned confident candidates).
    Per joint type: :func:`greedy_row_column_matches` at ``threshold_m``; TP = GT joints
    left with a match, FP = predictions - TP, FN = GT - TP; summed over the K types.
    """
    gt_k = _per_type(_as_people_array(gt, "gt"), "gt")
    pred_k = _per_type(pred, "pred")
    if solitary is not None and len(solitary):
        for k in range(NUM_JOINTS):
            extra = np.asarray(solitary.xyz_m[solitary.joint == k], np.float64)
            extra = extra[np.all(np.isfinite(extra), axis=1)]
            pred_k[k] = np.concatenate([pred_k[k], extra], axis=0)
    tp = fp = fn = 0
    for g, p in zip(gt_k, pred_k, strict=True):
        matched = int((greedy_row_column_matches(_pairwise(g, p), threshold_m) >= 0).sum())
        tp += matched
        fp += p.shape[0] - matched
        fn += g.shape[0] - matched
    return JtaCounts(tp=tp, fp=fp, fn=fn)


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
    per_t: dict[float, list[JtaCounts]] = {float(t): [] for t in thresholds_m}
    for frame in frames:
        gt, pred = frame[0], frame[1]
        solitary = frame[2] if len(frame) > 2 else None
        for t in per_t:
            per_t[t].append(jta_frame_counts(gt, pred, t, solitary))
    return {t: jta_scores(c) for t, c in per_t.items()}


# ----------------------------------------------------------------------------- MPJPE


def match_people_hungarian(
    gt: np.ndarray, pred: np.ndarray, max_distance_m: float | None = None
) -> np.ndarray:
    """One-to-one GT/prediction person matching minimising the mean joint distance.

    gt: (G, K, 3), pred: (P, K, 3) metres with NaN for absent joints. The cost of a pair is
    the mean 3D distance over joints finite in both; pairs with no common joint, or with
    cost > ``max_distance_m`` (when given), are never matched.
    Returns (N, 2) int64 rows (gt index, pred index), sorted by gt index.
    """
    g = _as_people_array(gt, "gt")
    p = _as_people_array(pred, "pred")
    if g.shape[0] == 0 or p.shape[0] == 0:
        return np.zeros((0, 2), np.int64)
    cost = _mean_joint_distance(g, p)
    allowed = np.isfinite(cost)
    if max_distance_m is not None:
        allowed &= cost <= max_distance_m
    rows, cols = linear_sum_assignment(np.where(allowed, cost, _FORBIDDEN))
    keep = allowed[rows, cols]
    return np.stack([rows[keep], cols[keep]], axis=1).astype(np.int64)


def _root(people: np.ndarray, alignment: str) -> np.ndarray:
    """(N, K, 3) -> (N, 3) root per person (NaN when it cannot be formed)."""
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

    gt: (G, K, 3), pred: (P, K, 3) metres, NaN for absent joints. pairs: (N, 2) from
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


# ----------------------------------------------------------------------------- 3DPCK


def _bin_labels(edges: Sequence[float]) -> tuple[str, ...]:
    labels = [f"<{edges[0]:g}"]
    labels += [f"{a:g}-{b:g}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    labels.append(f">{edges[-1]:g}")
    return tuple(labels)


@dataclass(frozen=True)
class PckCounts:
    """Additive 3DPCK counts (sum frames with ``+``).

    correct_by_joint, total_by_joint: (K,) int64 over all evaluated GT joints.
    correct_by_bin, total_by_bin: (NB,) int64, NB = len(bin_edges_m) + 1, by the GT person's
    camera distance. people_gt / people_matched: evaluated GT people / those with a match.
    """

    correct_by_joint: np.ndarray
    total_by_joint: np.ndarray
    correct_by_bin: np.ndarray
    total_by_bin: np.ndarray
    bin_edges_m: tuple[float, ...] = PCK_DISTANCE_EDGES_M
    people_gt: int = 0
    people_matched: int = 0
    people_skipped: int = 0

    @staticmethod
    def zero(bin_edges_m: Sequence[float] = PCK_DISTANCE_EDGES_M) -> PckCounts:
        nb = len(bin_edges_m) + 1
        z = np.zeros(NUM_JOINTS, np.int64)
        return PckCounts(z, z.copy(), np.zeros(nb, np.int64), np.zeros(nb, np.int64),
                         tuple(float(e) for e in bin_edges_m))

    def __add__(self, other: PckCounts) -> PckCounts:
        if self.bin_edges_m != other.bin_edges_m:
            raise ValueError("cannot add PckCounts with different distance bins")
        return PckCounts(
            self.correct_by_joint + other.correct_by_joint,
            self.total_by_joint + other.total_by_joint,
            self.correct_by_bin + other.correct_by_bin,
            self.total_by_bin + other.total_by_bin,
            self.bin_edges_m,
            self.people_gt + other.people_gt,
            self.people_matched + other.people_matched,
            self.people_skipped + other.people_skipped,
        )

    @property
    def pck(self) -> float:
        """Overall 3DPCK, fraction in [0, 1] (NaN with no GT joint)."""
        return float(_safe_ratio(self.correct_by_joint.sum(), self.total_by_joint.sum()))

    @property
    def bin_labels(self) -> tuple[str, ...]:
        """Distance bin names, e.g. ("<10", "10-20", ..., ">40") (metres)."""
        return _bin_labels(self.bin_edges_m)

    def by_distance(self) -> dict[str, float]:
        """{bin label: 3DPCK} plus "All" (fractions, NaN for empty bins)."""
        pck = _safe_ratio(self.correct_by_bin, self.total_by_bin)
        out = {lab: float(v) for lab, v in zip(self.bin_labels, pck, strict=True)}
        out["All"] = self.pck
        return out

    def by_joint(self) -> dict[str, float]:
        """{joint name: 3DPCK} for the K joints plus "all" (fractions)."""
        pck = _safe_ratio(self.correct_by_joint, self.total_by_joint)
        out = {name: float(v) for name, v in zip(JOINT_NAMES, pck, strict=True)}
        out["all"] = self.pck
        return out

    def by_group(self) -> dict[str, float]:
        """{PandaNet Table 4 group: 3DPCK} (left and right pooled) plus "all"."""
        out = {}
        for name, ks in JOINT_GROUPS.items():
            ks = list(ks)
            out[name] = float(
                _safe_ratio(self.correct_by_joint[ks].sum(), self.total_by_joint[ks].sum())
            )
        out["all"] = self.pck
        return out


def person_distance_m(people: np.ndarray) -> np.ndarray:
    """(N, K, 3) metres -> (N,) camera distance of each person (m).

    ||hip midpoint||, or ||mean of the finite joints|| when a hip is missing; NaN if the
    person has no finite joint.
    """
    root = _root(people, "hips")
    finite = np.all(np.isfinite(people), axis=2, keepdims=True)  # (N, K, 1)
    count = finite.sum(axis=1)  # (N, 1)
    total = np.where(finite, people, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        centroid = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    root = np.where(np.all(np.isfinite(root), axis=1, keepdims=True), root, centroid)
    return np.linalg.norm(root, axis=1)


def pck3d(
    gt: np.ndarray,
    pred: np.ndarray,
    threshold_m: float = 0.15,
    alignment: str = "hips",
    match_max_distance_m: float | None = 1.0,
    bin_edges_m: Sequence[float] = PCK_DISTANCE_EDGES_M,
    pairs: np.ndarray | None = None,
) -> PckCounts:
    """PandaNet's 3DPCK@150mm counts for one frame (add frames with ``+``).

    gt: (G, K, 3), pred: (P, K, 3) metres, NaN for absent joints (a GT person with no finite
    joint is ignored). Protocol (PandaNet Sec. 4): a joint is correct if its 3D error is
    < ``threshold_m`` (150 mm); every joint of a GT person with no matched prediction is
    wrong. PandaNet regresses pelvis-centred poses and its per-joint results (spines 99.9%
    right next to the pelvis; 71% at > 40 m, impossible in absolute coordinates) show the
    error is root-relative, so the default ``alignment="hips"`` translates both poses to
    their hip midpoint (our skeleton has no pelvis). A prediction whose root is missing
    scores its joints wrong; a GT person whose root is missing is skipped (counted in
    ``people_skipped``). "absolute" compares camera-frame positions, "head_top" uses the
    LoCO root. Holes in a matched prediction are wrong.
    Matching: :func:`match_people_hungarian` on absolute positions, pairs with a mean joint
    distance over ``match_max_distance_m`` rejected (None: no gate); or ``pairs`` given.
    Distance bins: ||GT hip midpoint|| (see :func:`person_distance_m`), left-closed
    intervals cut at ``bin_edges_m`` (default <10, 10-20, 20-30, 30-40, >40 m).
    """
    g = _as_people_array(gt, "gt")
    p = _as_people_array(pred, "pred")
    counts = PckCounts.zero(bin_edges_m)
    if g.shape[0] == 0:
        return counts
    if pairs is None:
        pairs = match_people_hungarian(g, p, match_max_distance_m)
    pairs = np.asarray(pairs, np.int64).reshape(-1, 2)
    g_root = _root(g, alignment)
    annotated = np.isfinite(g).all(axis=2).any(axis=1)
    evaluable = np.all(np.isfinite(g_root), axis=1) & annotated
    matched = np.full(g.shape[0], -1, np.int64)
    matched[pairs[:, 0]] = pairs[:, 1]

    present = np.all(np.isfinite(g), axis=2)  # (G, K)
    correct = np.zeros_like(present)
    has = np.flatnonzero((matched >= 0) & evaluable)
    if has.size:
        ga = g[has] - g_root[has, None, :]
        pa = _aligned(p[matched[has]], alignment)
        err = np.linalg.norm(ga - pa, axis=2)
        correct[has] = np.isfinite(err) & (err < threshold_m)
    correct &= present
    present = present & evaluable[:, None]
    correct = correct & evaluable[:, None]

    bins = np.searchsorted(np.asarray(bin_edges_m, np.float64), person_distance_m(g),
                           side="right")
    nb = len(bin_edges_m) + 1
    return PckCounts(
        correct_by_joint=correct.sum(axis=0).astype(np.int64),
        total_by_joint=present.sum(axis=0).astype(np.int64),
        correct_by_bin=np.bincount(bins, correct.sum(axis=1), minlength=nb).astype(np.int64),
        total_by_bin=np.bincount(bins, present.sum(axis=1), minlength=nb).astype(np.int64),
        bin_edges_m=counts.bin_edges_m,
        people_gt=int(evaluable.sum()),
        people_matched=int(((matched >= 0) & evaluable).sum()),
        people_skipped=int((~evaluable & annotated).sum()),
    )


# ----------------------------------------------------------------------------- VHA peak F1


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

    gt_voxels: K arrays (n_k, 3) of integer GT voxels (d, h, w) per joint type.
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
            rows, cols = linear_sum_assignment(np.where(allowed, dist, _FORBIDDEN))
            matched = int(allowed[rows, cols].sum())
        tp += matched
        fp += p.shape[0] - matched
        fn += g.shape[0] - matched
    return PeakCounts(tp=tp, fp=fp, fn=fn)


# ----------------------------------------------------------------------------- tables


def _cell(value: object, float_format: str) -> str:
    if isinstance(value, (float, np.floating)):
        return "-" if np.isnan(value) else format(float(value), float_format)
    return str(value)


def format_markdown_table(
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    float_format: str = ".2f",
) -> str:
    """A GitHub markdown table; floats printed with ``float_format``, NaN as "-"."""
    lines = [
        "| " + " | ".join(str(h) for h in header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
    ]
    for row in rows:
        if len(row) != len(header):
            raise ValueError("every row needs one cell per header column")
        lines.append("| " + " | ".join(_cell(v, float_format) for v in row) + " |")
    return "\n".join(lines)


def jta_table(results: dict[float, dict[str, float]], name: str = "model") -> str:
    """Markdown row(s) shaped like LoCO Table 3 (PR, RE, F1 at each threshold, x100)."""
    ts = sorted(results)
    header = ["method"] + [f"{m}@{t:g}m" for t in ts for m in ("PR", "RE", "F1")]
    row: list[object] = [name]
    for t in ts:
        row += [100.0 * results[t][m] for m in ("pr", "re", "f1")]
    return format_markdown_table(header, [row])


def pck_distance_table(counts: PckCounts, name: str = "model") -> str:
    """Markdown table shaped like PandaNet Table 3 (3DPCK % by camera distance, m)."""
    res = counts.by_distance()
    row = [name] + [100.0 * v for v in res.values()]
    return format_markdown_table(["Dist. (m)", *res], [row], ".1f")


def pck_joint_table(counts: PckCounts, name: str = "model", groups: bool = True) -> str:
    """Markdown table shaped like PandaNet Table 4 (3DPCK % per joint group, or per joint)."""
    res = counts.by_group() if groups else counts.by_joint()
    row = [name] + [100.0 * v for v in res.values()]
    return format_markdown_table(["Method", *res], [row], ".1f")
