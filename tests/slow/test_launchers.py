"""Sweeps through submitit's local executor (the engine of hydra/launcher=slurm) as well as joblib."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.slow.helpers import run_experiment

pytestmark = pytest.mark.slow


def test_submitit_local_runs_a_sweep_and_isolates_a_failing_cell(tmp_path):
    # Two cells: pm=xs runs; pm=llama2_7b fails when its job starts, its weights not being in the (empty)
    # local Hugging Face cache, offline. The failure stays in its job, as with joblib: the other cell
    # finishes and is aggregated. (A bad config value cannot do this: it is refused before any job.)
    run_experiment(
        tmp_path,
        "+experiment=saturation",
        "hydra/launcher=submitit_local",
        "scale.sizes=[xs]",
        "pm=xs,llama2_7b",
        env={"HF_HOME": str(tmp_path / "hf")},
    )
    sweep = tmp_path / "outputs" / "saturation"
    assert list(sweep.rglob(".submitit/*/*_result.pkl"))  # submitit ran the jobs
    results = list(sweep.rglob("results.csv"))
    failed = list(sweep.rglob("FAILED.txt"))
    assert len(results) == 1 and pd.read_csv(results[0])["pm"].tolist() == ["xs"]
    assert len(failed) == 1 and "is not in the local Hugging Face cache" in failed[0].read_text()
    table = (tmp_path / "outputs" / "figures" / "saturation" / "saturation_smoke_size_ppo.md").read_text()
    assert table.count("| ok") == 1 and "missing: OfflineModelError" in table
