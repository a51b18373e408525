"""Two RL runs that share a seed compared on the same eval samples (docs/metrics.md, "Paired runs").

Runs with the same seed draw eval sample j of a prompt with the same randomness, so the fair comparison of
two arms is sample j against sample j: the mean gold difference and the win rate.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from seam_exp.metrics.preference import win_outcomes
from seam_exp.rl.run import EVAL_SAMPLES_FILE


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
