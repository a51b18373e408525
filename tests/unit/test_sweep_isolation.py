"""A failing sweep cell is isolated: it records why, the sweep goes on, and aggregation reports it missing."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import seam_exp.utils.task_wrapper as task_wrapper
from seam_exp.__main__ import dispatch
from seam_exp.cli import CONF_DIR
from seam_exp.experiments import mismatch, mismatch_report, saturation_report
from seam_exp.experiments.saturation import SaturationRow
from seam_exp.reporting.results import columns_of, write_results
from seam_exp.reporting.sweep import sweep_jobs, sweep_results


def _cfg(*overrides):
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=["+experiment=saturation", "scale=smoke", *overrides])


def test_a_failing_cell_writes_failed_txt_and_returns_in_a_multirun(tmp_path, monkeypatch):
    monkeypatch.setattr(task_wrapper, "in_multirun", lambda: True)
    monkeypatch.setattr(task_wrapper, "output_dir", lambda: tmp_path)
    monkeypatch.chdir(tmp_path)  # outside Hydra the run folder is the current one: keep the repository clean
    assert dispatch(_cfg("rl.kl.estimator=k9")) is None  # no exception escapes to the launcher
    reason = (tmp_path / "FAILED.txt").read_text()
    assert reason.startswith("BadValue: rl.kl.estimator: unknown 'k9'")
    assert "Traceback" in reason


def test_outside_a_multirun_a_bad_rl_setting_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(task_wrapper, "output_dir", lambda: tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        dispatch(_cfg("rl.kl.estimator=k9"))
    assert info.value.code == 2
    assert capsys.readouterr().err == "error: rl.kl.estimator: unknown 'k9'; valid: k1, k3, abs, mse\n"
    assert not (tmp_path / "FAILED.txt").exists()


def _job(root, name, pm, rm, *, ok: bool, reason: str = "", extra: tuple[str, ...] = ()):
    """A Hydra job folder as a saturation sweep leaves it: its config and command-line overrides, and
    results.csv or FAILED.txt."""
    job = root / name
    (job / ".hydra").mkdir(parents=True)
    overrides = ["+experiment=saturation", "scale=smoke", f"pm={pm}", f"rm={rm}", "seed=0", *extra]
    OmegaConf.save(_cfg(*overrides[2:]), job / ".hydra" / "config.yaml")
    OmegaConf.save(OmegaConf.create([*overrides, "paths.outputs=/tmp/x"]), job / ".hydra" / "overrides.yaml")
    if ok:
        row = {c: 0.1 for c in columns_of(SaturationRow)}
        row.update(
            experiment="saturation",
            scale="smoke",
            pm=pm,
            rm=rm,
            pm_seed=0,
            rm_seed=0,
            seed=0,
            run_dir=str(job),
            grid="size",
        )
        row.update(pm_budget=1.0, rm_budget=1.0, algorithm="ppo", reward_source="rm")
        row.update(gain=0.25, gain_lo=0.1, gain_hi=0.4)
        write_results([SaturationRow(**row)], job)
    else:
        (job / "FAILED.txt").write_text(reason + "\n\nTraceback ...")
    time.sleep(0.01)  # distinct mtimes: the newest job of a cell decides
    return job


def test_aggregation_reports_failed_and_silent_cells_as_missing(tmp_path):
    sweep = tmp_path / "saturation" / "scale=smoke" / "multirun_x"
    _job(sweep, "a", "xs", "xs", ok=True)
    _job(sweep, "b", "xs", "s", ok=False, reason="NonFiniteLossError: RL diverged at step 3")
    _job(sweep, "c", "s", "xs", ok=True)
    silent = sweep / "d"  # killed: a config and nothing else
    (silent / ".hydra").mkdir(parents=True)
    OmegaConf.save(_cfg("pm=s", "rm=s"), silent / ".hydra" / "config.yaml")
    # A later re-run of a good cell that failed: the cell now counts as missing.
    _job(
        tmp_path / "saturation" / "scale=smoke" / "multirun_y",
        "c2",
        "s",
        "xs",
        ok=False,
        reason="OSError: disk",
    )

    jobs = sweep_jobs(tmp_path, "saturation", saturation_report.CELL)
    assert len(jobs) == 4 and jobs["ok"].sum() == 1
    written = saturation_report.aggregate(tmp_path)
    table = (tmp_path / "figures" / "saturation" / "saturation_smoke_size_ppo.md").read_text()
    lines = {tuple(c.strip() for c in line.split("|")[1:3]): line for line in table.splitlines()[4:]}
    assert "ok" in lines[("xs", "xs")] and "+0.250 [+0.100, +0.400]" in lines[("xs", "xs")]
    assert "missing: NonFiniteLossError: RL diverged at step 3" in lines[("xs", "s")]
    assert "missing: OSError: disk" in lines[("s", "xs")]
    assert "missing: no result" in lines[("s", "s")]
    assert all(p.is_file() for p in written)
    assert any(p.name.endswith("_heatmap.png") for p in written)


def test_a_job_config_rewritten_in_place_is_read_anew(tmp_path):
    # configs are parsed once per process (reporting/sweep.py: job_config); a rerun in the same folder must not
    # be judged by the config it replaced
    sweep = tmp_path / "saturation" / "scale=smoke" / "multirun_x"
    _job(sweep, "a", "xs", "xs", ok=True)
    assert sweep_jobs(tmp_path, "saturation", saturation_report.CELL)["pm"].tolist() == ["xs"]
    OmegaConf.save(_cfg("pm=s", "rm=xs"), sweep / "a" / ".hydra" / "config.yaml")
    assert sweep_jobs(tmp_path, "saturation", saturation_report.CELL)["pm"].tolist() == ["s"]


def test_an_outputs_tree_without_this_experiment_aggregates_to_nothing(tmp_path):
    # `make figures` visits every experiment; one that never ran must not crash the others.
    _job(tmp_path / "saturation" / "scale=smoke" / "multirun_x", "a", "xs", "xs", ok=True)
    results, missing = sweep_results(tmp_path, "mismatch", mismatch_report.CELL, mismatch.MismatchRow)
    assert results.empty and missing.empty
    assert mismatch_report.aggregate(tmp_path) == []


def test_runs_that_differ_in_a_swept_knob_are_reported_apart_not_merged(tmp_path):
    sweep = tmp_path / "saturation" / "scale=smoke" / "multirun_x"
    _job(sweep, "a", "xs", "xs", ok=True, extra=("rl.kl.coef=0.05",))
    _job(sweep, "b", "xs", "xs", ok=True, extra=("rl.kl.coef=0.2", "trainer.enable_progress_bar=false"))
    _job(sweep, "c", "xs", "xs", ok=True)  # the defaults: the plain table
    jobs = sweep_jobs(tmp_path, "saturation", saturation_report.CELL)
    assert sorted(jobs["variant"]) == ["", "rl.kl.coef=0.05", "rl.kl.coef=0.2"]
    names = sorted(p.name for p in saturation_report.aggregate(tmp_path) if p.suffix == ".md")
    assert names == [
        "saturation_smoke_size_ppo.md",
        "saturation_smoke_size_ppo_rl.kl.coef=0.05.md",
        "saturation_smoke_size_ppo_rl.kl.coef=0.2.md",
    ]
    table = (tmp_path / "figures" / "saturation" / "saturation_smoke_size_ppo_rl.kl.coef=0.2.md").read_text()
    assert "rl.kl.coef=0.2" in table.splitlines()[0] and table.count("| ok") == 1


def test_kl_budgets_choose_the_checkpoint_on_validation_prompts_only(tmp_path):
    from seam_exp.rl.kl_budget import at_kl_budget

    history = pd.DataFrame(
        {
            "step": [0, 12, 24, 36],
            "val_kl": [0.0, 0.4, 0.9, 3.0],
            "val_gold": [1.0, 1.5, 1.2, 2.0],
            "gain": [0.0, 0.1, 0.9, 0.5],  # eval gain: highest at step 24, which validation does not prefer
            "kl": [0.0, 0.5, 1.0, 3.1],
        }
    )
    assert at_kl_budget(history, 0.5)["step"] == 12
    assert at_kl_budget(history, 1.0)["step"] == 12  # not 24, although its eval gain is larger
    assert at_kl_budget(history, 4.0)["step"] == 36
    assert at_kl_budget(history.assign(val_kl=[0.2, 1, 2, 3]), 0.1) is None

    sweep = tmp_path / "saturation" / "scale=smoke" / "multirun_x"
    job = _job(sweep, "a", "xs", "xs", ok=True)
    history.assign(
        gain_lo=history["gain"] - 0.1, gain_hi=history["gain"] + 0.1, kl_lo=0.0, kl_hi=5.0, gold=1.0
    ).to_csv(job / "history.csv", index=False)
    written = {p.name for p in saturation_report.aggregate(tmp_path)}
    assert {
        "saturation_smoke_size_ppo_kl_budgets.md",
        "saturation_smoke_size_ppo_kl_budgets_gold_vs_kl.png",
    } <= written
    assert "saturation_smoke_size_ppo_kl_budgets_heatmap_kl1.png" in written
    table = (tmp_path / "figures" / "saturation" / "saturation_smoke_size_ppo_kl_budgets.md").read_text()
    assert "+0.100 [+0.000, +0.200] (12)" in table  # KL <= 1: step 12's eval gain and its CI


def test_a_finished_cell_is_reused_only_with_the_same_config_and_code(tmp_path):
    from seam_exp.reporting.sweep import CODE_STAMP, finished_twin, reuse

    sweep = tmp_path / "saturation" / "scale=smoke" / "multirun_x"
    done = _job(sweep, "a", "xs", "xs", ok=True)
    (done / CODE_STAMP).write_text("v1")
    here = tmp_path / "saturation" / "scale=smoke" / "multirun_y" / "a"
    cfg = _cfg("pm=xs", "rm=xs", "seed=0")
    assert finished_twin(tmp_path / "saturation", cfg, "v1", here) == done
    assert finished_twin(tmp_path / "saturation", cfg, "v2", here) is None  # other code: run again
    assert finished_twin(tmp_path / "saturation", _cfg("pm=xs", "rm=xs", "seed=1"), "v1", here) is None
    # the same cell from a sweep launched over other lists (a later stage, a widened grid): the same job
    assert (
        finished_twin(
            tmp_path / "saturation", _cfg("pm=xs", "rm=xs", "seed=0", "+sweep.pms=[xs]"), "v1", here
        )
        == done
    )
    # nor do the scale's list of RL seeds and the progress bar (how the sweep ran, not what the job computed)
    quiet = _cfg("pm=xs", "rm=xs", "seed=0", "scale.seeds=[0]", "trainer.enable_progress_bar=false")
    assert finished_twin(tmp_path / "saturation", quiet, "v1", here) == done
    assert (
        finished_twin(tmp_path / "saturation", _cfg("pm=xs", "rm=xs", "seed=0", "rl.steps=7"), "v1", here)
        is None
    )
    # a widened size list is how the sweep ran, but a key derived from it is what the job computed
    wider = _cfg("pm=xs", "rm=xs", "seed=0", "scale.sizes=[xs,s,m,l]")
    assert finished_twin(tmp_path / "saturation", wider, "v1", here) == done
    derived = _job(
        sweep.parent / "multirun_z", "b", "xs", "xs", ok=True, extra=("+best='${last_of:${scale.sizes}}'",)
    )
    (derived / CODE_STAMP).write_text("v1")
    same_best = _cfg("pm=xs", "rm=xs", "seed=0", "+best='${last_of:${scale.sizes}}'", "scale.sizes=[s]")
    assert finished_twin(tmp_path / "saturation", same_best, "v1", here) == derived
    other_best = _cfg("pm=xs", "rm=xs", "seed=0", "+best='${last_of:${scale.sizes}}'", "scale.sizes=[xs,m]")
    assert finished_twin(tmp_path / "saturation", other_best, "v1", here) is None
    (done / "FAILED.txt").write_text("later failure")
    assert finished_twin(tmp_path / "saturation", cfg, "v1", here) is None
    (done / "FAILED.txt").unlink()
    reuse(done, here)
    assert (here / "results.csv").read_text() == (done / "results.csv").read_text()
    assert (here / "REUSED_FROM.txt").read_text().strip() == str(done)


def _mismatch_job(root, name: str, train_seed: int, start: float, end: float):
    """A finished mismatch job of PM xs / RM xs: its evaluations at steps 0 and 4, mismatch start -> end."""
    job = root / "mismatch" / "scale=smoke" / "multirun_x" / name
    (job / ".hydra").mkdir(parents=True)
    overrides = [
        "+experiment=mismatch",
        "scale=smoke",
        "pm=xs",
        "rm=xs",
        "seed=0",
        f"train_seed={train_seed}",
    ]
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        OmegaConf.save(compose("config", overrides=overrides), job / ".hydra" / "config.yaml")
    OmegaConf.save(OmegaConf.create(overrides), job / ".hydra" / "overrides.yaml")
    rows = []
    for step, value in ((0, start), (4, end)):
        row = {c: 0.1 for c in columns_of(mismatch.MismatchRow)}
        row.update(
            experiment="mismatch", scale="smoke", pm="xs", rm="xs", pm_seed=train_seed, rm_seed=train_seed
        )
        row.update(
            seed=0, run_dir=str(job), algorithm="ppo", reward_source="rm", step=step, mismatch_pairs=10
        )
        row.update(mismatch=value, mismatch_lo=value - 0.01, mismatch_hi=value + 0.01)
        rows.append(mismatch.MismatchRow(**row))
    write_results(rows, job)


def test_mismatch_pools_the_trainings_of_a_cell_instead_of_keeping_the_newest(tmp_path):
    # two trainings of one cell: both are read (start 0.2 and 0.3, end 0.4 and 0.6), as one pooled line
    _mismatch_job(tmp_path, "a", 0, 0.2, 0.4)
    _mismatch_job(tmp_path, "b", 1, 0.3, 0.6)
    jobs = sweep_jobs(tmp_path, "mismatch", mismatch_report.CELL)
    assert len(jobs) == 2 and (jobs["variant"] == "").all()
    mismatch_report.aggregate(tmp_path)
    table = pd.read_csv(tmp_path / "figures" / "mismatch" / "mismatch_smoke_ppo.csv")
    assert len(table) == 1 and table["trained models"].iloc[0] == 2 and table["runs"].iloc[0] == 2
    assert table["mismatch at start"].iloc[0].startswith("0.250 [")
    assert table["mismatch at end"].iloc[0].startswith("0.500 [")
    assert table["growth (end - start)"].iloc[0].startswith("+0.250 [")
    assert table["CI over"].iloc[0] == "trained models and prompts"
    assert (tmp_path / "figures" / "mismatch" / "mismatch_smoke_ppo.png").stat().st_size > 10_000
