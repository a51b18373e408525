"""Which cells of a sweep produced a result, which failed and why, and which never reported.

Every Hydra job folder holds `.hydra/config.yaml`; a finished job adds its results.csv, a failed one
FAILED.txt (seam_exp.utils.task_wrapper), a killed one neither. A cell that ran several times is
judged by its newest job, so a cell that failed after an earlier success is reported missing.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from seam_exp.reporting.results import RESULTS_FILE, SCHEMAS, collect_results
from seam_exp.utils.task_wrapper import FAILED_MARKER


def _reason(job: Path) -> str:
    failed = job / FAILED_MARKER
    if failed.is_file():
        return failed.read_text().splitlines()[0] if failed.read_text() else "failed"
    return "no result (killed or still running)"


def sweep_jobs(root: Path, task: str, keys: dict[str, str]) -> pd.DataFrame:
    """The newest job of each cell of `task` under root: its key values (column -> config path),
    job_dir, mtime, ok and reason (empty when ok)."""
    rows = []
    for cfg_path in Path(root).rglob(".hydra/config.yaml"):
        job = cfg_path.parent.parent
        cfg = OmegaConf.load(cfg_path)
        if cfg.get("task") != task:
            continue
        ok = (job / RESULTS_FILE).is_file() and not (job / FAILED_MARKER).is_file()
        rows.append(
            {
                **{col: OmegaConf.select(cfg, path, default=None) for col, path in keys.items()},
                "job_dir": job,
                "mtime": cfg_path.stat().st_mtime,
                "ok": ok,
                "reason": "" if ok else _reason(job),
            }
        )
    if not rows:
        return pd.DataFrame(columns=[*keys, "job_dir", "mtime", "ok", "reason"])
    df = pd.DataFrame(rows).sort_values("mtime")
    return df.groupby(list(keys), dropna=False, as_index=False).last()


def sweep_results(root: Path, task: str, keys: dict[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(results rows of the newest successful job of each cell, the cells whose newest job is missing)."""
    jobs = sweep_jobs(root, task, keys)
    done = jobs["ok"].astype(bool)  # an empty object column would index columns, not rows
    ok = jobs[done]
    frames = [collect_results(job, task) for job in ok["job_dir"]]
    frames = [f for f in frames if len(f)]
    results = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=SCHEMAS[task])
    return results, jobs[~done].drop(columns=["ok"])
