"""Holm's step-down correction of p-values for a family of comparisons (docs/metrics.md, "Several methods
against one baseline").

Written here because scipy offers only false-discovery-rate control (`scipy.stats.false_discovery_control`)
and statsmodels, which has Holm, is not worth a dependency for these few lines.
"""

from __future__ import annotations

import numpy as np


def holm(p_values) -> np.ndarray:
    """Holm-adjusted p-values, in the input order: the k-th smallest of m p-values is multiplied by
    (m - k + 1), made monotone along that order and capped at 1. Rejecting where the adjusted p is below
    alpha controls the family-wise error rate at alpha. NaN p-values (no test) stay NaN and do not count."""
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full(p.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    m = order.size
    scaled = p[order] * (m - np.arange(m))
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted
