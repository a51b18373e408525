"""The bench's report: each section printed as a table and the whole file rewritten after it, under the
machine the numbers were measured on."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from seam_exp.reporting.tables import to_markdown
from seam_exp.utils.machine import usable_cores


def machine() -> str:
    """What the numbers were measured on: a benchmark figure means nothing without it."""
    import platform

    import torch
    import transformers

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {usable_cores()} cores, torch {torch.__version__} with {torch.get_num_threads()} threads, "
        f"transformers {transformers.__version__}, Python {platform.python_version()}"
    )


class Report:
    """benchmarks/latest.md as it grows: a header naming the day and the machine, then one table per
    section. Nothing is written before the first section."""

    def __init__(self, out: Path, on: str, day: str | None = None):
        self.out = Path(out)
        self.parts = [f"# Benchmarks\n\nMeasured {day or time.strftime('%Y-%m-%d')} on {on}.\n"]

    def add(self, title: str, df: pd.DataFrame, floatfmt: str | Sequence[str]) -> str:
        """Print a section and rewrite the report with it: an hour-long run that fails later keeps it.
        `floatfmt` is one format for every column or one per column."""
        text = f"## {title}\n\n{to_markdown(df, floatfmt=floatfmt)}\n"
        print(text)
        self.parts.append(text)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_text("\n".join(self.parts))
        return text
