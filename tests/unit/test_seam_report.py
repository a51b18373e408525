"""Aggregation of seam runs: correlation table, ablation gains with paired CIs, scatter figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seam_exp.experiments.seam import SeamRow, aggregate
from seam_exp.metrics.intervals import paired_bootstrap_corr_diff
from seam_exp.reporting.results import write_results
from seam_exp.seam.validation import validation_rows


def test_corr_difference_ci():
    rng = np.random.default_rng(0)
    y = rng.normal(size=300)
    good, noisy = y + 0.1 * rng.normal(size=300), y + 3.0 * rng.normal(size=300)
    d, lo, hi = paired_bootstrap_corr_diff(good, noisy, y, n_boot=300)
    assert 0 < lo <= d <= hi
    d, lo, hi = paired_bootstrap_corr_diff(noisy, noisy, y, n_boot=50)
    assert d == lo == hi == 0.0
    with pytest.raises(ValueError, match="paired"):
        paired_bootstrap_corr_diff(y, y[:-1], y)


def _fake_run(folder, rm: str, rng, training: int = 0) -> None:
    n = 200
    truth = rng.uniform(size=n)
    prompts = pd.DataFrame(
        {
            "prompt_id": range(n),
            "family": ["arithmetic", "lookup"] * (n // 2),
            "gt_mismatch": truth,
            "adv:normalized:seam": truth + 0.05 * rng.normal(size=n),  # tracks the truth
            "adv:normalized:uniform": rng.uniform(size=n),  # does not
            "adv:paper:seam": -truth - 0.5 * rng.normal(size=n),  # tracks it, noisier, with the paper's sign
        }
    )
    folder.mkdir(parents=True)
    prompts.to_csv(folder / "seam_prompts.csv", index=False)
    columns = {c: tuple(c.split(":")) for c in prompts.columns if c.startswith("adv:")}
    info = {
        "experiment": "seam",
        "scale": "smoke",
        "pm": "s",
        "rm": rm,
        "pm_seed": training,
        "rm_seed": training,
        "seed": 0,
        "run_dir": str(folder),
    }
    extra = {
        "policy": "sft",
        "gt_reliability": 0.5,
        "k": 8.0,
        "worse_gold_ge_ref": 0.1,
        "pm_seconds": 1.0,
        "rm_seconds": 1.0,
    }
    rows = [
        SeamRow(**info, **extra, **r, prompts_per_s=100.0)
        for r in validation_rows(prompts, columns, 100, 0.95, 0)
    ]
    write_results(rows, folder)


def test_aggregate_writes_table_gains_and_scatter(tmp_path):
    rng = np.random.default_rng(1)
    for rm in ("xs", "m"):
        _fake_run(tmp_path / "seam" / f"rm={rm}", rm, rng)
    written = aggregate(tmp_path)
    folder = tmp_path / "figures" / "seam"
    assert folder / "seam_smoke.md" in written and folder / "seam_smoke_adv_normalized.png" in written
    table = pd.read_csv(folder / "seam_smoke.csv")
    assert len(table) == 6 and list(table["ablation"]) == ["seam", "uniform", "seam"] * 2
    assert list(table["formula"]) == ["normalized", "normalized", "paper"] * 2
    gains = pd.read_csv(folder / "seam_smoke_ablation_gains.csv")
    weighting = gains[gains["ingredient"] == "PM weighting"]
    assert sorted(weighting["rm"]) == ["m", "xs"] and (weighting["helps"] == "yes").all()
    # the paper formula, oriented, tracks the truth but worse than the less noisy normalized score
    formulas = pd.read_csv(folder / "seam_smoke_formula_gains.csv")
    assert list(formulas["formula"]) == ["paper", "paper"] and (formulas["helps"] == "hurts").all()
    assert (folder / "seam_smoke_adv_normalized.png").stat().st_size > 10_000
    assert (folder / "seam_smoke_adv_paper.png").is_file()


def test_trainings_of_one_cell_are_pooled_not_listed_as_lines_of_their_own(tmp_path):
    rng = np.random.default_rng(2)
    for training in (0, 1, 2):
        _fake_run(tmp_path / "seam" / f"train_seed={training}", "xs", rng, training)
    aggregate(tmp_path)
    folder = tmp_path / "figures" / "seam"
    table = pd.read_csv(folder / "seam_smoke.csv")
    assert len(table) == 3 and (table["trained models / runs"] == "3 / 3").all()
    assert (table["CI over"] == "trained models and prompts").all()
    per_training = pd.read_csv(folder / "seam_smoke_per_training.csv")
    assert len(per_training) == 9 and sorted(set(per_training["pm_seed"])) == [0, 1, 2]
    gains = pd.read_csv(folder / "seam_smoke_ablation_gains.csv")
    weighting = gains[gains["ingredient"] == "PM weighting"].iloc[0]
    # each training's own gain is listed, and the pooled interval holds all three (they agree here)
    own = [float(g) for g in weighting["per training"].split(", ")]
    assert len(gains) == 1 and len(own) == 3 and weighting["helps"] == "yes"
    point = float(weighting["spearman gain (95% CI)"].split(" ")[0])
    assert point == pytest.approx(np.mean(own), abs=1e-3)
