"""End to end at scale=smoke through the real entry point: world and sanity."""

from __future__ import annotations

import pandas as pd
import pytest

from seam_exp.experiments.sanity import SanityRow
from seam_exp.reporting.results import columns_of
from tests.slow.helpers import run_experiment

pytestmark = pytest.mark.slow


def test_world_experiment_writes_its_summary(tmp_path):
    proc = run_experiment(tmp_path, "+experiment=world")
    runs = list((tmp_path / "outputs" / "world").rglob("world_gold_by_kind.csv"))
    assert len(runs) == 1
    by_kind = pd.read_csv(runs[0]).set_index("kind")
    assert by_kind.loc["correct", "gold_mean"] > by_kind.loc["wrong", "gold_mean"]
    assert "Labeler agreement with gold" in proc.stdout


def test_sanity_sweep_writes_rows_table_and_figure(tmp_path):
    run_experiment(tmp_path, "+experiment=sanity", "train_seed=0,1")
    rows = pd.concat(pd.read_csv(p) for p in (tmp_path / "outputs").rglob("results.csv"))
    assert list(rows.columns) == columns_of(SanityRow)
    assert set(rows["pm"]) == {"xs", "s"} and (rows["pm"] == rows["rm"]).all()
    assert (rows["pm_seed"] == rows["rm_seed"]).all() and set(rows["pm_seed"]) == {0, 1}
    assert rows.groupby("pm")["pm_params"].nunique().eq(1).all() and rows["pm_params"].nunique() == 2
    assert rows["pm_kept_step"].between(1, 40).all() and rows["rm_kept_step"].between(1, 40).all()
    assert (
        rows[["rm_acc_heldout", "pm_greedy_correct", "pm_eos_rate"]]
        .apply(lambda c: c.between(0, 1))
        .all()
        .all()
    )
    figures = tmp_path / "outputs" / "figures" / "sanity"
    assert (figures / "sanity_smoke.png").stat().st_size > 10_000
    assert "| xs" in (figures / "sanity_smoke.md").read_text()
    seeds = (figures / "sanity_smoke_seeds_budget1.md").read_text()
    # the two training seeds pooled per size, and a verdict line for each reading
    assert pd.read_csv(figures / "sanity_smoke_seeds_budget1.csv")["pm_gold_mean n"].tolist() == [2, 2]
    for reading in ("SFT sampled gold", "SFT greedy gold", "RM held-out accuracy"):
        assert f"\n{reading}: ORDERED" in seeds or f"\n{reading}: NOT ORDERED" in seeds
    # The second run reuses every cached artifact: nothing new appears in the cache.
    cached = sorted(str(p.parent) for p in (tmp_path / "cache").rglob("MANIFEST.json"))
    run_experiment(tmp_path, "+experiment=sanity", "train_seed=0,1")
    assert sorted(str(p.parent) for p in (tmp_path / "cache").rglob("MANIFEST.json")) == cached
    assert len(cached) == 9  # world, 2 sizes x 2 seeds of PMs and of RMs
