"""End to end at scale=smoke through the real entry point: saturation and mismatch, and a failing cell."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seam_exp.experiments.mismatch import MismatchRow
from seam_exp.experiments.saturation import SaturationRow
from seam_exp.reporting.results import columns_of
from tests.slow.helpers import run_experiment

pytestmark = pytest.mark.slow


def _rows(tmp_path, experiment):
    return pd.concat(pd.read_csv(p) for p in (tmp_path / "outputs" / experiment).rglob("results.csv"))


def _artifacts(tmp_path):
    """{'pm/<key>': mtime} of every trained model in the cache (lock files aside)."""
    folders = [*(tmp_path / "cache").glob("pm/*"), *(tmp_path / "cache").glob("rm/*")]
    return {f"{p.parent.name}/{p.name}": p.stat().st_mtime_ns for p in folders if p.suffix != ".lock"}


def test_saturation_sweep_writes_a_row_per_cell_heatmap_curves_and_table(tmp_path):
    # As `make run` does: the models experiment trains exactly the models the grid then finds cached.
    models = run_experiment(tmp_path, "+experiment=models")
    trained = _artifacts(tmp_path)
    assert sorted(k.split("/")[0] for k in trained) == ["pm", "pm", "rm", "rm"]
    assert models.stdout.count("trained in") == 4
    run_experiment(tmp_path, "+experiment=saturation")
    assert _artifacts(tmp_path) == trained  # nothing trained again, nothing rewritten
    rows = _rows(tmp_path, "saturation")
    assert list(rows.columns) == columns_of(SaturationRow)
    assert sorted(zip(rows["pm"], rows["rm"], strict=True)) == [
        ("s", "s"),
        ("s", "xs"),
        ("xs", "s"),
        ("xs", "xs"),
    ]
    assert (rows["rl_steps"] == 4).all() and (rows["eval_prompts"] == 24).all()
    assert rows[["win_rate", "mismatch", "hacking", "eos_rate"]].apply(lambda c: c.between(0, 1)).all().all()
    assert np.allclose(rows["rl_gold"] - rows["sft_gold"], rows["gain"])
    assert (rows["kl"] > 0).all()  # every policy moved away from its SFT start
    figures = tmp_path / "outputs" / "figures" / "saturation"
    for suffix in ("_heatmap.png", "_curves.png"):
        assert (figures / f"saturation_smoke_size_ppo{suffix}").stat().st_size > 10_000
    table = (figures / "saturation_smoke_size_ppo.md").read_text()
    assert table.count("| ok") == 4 and "missing" not in table

    # One cell failing at run time (an unknown algorithm) does not stop the other, and is reported missing.
    run_experiment(tmp_path, "+experiment=saturation", "scale.sweep.sizes=xs", "rl.algorithm=ppo,bogus")
    failed = list((tmp_path / "outputs" / "saturation").rglob("FAILED.txt"))
    assert len(failed) == 1 and "unknown rl.algorithm 'bogus'" in failed[0].read_text()
    bogus = (figures / "saturation_smoke_size_bogus.md").read_text()
    assert "missing: RLConfigError: unknown rl.algorithm 'bogus'" in bogus
    assert (figures / "saturation_smoke_size_ppo.md").read_text().count("| ok") == 4


def test_mismatch_sweep_writes_curves_and_table(tmp_path):
    run_experiment(tmp_path, "+experiment=mismatch")
    rows = _rows(tmp_path, "mismatch")
    assert list(rows.columns) == columns_of(MismatchRow)
    assert set(rows["pm"]) == {"xs", "s"} and (rows["pm"] == rows["rm"]).all()
    for _, cell in rows.groupby("pm"):
        assert sorted(cell["step"]) == [0, 1, 2, 3, 4]  # every fifth of 4 steps: each step, plus the start
    assert rows["mismatch"].dropna().between(0, 1).all() and rows["mismatch_pairs"].sum() > 0
    figures = tmp_path / "outputs" / "figures" / "mismatch"
    assert (figures / "mismatch_smoke_ppo.png").stat().st_size > 10_000
    assert (figures / "mismatch_smoke_ppo.md").read_text().count("| ok") == 2
