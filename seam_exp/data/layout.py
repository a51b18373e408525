"""The splits and the prompt template every data source lays its rows out in (docs/world.md, "Splits").

Splits are disjoint by prompt (question text):
    sft      demonstrations (prompt, response) for supervised fine-tuning
    rm       preference pairs for reward-model training
    rm_test  held-out preference pairs on other prompts, for RM accuracy
    rl       prompts for RL fine-tuning
    eval     prompts for gold-judged evaluation
and two validation splits held out of the training ones after everything else is drawn (so the other
splits keep their rows): `sft_val` (demonstrations) and `rm_val` (pairs), which choose a training recipe
and the weights kept (docs/world.md, "Validation splits"); nothing trains or reports on them.
"""

from __future__ import annotations

import numpy as np
from datasets import DatasetDict

SPLITS = ("sft", "rm", "rm_test", "rl", "eval")
# The validation split held out of each training split.
VALIDATION_SPLITS = {"sft": "sft_val", "rm": "rm_val"}
ALL_SPLITS = SPLITS + tuple(VALIDATION_SPLITS.values())


def format_prompt(question: str) -> str:
    """The one prompt template of every data source, shared by SFT, RM, RL and SEAM."""
    return f"Question: {question}\nAnswer: "


def check_validation_fractions(fractions: dict[str, float]) -> None:
    unknown = [s for s in fractions if s not in VALIDATION_SPLITS]
    if unknown:
        raise ValueError(
            f"data.validation_fractions names {unknown[0]!r}; valid: {', '.join(VALIDATION_SPLITS)}"
        )
    bad = [s for s, f in fractions.items() if not 0.0 <= f < 1.0]
    if bad:
        raise ValueError(f"data.validation_fractions.{bad[0]} must be in [0, 1), got {fractions[bad[0]]}")


def hold_out_validation(data: DatasetDict, fractions: dict[str, float], seed: int) -> DatasetDict:
    """Move a seeded share of each training split's prompts (with all their rows) into its validation
    split. Drawn by its own generator after the data, so every other split keeps exactly its rows."""
    rng = np.random.default_rng([seed, 7])
    moved: dict[int, str] = {}
    out = dict(data)
    for split, val_split in VALIDATION_SPLITS.items():
        ids = np.array(sorted(set(data[split]["prompt_id"])))
        n = int(round(fractions.get(split, 0.0) * len(ids)))
        if n == 0:  # no split rather than an empty one: `datasets` cannot load a saved empty table
            continue
        held = set(rng.choice(ids, size=n, replace=False).tolist())
        in_val = [pid in held for pid in data[split]["prompt_id"]]
        out[val_split] = data[split].select([i for i, v in enumerate(in_val) if v])
        out[split] = data[split].select([i for i, v in enumerate(in_val) if not v])
        moved.update(dict.fromkeys(held, val_split))
    splits = [
        moved.get(pid, split)
        for pid, split in zip(data["prompts"]["prompt_id"], data["prompts"]["split"], strict=True)
    ]
    out["prompts"] = data["prompts"].remove_columns("split").add_column("split", splits)
    return DatasetDict(out)
