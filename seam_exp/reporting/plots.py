"""What every figure of the project does last: lay out, title, save as PNG, free the memory; one colour per
line however many lines; and the bar chart of gains with their intervals that the experiments comparing arms
share."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd

matplotlib.use("Agg")  # files only: sweeps and CI have no display

import matplotlib.pyplot as plt  # noqa: E402


def save_figure(fig, path: Path, title: str | None = None) -> Path:
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def distinct_colors(values) -> dict:
    """One colour per value, in the given order, no two alike: matplotlib's cycle (C0-C9) repeats past ten,
    so longer lists take tab20, then evenly spaced viridis."""
    values = list(values)
    if len(values) <= 10:
        return {v: f"C{i}" for i, v in enumerate(values)}
    if len(values) <= 20:
        return {v: plt.get_cmap("tab20")(i) for i, v in enumerate(values)}
    return dict(zip(values, plt.get_cmap("viridis")(np.linspace(0, 1, len(values))), strict=True))


def interval_bars(
    frame: pd.DataFrame,
    value: str,
    label: str,
    color: str,
    xlabel: str,
    title: str,
    path: Path,
    *,
    figsize: tuple[float, float],
    sharex: bool = False,
    sort: bool = False,
) -> None:
    """Horizontal bars of `value` with its interval (`<value>_lo`, `<value>_hi`) against zero, named by
    `label` and coloured by the column `color`, one panel per `cell`: whether an arm beats its base reads
    off the zero line. Bars go bottom up in the frame's order, or by value with `sort`."""
    cells = sorted(frame["cell"].unique())
    fig, axes = plt.subplots(1, len(cells), figsize=figsize, squeeze=False, sharex=sharex)
    for ax, cell in zip(axes[0], cells, strict=True):
        part = frame[frame["cell"] == cell]
        part = part.sort_values(value) if sort else part
        y = np.arange(len(part))
        err = np.nan_to_num(np.vstack([part[value] - part[f"{value}_lo"], part[f"{value}_hi"] - part[value]]))
        ax.barh(y, part[value], xerr=err, color=list(part[color]), capsize=3)
        ax.set_yticks(y, part[label], fontsize=8)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_title(cell, fontsize=9)
        ax.set_xlabel(xlabel)
        ax.grid(axis="x", alpha=0.3)
    save_figure(fig, path, title)
