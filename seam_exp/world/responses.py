"""Responses of varied quality to one prompt: the raw material of preference pairs.

Kinds, from best to worst by construction (gold decides the real order):
    correct    the reference answer
    terse      the gold value in a short phrasing that does not restate the question
    verbose    the reference followed by true-sounding but useless filler sentences
    malformed  the reference with broken form (lower case start, stray symbols, no final period)
    partial    a near-miss answer (off by a little, one swap, the other number)
    rambling   the reference drowned in off-topic, repetitive talk
    wrong      a clearly wrong answer in the reference phrasing
    off_topic  a fluent answer to a different question
"""

from __future__ import annotations

import numpy as np

from seam_exp.world.families import Family, Problem

KINDS = ("correct", "terse", "verbose", "malformed", "partial", "rambling", "wrong", "off_topic")

_FILLER = [
    "I worked this out step by step.",
    "This is a common kind of question.",
    "I checked the result carefully.",
    "Let me know if you need anything else.",
    "I hope this helps you.",
    "The question is clear and simple.",
]
_RAMBLE = [
    "By the way the weather is nice today.",
    "I like to think about many things.",
    "there are many things and many things to say.",
    "and so on and so on and so on.",
    "Anyway that reminds me of a long story.",
]
_JUNK = ["#", "@@", "~", "%", "*"]


def make_response(
    kind: str,
    problem: Problem,
    family: Family,
    rng: np.random.Generator,
    other: Problem | None = None,
) -> str:
    """One response of `kind` to `problem`; `other` is a different prompt, needed for off_topic."""
    if kind == "correct":
        return problem.reference
    if kind == "terse":
        return problem.alt_reference
    if kind == "verbose":
        n = int(rng.integers(2, 5))
        return " ".join([problem.reference, *rng.choice(_FILLER, size=n, replace=False)])
    if kind == "malformed":
        return _malform(problem.reference, rng)
    if kind == "partial":
        return family.restate(problem, family.wrong_value(problem, rng, near=True))
    if kind == "rambling":
        n = int(rng.integers(3, 6))
        return " ".join([problem.reference, *rng.choice(_RAMBLE, size=n, replace=True)])
    if kind == "wrong":
        return family.restate(problem, family.wrong_value(problem, rng, near=False))
    if kind == "off_topic":
        if other is None:
            raise ValueError("off_topic responses need another prompt's problem")
        return other.reference
    raise ValueError(f"unknown response kind {kind!r}; valid: {', '.join(KINDS)}")


def _malform(text: str, rng: np.random.Generator) -> str:
    # Damage form, never the answer: junk goes between words, never inside a number or the final word.
    words = text.rstrip(".").split(" ")
    words[0] = words[0][0].lower() + words[0][1:]
    slot = int(rng.integers(1, max(2, len(words) - 1)))
    words.insert(slot, str(rng.choice(_JUNK)))
    joiner = "  " if rng.random() < 0.5 else " "
    return joiner.join(words)
