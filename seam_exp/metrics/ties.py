"""When two gold rewards count as equal: the one tolerance every metric and the labeler use.

Gold is deterministic, so equal texts give equal floats, but the same judgement reached through a
different sum of weighted terms can differ in the last bits; distinct judgements differ by far more
(the smallest gold step is a weighted fraction of about 1e-2), so 1e-9 separates the two cases.
"""

from __future__ import annotations

import numpy as np

GOLD_TIE_ATOL = 1e-9


def gold_order(a, b) -> np.ndarray:
    """+1 where a is better than b by gold, -1 where worse, 0 where they tie (elementwise)."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return np.where(np.abs(diff) <= GOLD_TIE_ATOL, 0, np.sign(diff)).astype(np.int64)
