"""Run the real entry point as a user would, in a scratch outputs/cache folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from seam_exp.utils.cache import MANIFEST

ROOT = Path(__file__).resolve().parents[2]


def experiment_command(tmp_path: Path, *args: str, env: dict | None = None) -> tuple[list[str], dict]:
    """The command line and environment (os.environ plus `env`) of an experiment run in tmp_path's
    outputs and cache."""
    env = {**os.environ, **(env or {}), "HF_HUB_OFFLINE": "1", "SEAM_EXP_CACHE": str(tmp_path / "cache")}
    # Under pytest-xdist two workers share the cores: one thread per experiment, unless a test sets it.
    threads = [] if any(a.startswith("trainer.num_threads=") for a in args) else ["trainer.num_threads=1"]
    # ... and the workers are the parallelism: a sweep's jobs run one after another in its own process
    # (joblib runs n_jobs=1 in place), which spares each sweep two interpreter start-ups (torch,
    # transformers, lightning: about a third of a smoke sweep's CPU time), unless a test picks a launcher.
    launcher = (
        []
        if any(a.startswith(("hydra/launcher=", "hydra.launcher.")) for a in args)
        else ["hydra.launcher.n_jobs=1"]
    )
    cmd = [
        sys.executable,
        "-m",
        "seam_exp",
        *args,
        *threads,
        *launcher,
        "scale=smoke",
        f"paths.outputs={tmp_path / 'outputs'}",
        "trainer.enable_progress_bar=false",
    ]
    return cmd, env


def run_experiment(
    tmp_path: Path, *args: str, timeout: int = 600, env: dict | None = None
) -> subprocess.CompletedProcess:
    cmd, env = experiment_command(tmp_path, *args, env=env)
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def cache_keys(cache: Path, kind: str) -> list[dict]:
    """The key each finished artifact of `kind` in `cache` was built under (from its manifest)."""
    return [json.loads(m.read_text())["config"]["config"] for m in (cache / kind).glob(f"*/{MANIFEST}")]
