"""What a sweep cost (reporting/costs.py), read back from the job-time line every job logs (utils/job_clock.py)
and, for jobs logged before it existed, from the log's timestamps."""

from __future__ import annotations

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from seam_exp.cli import CONF_DIR
from seam_exp.reporting.costs import job_costs, sweep_costs, write_costs
from seam_exp.reporting.sweep import REUSED_MARKER
from seam_exp.utils.job_clock import JobClock, JobTime, parse
from seam_exp.utils.task_wrapper import FAILED_MARKER


def _job(sweep, name: str, log: str, marker: str | None = None, threads: int = 1):
    job = sweep / name
    (job / ".hydra").mkdir(parents=True)
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            "config", overrides=["+experiment=saturation", "scale=smoke", f"trainer.num_threads={threads}"]
        )
    OmegaConf.save(cfg, job / ".hydra" / "config.yaml")
    (job / "__main__.log").write_text(log)
    if marker is not None:
        (job / marker).write_text("x")
    else:
        (job / "results.csv").write_text("x\n")


def test_a_sweep_costs_its_jobs_that_ran_and_counts_the_reused_apart(tmp_path):
    sweep = tmp_path / "saturation" / "scale=smoke" / "multirun_x"
    timed = JobTime(wall_s=600.0, cpu_s=300.0, load_average=2.5).line()
    # a job that logs its time: 10 min of wall, half of it on the CPU (a shared core)
    _job(
        sweep,
        "a",
        f"[2026-12-01 10:00:00,000][x][INFO] - start\n[2026-12-01 10:10:00,000][x][INFO] - a: {timed}\n",
    )
    # an older job: timed from its first and last log lines, 20 min, no CPU reading
    _job(sweep, "b", "[2026-12-01 10:05:00,000][x][INFO] - start\n[2026-12-01 10:25:00,500][x][INFO] - end\n")
    _job(sweep, "c", "[2026-12-01 10:26:00,000][x][INFO] - reused\n", marker=REUSED_MARKER)
    _job(
        sweep,
        "d",
        "[2026-12-01 10:27:00,000][x][INFO] - start\n[2026-12-01 10:28:00,000][x][INFO] - died\n",
        marker=FAILED_MARKER,
    )
    line = sweep_costs(job_costs(tmp_path)).iloc[0]
    assert (line["jobs run"], line["reused"], line["failed or unfinished"]) == (2, 1, 1)
    assert line["job-hours"] == pytest.approx((600 + 1200.5 + 60) / 3600)
    assert line["CPU share (median)"] == pytest.approx(0.5)
    assert (line["from"], line["to"]) == ("2026-12-01 10:00", "2026-12-01 10:28")
    assert line["span (h)"] == pytest.approx(28 / 60)
    table = pd.read_csv(tmp_path / "figures" / "costs.csv") if write_costs(tmp_path) else None
    assert table is not None and len(table) == 1


def test_the_job_time_line_reads_back_and_the_clock_measures_this_process():
    assert parse(JobTime(10.0, 15.0, 1.0).line()) == JobTime(10.0, 15.0, 1.0)
    assert parse("no such line") is None
    clock = JobClock()
    sum(i * i for i in range(2_000_000))  # CPU work of this process shows as CPU time
    elapsed = clock.elapsed()
    assert 0 < elapsed.cpu_s <= elapsed.wall_s * 4 and elapsed.wall_s > 0


def test_an_empty_tree_writes_no_cost_table(tmp_path):
    assert write_costs(tmp_path) is None


def test_the_cpu_share_is_per_thread(tmp_path):
    # two threads busy for the whole wall time: 600 s of CPU in 300 s of wall is a full share
    sweep = tmp_path / "saturation" / "scale=smoke" / "multirun_y"
    timed = JobTime(wall_s=300.0, cpu_s=600.0, load_average=2.0).line()
    _job(sweep, "a", f"[2026-12-01 10:00:00,000][x][INFO] - a: {timed}\n", threads=2)
    assert sweep_costs(job_costs(tmp_path)).iloc[0]["CPU share (median)"] == pytest.approx(1.0)
