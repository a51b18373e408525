"""RL runs read at matched KL budgets (Gao et al.'s frame; docs/metrics.md, "Matched KL budgets").

A run's evaluations along RL (history.csv) hold eval gold and KL to the SFT start, and the same on the
validation prompts. For a budget, each run's checkpoint is the evaluation of highest validation gold among
those whose validation KL is within the budget, so runs that drift at different speeds are compared where
they spent the same KL, and the eval numbers they report are never selected on.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from seam_exp.utils.runtime import HISTORY_FILE

KL_BUDGETS = (0.5, 1.0, 2.0, 4.0)  # nats of KL to the SFT start
READ_AT_BUDGET = ("step", "gold", "gain", "gain_lo", "gain_hi", "kl", "kl_lo", "kl_hi")


def run_history(run_dir: str) -> pd.DataFrame | None:
    path = Path(run_dir) / HISTORY_FILE
    return pd.read_csv(path) if path.is_file() else None


def run_histories(rows: pd.DataFrame, keep: Sequence[str]) -> pd.DataFrame:
    """Every run's history, one frame, each evaluation beside its run's `keep` columns; runs without a
    history are left out (an empty frame when none has one)."""
    histories = []
    for _, r in rows.iterrows():
        history = run_history(r["run_dir"])
        if history is not None:
            histories.append(history.assign(**{k: r[k] for k in keep}))
    return pd.concat(histories, ignore_index=True) if histories else pd.DataFrame()


def at_kl_budget(history: pd.DataFrame, budget: float) -> pd.Series | None:
    """The evaluation chosen for a KL budget: the highest validation gold among the evaluations whose
    validation KL to the start is within the budget (the start itself, KL 0, always is). Chosen on the
    validation prompts only, so the eval numbers it reports are not selected on."""
    within = history[history["val_kl"] <= budget]
    return None if within.empty else within.loc[within["val_gold"].idxmax()]


def kl_budget_rows(rows: pd.DataFrame, keep: Sequence[str]) -> pd.DataFrame:
    """One line per (run, budget): the run's `keep` columns (its cell and replicate), the budget, and the
    eval readings (READ_AT_BUDGET) at the evaluation chosen for it."""
    out = []
    for _, row in rows.iterrows():
        history = run_history(row["run_dir"])
        for budget in KL_BUDGETS if history is not None else ():
            chosen = at_kl_budget(history, budget)
            if chosen is not None:
                out.append(
                    {**{k: row[k] for k in keep}, "budget": budget, **{k: chosen[k] for k in READ_AT_BUDGET}}
                )
    return pd.DataFrame(out, columns=[*keep, "budget", *READ_AT_BUDGET])
