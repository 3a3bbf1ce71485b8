"""Gated one-to-one assignment (Hungarian): the matching under the tracker, the person and
peak metrics and the association of candidates to people.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

# Cost given to a forbidden pair: far above any real cost, so the assignment first makes as
# many allowed pairs as it can, then the cheapest ones.
FORBIDDEN_COST = 1.0e9


def gated_assignment(cost: np.ndarray, allowed: np.ndarray,
                     forbidden_cost: float = FORBIDDEN_COST) -> np.ndarray:
    """Min-cost one-to-one assignment of rows to columns over the allowed pairs only.

    cost: (R, C) float, any unit (metres, pixels, voxels); allowed: (R, C) bool (a NaN or inf
    cost must be disallowed by the caller). Returns (N, 2) int64 (row, column) pairs, allowed
    pairs only, sorted by row.
    """
    if cost.shape[0] == 0 or cost.shape[1] == 0:
        return np.zeros((0, 2), np.int64)
    rows, cols = linear_sum_assignment(np.where(allowed, cost, forbidden_cost))
    keep = allowed[rows, cols]
    return np.stack([rows[keep], cols[keep]], axis=1).astype(np.int64)
