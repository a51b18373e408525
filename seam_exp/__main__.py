"""`python -m seam_exp +experiment=<name> [overrides]`: compose the config and dispatch to the experiment's
runner (found in the registry, seam_exp/experiments/)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from seam_exp import experiments
from seam_exp.cli import ConfigError, check
from seam_exp.models.factory import ensure_available
from seam_exp.reporting.sweep import CODE_STAMP, adopt_checkpoint, finished_twin, interrupted_twin, reuse
from seam_exp.utils.cache import source_version
from seam_exp.utils.job_clock import JobClock
from seam_exp.utils.memory import peak_mib, reset_peak
from seam_exp.utils.runtime import (
    force_offline,
    in_multirun,
    output_dir,
    progress_bars_only_on_a_terminal,
    quiet_known_warnings,
)
from seam_exp.utils.task_wrapper import task_wrapper
from seam_exp.utils.trainer import require_logger_package

log = logging.getLogger("seam_exp")


@task_wrapper
def dispatch(cfg: DictConfig):
    reset_peak()  # a sweep worker runs several jobs: each logs its own peak memory
    clock = JobClock()
    try:
        return _dispatch(cfg)
    finally:
        log.info("%s: peak resident memory %.0f MiB", cfg.run_name, peak_mib())
        log.info("%s: %s", cfg.run_name, clock.elapsed().line())  # read back by reporting/costs.py


def _dispatch(cfg: DictConfig):
    quiet_known_warnings()  # here, not in main(): joblib workers start fresh interpreters
    progress_bars_only_on_a_terminal()
    experiment = experiments.get(cfg.task)
    for preset in ("pm", "rm"):
        ensure_available(cfg[preset])
    require_logger_package(cfg.logger)
    out, code = output_dir(), source_version(Path(__file__).parent)
    if in_multirun() and not cfg.get("rerun", False):
        twin = finished_twin(Path(cfg.paths.outputs) / cfg.task, cfg, code, out)
        if twin is not None:  # resuming a sweep: this cell already ran with this config and this code
            reuse(twin, out)
            print(f"{cfg.run_name}: results found in {twin} (rerun=true runs it again)")
            return None
    out.mkdir(parents=True, exist_ok=True)
    (out / CODE_STAMP).write_text(code)
    if cfg.get("resume", False):
        stopped = interrupted_twin(Path(cfg.paths.outputs) / cfg.task, cfg, code, out)
        if stopped is not None:  # RL continues from its checkpoint (docs/rl.md)
            adopt_checkpoint(stopped, out)
            print(f"{cfg.run_name}: resuming the run stopped in {stopped}")
    return experiment.run(cfg)


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
