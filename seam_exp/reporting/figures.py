"""`make figures` (python -m seam_exp.reporting.figures outputs): every experiment's tables and figures
from the results.csv files under an outputs tree, written to outputs/figures/<experiment>/."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

# experiment -> module with aggregate(outputs: Path) -> list of written files
AGGREGATORS = {
    "sanity": "seam_exp.reporting.sanity",
    "seam": "seam_exp.reporting.seam",
    "saturation": "seam_exp.reporting.saturation",
    "mismatch": "seam_exp.reporting.mismatch",
}


def aggregate_experiment(experiment: str, outputs: Path) -> list[Path]:
    return importlib.import_module(AGGREGATORS[experiment]).aggregate(outputs)


def main(argv: list[str]) -> int:
    outputs = Path(argv[0] if argv else "outputs")
    if not outputs.is_dir():
        print(f"error: no outputs folder at {outputs}: run an experiment first", file=sys.stderr)
        return 2
    for experiment in AGGREGATORS:
        for path in aggregate_experiment(experiment, outputs):
            print(f"{experiment}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
