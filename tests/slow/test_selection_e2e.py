"""`+experiment=selection` end to end at scale=smoke through the real entry point."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from seam_exp.experiments.selection import DROPPED_FILE, SelectionRow
from seam_exp.reporting.results import columns_of
from seam_exp.selection.filters import drop_count, dropped_prompts, parse_method
from seam_exp.selection.prompt_scores import TABLE_FILE

pytestmark = pytest.mark.slow
# random and perplexity are pinned down in tests/unit/test_selection.py; here the plumbing of each kind
METHODS = ["full", "oracle", "seam:adv:paper"]
# The sweep as run here; the results notebook's test reads its figures from the same shared run.
SELECTION_SMOKE = (
    "+experiment=selection",
    f"sweep.smoke.methods=[{','.join(METHODS)}]",  # the smoke scale's own list (conf/experiment),
    "seam.ground_truth.n_samples=8",
    "trainer.num_threads=1",
)


def test_selection_sweep_drops_what_each_method_says_and_pairs_every_method_with_full(smoke_runs):
    smoke_runs.run(*SELECTION_SMOKE)
    tmp_path = smoke_runs.root
    results = sorted((tmp_path / "outputs" / "selection").rglob("results.csv"))
    rows = pd.concat(pd.read_csv(p) for p in results)
    assert list(rows.columns) == columns_of(SelectionRow)
    assert sorted(rows["method"]) == sorted(METHODS)

    # The cell's per-prompt table, as every method read it from the cache.
    (table_file,) = (tmp_path / "cache").rglob(TABLE_FILE)
    table = pd.read_parquet(table_file)
    n = len(table)
    assert (rows["n_rl_prompts"] == n).all() and (rows["rl_steps"] == rows["rl_steps"].iloc[0]).all()
    for _, row in rows.iterrows():
        dropped = pd.read_csv(Path(row["run_dir"]) / DROPPED_FILE)
        dropped = sorted(dropped["prompt_id"])
        assert set(dropped) <= set(table["prompt_id"])  # RL prompts only: never an eval prompt
        assert row["n_dropped"] == len(dropped) and row["dropped_share"] == pytest.approx(len(dropped) / n)
        if row["method"] == "seam:adv:paper":
            assert len(dropped) == drop_count(n, 0.2)
        if row["method"] != "full":  # deterministic given the table: recomputed from the cached table
            again = dropped_prompts(parse_method(row["method"]), table, 0.2, seed=0)
            assert dropped == again.tolist()
    oracle = rows[rows["method"] == "oracle"].iloc[0]
    assert oracle["n_dropped"] == int((table["gt_mismatch"] >= 0.5).sum())

    # The fewer ground-truth samples are a knob of these runs, so it names their report.
    name = (
        tmp_path / "outputs" / "figures" / "selection" / "selection_smoke_ppo_seam.ground_truth.n_samples=8"
    )
    report = Path(f"{name}.md").read_text()
    for method in [m for m in METHODS if m != "full"]:
        assert f"| {method} " in report
    for suffix in ("_bars.png", "_overlap.md", "_overlap_heatmap.png"):
        assert Path(f"{name}{suffix}").is_file()
