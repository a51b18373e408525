"""Every experiment's tables and figures from the results.csv files under an outputs tree, written to
outputs/figures/<experiment>/: by `make figures` (python -m seam_exp.figures outputs) and by a Hydra
callback at the end of every sweep; `make figures` also writes the claims ledger, outputs/figures/claims.md
(reporting/claims.py), and what each sweep cost, outputs/figures/costs.md (reporting/costs.py)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from seam_exp import experiments
from seam_exp.reporting.claims import write_ledger
from seam_exp.reporting.costs import write_costs

log = logging.getLogger(__name__)


def aggregate_experiment(name: str, outputs: Path) -> list[Path]:
    aggregate = experiments.get(name).aggregate
    return aggregate(outputs) if aggregate is not None else []


# The experiments whose claims the ledger reads, in the paper's order.
LEDGER = ("saturation", "mismatch_paper", "seam", "selection", "augmentation")


def ledger(outputs: Path) -> Path:
    """Write outputs/figures/claims.md from every claim-reading experiment's runs under outputs."""
    claims, readings = [], []
    for name in LEDGER:
        declared, read = experiments.get(name).claims(outputs)
        claims += declared
        readings += read
    return write_ledger(outputs, readings, claims)


class AggregateOnMultirunEnd(Callback):
    def __init__(self, experiment: str, outputs: str = "outputs"):
        self.experiment, self.outputs = experiment, Path(outputs)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        for path in aggregate_experiment(self.experiment, self.outputs):
            log.info("wrote %s", path)
            print(f"wrote {path}")


def main(argv: list[str]) -> int:
    outputs = Path(argv[0] if argv else "outputs")
    if not outputs.is_dir():
        print(f"error: no outputs folder at {outputs}: run an experiment first", file=sys.stderr)
        return 2
    for name in experiments.names():
        for path in aggregate_experiment(name, outputs):
            print(f"{name}: {path}")
    print(f"claims: {ledger(outputs)}")
    costs = write_costs(outputs)
    if costs is not None:
        print(f"costs: {costs}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
