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

from omegaconf import DictConfig

from seam_exp.utils.cache import ArtifactCache
from seam_exp.utils.runtime import cache_from, set_threads
from seam_exp.world.build import World, world_from


@dataclass(frozen=True)
class Experiment:
    run: Callable[[DictConfig], Any]
    # A dataclass whose fields, in order, are the columns of the run's results.csv (None: writes none).
    row: type | None = None
    # Rebuilds the experiment's tables and figures from an outputs tree; returns the files written.
    aggregate: Callable[[Path], list[Path]] | None = None


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
