"""Responses of varied quality to one prompt: the raw material of preference pairs.

A response is a *content* said in a *style*, drawn independently so that no style gives away correctness
(if only correct answers were ever verbose, an RM could learn "filler means right" and never check the
answer). Contents: correct (the gold value), partial (a near miss), wrong, off_topic (the answer to
another question). Styles: plain (the reference phrasing), terse (a short phrasing that does not restate
the question), verbose (useless filler sentences appended), malformed (lower-case start, stray symbols,
no final period), rambling (off-topic, repetitive talk appended).

Kinds are named "content/style" ("wrong/verbose"); the plain style is left out ("wrong"), and correct
answers go by their style alone ("terse", "verbose", ...), so "correct" is the reference itself.
"""

from __future__ import annotations

import numpy as np

from seam_exp.world.families import Family, Problem

CONTENTS = ("correct", "partial", "wrong", "off_topic")
STYLES = ("plain", "terse", "verbose", "malformed", "rambling")


def kind_name(content: str, style: str) -> str:
    if style == "plain":
        return content
    return style if content == "correct" else f"{content}/{style}"


def parse_kind(kind: str) -> tuple[str, str]:
    if "/" in kind:
        content, style = kind.split("/", 1)
    elif kind in CONTENTS:
        content, style = kind, "plain"
    else:
        content, style = "correct", kind
    if content not in CONTENTS or style not in STYLES:
        raise ValueError(f"unknown response kind {kind!r}; valid: {', '.join(KINDS)}")
    return content, style


KINDS = tuple(kind_name(c, s) for c in CONTENTS for s in STYLES)

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
    content, style = parse_kind(kind)
    plain, terse = _content(content, problem, family, rng, other)
    if style == "plain":
        return plain
    if style == "terse":
        return terse
    if style == "verbose":
        n = int(rng.integers(2, 5))
        return " ".join([plain, *rng.choice(_FILLER, size=n, replace=False)])
    if style == "malformed":
        return _malform(plain, rng)
    n = int(rng.integers(3, 6))  # rambling
    return " ".join([plain, *rng.choice(_RAMBLE, size=n, replace=True)])


def _content(content: str, problem: Problem, family: Family, rng, other: Problem | None) -> tuple[str, str]:
    """The content in the reference phrasing and in the terse phrasing."""
    if content == "correct":
        return problem.reference, problem.alt_reference
    if content == "off_topic":
        if other is None:
            raise ValueError("off_topic responses need another prompt's problem")
        return other.reference, other.alt_reference
    value = family.wrong_value(problem, rng, near=content == "partial")
    return family.restate(problem, value), family.restate(problem, value, alt=True)


def _malform(text: str, rng: np.random.Generator) -> str:
    # Damage form, never the answer: junk goes between words, never inside a number or the final word.
    words = text.rstrip(".").split(" ")
    words[0] = words[0][0].lower() + words[0][1:]
    slot = int(rng.integers(1, max(2, len(words) - 1)))
    words.insert(slot, str(rng.choice(_JUNK)))
    joiner = "  " if rng.random() < 0.5 else " "
    return joiner.join(words)
