"""adv: the worse answers of a prompt are seeded perturbations of its reference answer (seam.adv).

`perturb(text, rate, rng)` touches about `rate` of the words with a mix of typo-like edits (character
insertion/deletion/substitution), word swaps and deletions, and domain errors (a changed number, a
swapped name). Every touched word really changes, so the result always differs from the input.

How the rate is honoured: with n words the edit budget is floor(rate * n) plus one more with probability
frac(rate * n) (so its expectation is exactly rate * n), at least 1 so the output differs. A word is
touched at most once; a swap touches two words and costs two. If fewer words admit the chosen ops
(e.g. ops=("number",) on a text with two numbers), fewer are touched.

nlpaug: its RandomCharAug does the character edits, applied to one chosen word at a time. It draws from
the global `random` module, so each call runs under a temporarily seeded global state that is then
restored (deterministic per seed, but not thread-safe). Word swap/delete are hand-written: importing
nlpaug.augmenter.word pulls in transformers (~4 s), and its word ops pick ceil(p * n) words and
re-join tokens with normalised spacing, which breaks both the expected-rate contract and exact layout.
Number and name changes are domain-specific, so they are hand-written too.
"""

from __future__ import annotations

import functools
import random
import re
import string
import sys
from collections.abc import Sequence
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np

from seam_exp.seam.candidates.base import Worse, WorseAnswerBuilder, prompt_rng
from seam_exp.utils.cache import code_version
from seam_exp.world.build import World

ALL_OPS = ("char_insert", "char_delete", "char_substitute", "word_swap", "word_delete", "number", "name")
DEFAULT_NAMES = (
    "Alice",
    "Bob",
    "Carol",
    "David",
    "Emma",
    "Frank",
    "Grace",
    "Henry",
    "Irene",
    "Jack",
    "Karen",
    "Liam",
    "Maria",
    "Noah",
    "Olivia",
    "Peter",
    "Quinn",
    "Rosa",
    "Sam",
    "Tina",
)

_SPLIT = re.compile(r"(\S+)")
_CORE = re.compile(r"^(\W*)(.*?)(\W*)$", re.S)  # leading punctuation, core, trailing punctuation
_DIGITS = re.compile(r"\d+")


class Edit(NamedTuple):
    op: str
    index: int  # word position in the input
    before: str
    after: str


@functools.lru_cache(maxsize=1 << 16)  # called for every free word on every planning step
def _split_core(word: str) -> tuple[str, str, str]:
    pre, core, post = _CORE.match(word).groups()
    return pre, core, post


@contextmanager
def _seeded_global_random(seed: int):
    # nlpaug samples from the global `random` (and numpy's legacy global RNG in places): seed both for
    # the call, then put the caller's state back so we neither depend on nor disturb it.
    py_state, np_state = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


@functools.cache
def _char_aug(action: str):
    try:
        from nlpaug.augmenter.char import RandomCharAug
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("seam_exp.seam.adv needs nlpaug for character edits: pip install nlpaug") from e
    # Exactly one word (we pass one) and one character per call; lowercase letters only, like typos.
    return RandomCharAug(
        action=action,
        aug_word_p=1.0,
        aug_word_min=1,
        aug_word_max=1,
        aug_char_min=1,
        aug_char_max=1,
        min_char=1,
        candidates=list(string.ascii_lowercase),
    )


def _char_edit(action: str, core: str, rng: np.random.Generator) -> str:
    aug = _char_aug(action)
    # A substitution can redraw the same letter; retry (still seeded) until the word changes.
    for _ in range(20):
        with _seeded_global_random(int(rng.integers(2**63))):
            out = aug.augment(core)[0]
        if out != core:
            return out
    return core + string.ascii_lowercase[int(rng.integers(26))]  # pragma: no cover - ~26**-20 chance


def _change_number(core: str, rng: np.random.Generator) -> str:
    runs = list(_DIGITS.finditer(core))
    run = runs[int(rng.integers(len(runs)))]
    digits = run.group()
    if rng.random() < 0.5:
        # Change one digit; never turn a multi-digit number's leading digit into 0.
        pos = int(rng.integers(len(digits)))
        lowest = 1 if pos == 0 and len(digits) > 1 else 0
        choices = [d for d in "0123456789"[lowest:] if d != digits[pos]]
        new = digits[:pos] + choices[int(rng.integers(len(choices)))] + digits[pos + 1 :]
    else:
        # Add or subtract a small int (stay non-negative); zfill keeps zero-padding like "05".
        value, delta = int(digits), int(rng.integers(1, 10))
        value = value - delta if rng.random() < 0.5 and value >= delta else value + delta
        new = str(value).zfill(len(digits))
    return core[: run.start()] + new + core[run.end() :]


def _is_name_slot(words: list[str], i: int) -> bool:
    core = _split_core(words[i])[1]
    sentence_start = i == 0 or words[i - 1].rstrip("\"')]").endswith((".", "!", "?", ":"))
    return (
        not sentence_start and len(core) > 1 and core.isalpha() and core[0].isupper() and core[1:].islower()
    )


class _Doc:
    """Words plus the exact whitespace around them, so untouched text is reproduced byte for byte."""

    def __init__(self, text: str):
        parts = _SPLIT.split(text)
        self.seps, self.words = parts[0::2], parts[1::2]  # seps[i] precedes words[i]; seps[-1] trails
        self.deleted: set[int] = set()

    def render(self) -> str:
        kept = [i for i in range(len(self.words)) if i not in self.deleted]
        out = [self.seps[0]]
        for j, i in enumerate(kept):
            out.append((self.seps[i] if j else "") + self.words[i])
        out.append(self.seps[-1])
        return "".join(out)


def _applicable(op: str, doc: _Doc, touched: set[int], budget: int, names: Sequence[str]) -> list[int]:
    free = [i for i in range(len(doc.words)) if i not in touched]
    cores = {i: _split_core(doc.words[i])[1] for i in free}
    if op == "char_insert":
        return [i for i in free if cores[i].isalpha()]
    if op in ("char_delete", "char_substitute"):
        # Deleting from a 1-letter word would delete the word; that is word_delete's job.
        return [i for i in free if cores[i].isalpha() and len(cores[i]) >= (2 if op == "char_delete" else 1)]
    if op == "word_swap":
        if budget < 2:
            return []
        return [i for i in free if i + 1 in cores and cores[i] and cores[i + 1] and cores[i] != cores[i + 1]]
    if op == "word_delete":
        return free if len(doc.words) - len(doc.deleted) > 1 else []
    if op == "number":
        return [i for i in free if _DIGITS.search(cores[i])]
    if op == "name":
        return [i for i in free if _is_name_slot(doc.words, i) and any(n != cores[i] for n in names)]
    raise ValueError(f"unknown op {op!r}; choose from {ALL_OPS}")


def _apply(op: str, doc: _Doc, i: int, rng: np.random.Generator, names: Sequence[str]) -> list[Edit]:
    pre, core, post = _split_core(doc.words[i])
    before = doc.words[i]
    if op == "word_swap":
        pre2, core2, post2 = _split_core(doc.words[i + 1])
        after, after2 = pre + core2 + post, pre2 + core + post2  # punctuation stays in place
        doc.words[i], doc.words[i + 1] = after, after2
        return [Edit(op, i, before, after), Edit(op, i + 1, pre2 + core2 + post2, after2)]
    if op == "word_delete":
        doc.deleted.add(i)
        nxt = next((j for j in range(i + 1, len(doc.words)) if j not in doc.deleted), None)
        if i == 0 and nxt is not None and core[:1].isupper():
            doc.words[nxt] = doc.words[nxt][:1].upper() + doc.words[nxt][1:]  # keep a capital first word
        return [Edit(op, i, before, "")]
    if op.startswith("char_"):
        core = _char_edit(op.removeprefix("char_"), core, rng)
    elif op == "number":
        core = _change_number(core, rng)
    elif op == "name":
        options = [n for n in names if n != core]
        core = options[int(rng.integers(len(options)))]
    doc.words[i] = pre + core + post
    return [Edit(op, i, before, doc.words[i])]


def perturb_with_edits(
    text: str,
    rate: float,
    rng: np.random.Generator | int,
    ops: Sequence[str] = ALL_OPS,
    names: Sequence[str] = DEFAULT_NAMES,
) -> tuple[str, list[Edit]]:
    """`perturb`, also returning the edits made (word positions refer to the input)."""
    if not 0 <= rate <= 1:
        raise ValueError(f"rate must be in [0, 1], got {rate}")
    for op in ops:
        if op not in ALL_OPS:
            raise ValueError(f"unknown op {op!r}; choose from {ALL_OPS}")
    rng = np.random.default_rng(rng)
    doc = _Doc(text)
    n = len(doc.words)
    if n == 0:
        return text, []
    expected = rate * n
    budget = int(expected) + int(rng.random() < expected - int(expected))
    budget = min(max(budget, 1), n)
    touched: set[int] = set()
    edits: list[Edit] = []
    while budget > 0:
        options = {op: pos for op in ops if (pos := _applicable(op, doc, touched, budget, names))}
        if not options:
            break
        op = list(options)[int(rng.integers(len(options)))]  # op first, then position: ops stay balanced
        i = options[op][int(rng.integers(len(options[op])))]
        new = _apply(op, doc, i, rng, names)
        touched.update(e.index for e in new)
        edits.extend(new)
        budget -= len(new)
    out = doc.render()
    if out == text:
        # No requested op applied anywhere (say, no numbers for ops=("number",)) or edits cancelled out:
        # insert a letter into some word, by hand, since that word may not be alphabetic.
        # (Edits never cancel, as each word is touched at most once, so here nothing was edited at all.)
        i = int(rng.integers(n))
        word = doc.words[i]
        pos = int(rng.integers(len(word) + 1))
        doc.words[i] = word[:pos] + string.ascii_lowercase[int(rng.integers(26))] + word[pos:]
        edits.append(Edit("fallback_insert", i, word, doc.words[i]))
        out = doc.render()
    return out, edits


def perturb(text: str, rate: float, rng: np.random.Generator | int, **options) -> str:
    """Seeded perturbation of `text` touching about `rate` of its words (`options`: ops, names; see the
    module doc and perturb_with_edits).

    rng is a numpy Generator (advanced in place) or an int seed; same seed, same output. The output
    differs from the input whenever the input has at least one word.
    """
    return perturb_with_edits(text, rate, rng, **options)[0]


def world_names(world: World) -> list[str]:
    """Names a `name` edit may swap in: the world's countries and capitals, so a swap stays plausible; a
    prompt table (seam.prompt_table) has no such list and swaps in the built-in names."""
    facts = getattr(world, "facts", None)
    return (
        sorted({*facts.entities, *facts.values_of("capital")}) if facts is not None else list(DEFAULT_NAMES)
    )


class AdvBuilder(WorseAnswerBuilder):
    variant = "adv"

    def __init__(self, rate: float, ops: Sequence[str] = ALL_OPS, attempts: int = 8):
        if not 0 < rate <= 1:
            raise ValueError(f"adv rate must be in (0, 1], got {rate}")
        unknown = [op for op in ops if op not in ALL_OPS]
        if unknown or not ops:
            raise ValueError(f"unknown adv op {unknown[:1]}; valid: {', '.join(ALL_OPS)}")
        self.rate, self.ops, self.attempts = float(rate), list(ops), attempts

    def settings(self) -> dict:
        return {
            "rate": self.rate,
            "ops": self.ops,
            "attempts": self.attempts,
            "code": code_version(sys.modules[__name__]),
        }

    def perturbations(self, text: str, k: int, names: Sequence[str], rng_of) -> list[Worse]:
        """k perturbations of `text`; rng_of(slot, attempt) is the seeded generator of each draw."""
        seen, worse = {text}, []
        for slot in range(k):
            # Short texts admit few distinct edits at a low rate: redraw a few times, then accept.
            for attempt in range(self.attempts):
                new, edits = perturb_with_edits(text, self.rate, rng_of(slot, attempt), self.ops, names)
                if new not in seen:
                    break
            seen.add(new)
            worse.append(Worse(new, {"rate": self.rate, "edits": [[e.op, e.before, e.after] for e in edits]}))
        return worse

    def build(self, world: World, prompt_ids: Sequence[int], k: int, seed: int) -> dict[int, list[Worse]]:
        names = world_names(world)
        return {
            int(pid): self.perturbations(
                world.problems[int(pid)].reference,
                k,
                names,
                lambda slot, attempt, pid=int(pid): prompt_rng(seed, pid, f"adv/{slot}/{attempt}"),
            )
            for pid in prompt_ids
        }
