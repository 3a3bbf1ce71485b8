"""PandaNet's 3DPCK@150mm with camera-distance bins and a per-joint / per-group breakdown.

Inputs: (G, J, 3) ground truth and (P, J, 3) predictions, J = 14 joints, 3D points in metres
(camera optical frame), absent joints NaN. Thresholds and distance bin edges in metres;
3DPCK values are fractions in [0, 1] (the tables print them as %).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from loco_ros.metrics._common import _as_people_array, _safe_ratio
from loco_ros.metrics.mpjpe import _aligned, _root, match_people_hungarian
from loco_ros.skeleton import JOINT_INDEX, JOINT_NAMES, NUM_JOINTS

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


def _bin_labels(edges: Sequence[float]) -> tuple[str, ...]:
    labels = [f"<{edges[0]:g}"]
    labels += [f"{a:g}-{b:g}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
    labels.append(f">{edges[-1]:g}")
    return tuple(labels)


@dataclass(frozen=True)
class PckCounts:
    """Additive 3DPCK counts (sum frames with ``+``).

    correct_by_joint, total_by_joint: (J,) int64 over all evaluated GT joints.
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
        """{joint name: 3DPCK} for the J joints plus "all" (fractions)."""
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
    """(N, J, 3) metres -> (N,) camera distance of each person (m).

    ||hip midpoint||, or ||mean of the finite joints|| when a hip is missing; NaN if the
    person has no finite joint.
    """
    root = _root(people, "hips")
    finite = np.all(np.isfinite(people), axis=2, keepdims=True)  # (N, J, 1)
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

    gt: (G, J, 3), pred: (P, J, 3) metres, NaN for absent joints (a GT person with no finite
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

    present = np.all(np.isfinite(g), axis=2)  # (G, J)
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
