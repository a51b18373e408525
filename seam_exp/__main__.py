"""`python -m seam_exp +experiment=<name> [overrides]`: compose the config and dispatch to the runner."""

from __future__ import annotations

import importlib
import logging
import sys

import hydra
from omegaconf import DictConfig

from seam_exp.cli import ConfigError, check
from seam_exp.models.factory import ensure_available
from seam_exp.utils.runtime import force_offline, quiet_known_warnings
from seam_exp.utils.task_wrapper import task_wrapper

log = logging.getLogger("seam_exp")

# task name -> module with a `run(cfg)` function; imported lazily so `--help` stays fast.
RUNNERS = {
    "world": "seam_exp.experiments.world",
    "sanity": "seam_exp.experiments.sanity",
    "seam": "seam_exp.experiments.seam",
    "saturation": "seam_exp.experiments.saturation",
    "mismatch": "seam_exp.experiments.mismatch",
    "models": "seam_exp.experiments.models",
}


@task_wrapper
def dispatch(cfg: DictConfig):
    quiet_known_warnings()  # here, not in main(): joblib workers start fresh interpreters
    if cfg.task not in RUNNERS:
        raise ValueError(f"unknown task '{cfg.task}'; valid: {', '.join(RUNNERS)}")
    for preset in ("pm", "rm"):
        ensure_available(cfg[preset])
    return importlib.import_module(RUNNERS[cfg.task]).run(cfg)


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def hydra_main(cfg: DictConfig):
    return dispatch(cfg)


def main() -> None:
    force_offline()
    if not any(
        a in ("--help", "-h", "--hydra-help", "--info") or a.startswith("--cfg") for a in sys.argv[1:]
    ):
        try:
            check(sys.argv[1:])
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(2)
    hydra_main()


if __name__ == "__main__":
    main()
