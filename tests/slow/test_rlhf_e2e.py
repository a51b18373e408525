"""End to end at scale=smoke through the real entry point: saturation and mismatch, and a failing cell."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seam_exp.experiments.mismatch import MismatchRow
from seam_exp.experiments.models import ARTIFACT_FILE
from seam_exp.experiments.saturation import SaturationRow
from seam_exp.reporting.results import columns_of
from seam_exp.utils.cache import artifact_digest
from seam_exp.utils.runtime import RL_CHECKPOINT
from tests.slow.helpers import ROOT, cache_keys, experiment_command, run_experiment

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
    # each job records the digest of what it trained: the bytes of that cache folder, one per model
    records = [json.loads(p.read_text()) for p in (tmp_path / "outputs" / "models").rglob(ARTIFACT_FILE)]
    assert sorted(f"{r['artifact']}/{Path(r['folder']).name}" for r in records) == sorted(trained)
    assert all(r["digest"] == artifact_digest(Path(r["folder"])) for r in records)
    assert len({r["digest"] for r in records}) == 4
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
    # evaluations along the run (every fifth of it) on eval and validation prompts: gold against KL
    history = pd.read_csv(next(Path(d) for d in rows["run_dir"]) / "history.csv")
    assert list(history["step"]) == [0, 1, 2, 3, 4] and history["val_kl"].notna().all()
    budgets = (figures / "saturation_smoke_size_ppo_kl_budgets.md").read_text()
    assert "gain @ KL<=0.5" in budgets and budgets.count("\n| ") == 5  # header + 4 cells
    assert (figures / "saturation_smoke_size_ppo_kl_budgets_gold_vs_kl.png").stat().st_size > 10_000

    # The same sweep again finds every cell finished with this config and code, and runs none of them;
    # rerun=true runs them again.
    again = run_experiment(tmp_path, "+experiment=saturation")
    assert again.stdout.count("results found in") == 4
    reused = list((tmp_path / "outputs" / "saturation").rglob("REUSED_FROM.txt"))
    assert len(reused) == 4 and (figures / "saturation_smoke_size_ppo.md").read_text() == table
    fresh = run_experiment(tmp_path, "+experiment=saturation", "rerun=true", "pm=xs", "rm=xs")
    assert "results found in" not in fresh.stdout

    # One cell failing at run time (pm=llama2_7b: its weights are not in the empty local Hugging Face
    # cache, which only the job finds out) does not stop the other cell, and is reported missing; the
    # cells of the earlier sweep are untouched. (A bad config value cannot do this: it is refused before
    # any job.)
    hf = {"HF_HOME": str(tmp_path / "hf")}
    run_experiment(
        tmp_path, "+experiment=saturation", "scale.sizes=[xs]", "rl=rloo", "pm=xs,llama2_7b", env=hf
    )
    failed = list((tmp_path / "outputs" / "saturation").rglob("FAILED.txt"))
    assert len(failed) == 1 and "is not in the local Hugging Face cache" in failed[0].read_text()
    rloo = (figures / "saturation_smoke_size_rloo.md").read_text()
    assert "missing: OfflineModelError" in rloo and rloo.count("| ok") == 1
    assert (figures / "saturation_smoke_size_ppo.md").read_text().count("| ok") == 4


def _kill_at_first_checkpoint(tmp_path, *args) -> Path:
    """Start the experiment, SIGKILL its whole process group as soon as an RL checkpoint exists; the
    killed job's folder."""
    cmd, env = experiment_command(tmp_path, *args)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (found := list((tmp_path / "outputs").rglob(str(RL_CHECKPOINT)))):
        assert proc.poll() is None and time.monotonic() < deadline, (
            "the run ended before its first checkpoint"
        )
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return found[0].parent.parent


def test_an_rl_run_killed_with_sigkill_resumes_to_the_same_results(tmp_path):
    cell = ("+experiment=saturation", "pm=xs", "rm=xs", "rl.steps=12", "rl.checkpoint_every=2")
    killed = _kill_at_first_checkpoint(tmp_path, *cell)
    assert not (killed / "results.csv").exists()

    resumed = run_experiment(tmp_path, *cell, "resume=true")
    assert f"resuming the run stopped in {killed}" in resumed.stdout
    job_logs = [p.read_text() for p in (tmp_path / "outputs" / "saturation").rglob("__main__.log")]
    assert sum("for 12 steps, resumed from" in log for log in job_logs) == 1
    whole = run_experiment(tmp_path, *cell, "rerun=true")  # the same run, never stopped
    assert "resuming" not in whole.stdout
    rows = _rows(tmp_path, "saturation").sort_values("run_dir")
    assert len(rows) == 2 and not list((tmp_path / "outputs").rglob(str(RL_CHECKPOINT)))
    measured = [c for c in columns_of(SaturationRow) if c not in ("run_dir", "rl_seconds")]
    assert rows.iloc[0][measured].equals(rows.iloc[1][measured])
    assert rows["rl_steps"].tolist() == [12, 12]


# The runs as done here; the results notebook's test reads its figures from the same shared runs.
MISMATCH_SMOKE = ("+experiment=mismatch",)
MISMATCH_PAPER_SMOKE = ("+experiment=mismatch_paper",)


def test_mismatch_sweep_writes_curves_and_table(smoke_runs):
    smoke_runs.run(*MISMATCH_SMOKE)
    tmp_path = smoke_runs.root
    rows = _rows(tmp_path, "mismatch")
    assert list(rows.columns) == columns_of(MismatchRow)
    assert set(rows["pm"]) == {"xs", "s"} and (rows["pm"] == rows["rm"]).all()
    for _, cell in rows.groupby("pm"):
        assert sorted(cell["step"]) == [0, 1, 2, 3, 4]  # every fifth of 4 steps: each step, plus the start
    assert rows["mismatch"].dropna().between(0, 1).all() and rows["mismatch_pairs"].sum() > 0
    figures = tmp_path / "outputs" / "figures" / "mismatch"
    assert (figures / "mismatch_smoke_ppo.png").stat().st_size > 10_000
    assert (figures / "mismatch_smoke_ppo.md").read_text().count("| ok") == 2


def test_saturation_paper_grid_spans_sft_steps_and_rm_pairs(tmp_path):
    run_experiment(tmp_path, "+experiment=saturation_paper", "rl=rloo", "trainer.num_threads=1")
    rows = _rows(tmp_path, "saturation")
    assert (rows["grid"] == "paper").all() and set(rows["pm"]) == {"s"} and set(rows["rm"]) == {"s"}
    assert sorted(zip(rows["sft_steps"], rows["rm_pairs"], strict=True)) == [
        (0, 0),
        (0, 200),
        (40, 0),
        (40, 200),
    ]
    # 0 pairs is an untrained head: at chance, below an RM trained on 200 pairs x 2 epochs
    acc = rows.groupby("rm_pairs")["rm_acc_heldout"].mean()
    assert abs(acc[0] - 0.5) < 0.2 and acc[200] > acc[0]
    # every RM starts from the grid's top SFT policy: one SFT policy per PM-axis value, one RM per column
    assert len(list((tmp_path / "cache" / "pm").glob("*[!k]"))) == 2
    assert len(list((tmp_path / "cache" / "rm").glob("*[!k]"))) == 2
    table = (tmp_path / "outputs" / "figures" / "saturation" / "saturation_smoke_paper_rloo.md").read_text()
    assert "SFT 0" in table and "200 pairs" in table and "missing" not in table


def test_paper_mismatch_protocol_judges_the_same_prompts_three_ways(smoke_runs):
    smoke_runs.run(*MISMATCH_PAPER_SMOKE)
    tmp_path = smoke_runs.root
    rows = _rows(tmp_path, "mismatch_paper")
    assert sorted(rows["rm"]) == ["s", "xs"]
    assert (rows["pm_best"] == "s").all() and (rows["pm_mid"] == "xs").all()
    assert (rows["n_prompts"] > 20).all() and (rows["gold_pairs"] > 0).all()
    assert (rows["labeled_pairs"] <= rows["n_prompts"]).all() and (
        rows["gold_pairs"] <= rows["n_prompts"]
    ).all()
    for judge in ("labeler", "gold"):
        lo, mid, hi = (rows[f"mismatch_vs_{judge}{s}"] for s in ("_lo", "", "_hi"))
        assert mid.between(0, 1).all() and (lo <= mid + 1e-9).all() and (mid <= hi + 1e-9).all()
    # both RMs judged the very same answers: each PM samples one answer per prompt, cached once (the
    # shared cache also holds other experiments' samples, n > 1 per prompt)
    assert sum(key["n"] == 1 for key in cache_keys(tmp_path / "cache", "pm_samples")) == 2
    table = (tmp_path / "outputs" / "figures" / "mismatch_paper" / "mismatch_paper_smoke.md").read_text()
    assert "0.35-0.40" in table and "s vs xs" in table
