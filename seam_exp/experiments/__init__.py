"""The experiments: one module each, holding its runner, its result row and its aggregation.

`seam_exp/experiments/<name>.py` defines `EXPERIMENT = Experiment(...)`, and `conf/experiment/*.yaml`
dispatches to it with `task: <name>`. The package itself is the registry: dispatch (`__main__`), the
schema checks and `make figures` find an experiment here by its module name, so adding one touches its
module and its YAML, nothing else. An aggregation with tables, figures and readings of its own lives
beside its runner in `<name>_report.py`, which is no experiment: a job need not load it, and the runner
reads as the protocol. What each experiment computes: docs/experiments.md.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

import seam_exp.schemas  # noqa: F401 - registers every group's schema in Hydra's ConfigStore
from seam_exp.data_source import world_from
from seam_exp.reporting.results import columns_of
from seam_exp.utils.cache import ArtifactCache
from seam_exp.utils.config import CONF_DIR
from seam_exp.utils.runtime import cache_from, set_threads
from seam_exp.world.build import World

if TYPE_CHECKING:  # not at run time: RL loads torch and Lightning, and `--help` lists the experiments
    from seam_exp.rl.run import RLRun

REPORT = "_report"  # the suffix of an experiment's reporting module (<name>_report.py)


@dataclass(frozen=True)
class Experiment:
    run: Callable[[DictConfig], Any]
    # A dataclass whose fields, in order, are the columns of the run's results.csv (None: writes none).
    row: type | None = None
    # Rebuilds the experiment's tables and figures from an outputs tree; returns the files written.
    aggregate: Callable[[Path], list[Path]] | None = None
    # The paper's claims it reads and its readings of them in an outputs tree (reporting/claims.py).
    claims: Callable[[Path], tuple[list, list]] | None = None
    # Whether its jobs run RL, which stays one process: a DDP trainer is refused before any work starts.
    runs_rl: bool = False
    # The `data` presets it runs on: most read the preference world's own machinery (its gold formula,
    # labeler, families); other data is refused when the config is composed.
    data: tuple[str, ...] = ("world",)


def names() -> list[str]:
    modules = (m.name for m in pkgutil.iter_modules(__path__))
    return sorted(m for m in modules if not m.startswith("_") and not m.endswith(REPORT))


def _in_report(runner: str, function: str, outputs: Path):
    return getattr(importlib.import_module(f"{runner}{REPORT}"), function)(outputs)


def report_aggregate(runner: str) -> Callable[[Path], list[Path]]:
    """The `aggregate` of module `runner`'s `<runner>_report.py`, imported only when called: the report
    imports the runner's row, so the runner importing the report would be a cycle."""
    return partial(_in_report, runner, "aggregate")


def report_claims(runner: str) -> Callable[[Path], tuple[list, list]]:
    """The `claims` of module `runner`'s `<runner>_report.py`, imported only when called (report_aggregate)."""
    return partial(_in_report, runner, "claims")


def get(name: str) -> Experiment:
    """The experiment of that task name; importing it is lazy so `--help` stays fast."""
    if name not in names():
        raise ValueError(f"unknown task '{name}'; valid: {', '.join(names())}")
    return importlib.import_module(f"{__name__}.{name}").EXPERIMENT


def prepare(cfg: DictConfig) -> tuple[World, ArtifactCache]:
    """What every runner does first: set the job's threads, then load the world and the artifact cache."""
    set_threads(cfg.trainer.num_threads)
    return world_from(cfg), cache_from(cfg)


def config_with(overrides: list[str] | None = None, **choices: str) -> DictConfig:
    """This run's config with other group choices (e.g. pm="l"), for an experiment that needs two presets
    of one group: composed from the run's own command-line overrides (or `overrides` outside Hydra), so
    the scale and every other setting stay as they are."""
    if overrides is None:
        overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    kept = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") not in choices]
    wanted = [*kept, *(f"{group}={name}" for group, name in choices.items())]
    if GlobalHydra.instance().is_initialized():
        return compose("config", overrides=wanted)
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=wanted)


# The final gold evaluation's own numbers (rl/evaluation.py), copied under their own names.
FINAL_METRICS = (
    *(f"{m}{end}" for m in ("gain", "win_rate", "kl", "mismatch") for end in ("", "_lo", "_hi")),
    "mismatch_pairs",
    "hacking",
    "eos_rate",
    "response_tokens",
)
# Read at both ends of a run: at the SFT start as `sft_<column>`, at the end as `rl_<column>`.
AT_BOTH_ENDS = {
    "gold": "gold",
    "gold_lo": "gold_lo",
    "gold_hi": "gold_hi",
    "proxy": "proxy",
    "correct": "correct_rate",
    "mismatch": "mismatch",
    "hacking": "hacking",
}


def rl_outcome(result: RLRun, row: type) -> dict[str, Any]:
    """The columns of the row dataclass `row` that an RL run's evaluations fill, named alike in every
    experiment (sft_<m>, rl_<m>, FINAL_METRICS, rl_steps, eval_prompts, rl_seconds), so that a column two
    experiments share means the same in both."""
    start, final = result.history[0], result.history[-1]
    outcome = {
        **{f"sft_{column}": start[key] for column, key in AT_BOTH_ENDS.items()},
        **{f"rl_{column}": final[key] for column, key in AT_BOTH_ENDS.items()},
        **{m: final[m] for m in FINAL_METRICS},
        "rl_steps": result.steps,
        "eval_prompts": len(result.evaluation.evaluator.prompts),
        "rl_seconds": result.seconds,
    }
    wanted = set(columns_of(row))
    return {k: v for k, v in outcome.items() if k in wanted}
