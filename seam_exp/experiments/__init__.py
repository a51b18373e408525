"""The experiments: one module each, holding its runner, its result row and its aggregation.

`seam_exp/experiments/<name>.py` defines `EXPERIMENT = Experiment(...)`, and `conf/experiment/*.yaml`
dispatches to it with `task: <name>`. The package itself is the registry: dispatch (`__main__`), the
schema checks and `make figures` find an experiment here by its module name, so adding one touches its
module and its YAML, nothing else. What each experiment computes: docs/experiments.md.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from seam_exp.utils.cache import ArtifactCache
from seam_exp.utils.config import CONF_DIR
from seam_exp.utils.runtime import cache_from, set_threads
from seam_exp.world.build import World, world_from


@dataclass(frozen=True)
class Experiment:
    run: Callable[[DictConfig], Any]
    # A dataclass whose fields, in order, are the columns of the run's results.csv (None: writes none).
    row: type | None = None
    # Rebuilds the experiment's tables and figures from an outputs tree; returns the files written.
    aggregate: Callable[[Path], list[Path]] | None = None
    # Whether its jobs run RL, which stays one process: a DDP trainer is refused before any work starts.
    runs_rl: bool = False
    # The `data` presets it runs on: most read the preference world's own machinery (its gold formula,
    # labeler, families); other data is refused when the config is composed.
    data: tuple[str, ...] = ("world",)


def names() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


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
