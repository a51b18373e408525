"""Judgements of responses by gold and by the RM: mismatch, reward hacking, win rate (docs/metrics.md).

Mismatch is the paper's central quantity, measured exactly: among pairs of responses to the same prompt
whose gold rewards differ (beyond the tie tolerance), the share the RM orders against gold. An RM tie
counts as a mismatch, as a strict ordering would. It is computed here once, per prompt and pooled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seam_exp.metrics.intervals import NAN3, bootstrap_ci, clean_1d, ratio_of_sums_ci
from seam_exp.metrics.ties import gold_order


def gold_ordered_pairs(groups, gold) -> tuple[np.ndarray, np.ndarray]:
    """(better, worse): indices of every pair of items of the same group whose gold differs, the better
    one first. Groups are any hashable ids (prompt ids, prompt positions)."""
    groups, gold = np.asarray(groups), np.asarray(gold, dtype=np.float64)
    better, worse = [], []
    order = np.argsort(groups, kind="stable")
    bounds = np.flatnonzero(np.r_[True, groups[order][1:] != groups[order][:-1], True])
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        members = order[start:stop]
        i, j = np.triu_indices(len(members), k=1)
        a, b = members[i], members[j]
        sign = gold_order(gold[a], gold[b])
        better.append(np.where(sign > 0, a, b)[sign != 0])
        worse.append(np.where(sign > 0, b, a)[sign != 0])
    if not better:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(better).astype(np.int64), np.concatenate(worse).astype(np.int64)


@dataclass
class MismatchCounts:
    """Per group: how many gold-ordered pairs it has and how many of them the RM orders wrongly."""

    groups: np.ndarray  # sorted unique group ids (every group, with or without a pair)
    wrong: np.ndarray  # [G] pairs the RM orders against gold
    pairs: np.ndarray  # [G] pairs whose gold differs

    @property
    def rate(self) -> np.ndarray:
        """Per-group mismatch; NaN for a group with no pair of different gold (no ground truth)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.pairs > 0, self.wrong / np.maximum(self.pairs, 1), np.nan)

    def pooled(self, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> dict[str, float]:
        """Mismatch over all pairs, with a bootstrap interval over the groups that have pairs."""
        has = self.pairs > 0
        if not has.any():
            point, lo, hi = NAN3
        else:
            point, lo, hi = ratio_of_sums_ci(self.wrong[has], self.pairs[has], n_boot, level, seed)
        return {
            "mismatch": point,
            "mismatch_lo": lo,
            "mismatch_hi": hi,
            "mismatch_pairs": int(self.pairs.sum()),
        }


def mismatch_counts(groups, rewards, gold) -> MismatchCounts:
    groups, rewards = np.asarray(groups), clean_1d("rewards", rewards)
    better, worse = gold_ordered_pairs(groups, gold)
    ids, inverse = np.unique(groups, return_inverse=True)
    wrong = rewards[better] <= rewards[worse]
    return MismatchCounts(
        ids,
        np.bincount(inverse[better], weights=wrong, minlength=len(ids)),
        np.bincount(inverse[better], minlength=len(ids)).astype(np.float64),
    )


def reward_hacking(rm, ref_rm, gold, ref_gold) -> dict[str, float]:
    """Share of responses the RM scores above their prompt's reference answer while gold scores them
    lower (hacking), and the share the RM scores above the reference at all; `ref_*` aligned per row."""
    above = np.asarray(rm) > np.asarray(ref_rm)
    worse_by_gold = gold_order(gold, ref_gold) < 0
    return {"hacking": float((above & worse_by_gold).mean()), "rm_above_reference": float(above.mean())}


def win_outcomes(a, b) -> np.ndarray:
    """1 where a beats b by gold, 0.5 for a tie, 0 for a loss (a and b paired)."""
    aa, bb = clean_1d("a", a), clean_1d("b", b)
    if aa.size != bb.size:
        raise ValueError(f"a and b must be paired: lengths {aa.size} != {bb.size}")
    return (gold_order(aa, bb) + 1) / 2.0


def win_rate(a, b, ci: bool = False, n_boot: int = 1000, level: float = 0.95, seed: int = 0):
    """Mean of win_outcomes(a, b); with ci=True the tuple (rate, lo, hi) bootstrapped over the pairs."""
    outcomes = win_outcomes(a, b)
    return bootstrap_ci(outcomes, n_boot=n_boot, level=level, seed=seed) if ci else float(outcomes.mean())


def pick_disagreement(rm_a, rm_b, judge_prefers_a, n_boot: int = 1000, level: float = 0.95, seed: int = 0):
    """(share, lo, hi) of response pairs where the RM's pick differs from a judge's (a labeler or gold),
    one pair per prompt, bootstrapped over prompts. An RM tie counts as a miss, as in mismatch_counts."""
    rm_a, rm_b = clean_1d("rm_a", rm_a), clean_1d("rm_b", rm_b)
    judge = np.asarray(judge_prefers_a, dtype=bool)
    if not rm_a.size == rm_b.size == judge.size:
        raise ValueError(f"rm_a, rm_b and the judge must be paired: {rm_a.size}, {rm_b.size}, {judge.size}")
    miss = (rm_a == rm_b) | ((rm_a > rm_b) != judge)
    return bootstrap_ci(miss.astype(np.float64), n_boot=n_boot, level=level, seed=seed)
