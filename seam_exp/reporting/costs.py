"""What the runs under an outputs tree cost: per experiment and sweep, the jobs that ran (and those that only
reused a finished twin), their summed wall time, the span from the first start to the last end, and how much
of its cores each job had (CPU over wall, from the job-time line every job logs: utils/job_clock.py).

`make figures` writes it as outputs/figures/costs.md|.csv. Jobs logged before the job-time line existed are
timed from their log's first and last timestamps and have no CPU share. The reading is docs/performance.md,
"What a sweep costs".
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from seam_exp.reporting.results import RESULTS_FILE
from seam_exp.reporting.sweep import REUSED_MARKER, job_config
from seam_exp.reporting.tables import write_table
from seam_exp.utils import job_clock
from seam_exp.utils.task_wrapper import FAILED_MARKER

STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})\]", re.MULTILINE)


def job_cost(job: Path) -> dict | None:
    """One job's status, start, end, wall seconds, CPU seconds and threads; None without a log."""
    logs = sorted(job.glob("*.log"))
    text = "\n".join(p.read_text(errors="replace") for p in logs)
    stamps = [datetime.fromisoformat(f"{d}.{ms}") for d, ms in STAMP.findall(text)]
    if not stamps:
        return None
    timed = job_clock.parse(text)
    start = min(stamps)
    wall = timed.wall_s if timed else (max(stamps) - start).total_seconds()
    if (job / REUSED_MARKER).is_file():
        status = "reused"
    elif (job / FAILED_MARKER).is_file():
        status = "failed"
    elif (job / RESULTS_FILE).is_file():
        status = "finished"
    else:
        status = "unfinished"
    cfg = job_config(job / ".hydra" / "config.yaml")
    return {
        "experiment": cfg.get("task"),
        "scale": cfg.scale.name,
        "status": status,
        "start": start,
        "end": start + timedelta(seconds=wall),
        "wall_s": wall,
        "cpu_s": timed.cpu_s if timed else np.nan,
        "threads": cfg.trainer.get("num_threads") or np.nan,
    }


def job_costs(outputs: Path) -> pd.DataFrame:
    """One line per job folder under outputs (a folder with .hydra/config.yaml), its sweep the folder above
    it when that is a multirun folder, else the job itself."""
    rows = []
    for cfg_path in Path(outputs).rglob(".hydra/config.yaml"):
        job = cfg_path.parent.parent
        sweep = job.parent.name if job.parent.name.startswith("multirun") else job.name
        cost = job_cost(job)
        if cost is not None:
            rows.append({**cost, "sweep": sweep})
    return pd.DataFrame(rows)


def sweep_costs(jobs: pd.DataFrame) -> pd.DataFrame:
    """One line per (experiment, scale, sweep), in the order they started."""
    if not len(jobs):
        return pd.DataFrame()
    lines = []
    for (experiment, scale, sweep), g in jobs.groupby(["experiment", "scale", "sweep"]):
        ran = g[g["status"] != "reused"]
        share = ran["cpu_s"] / (ran["wall_s"] * ran["threads"].fillna(1))
        lines.append(
            {
                "experiment": experiment,
                "scale": scale,
                "sweep": sweep,
                "jobs run": int((ran["status"] == "finished").sum()),
                "reused": int((g["status"] == "reused").sum()),
                "failed or unfinished": int(ran["status"].isin(["failed", "unfinished"]).sum()),
                "job-hours": ran["wall_s"].sum() / 3600,
                "from": g["start"].min().strftime("%Y-%m-%d %H:%M"),
                "to": g["end"].max().strftime("%Y-%m-%d %H:%M"),
                "span (h)": (g["end"].max() - g["start"].min()).total_seconds() / 3600,
                "median job (min)": ran["wall_s"].median() / 60,
                "CPU share (median)": share.median() if share.notna().any() else np.nan,
            }
        )
    return pd.DataFrame(lines).sort_values("from", kind="stable").reset_index(drop=True)


def write_costs(outputs: Path) -> Path | None:
    """outputs/figures/costs.md|.csv; None when the tree holds no job."""
    table = sweep_costs(job_costs(outputs))
    if not len(table):
        return None
    folder = Path(outputs) / "figures"
    title = "What each sweep cost (job-hours: wall time summed over the jobs that ran; CPU share: CPU over wall per thread, 1.0 = a core to itself)"
    write_table(table, folder, "costs", title)
    return folder / "costs.md"
