"""One smoke outputs tree shared by the slow tests that read each other's runs (the results notebook reads
every experiment's figures): an experiment run with the same arguments runs once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.slow.helpers import run_experiment


class SharedRuns:
    def __init__(self, root: Path):
        self.root, self._done = root, {}

    def run(self, *args: str):
        if args not in self._done:
            self._done[args] = run_experiment(self.root, *args)
        return self._done[args]


@pytest.fixture(scope="session")
def smoke_runs(tmp_path_factory) -> SharedRuns:
    return SharedRuns(tmp_path_factory.mktemp("smoke_runs"))
