"""Sweeps through submitit's local executor (the engine of hydra/launcher=slurm) as well as joblib."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.slow.helpers import run_experiment

pytestmark = pytest.mark.slow


def test_submitit_local_runs_a_sweep_and_isolates_a_failing_cell(tmp_path):
    # Two cells: PPO runs; RLOO with one sample per prompt fails when its job starts (no leave-one-out
    # baseline). The failure stays in its job, as with joblib: the other cell finishes and is aggregated.
    run_experiment(
        tmp_path,
        "+experiment=saturation",
        "hydra/launcher=submitit_local",
        "scale.sizes=[xs]",
        "rl=ppo,rloo",
        "rl.rollout.samples_per_prompt=1",
    )
    sweep = tmp_path / "outputs" / "saturation"
    assert list(sweep.rglob(".submitit/*/*_result.pkl"))  # submitit ran the jobs
    results = list(sweep.rglob("results.csv"))
    failed = list(sweep.rglob("FAILED.txt"))
    assert len(results) == 1 and pd.read_csv(results[0])["algorithm"].tolist() == ["ppo"]
    assert len(failed) == 1 and "samples_per_prompt >= 2" in failed[0].read_text()
    figures, one_sample = tmp_path / "outputs" / "figures" / "saturation", "rl.rollout.samples_per_prompt=1"
    assert (figures / f"saturation_smoke_size_ppo_{one_sample}.md").read_text().count("| ok") == 1
    assert "missing: RLConfigError" in (figures / f"saturation_smoke_size_rloo_{one_sample}.md").read_text()
