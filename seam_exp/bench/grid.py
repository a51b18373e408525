"""The grid of `make run`, cold and warm (`--sections grid`, `make bench-grid`): the models experiment
then the saturation sweep, in a fresh artifact cache and outputs folder, timed as a user would see them; then
both again from the cache and outputs they left, as a user's second `make run` (every finished job is reused).
Every job logs its own peak resident memory (seam_exp/utils/memory.py); the largest per experiment is reported,
of the jobs that ran in that state.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PEAK = re.compile(r"peak resident memory (\d+) MiB")
COMMANDS = (("models", ["+experiment=models"]), ("saturation", ["+experiment=saturation"]))


def _job_peaks(outputs: Path, experiment: str, since: float) -> list[float]:
    """Of the jobs whose log was written after `since` (epoch seconds): a warm run's reused jobs write none."""
    return [
        float(m.group(1))
        for log in (outputs / experiment).rglob("*.log")
        if log.stat().st_mtime >= since
        for m in PEAK.finditer(log.read_text(errors="replace"))
    ]


def grid_rows(scale: str) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="seam-bench-grid-") as tmp:
        env = {**os.environ, "SEAM_EXP_CACHE": str(Path(tmp) / "cache")}
        outputs = Path(tmp) / "outputs"
        for state in ("cold", "warm"):
            total = 0.0
            for experiment, args in COMMANDS:
                cmd = [sys.executable, "-m", "seam_exp", *args, f"scale={scale}", f"paths.outputs={outputs}"]
                since, start = time.time(), time.perf_counter()
                subprocess.run(cmd, env=env, check=True, capture_output=True)
                seconds = time.perf_counter() - start
                total += seconds
                peaks = _job_peaks(outputs, experiment, since)
                rows.append(
                    {
                        "run": state,
                        "command": " ".join(args),
                        "wall s": seconds,
                        "jobs": len(peaks),
                        "peak MiB per job (max)": max(peaks, default=float("nan")),
                    }
                )
            rows.append({"run": state, "command": "make run (both)", "wall s": total})
    return rows
