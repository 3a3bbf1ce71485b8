"""CLEAR-MOT style evaluation of 3D person tracks against GT identities (pure numpy/scipy).

Per frame (Bernardin & Stiefelhagen 2008, with a 3D distance):

1. Distance between a GT person and a hypothesis = mean 3D distance over the joints finite
   in both (metres); a pair is matchable when it is <= ``match_threshold_m``.
2. Correspondences of the previous frames are kept first: a GT object whose last matched
   hypothesis id is present and still matchable stays with it.
3. The rest are matched by a Hungarian assignment on the distance.
4. Counts: matches; misses (GT left unmatched); false positives (hypotheses left
   unmatched); id switches (a GT object matched to a hypothesis id different from the one
   it was last matched to, at any earlier frame); fragmentations (per GT object, over the
   frames where it is annotated, the number of tracked -> untracked transitions between
   its first and last tracked frame, as py-motmetrics counts them).
5. MOTA = 1 - (misses + false positives + id switches) / GT objects; MOTP = mean matched
   distance (m).

Hypotheses with an empty id (tentative tracks of :class:`loco_ros.runtime.tracking.PersonTracker`)
are ignored by default; with ``ignore_unconfirmed=False`` each gets a fresh anonymous id.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from loco_ros.errors import InputError
from loco_ros.metrics import format_markdown_table
from loco_ros.runtime.tracking import gated_hungarian, mean_joint_distance
from loco_ros.skeleton import NUM_JOINTS


@dataclass(frozen=True)
class MotCounts:
    """Totals over a sequence (or several: add with ``+``)."""

    frames: int = 0
    gt: int = 0  # GT objects summed over frames
    hypotheses: int = 0  # evaluated hypotheses summed over frames
    matches: int = 0
    misses: int = 0
    false_positives: int = 0
    id_switches: int = 0
    fragmentations: int = 0
    distance_sum_m: float = 0.0

    def __add__(self, other: MotCounts) -> MotCounts:
        return MotCounts(*(a + b for a, b in zip(_fields(self), _fields(other), strict=True)))

    @property
    def mota(self) -> float:
        """1 - (misses + FP + IDSW) / GT, a fraction <= 1 (NaN without GT)."""
        errors = self.misses + self.false_positives + self.id_switches
        return 1.0 - errors / self.gt if self.gt else float("nan")

    @property
    def motp_m(self) -> float:
        """Mean distance of the matches (m), NaN without matches."""
        return self.distance_sum_m / self.matches if self.matches else float("nan")

    def as_row(self) -> list[object]:
        """Cells for :func:`mot_table`."""
        return [self.frames, self.gt, self.matches, self.misses, self.false_positives,
                self.id_switches, self.fragmentations, 100.0 * self.mota, self.motp_m]


_HEADER = ["frames", "GT", "matches", "misses", "FP", "IDSW", "FRAG", "MOTA %", "MOTP m"]


def _fields(c: MotCounts) -> tuple:
    return (c.frames, c.gt, c.hypotheses, c.matches, c.misses, c.false_positives,
            c.id_switches, c.fragmentations, c.distance_sum_m)


def mot_table(results: dict[str, MotCounts]) -> str:
    """Markdown table, one row per named result."""
    rows = [[name] + counts.as_row() for name, counts in results.items()]
    return format_markdown_table(["sequence"] + _HEADER, rows, ".3f")


class MotAccumulator:
    """Accumulates CLEAR-MOT counts frame by frame (see the module docstring)."""

    def __init__(self, match_threshold_m: float = 1.0, ignore_unconfirmed: bool = True):
        self.match_threshold_m = float(match_threshold_m)
        self.ignore_unconfirmed = ignore_unconfirmed
        self._last_hyp: dict[str, str] = {}  # GT id -> hypothesis id it was last matched to
        self._tracked: dict[str, list[bool]] = {}  # GT id -> tracked flag per annotated frame
        self._counts = MotCounts()
        self._anonymous = 0

    def update(
        self,
        gt_ids: Sequence[object],
        gt_xyz: np.ndarray,
        hyp_ids: Sequence[str],
        hyp_xyz: np.ndarray,
    ) -> None:
        """Add one frame.

        gt_ids: G unique identities (any hashable, compared as str); gt_xyz: (G, J, 3) m.
        hyp_ids: H track ids ("" = tentative); hyp_xyz: (H, J, 3) m. NaN joints allowed.
        """
        gt_keys = [str(g) for g in gt_ids]
        gt = _people(gt_xyz, len(gt_keys), "gt_xyz")
        hyp = _people(hyp_xyz, len(hyp_ids), "hyp_xyz")
        hyp_keys, hyp = self._hypotheses(hyp_ids, hyp)
        if len(set(gt_keys)) != len(gt_keys) or len(set(hyp_keys)) != len(hyp_keys):
            raise InputError("tracking eval: ids must be unique within a frame")
        dist = mean_joint_distance(gt, hyp)
        pairs = self._match(gt_keys, hyp_keys, dist)
        switches = 0
        for g, h in pairs:
            previous = self._last_hyp.get(gt_keys[g])
            if previous is not None and previous != hyp_keys[h]:
                switches += 1
            self._last_hyp[gt_keys[g]] = hyp_keys[h]
        tracked = {g for g, _ in pairs}
        for g, key in enumerate(gt_keys):
            self._tracked.setdefault(key, []).append(g in tracked)
        n = len(pairs)
        self._counts = self._counts + MotCounts(
            frames=1, gt=len(gt_keys), hypotheses=len(hyp_keys), matches=n,
            misses=len(gt_keys) - n, false_positives=len(hyp_keys) - n,
            id_switches=switches,
            distance_sum_m=float(sum(dist[g, h] for g, h in pairs)),
        )

    def counts(self) -> MotCounts:
        """Totals so far, fragmentations included."""
        return MotCounts(*_fields(self._counts)[:7], _fragmentations(self._tracked),
                         self._counts.distance_sum_m)

    def _hypotheses(self, hyp_ids: Sequence[str], hyp: np.ndarray) -> tuple[list[str], np.ndarray]:
        keys = [str(h) for h in hyp_ids]
        if self.ignore_unconfirmed:
            keep = [i for i, k in enumerate(keys) if k]
            return [keys[i] for i in keep], hyp[keep]
        for i, k in enumerate(keys):
            if not k:
                self._anonymous += 1
                keys[i] = f"?{self._anonymous}"
        return keys, hyp

    def _match(self, gt_keys: list[str], hyp_keys: list[str], dist: np.ndarray) -> list:
        """(gt index, hyp index) pairs: kept correspondences, then Hungarian."""
        ok = dist <= self.match_threshold_m
        hyp_index = {k: i for i, k in enumerate(hyp_keys)}
        pairs = []
        for g, key in enumerate(gt_keys):
            h = hyp_index.get(self._last_hyp.get(key, ""), -1)
            if h >= 0 and ok[g, h]:
                pairs.append((g, h))
        used_g = {g for g, _ in pairs}
        used_h = {h for _, h in pairs}
        rows = np.array([g for g in range(len(gt_keys)) if g not in used_g], np.int64)
        cols = np.array([h for h in range(len(hyp_keys)) if h not in used_h], np.int64)
        if rows.size and cols.size:
            sub = dist[np.ix_(rows, cols)]
            gate = np.full(rows.size, self.match_threshold_m)
            for r, c in gated_hungarian(sub, gate):
                pairs.append((int(rows[r]), int(cols[c])))
        return pairs


def _people(xyz: np.ndarray, n: int, name: str) -> np.ndarray:
    arr = np.asarray(xyz, np.float64)
    if n == 0 and arr.size == 0:
        return np.zeros((0, NUM_JOINTS, 3))
    if arr.shape != (n, NUM_JOINTS, 3):
        raise InputError(f"tracking eval: {name} must be ({n}, {NUM_JOINTS}, 3)")
    return arr


def _fragmentations(tracked: dict[str, list[bool]]) -> int:
    total = 0
    for flags in tracked.values():
        on = np.flatnonzero(flags)
        if on.size < 2:
            continue
        span = np.asarray(flags[on[0]:on[-1] + 1], np.int8)
        total += int(np.sum((span[:-1] == 1) & (span[1:] == 0)))
    return total


def evaluate_tracking(
    frames: Iterable[tuple],
    match_threshold_m: float = 1.0,
    ignore_unconfirmed: bool = True,
) -> MotCounts:
    """CLEAR-MOT counts of one sequence.

    frames: iterable of ``(gt_ids, gt_xyz (G, J, 3), hyp_ids, hyp_xyz (H, J, 3))``, metres.
    """
    acc = MotAccumulator(match_threshold_m, ignore_unconfirmed)
    for gt_ids, gt_xyz, hyp_ids, hyp_xyz in frames:
        acc.update(gt_ids, gt_xyz, hyp_ids, hyp_xyz)
    return acc.counts()
