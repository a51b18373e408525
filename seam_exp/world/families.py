"""Task families of the preference world: English-like questions with a single gold answer.

Each family samples a `Problem` (question, reference answer, gold value, key terms) and knows how to
read the answer back out of a free-text response (`extract`) and how close that is to gold (`credit`).
Answers are judged on the first sentence only, so a correct answer followed by rambling stays correct
(its cost shows up in the secondary qualities of the gold reward instead).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from seam_exp.world.facts import ATTRIBUTES, FactTable

_INT = re.compile(r"-?\d+")
WORDS_TO_COUNT = ["apple", "pear", "plum", "fig", "lime", "kiwi", "melon", "grape"]
UNITS = [  # (small unit, big unit, factor)
    ("meters", "kilometers", 1000),
    ("grams", "kilograms", 1000),
    ("minutes", "hours", 60),
    ("seconds", "minutes", 60),
    ("centimeters", "meters", 100),
    ("days", "weeks", 7),
    ("months", "years", 12),
]


@dataclass(frozen=True)
class Problem:
    family: str
    question: str
    reference: str
    answer: str  # the gold value, as text (an int, a word, or a comma-separated list)
    key_terms: tuple[str, ...]  # what a relevant response mentions
    alt_reference: str = ""  # a second, equally good phrasing (used for ties and SFT variety)
    meta: dict = field(default_factory=dict)


def first_sentence(text: str) -> str:
    head, _, _ = text.strip().partition(".")
    return head


def _ints(text: str) -> list[int]:
    return [int(m) for m in _INT.findall(text)]


def _numeric_credit(value: int | None, gold: int) -> float:
    # Near misses get a little credit so that "partially wrong" answers sit between right and wrong.
    if value is None:
        return 0.0
    if value == gold:
        return 1.0
    return 0.25 if abs(value - gold) <= max(2, abs(gold) // 10) else 0.0


class Family:
    name: str

    def sample(self, rng: np.random.Generator, facts: FactTable) -> Problem:
        raise NotImplementedError

    def extract(self, problem: Problem, response: str):
        raise NotImplementedError

    def credit(self, problem: Problem, response: str) -> float:
        """Correctness in [0, 1] of the answer stated in the response's first sentence."""
        raise NotImplementedError

    def wrong_value(self, problem: Problem, rng: np.random.Generator, near: bool) -> str:
        """A gold-looking but wrong value (near = a near miss) used to build corrupted responses."""
        raise NotImplementedError

    def restate(self, problem: Problem, value: str, alt: bool = False) -> str:
        """The reference phrasing with `value` in place of the gold answer."""
        raise NotImplementedError


class NumericAnswer(Family):
    """A family whose answer is the last integer of the first sentence, with near-miss credit."""

    near_miss_credit = True

    def extract(self, problem, response):
        nums = _ints(first_sentence(response))
        return nums[-1] if nums else None

    def credit(self, problem, response):
        value = self.extract(problem, response)
        if not self.near_miss_credit:
            return 1.0 if value == int(problem.answer) else 0.0
        return _numeric_credit(value, int(problem.answer))


class Arithmetic(NumericAnswer):
    name = "arithmetic"
    _ops = {"plus": lambda a, b: a + b, "minus": lambda a, b: a - b, "times": lambda a, b: a * b}
    _questions = {
        "plus": ["What is {a} plus {b}?", "What do you get if you add {a} and {b}?"],
        "minus": ["What is {a} minus {b}?", "What do you get if you subtract {b} from {a}?"],
        "times": ["What is {a} times {b}?", "What do you get if you multiply {a} by {b}?"],
    }

    def sample(self, rng, facts):
        op = str(rng.choice(list(self._ops)))
        if op == "times":
            a, b = (int(x) for x in rng.integers(2, 13, size=2))
        else:
            a, b = (int(x) for x in rng.integers(0, 51, size=2))
            if op == "minus" and b > a:
                a, b = b, a
        c = self._ops[op](a, b)
        q = str(rng.choice(self._questions[op])).format(a=a, b=b)
        p = Problem(self.name, q, "", str(c), (str(a), str(b)), meta={"a": a, "b": b, "op": op})
        return _with_reference(self, p)

    def restate(self, problem, value, alt=False):
        m = problem.meta
        if alt:
            return f"The answer is {value}."
        return f"{m['a']} {m['op']} {m['b']} is {value}."

    def wrong_value(self, problem, rng, near):
        gold = int(problem.answer)
        delta = int(rng.integers(1, 3)) if near else int(rng.integers(5, 30))
        return str(gold + delta * int(rng.choice([-1, 1])))


class Comparison(Family):
    name = "comparison"
    _questions = {
        "larger": ["Which is larger, {a} or {b}?", "Which number is bigger: {a} or {b}?"],
        "smaller": ["Which is smaller, {a} or {b}?", "Which number is less: {a} or {b}?"],
    }

    def sample(self, rng, facts):
        which = str(rng.choice(["larger", "smaller"]))
        a, b = (int(x) for x in rng.choice(np.arange(0, 100), size=2, replace=False))
        win = max(a, b) if which == "larger" else min(a, b)
        q = str(rng.choice(self._questions[which])).format(a=a, b=b)
        p = Problem(self.name, q, "", str(win), (str(a), str(b)), meta={"a": a, "b": b, "which": which})
        return _with_reference(self, p)

    def _loser(self, problem, value):
        a, b = problem.meta["a"], problem.meta["b"]
        return b if str(a) == value else a

    def restate(self, problem, value, alt=False):
        if alt:
            return f"The {problem.meta['which']} number is {value}."
        return f"{value} is {problem.meta['which']} than {self._loser(problem, value)}."

    def extract(self, problem, response):
        # The alternative phrasing names the winner last, the main one first.
        head = first_sentence(response)
        nums = _ints(head)
        if not nums:
            return None
        return nums[-1] if head.lower().startswith("the ") else nums[0]

    def credit(self, problem, response):
        return 1.0 if self.extract(problem, response) == int(problem.answer) else 0.0

    def wrong_value(self, problem, rng, near):
        if near:  # the other number: the classic comparison slip
            return str(self._loser(problem, problem.answer))
        shown = {problem.meta["a"], problem.meta["b"]}
        return str(int(rng.choice([v for v in range(100) if v not in shown])))


class Counting(NumericAnswer):
    name = "counting"
    near_miss_credit = False  # counts are small: off by one is simply wrong
    _questions = [
        "How many times does the word {w} appear in: {items}?",
        "Count the word {w} in this list: {items}.",
    ]

    def sample(self, rng, facts):
        n_items = int(rng.integers(3, 8))
        items = [str(x) for x in rng.choice(WORDS_TO_COUNT[:5], size=n_items)]
        w = items[int(rng.integers(0, n_items))]
        count = items.count(w)
        q = str(rng.choice(self._questions)).format(w=w, items=", ".join(items))
        p = Problem(self.name, q, "", str(count), (w,), meta={"w": w, "items": items})
        return _with_reference(self, p)

    def restate(self, problem, value, alt=False):
        unit = "time" if value == "1" else "times"
        if alt:
            return f"It appears {value} {unit}."
        return f"The word {problem.meta['w']} appears {value} {unit}."

    def wrong_value(self, problem, rng, near):
        gold = int(problem.answer)
        if near:
            return str(gold + 1 if gold == 1 or rng.random() < 0.5 else gold - 1)
        return str(gold + int(rng.integers(2, 6)))


class Conversion(NumericAnswer):
    name = "conversion"
    _questions = ["How many {small} are in {q} {big}?", "Convert {q} {big} to {small}."]

    def sample(self, rng, facts):
        small, big, factor = UNITS[int(rng.integers(0, len(UNITS)))]
        qty = int(rng.integers(2, 41))
        q = str(rng.choice(self._questions)).format(small=small, big=big, q=qty)
        meta = {"small": small, "big": big, "q": qty, "factor": factor}
        p = Problem(self.name, q, "", str(qty * factor), (str(qty), small, big), meta=meta)
        return _with_reference(self, p)

    def restate(self, problem, value, alt=False):
        m = problem.meta
        if alt:
            return f"That is {value} {m['small']}."
        return f"{m['q']} {m['big']} is {value} {m['small']}."

    def wrong_value(self, problem, rng, near):
        m = problem.meta
        if near:
            return str(int(problem.answer) + int(rng.choice([-2, -1, 1, 2])))
        wrong_factor = [f for _, _, f in UNITS if f != m["factor"]]
        return str(m["q"] * int(rng.choice(wrong_factor)))


class Lookup(Family):
    name = "lookup"

    def sample(self, rng, facts):
        entity = facts.entities[int(rng.integers(0, len(facts.entities)))]
        attr = ATTRIBUTES[int(rng.integers(0, len(ATTRIBUTES)))]
        q = str(rng.choice(attr.questions)).format(e=entity)
        value = facts.value(entity, attr.name)
        p = Problem(self.name, q, "", value, (entity,), meta={"entity": entity, "attr": attr.name})
        return _with_reference(self, p, facts=facts)

    def restate(self, problem, value, alt=False):
        attr = next(a for a in ATTRIBUTES if a.name == problem.meta["attr"])
        if alt:
            return f"It is {value}."
        return attr.answer.format(e=problem.meta["entity"], v=value)

    def extract(self, problem, response):
        words = re.findall(r"[A-Za-z]+", first_sentence(response))
        return words[-1].lower() if words else None

    def credit(self, problem, response):
        return 1.0 if self.extract(problem, response) == problem.answer.lower() else 0.0

    def wrong_value(self, problem, rng, near):
        attr = problem.meta["attr"]
        pool = [v for v in self._facts.values_of(attr) if v != problem.answer]
        return str(rng.choice(pool))

    def bind(self, facts: FactTable) -> Lookup:
        self._facts = facts
        return self


class Sorting(Family):
    name = "sorting"
    _questions = [
        "Sort these numbers from smallest to largest: {xs}.",
        "Put these numbers in increasing order: {xs}.",
    ]

    def sample(self, rng, facts):
        n = int(rng.integers(3, 6))
        xs = [int(x) for x in rng.choice(np.arange(1, 60), size=n, replace=False)]
        q = str(rng.choice(self._questions)).format(xs=", ".join(map(str, xs)))
        answer = ", ".join(map(str, sorted(xs)))
        p = Problem(self.name, q, "", answer, tuple(str(x) for x in xs), meta={"xs": xs})
        return _with_reference(self, p)

    def restate(self, problem, value, alt=False):
        return f"The sorted list is {value}." if alt else f"In order: {value}."

    def extract(self, problem, response):
        return _ints(first_sentence(response))

    def credit(self, problem, response):
        got, gold = self.extract(problem, response), _ints(problem.answer)
        if len(got) < len(gold):
            return 0.0
        got = got[-len(gold) :]  # the list is the last numbers stated
        if sorted(got) != sorted(gold):
            return 0.0
        return sum(g == t for g, t in zip(got, gold, strict=True)) / len(gold)

    def wrong_value(self, problem, rng, near):
        xs = _ints(problem.answer)
        if near:  # one adjacent swap
            i = int(rng.integers(0, len(xs) - 1))
            xs[i], xs[i + 1] = xs[i + 1], xs[i]
        else:
            xs = list(reversed(xs))
        return ", ".join(map(str, xs))


def _with_reference(family: Family, p: Problem, facts: FactTable | None = None) -> Problem:
    return Problem(
        p.family,
        p.question,
        family.restate(p, p.answer),
        p.answer,
        p.key_terms,
        alt_reference=family.restate(p, p.answer, alt=True),
        meta=p.meta,
    )


def make_families(names: list[str], facts: FactTable) -> dict[str, Family]:
    registry: dict[str, Family] = {
        "arithmetic": Arithmetic(),
        "comparison": Comparison(),
        "counting": Counting(),
        "conversion": Conversion(),
        "lookup": Lookup().bind(facts),
        "sorting": Sorting(),
    }
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise ValueError(f"unknown task family {unknown[0]!r}; valid: {', '.join(registry)}")
    return {n: registry[n] for n in names}
