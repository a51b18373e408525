"""OmegaConf resolvers and config-to-dataclass helpers shared by every entry point and test."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf

from seam_exp.utils.machine import parallel_jobs

T = TypeVar("T")
# The Hydra config tree of the repository (conf/), for everything that composes configs itself.
CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def _int_mul(a: Any, b: Any) -> int:
    return max(1, int(round(float(a) * float(b))))


def _mul(a: Any, b: Any) -> float:
    """A product of two numbers (a rate a tenth of another), rounded to 12 significant digits so that
    3.75e-4 x 0.1 reads 3.75e-05 in run names and tables rather than 3.7500000000000003e-05."""
    return float(f"{float(a) * float(b):.12g}")


def _steps_for(num_pairs: Any, batch_size: Any, epochs: Any) -> int:
    """Optimizer steps for `epochs` passes over `num_pairs` examples: 0 for no data (an untrained model)."""
    return int(round(float(num_pairs) * float(epochs) / float(batch_size)))


def _items(values: Any) -> list:
    """A list of axis values: a config list (scale.sizes: [xs, s, m, l]) or a comma-separated string."""
    if isinstance(values, str):
        return [v.strip() for v in values.split(",")]
    return list(values)


def _number_or_name(value: Any) -> int | str:
    text = str(value).strip()
    return int(text) if text.isdigit() else text


def _last_of(values: Any) -> int | str:
    """The last (largest) value of an axis: a grid's default single cell is its top."""
    return _number_or_name(_items(values)[-1])


def _middle_of(values: Any) -> int | str:
    """The middle value of an axis (the lower one of an even count): a mid-grid preset."""
    items = _items(values)
    return _number_or_name(items[(len(items) - 1) // 2])


def _axis(values: Any) -> str:
    """A list as a Hydra sweep axis ('xs,s,m,l'): lists are what users edit (scale.sizes=[m,l]), the
    comma string only what the sweeper reads, so that no edited list is mistaken for a sweep."""
    return ",".join(str(v) for v in _items(values))


def _largest_first(values: Any) -> str:
    """An axis that grows (xs,s,m,l) in reverse, as a sweep axis: a sweep over it starts its longest jobs
    first, so that the parallel jobs finish together instead of one core waiting on the last big job."""
    return _axis(list(reversed(_items(values))))


def _sweep_axis(name: str, *, _root_: DictConfig) -> str:
    """The experiment's axis `sweep.<name>` as a Hydra sweep axis; the scale's own block of the experiment
    (`sweep.smoke.<name>`: a few points for tests) replaces the list where it names one, so that an
    experiment keeps every axis of every scale in its own file and a scale only holds sizes and budgets."""
    sweep = _root_.sweep
    at_scale = sweep.get(_root_.scale.name)
    values = at_scale[name] if at_scale is not None and name in at_scale else sweep[name]
    return _axis(values)


RESOLVERS = {
    "int_mul": _int_mul,
    "mul": _mul,
    "steps_for": _steps_for,
    "last_of": _last_of,
    "middle_of": _middle_of,
    "largest_first": _largest_first,
    "axis": _axis,
    "sweep_axis": _sweep_axis,
    "parallel_jobs": parallel_jobs,
}


def register_resolvers() -> None:
    for name, fn in RESOLVERS.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


def to_container(cfg: DictConfig | dict) -> dict:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)


def to_dataclass(cls: type[T], cfg: DictConfig | dict, where: str) -> T:
    """Build a config dataclass; an unknown or missing field is a one-line error naming it."""
    values = to_container(cfg)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"unknown config key '{where}.{unknown[0]}'; valid keys: {', '.join(sorted(names))}")
    required = [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = [n for n in required if n not in values]
    if missing:
        raise ValueError(f"missing config field '{where}.{missing[0]}'")
    return cls(**values)


register_resolvers()
