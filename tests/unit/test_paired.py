"""Arms compared by seed and pooled over seeds, as selection and augmentation report them (no model runs)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from seam_exp.metrics.intervals import mean_ci_over_models, mean_ci_over_seeds, se_of_interval
from seam_exp.reporting.paired import paired_by_seed
from seam_exp.reporting.seeds import summary_over_seeds
from seam_exp.utils.runtime import EVAL_SAMPLES_FILE


def _run(folder, gold: list[float]) -> str:
    """A run folder whose final policy's eval samples (two prompts, two samples each) have these golds."""
    folder.mkdir(parents=True)
    final = pd.DataFrame({"policy": "final", "prompt_id": [0, 0, 1, 1], "sample": [0, 1, 0, 1], "gold": gold})
    pd.concat([final.assign(policy="start", gold=0.0), final]).to_parquet(folder / EVAL_SAMPLES_FILE)
    return str(folder)


def test_a_run_is_compared_with_its_base_arms_last_run_of_its_cell_and_seed(tmp_path):
    runs = pd.DataFrame(
        [
            ("A", "full", 0, _run(tmp_path / "full0_old", [9.0, 9.0, 9.0, 9.0])),
            ("A", "full", 0, _run(tmp_path / "full0", [1.0, 1.0, 2.0, 2.0])),
            ("A", "seam", 0, _run(tmp_path / "seam0", [2.0, 1.0, 2.0, 1.0])),
            ("A", "seam", 1, _run(tmp_path / "seam1", [0.0, 0.0, 0.0, 0.0])),  # no full with seed 1
            ("B", "seam", 0, _run(tmp_path / "seamB", [0.0, 0.0, 0.0, 0.0])),  # no full in cell B
        ],
        columns=["cell", "method", "seed", "run_dir"],
        index=[10, 11, 12, 13, 14],
    ).assign(pm_seed=0, rm_seed=0)
    # the same cell and RL seed on another trained PM: its base is that PM's full run, not seed 0's
    other_pm = pd.DataFrame(
        [("A", "seam", 0, _run(tmp_path / "seam0_pm1", [5.0, 5.0, 5.0, 5.0]))],
        columns=["cell", "method", "seed", "run_dir"],
        index=[15],
    ).assign(pm_seed=1, rm_seed=0)
    runs = pd.concat([runs, other_pm])
    pairs = paired_by_seed(runs, "method", lambda m: None if m == "full" else "full")
    assert list(pairs.index) == [12] and pairs.at[12, "base"] == 11
    # sample j against sample j: +1, 0, 0, -1
    assert pairs.loc[12, ["gold_base", "gain", "win_rate"]].tolist() == [1.5, 0.0, 0.5]
    assert paired_by_seed(runs.iloc[:2], "method", lambda m: None).empty


def test_groups_pool_their_seeds_with_a_t_interval_and_one_run_keeps_its_own():
    rows = pd.DataFrame(
        {
            "cell": ["B", "B", "B", "A"],
            "kind": ["seam", "seam", "seam", "full"],
            "gain": [0.1, 0.3, 0.2, 0.5],
            "gain_lo": [0.0, 0.0, 0.0, 0.4],
            "gain_hi": [1.0, 1.0, 1.0, 0.6],
            "kl": [1.0, 2.0, 3.0, 4.0],
        }
    )
    summary = summary_over_seeds(rows, ["cell"], intervals=["gain"], means=["kl"], first=["kind"], sort=False)
    assert summary["cell"].tolist() == ["B", "A"]  # as met
    b, a = summary.iloc[0], summary.iloc[1]
    assert (b["seeds"], b["kind"], b["kl"]) == (3, "seam", 2.0)
    assert tuple(b[["gain", "gain_lo", "gain_hi"]]) == pytest.approx(mean_ci_over_seeds([0.1, 0.3, 0.2]))
    assert a["gain"] == 0.5 and math.isnan(a["gain_lo"])  # one seed: no t-interval
    own = summary_over_seeds(rows, ["cell"], intervals=["gain"], own_interval=True)
    assert own["cell"].tolist() == ["A", "B"] and tuple(own.iloc[0][["gain_lo", "gain_hi"]]) == (0.4, 0.6)
    assert (b["models"], b["interval"]) == (1, "RL seeds of one trained model")
    empty = summary_over_seeds(rows.iloc[:0], ["cell"], intervals=["gain"], means=["kl"])
    assert empty.empty
    assert list(empty.columns) == [
        *["cell", "seeds", "models", "interval"],
        *["gain", "gain_lo", "gain_hi", "gain_p", "kl"],
    ]


def test_runs_of_several_trained_models_pool_over_models_not_runs():
    rows = pd.DataFrame(
        {
            "cell": ["A"] * 5,
            "pm_seed": [0, 0, 0, 1, 2],
            "rm_seed": [0, 0, 0, 1, 2],
            "seed": [0, 1, 2, 0, 0],
            "gain": [0.1, 0.1, 0.1, 0.4, 0.7],
            "gain_lo": [0.0, 0.0, 0.0, 0.3, 0.6],
            "gain_hi": [0.2, 0.2, 0.2, 0.5, 0.8],
        }
    )
    line = summary_over_seeds(rows, ["cell"], intervals=["gain"]).iloc[0]
    assert (line["seeds"], line["models"], line["interval"]) == (5, 3, "trained models and prompts")
    assert line["gain"] == pytest.approx(0.4)  # each trained model once: (0.1 + 0.4 + 0.7) / 3
    models = list(zip(rows["pm_seed"], rows["rm_seed"], strict=True))
    expected = mean_ci_over_models(rows["gain"], models, se_of_interval(rows["gain_lo"], rows["gain_hi"]))
    assert tuple(line[["gain", "gain_lo", "gain_hi"]]) == pytest.approx(expected[:3])
