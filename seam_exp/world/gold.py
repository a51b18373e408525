"""The gold reward g(x, y): the world's stand-in for human judgement.

    g(x, y) = w_c * C + w_r * R + w_f * F - w_v * V - w_p * P

    C  correctness in [0, 1]: the answer stated in the first sentence of y against the gold value
       (exact = 1; families with a notion of "close" give partial credit: numeric near-misses 0.25,
       sorting the fraction of positions right).
    R  relevance in [0, 1]: share of the question's key terms (its numbers, entity, units, target word)
       that y mentions.
    F  well-formedness in [0, 1]: mean of four checks: starts with a capital letter or digit, ends with
       a period, only plain characters (letters, digits, spaces, , . : ? ' -), no doubled spaces; all
       read on the text without leading and trailing whitespace, like every other term, so a text and
       its stripped copy get the same gold.
    V  verbosity in [0, 1]: min(1, max(0, |y| - 1.5 |y+|) / (3 |y+|)), lengths in words, y+ the
       reference answer: up to 1.5x the reference is free, 4.5x costs the whole weight.
    P  repetition in [0, 1]: share of word 3-grams of y that repeat an earlier 3-gram.

Default weights (w_c, w_r, w_f, w_v, w_p) = (2.0, 0.5, 0.5, 0.6, 1.0): correctness dominates, so any
correct answer outranks any wrong one unless it is badly degenerate, and the reference scores the
maximum 3.0. Secondary terms make length, form and repetition matter, which an RM can misread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from seam_exp.world.families import Family, Problem

_PLAIN = re.compile(r"^[A-Za-z0-9 ,.:?'\-]*$")
_WORD = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True)
class GoldWeights:
    correct: float = 2.0
    relevance: float = 0.5
    form: float = 0.5
    verbosity: float = 0.6
    repetition: float = 1.0


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def relevance(problem: Problem, response: str) -> float:
    said = set(words(response))
    terms = [t.lower() for t in problem.key_terms]
    return sum(t in said for t in terms) / len(terms) if terms else 1.0


def form(response: str) -> float:
    text = response.strip()
    if not text:
        return 0.0
    checks = (
        text[0].isupper() or text[0].isdigit(),
        text.endswith("."),
        bool(_PLAIN.match(text)),
        "  " not in text,
    )
    return sum(checks) / len(checks)


def verbosity(problem: Problem, response: str) -> float:
    ref_len = max(1, len(words(problem.reference)))
    excess = len(words(response)) - 1.5 * ref_len
    return min(1.0, max(0.0, excess / (3 * ref_len)))


def repetition(response: str) -> float:
    w = words(response)
    grams = [tuple(w[i : i + 3]) for i in range(len(w) - 2)]
    if len(grams) < 2:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)


def gold_components(family: Family, problem: Problem, response: str) -> dict[str, float]:
    return {
        "correct": family.credit(problem, response),
        "relevance": relevance(problem, response),
        "form": form(response),
        "verbosity": verbosity(problem, response),
        "repetition": repetition(response),
    }


def gold_reward(
    family: Family, problem: Problem, response: str, weights: GoldWeights = GoldWeights()
) -> float:
    c = gold_components(family, problem, response)
    return (
        weights.correct * c["correct"]
        + weights.relevance * c["relevance"]
        + weights.form * c["form"]
        - weights.verbosity * c["verbosity"]
        - weights.repetition * c["repetition"]
    )
