"""The experiment registry: every experiment is found by its task name, every YAML dispatches to one, and
every result row round-trips through results.csv and feeds its own aggregation (fast, no training)."""

from __future__ import annotations

import dataclasses
import pkgutil
import shutil
from types import SimpleNamespace

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from seam_exp import experiments
from seam_exp.cli import CONF_DIR, group_options
from seam_exp.errors import UserError
from seam_exp.reporting.results import collect_results, columns_of, write_results

WITH_ROWS = [name for name in experiments.names() if experiments.get(name).row is not None]


def _cfg(experiment: str):
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=[f"+experiment={experiment}", "scale=smoke"])
    OmegaConf.resolve(cfg)
    return cfg


@pytest.mark.parametrize("experiment", group_options("experiment"))
def test_every_yaml_dispatches_to_a_registered_experiment(experiment):
    task = _cfg(experiment).task
    assert task in experiments.names()
    assert callable(experiments.get(task).run)


def test_a_recipe_run_refuses_the_other_recipes_refresh_setting_before_any_work():
    no_refresh = _cfg("online_refresh_recipe")
    no_refresh.online.refresh.chooser = "none"
    with pytest.raises(UserError, match="set online.refresh.chooser"):
        experiments.get("online_refresh_recipe").run(no_refresh)
    refreshed = _cfg("rl_recipe")
    refreshed.online.refresh.chooser = "random"
    with pytest.raises(UserError, match=r"\+experiment=online_refresh_recipe"):
        experiments.get("rl_recipe").run(refreshed)


def test_unknown_task_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown task 'nope'; valid: .*saturation"):
        experiments.get("nope")


def test_a_reporting_module_stands_beside_its_experiment_and_is_none_itself():
    reports = [m.name for m in pkgutil.iter_modules(experiments.__path__) if m.name.endswith("_report")]
    assert "saturation_report" in reports
    for report in reports:
        assert report not in experiments.names()
        assert report.removesuffix("_report") in experiments.names()
        with pytest.raises(ValueError, match=f"unknown task '{report}'"):
            experiments.get(report)


def test_an_rl_row_takes_its_run_outcome_under_its_own_column_names():
    @dataclasses.dataclass
    class Row:
        sft_gold: float
        rl_gold: float
        sft_correct: float
        gain_lo: float
        rl_steps: int
        other: str

    start = {"gold": 1.0, "correct_rate": 0.5, "gain_lo": 0.0}
    final = {"gold": 2.0, "correct_rate": 0.75, "gain_lo": 0.25}
    keys = ["gold_lo", "gold_hi", "proxy", "mismatch", "hacking", *experiments.FINAL_METRICS]
    history = [{k: 0.0 for k in keys} | start, {k: 0.0 for k in keys} | final]
    evaluation = SimpleNamespace(evaluator=SimpleNamespace(prompts=[1, 2]))
    run = SimpleNamespace(history=history, steps=7, seconds=1.0, evaluation=evaluation)
    assert experiments.rl_outcome(run, Row) == {
        "sft_gold": 1.0,
        "rl_gold": 2.0,
        "sft_correct": 0.5,
        "gain_lo": 0.25,
        "rl_steps": 7,
    }


# A value no table prints unless it read it from the row: the aggregation must carry the measurement.
READING = 0.4321


def _synthetic_row(row_type, cfg, run_dir: str):
    """A row whose values are the ones a real run of `cfg` would write where aggregation groups by them
    (names, grid, algorithm), and one distinctive number (READING) in every other float field."""
    known = {
        "experiment": cfg.task,
        "scale": cfg.scale.name,
        "pm": cfg.pm.name,
        "rm": cfg.rm.name,
        "seed": 0,
        "run_dir": run_dir,
        "grid": "size",
        "algorithm": cfg.rl.algorithm,
        "reward_source": cfg.rl.reward.source,
        "policy": "sft",
        "variant": "adv",
        "ablation": "seam",
        "pm_budget": cfg.pm.sft.budget,
        "rm_budget": cfg.rm.train.budget,
        "budget": cfg.pm.sft.budget,
        "arm": "original",
        "method": "full",
        "method_label": "full",
        "kind": "original",
        "side": "none",
        "artifact": cfg.get("artifact", "pm"),
    }
    by_type = {"int": 3, "float": READING, "str": "x"}
    values = {f.name: known.get(f.name, by_type[str(f.type)]) for f in dataclasses.fields(row_type)}
    return row_type(**values)


@pytest.mark.parametrize("name", WITH_ROWS)
def test_row_round_trips_and_feeds_the_aggregation(name, tmp_path):
    experiment = experiments.get(name)
    assert dataclasses.is_dataclass(experiment.row)
    cfg = _cfg(name)
    job = tmp_path / name / f"scale={cfg.scale.name}" / "multirun_x" / "job0"
    (job / ".hydra").mkdir(parents=True)
    OmegaConf.save(cfg, job / ".hydra" / "config.yaml")
    OmegaConf.save(
        OmegaConf.create([f"+experiment={name}", "scale=smoke"]), job / ".hydra" / "overrides.yaml"
    )
    row = _synthetic_row(experiment.row, cfg, str(job))
    write_results([row], job)

    back = collect_results(tmp_path, cfg.task, experiment.row)
    assert list(back.columns) == [*columns_of(experiment.row), "_mtime"]
    assert back.drop(columns="_mtime").iloc[0].to_dict() == pytest.approx(dataclasses.asdict(row))

    written = experiment.aggregate(tmp_path)
    tables = [p for p in written if p.suffix == ".md"]
    assert tables, f"{name}: aggregation wrote no table"
    assert any(f"{READING:.3f}" in p.read_text() for p in tables), f"{name}: no table shows the row's reading"


def test_a_row_of_another_experiment_is_refused(tmp_path):
    a, b = (experiments.get(n).row for n in WITH_ROWS[:2])
    cfg = _cfg(WITH_ROWS[0])
    with pytest.raises(TypeError, match="one dataclass"):
        write_results([_synthetic_row(a, cfg, "x"), _synthetic_row(b, cfg, "x")], tmp_path)
    assert not (tmp_path / "results.csv").exists()
    with pytest.raises(TypeError):  # a missing field fails where the row is built
        a(**{f: 0 for f in columns_of(a)[:-1]})


def test_collect_skips_results_of_an_older_schema(tmp_path):
    name = WITH_ROWS[0]
    row_type = experiments.get(name).row
    pd.DataFrame({"experiment": [_cfg(name).task], "old_column": [1]}).to_csv(tmp_path / "results.csv")
    assert len(collect_results(tmp_path, _cfg(name).task, row_type)) == 0


def test_a_moved_tree_of_runs_is_read_where_it_is_now(tmp_path):
    """A committed runs folder checked out elsewhere: each run_dir, a reused job's (its twin's) included,
    points into the tree where it now lies."""
    name = WITH_ROWS[0]
    row_type, cfg = experiments.get(name).row, _cfg(name)
    old = tmp_path / "was" / "runs"
    ran, reused = old / name / "multirun_a" / "job0", old / name / "multirun_b" / "job0"
    write_results([_synthetic_row(row_type, cfg, str(ran))], ran)
    write_results([_synthetic_row(row_type, cfg, str(ran))], reused)  # a reused job names its twin
    new = tmp_path / "now" / "runs"
    new.parent.mkdir()
    shutil.move(old, new)

    back = collect_results(new, cfg.task, row_type)
    assert back["run_dir"].tolist() == [str((new / name / "multirun_a" / "job0").resolve())] * 2
    assert collect_results(tmp_path / "elsewhere", cfg.task, row_type).empty
