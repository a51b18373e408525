"""Write result tables: CSV for machines, markdown for people, both in the run folder."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd


def to_markdown(df: pd.DataFrame, floatfmt: str | Sequence[str] = ".3f") -> str:
    """`floatfmt`: one format for every column, or one per column (tabulate's)."""
    return df.to_markdown(index=False, floatfmt=floatfmt)


def row_as_markdown(results: pd.DataFrame) -> str:
    """A run's one-row results as a metric | value table for the terminal (its folder left out)."""
    shown = results.drop(columns=["run_dir"]).T.reset_index()
    return to_markdown(shown.rename(columns={"index": "metric", 0: "value"}))


def write_table(
    df: pd.DataFrame, folder: Path, name: str, title: str | None = None, notes: Sequence[str] = ()
) -> str:
    """Write <name>.csv and <name>.md into folder; return the markdown (to print). Each note (e.g. a
    warning of reporting.precondition) is a paragraph under the markdown table; the CSV is the table alone."""
    folder.mkdir(parents=True, exist_ok=True)
    df.to_csv(folder / f"{name}.csv", index=False)
    md = to_markdown(df) + "".join(f"\n\n{note}" for note in notes)
    (folder / f"{name}.md").write_text((f"## {title}\n\n" if title else "") + md + "\n")
    return (f"{title}\n" if title else "") + md


# Size presets in the order of growing quality, for axes and rows (names outside it sort after).
SIZE_ORDER = ["xs", "s", "m", "l"]


def format_ci(point: float, lo: float, hi: float, signed: bool = True, digits: int = 3) -> str:
    """'+0.123 [+0.100, +0.150]', or the point alone when the interval is undefined (one seed)."""
    fmt = f"{'+' if signed else ''}.{digits}f"
    if lo != lo:  # NaN
        return f"{point:{fmt}}"
    return f"{point:{fmt}} [{lo:{fmt}}, {hi:{fmt}}]"


def ci_column(df: pd.DataFrame, name: str, signed: bool = True) -> list[str]:
    """format_ci of the columns `name`, `name_lo`, `name_hi` of every row."""
    return [
        format_ci(*v, signed=signed) for v in zip(df[name], df[f"{name}_lo"], df[f"{name}_hi"], strict=True)
    ]


def verdict(lo: float, hi: float) -> str:
    """What a paired interval over replicates says: better or worse only when it excludes 0."""
    if lo != lo:  # NaN: one seed, no interval
        return "one seed"
    return "better" if lo > 0 else ("worse" if hi < 0 else "no evidence")


def verdict_by_p(point: float, p: float, alpha: float = 0.05) -> str:
    """What a test of "the mean is 0" says (p already corrected for the comparisons it is one of)."""
    if p != p:  # NaN: one seed, no test
        return "one seed"
    if p >= alpha:
        return "no evidence"
    return "better" if point > 0 else "worse"


def file_safe(label: str) -> str:
    """A label as a file-name part: 'gpt[local:smollm2_135m]' -> 'gpt-local-smollm2_135m'."""
    out = "".join(c if c.isalnum() or c in "._-" else "-" for c in label)
    return "-".join(part for part in out.split("-") if part)


def write_table_and_figures(
    folder: Path,
    name: str,
    title: str,
    table: pd.DataFrame,
    figures: dict[str, Callable[[Path], object]],
    notes: Sequence[str] = (),
) -> list[Path]:
    """One group of an aggregation: <name>.md/.csv (with `notes` under the table, see write_table), and
    each figure `draw(path)` at <name><suffix>.png. Returns the files written."""
    write_table(table, folder, name, title, notes)
    written = [folder / f"{name}.md"]
    for suffix, draw in figures.items():
        written.append(folder / f"{name}{suffix}.png")
        draw(written[-1])
    return written
