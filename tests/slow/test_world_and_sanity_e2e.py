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
    run_experiment(tmp_path, "+experiment=sanity")
    rows = pd.concat(pd.read_csv(p) for p in (tmp_path / "outputs").rglob("results.csv"))
    assert list(rows.columns) == columns_of(SanityRow)
    assert set(rows["pm"]) == {"xs", "s"} and (rows["pm"] == rows["rm"]).all()
    assert rows["pm_params"].is_unique
    assert (
        rows[["rm_acc_heldout", "pm_greedy_correct", "pm_eos_rate"]]
        .apply(lambda c: c.between(0, 1))
        .all()
        .all()
    )
    figures = tmp_path / "outputs" / "figures" / "sanity"
    assert (figures / "sanity_smoke.png").stat().st_size > 10_000
    assert "| xs" in (figures / "sanity_smoke.md").read_text()
    # The second run reuses every cached artifact: nothing new appears in the cache.
    cached = sorted(str(p.parent) for p in (tmp_path / "cache").rglob("MANIFEST.json"))
    run_experiment(tmp_path, "+experiment=sanity")
    assert sorted(str(p.parent) for p in (tmp_path / "cache").rglob("MANIFEST.json")) == cached
    assert len(cached) == 5  # world, 2 PMs, 2 RMs
