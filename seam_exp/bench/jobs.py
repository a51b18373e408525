"""Jobs against threads (`--sections jobs`): one sweep, the saturation grid on the sizes of `--jobs-sizes`,
run once as one-thread jobs on every core and once as a single job with every core's threads, in fresh
outputs folders. It measures the rule of the local launcher (seam_exp/utils/machine.py, docs/performance.md).

Models come from the artifact cache (trained first, untimed, where missing); so do the start policies'
evaluation samples once `make run` has run. Where they are missing, the first shape timed draws them: the
launcher's own shape goes first, so that any such cost counts against the rule, not for it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from seam_exp.utils.machine import usable_cores


def shapes(cores: int) -> list[tuple[int, int]]:
    """(parallel jobs, threads per job) to compare: the launcher's rule first, then one job with all cores."""
    return [(cores, 1)] if cores == 1 else [(cores, 1), (1, cores)]


def jobs_rows(scale: str, sizes: list[str]) -> list[dict]:
    base = [sys.executable, "-m", "seam_exp", f"scale={scale}", f"scale.sizes=[{','.join(sizes)}]"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="seam-bench-jobs-") as tmp:
        models = [*base, "+experiment=models", f"paths.outputs={Path(tmp) / 'models'}"]
        subprocess.run(models, check=True, capture_output=True)
        for jobs, threads in shapes(usable_cores()):
            outputs = Path(tmp) / f"{jobs}x{threads}"
            cmd = [
                *base,
                "+experiment=saturation",
                f"hydra.launcher.n_jobs={jobs}",
                f"trainer.num_threads={threads}",
                f"paths.outputs={outputs}",
            ]
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            seconds = time.perf_counter() - start
            runs = len(list((outputs / "saturation").rglob("results.csv")))
            rows.append({"jobs": jobs, "threads per job": threads, "RL runs": runs, "wall s": seconds})
    fastest = min(r["wall s"] for r in rows)
    return [{**r, "wall over fastest": r["wall s"] / fastest} for r in rows]
