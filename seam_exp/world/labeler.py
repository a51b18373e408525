"""The simulated human labeler: Bradley-Terry on gold reward, with noise and explicit ties.

    P(a > b) = sigmoid((g(a) - g(b)) / tau)

then, with probability `noise`, the label is flipped (a careless labeler). Pairs whose gold scores tie
(seam_exp.metrics.ties: the one tie tolerance of the project) are ties; `tie_policy` says what happens to them: "drop" (not labeled), "half"
(label 0.5: the RM loss then pulls the two rewards together) or "random" (a coin flip, as a labeler
forced to choose would do).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seam_exp.metrics.ties import gold_order

TIE_POLICIES = ("drop", "half", "random")


@dataclass(frozen=True)
class Label:
    a_preferred: bool
    target: float  # probability that a is preferred, as the RM loss will see it: 1.0, or 0.5 for a tie
    is_tie: bool
    p_gold: float  # the Bradley-Terry probability before noise (what an infinitely patient labeler reports)


class HumanLabeler:
    def __init__(self, tau: float, noise: float = 0.0, tie_policy: str = "drop"):
        if tau <= 0:
            raise ValueError(f"labeler tau must be > 0, got {tau}")
        if not 0 <= noise <= 0.5:
            raise ValueError(f"labeler noise must be in [0, 0.5], got {noise}")
        if tie_policy not in TIE_POLICIES:
            raise ValueError(f"unknown tie_policy {tie_policy!r}; valid: {', '.join(TIE_POLICIES)}")
        self.tau, self.noise, self.tie_policy = tau, noise, tie_policy

    def prob(self, g_a: float, g_b: float) -> float:
        return float(1.0 / (1.0 + np.exp(-(g_a - g_b) / self.tau)))

    def label(self, g_a: float, g_b: float, rng: np.random.Generator) -> Label | None:
        """The labeler's verdict on (a, b), or None when a tie is dropped."""
        p = self.prob(g_a, g_b)
        if gold_order(g_a, g_b) == 0:
            if self.tie_policy == "drop":
                return None
            if self.tie_policy == "half":
                return Label(True, 0.5, True, p)
            return Label(bool(rng.random() < 0.5), 1.0, True, p)
        a_wins = bool(rng.random() < p)
        if rng.random() < self.noise:
            a_wins = not a_wins
        return Label(a_wins, 1.0, False, p)


def agreement_with_gold(labeler: HumanLabeler, gold_a, gold_b, seed: int = 0) -> float:
    """Share of non-tied pairs where the labeler prefers the response with the higher gold score."""
    rng = np.random.default_rng(seed)
    agree = total = 0
    for g_a, g_b in zip(gold_a, gold_b, strict=True):
        if gold_order(g_a, g_b) == 0:
            continue
        lab = labeler.label(g_a, g_b, rng)
        total += 1
        agree += lab.a_preferred == (g_a > g_b)
    return agree / total if total else float("nan")
