"""A generated fact table of fictional countries, so look-up questions have answers no pretrained model knows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "kl", "st", "tr"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ou"]
_CODAS = ["", "", "n", "r", "l", "s", "m"]


@dataclass(frozen=True)
class Attribute:
    name: str
    values: tuple[str, ...] | None  # None: values are generated names (e.g. capitals)
    questions: tuple[str, ...]
    answer: str


ATTRIBUTES = (
    Attribute(
        "capital",
        None,
        ("What is the capital of {e}?", "Which city is the capital of {e}?"),
        "The capital of {e} is {v}.",
    ),
    Attribute(
        "animal",
        ("lion", "eagle", "wolf", "bear", "fox", "owl", "horse", "tiger", "otter", "crane"),
        ("What is the national animal of {e}?", "Which animal is the symbol of {e}?"),
        "The national animal of {e} is the {v}.",
    ),
    Attribute(
        "color",
        ("red", "blue", "green", "yellow", "white", "black", "purple", "orange"),
        ("What color is the flag of {e}?", "Which color is the flag of {e}?"),
        "The flag of {e} is {v}.",
    ),
)


def _name(rng: np.random.Generator, syllables: int) -> str:
    parts = [str(rng.choice(_ONSETS)) + str(rng.choice(_VOWELS)) for _ in range(syllables)]
    return ("".join(parts) + str(rng.choice(_CODAS))).capitalize()


class FactTable:
    """Entities with one value per attribute; names are unique across entities and capitals."""

    def __init__(self, num_entities: int, seed: int):
        rng = np.random.default_rng(seed)
        used: set[str] = set()

        def fresh(syllables: int) -> str:
            while True:
                name = _name(rng, syllables)
                if name not in used:
                    used.add(name)
                    return name

        self.entities = [fresh(3) for _ in range(num_entities)]
        self._table: dict[str, dict[str, str]] = {}
        for entity in self.entities:
            row = {}
            for attr in ATTRIBUTES:
                row[attr.name] = fresh(2) if attr.values is None else str(rng.choice(attr.values))
            self._table[entity] = row

    def value(self, entity: str, attribute: str) -> str:
        return self._table[entity][attribute]

    def values_of(self, attribute: str) -> list[str]:
        return sorted({row[attribute] for row in self._table.values()})

    def rows(self) -> list[dict[str, str]]:
        return [{"entity": e, **self._table[e]} for e in self.entities]
