"""Recall binned by one named quantity of the reference people (image height, distance)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class BinnedRecall:
    """Reference people and those found, per bin [edges[i], edges[i+1]) of ``quantity``.

    ``edges`` ascend; the last may be ``inf`` (an open bin). Values outside every bin (or
    NaN) are not counted.
    """

    quantity: str
    edges: tuple[float, ...]
    reference: np.ndarray = field(init=False)
    found: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        if len(self.edges) < 2 or np.any(np.diff(self.edges) <= 0):
            raise ValueError(f"bin edges must ascend, at least two: {self.edges}")
        self.reference = np.zeros(len(self.edges) - 1, np.int64)
        self.found = np.zeros(len(self.edges) - 1, np.int64)

    def add(self, values: np.ndarray, found: np.ndarray) -> None:
        """``values`` (C,) of the quantity and ``found`` (C,) bool of some reference people."""
        bins = np.digitize(np.asarray(values, np.float64), self.edges) - 1
        inside = (bins >= 0) & (bins < len(self.reference))
        np.add.at(self.reference, bins[inside], 1)
        np.add.at(self.found, bins[inside], np.asarray(found, bool)[inside].astype(np.int64))

    def rows(self) -> list[dict]:
        """One dict per bin: ``quantity``: [lo, hi) (hi None: no upper edge), reference,
        found, recall (None if the bin is empty)."""
        return [{self.quantity: [lo, None if np.isinf(hi) else hi], "reference": int(n),
                 "found": int(k), "recall": k / n if n else None}
                for lo, hi, n, k in zip(self.edges[:-1], self.edges[1:], self.reference,
                                        self.found, strict=True)]


def bin_label(span: list) -> str:
    """``[lo, hi]`` of :meth:`BinnedRecall.rows` as text: ``lo-hi`` or ``>= lo``."""
    lo, hi = span
    return f"{lo:g}-{hi:g}" if hi is not None else f">= {lo:g}"
