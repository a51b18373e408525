"""Two RL runs that share a seed compared on the same eval samples (docs/metrics.md, "Paired runs").

Runs with the same seed draw eval sample j of a prompt with the same randomness, so the fair comparison of
two arms is sample j against sample j: the mean gold difference and the win rate.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from seam_exp.metrics.preference import win_outcomes
from seam_exp.reporting.seeds import REPLICATE
from seam_exp.utils.runtime import EVAL_SAMPLES_FILE

PAIRED = ["gold_base", "gain", "win_rate"]  # what paired_gain reports


def final_gold(run_dir: str) -> pd.Series:
    """Gold of the final policy's eval samples, indexed by (prompt_id, sample)."""
    samples = pd.read_parquet(Path(run_dir) / EVAL_SAMPLES_FILE)
    return samples[samples["policy"] == "final"].set_index(["prompt_id", "sample"])["gold"]


def paired_gain(run_dir: str, base_dir: str) -> dict[str, float]:
    """Mean gold of the base run's final policy, and the run's gain over it and win rate against it."""
    base = final_gold(base_dir)
    mine = final_gold(run_dir).reindex(base.index)
    return {
        "gold_base": float(base.mean()),
        "gain": float((mine - base).mean()),
        "win_rate": float(win_outcomes(mine.to_numpy(), base.to_numpy()).mean()),
    }


def paired_by_seed(runs: pd.DataFrame, arm: str, base_of: Callable[[str], str | None]) -> pd.DataFrame:
    """Each run of `runs` (columns cell, REPLICATE, run_dir and `arm`) against its base arm's run
    (`base_of(arm)`, None for none) in the same cell with the same training and RL seeds, the one whose eval
    samples it shares (the last, had the cell run twice). One line per run that has one, indexed as in
    `runs`: the base run's index (`base`) and the PAIRED numbers."""
    key = ["cell", arm, *REPLICATE]
    last = runs.drop_duplicates(key, keep="last")
    where = {tuple(k): i for k, i in zip(last[key].itertuples(index=False), last.index, strict=True)}
    lines = {}
    for i, (cell, name, *replicate) in zip(runs.index, runs[key].itertuples(index=False), strict=True):
        base = where.get((cell, base_of(name), *replicate))
        if base is not None:
            lines[i] = {"base": base, **paired_gain(runs.at[i, "run_dir"], runs.at[base, "run_dir"])}
    return pd.DataFrame(list(lines.values()), index=list(lines), columns=["base", *PAIRED])
