"""Write result tables: CSV for machines, markdown for people, both in the run folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def to_markdown(df: pd.DataFrame, floatfmt: str = ".3f") -> str:
    return df.to_markdown(index=False, floatfmt=floatfmt)


def write_table(df: pd.DataFrame, folder: Path, name: str, title: str | None = None) -> str:
    """Write <name>.csv and <name>.md into folder; return the markdown (to print)."""
    folder.mkdir(parents=True, exist_ok=True)
    df.to_csv(folder / f"{name}.csv", index=False)
    md = to_markdown(df)
    (folder / f"{name}.md").write_text((f"## {title}\n\n" if title else "") + md + "\n")
    return (f"{title}\n" if title else "") + md
