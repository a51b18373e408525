"""One smoke outputs tree shared by the slow tests that read each other's runs (the results notebook reads
every experiment's figures): an experiment run with the same arguments runs once per session, whichever
pytest-xdist worker asks first. The others wait on its lock and then read its outputs, so these tests need
not sit on one worker (they used to, and that worker was `make test`'s critical path)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from filelock import FileLock, Timeout

from seam_exp.utils.cache import stable_hash
from tests.slow.helpers import run_experiment


class SharedRuns:
    def __init__(self, root: Path):
        self.root = root
        (root / "runs").mkdir(parents=True, exist_ok=True)

    def run(self, *args: str, wait: bool = True) -> bool:
        """Run the experiment unless it ran; False when another worker is running it and `wait` is off."""
        done = self.root / "runs" / f"{stable_hash(list(args))}.done"
        try:
            with FileLock(f"{done}.lock", timeout=-1 if wait else 0):
                if not done.exists():
                    run_experiment(self.root, *args)
                    done.write_text(" ".join(args))
        except Timeout:
            return False
        return True

    def run_all(self, *runs: tuple[str, ...]) -> None:
        """Each of `runs` once per session: first every one that no other worker is running, then the rest
        (waiting for them), so that a worker never sits on a lock while one of its runs is left to do."""
        left = [args for args in runs if not self.run(*args, wait=False)]
        for args in left:
            self.run(*args)


@pytest.fixture(scope="session")
def smoke_runs(tmp_path_factory) -> SharedRuns:
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's base is a folder of the session's base, which all workers share.
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return SharedRuns(shared / "smoke_runs")
