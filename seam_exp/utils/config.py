"""OmegaConf resolvers and config-to-dataclass helpers shared by every entry point and test."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf

T = TypeVar("T")


def _int_mul(a: Any, b: Any) -> int:
    return max(1, int(round(float(a) * float(b))))


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("int_mul"):
        OmegaConf.register_new_resolver("int_mul", _int_mul)


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
