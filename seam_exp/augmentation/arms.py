"""Which RL instructions an augmentation arm augments, and which model it augments (docs/augmentation.md).

An arm is `original` (no augmentation) or `<kind>:<side>`: kind seam (the least seamless share of the RL
instructions under one SEAM method, the paper's 20%), random (the same share drawn at random),
random_families (the same share drawn at random within each task family, in the family mix seam picks),
full (every RL instruction), or a compute control that adds no rows and trains the original rows for as many
steps as the arm it matches does on that side: longer (as long as seam, whose rows random and random_families
match in number) and longer_full (as long as full, about 3.6 times the PM's original SFT steps); side pm (its
SFT data), rm (its preference data) or both.
A model that gains rows trains for proportionally more steps, so that its original rows keep every pass
they had (epoch_matched_steps).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from seam_exp.selection.filters import Method, dropped_prompts

KINDS = ("original", "seam", "random", "random_families", "full", "longer", "longer_full")
# Each compute control and the arm whose step count it trains for (its rows are counted, never added).
MATCHED_BY_CONTROL = {"longer": "seam", "longer_full": "full"}
CONTROL_OF = {matched: control for control, matched in MATCHED_BY_CONTROL.items()}
SIDES = ("pm", "rm", "both")


@dataclass(frozen=True)
class Arm:
    kind: str
    side: str | None = None  # None for original

    @property
    def name(self) -> str:
        return self.kind if self.side is None else f"{self.kind}:{self.side}"

    @property
    def augments_pm(self) -> bool:
        return self.side in ("pm", "both")

    @property
    def augments_rm(self) -> bool:
        return self.side in ("rm", "both")

    @property
    def adds_rows(self) -> bool:
        """Whether the arm's retrained side(s) see added rows (a compute control only trains the original rows
        longer)."""
        return self.kind != "original" and self.kind not in MATCHED_BY_CONTROL


def parse_arm(name: str) -> Arm:
    """An arm from its name; a one-line ValueError naming what is wrong otherwise."""
    if name == "original":
        return Arm("original")
    kind, _, side = str(name).partition(":")
    if kind in KINDS[1:] and side in SIDES:
        return Arm(kind, side)
    valid = ", ".join(f"{k}:<{'|'.join(SIDES)}>" for k in KINDS[1:])
    raise ValueError(f"unknown augmentation arm '{name}'; valid: original, {valid}")


def selected_instructions(arm: Arm, table: pd.DataFrame, seam: Method, rate: float, seed: int) -> np.ndarray:
    """The sorted RL prompt ids the arm augments, from the selection experiment's per-prompt table: the
    prompts the `seam` method (or `random`) would drop at `rate`, so the two experiments pick alike."""
    kind = MATCHED_BY_CONTROL.get(arm.kind, arm.kind)  # a control counts the rows of the arm it matches
    if kind == "original":
        return table["prompt_id"].to_numpy()[:0]
    if kind == "full":
        return np.sort(table["prompt_id"].to_numpy())
    if kind == "seam":
        return dropped_prompts(seam, table, rate, seed)
    return dropped_prompts(Method(kind), table, rate, seed, primary=seam)


def compute_control(arm: Arm) -> str | None:
    """The name of the compute control of an arm that adds rows, on its side (None for the rest): random and
    random_families add as many rows as seam, so seam's control is theirs."""
    rows_like = "seam" if arm.kind in ("random", "random_families") else arm.kind
    return f"{CONTROL_OF[rows_like]}:{arm.side}" if rows_like in CONTROL_OF else None


def epoch_matched_steps(steps: int, rows: int, added: int) -> int:
    """The steps that give `rows` original rows, with `added` rows mixed in, as many passes as `steps`
    gave them alone (rounded up): added rows come on top, never in place of original ones."""
    if rows <= 0:
        raise ValueError(f"a model trained on {rows} rows cannot be epoch-matched")
    return int(np.ceil(steps * (rows + added) / rows))
