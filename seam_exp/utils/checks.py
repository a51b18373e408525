"""Value rules of the config dataclasses (their `__post_init__`), each failure one line: `<key>: <why>`.

The dataclasses are the schemas of the config groups (seam_exp/schemas.py): Hydra checks a value's type
when it composes, these its range, and cli.py builds the dataclasses for every sweep point before any job.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from seam_exp.errors import UserError

MISSING = "???"  # omegaconf.MISSING: a key the group's YAML sets (a nested default holds it until then)


class BadValue(UserError, ValueError):
    """A config value outside what its key accepts; the message is `<key>: <why>`."""


def _unset(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value == MISSING)


def number(key: str, value: Any) -> None:
    """For a key of an untyped block (a dict field), whose type Hydra does not check."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadValue(f"{key}: expected a number, got {value!r}")


def integer(key: str, value: Any) -> None:
    """For a key of an untyped block, whose type Hydra does not check."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadValue(f"{key}: expected an integer, got {value!r}")


def at_least(key: str, value: Any, low: float) -> None:
    if not _unset(value) and value < low:
        raise BadValue(f"{key}: must be >= {low}, got {value!r}")


def at_least_each(block: str, config: Any, **lows: float) -> None:
    """`at_least` for several fields of one config block, each named `<block>.<field>` in its error."""
    for name, low in lows.items():
        at_least(f"{block}.{name}", getattr(config, name), low)


def above(key: str, value: Any, low: float) -> None:
    if not _unset(value) and value <= low:
        raise BadValue(f"{key}: must be > {low}, got {value!r}")


def within(key: str, value: Any, low: float, high: float, *, open_low=False, open_high=False) -> None:
    """`value` in the interval from low to high, each end closed unless said open."""
    if _unset(value):
        return
    above_low = value > low if open_low else value >= low
    below_high = value < high if open_high else value <= high
    if not (above_low and below_high):
        interval = f"{'(' if open_low else '['}{low},{high}{')' if open_high else ']'}"
        raise BadValue(f"{key}: must be in {interval}, got {value!r}")


def one_of(key: str, value: Any, valid: Sequence[str]) -> None:
    if value not in valid:
        raise BadValue(f"{key}: unknown {value!r}; valid: {', '.join(valid)}")


def each_one_of(key: str, values: Iterable[Any], valid: Sequence[str]) -> None:
    """A list of names, at least one, each valid."""
    values = list(values)
    if not values:
        raise BadValue(f"{key}: must name at least one of {', '.join(valid)}")
    for value in values:
        one_of(key, value, valid)
