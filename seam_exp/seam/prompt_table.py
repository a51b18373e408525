"""A researcher's own prompts and chosen answers, as a prompt source for the SEAM builders and scorers.

The builders and scorers read a prompt source through a few attributes of the world: `problems[id]`
(question, reference, alt_reference), `data["prompts"]` (prompt_id, question, split: what contrast
retrieves from), `gold(ids, texts)`, and `path.name` (its identity in cache keys). A PromptTable has the
same attributes for any table of (prompt, chosen answer) rows: every row is one prompt, its chosen answer
the reference, the whole table the contrast pool (split "table"), and gold unknown (NaN).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasets import Dataset

from seam_exp.utils.cache import stable_hash

TABLE_SPLIT = "table"


@dataclass(frozen=True)
class TableProblem:
    question: str
    reference: str
    alt_reference: str = ""
    family: str = TABLE_SPLIT


class PromptTable:
    gold_is_free = True  # unknown, hence NaN: nothing to pay for

    def __init__(self, questions: Sequence[str], references: Sequence[str]):
        questions, references = [str(q) for q in questions], [str(r) for r in references]
        if len(questions) != len(references):
            raise ValueError(f"{len(questions)} prompts but {len(references)} chosen answers")
        ids = list(range(len(questions)))
        self.problems = {i: TableProblem(q, r) for i, q, r in zip(ids, questions, references, strict=True)}
        self.data = {
            "prompts": Dataset.from_dict(
                {"prompt_id": ids, "question": questions, "split": [TABLE_SPLIT] * len(ids)}
            )
        }
        # Content, not a file path, names the table in cache keys: the same rows share their artifacts.
        self.path = Path(f"table-{stable_hash([questions, references])}")

    @property
    def prompt_ids(self) -> list[int]:
        return list(self.problems)

    def gold(self, prompt_ids: Sequence[int], responses: Sequence[str]) -> np.ndarray:
        return np.full(len(prompt_ids), np.nan)
