"""The precondition of every experiment that reads a PM or an RM axis: the axis orders its models by
measured quality (docs/experiments.md, sanity). Axes are named by size, budget or training amount as if
more were better; the measured quality of the models (SFT gold of a PM, held-out accuracy of an RM) is not
always ordered that way, so a table that reads an axis says so where it is read, in the same words
everywhere: a warning line under the table (write_table's `notes`), also printed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from seam_exp.reporting.grid import axis_order

PM_METRIC, RM_METRIC = "SFT gold", "RM held-out accuracy"
# What the labels of each grid's (PM, RM) axes name, which the warning tells the reader not to trust.
NAMED_BY = {
    "size": ("size", "size"),
    "budget": ("budget", "budget"),
    "paper": ("SFT steps", "preference pairs"),
}


def unordered_axis_warning(
    quality: Mapping[str, float],
    axis: str,
    metric: str,
    *,
    order: Sequence[str] | None = None,
    named_by: str = "size",
) -> str | None:
    """None when the quality reading of each level of an axis strictly increases along it; otherwise a
    one-line warning naming the axis, the metric and every adjacent pair out of order with its values.

    Levels run in `order` if given, else by their names (size presets by size, then the numbers the labels
    hold, unknown names after: reporting.grid.axis_order). A level whose reading is NaN (or missing) is left
    out, so its neighbours are compared with each other."""
    reading = {str(k): float("nan") if v is None else float(v) for k, v in quality.items()}
    levels = [str(level) for level in order] if order is not None else axis_order(reading)
    levels = [level for level in levels if not math.isnan(reading.get(level, float("nan")))]
    pairs = [
        f"{high} ({reading[high]:.3f}) <= {low} ({reading[low]:.3f})"
        for low, high in zip(levels, levels[1:], strict=False)
        if reading[high] <= reading[low]
    ]
    if not pairs:
        return None
    return (
        f"WARNING: the {axis} axis is not ordered by {metric}: {', '.join(pairs)}; "
        f"read this axis as model quality, not {named_by}."
    )


def level_means(rows: pd.DataFrame, level: str, metric: str) -> dict[str, float]:
    """The mean of `metric` at each level of column `level` (NaN readings ignored, NaN if all are)."""
    if not len(rows):
        return {}
    return {str(k): float(v) for k, v in rows.groupby(level)[metric].mean().items()}


def grid_warnings(
    cells: pd.DataFrame,
    pm_rows: pd.DataFrame | None = None,
    rm_rows: pd.DataFrame | None = None,
    pm_metric: str = "sft_gold",
    rm_metric: str = "rm_acc_heldout",
) -> list[str]:
    """The warnings of a table of (PM, RM) cells: its PM axis (`pm_label`) by the SFT start's gold and its
    RM axis (`rm_label`) by the RM's held-out accuracy, each the mean over the rows of a level, and each
    grid (`grid` column, `size` when absent) read apart, since labels of two grids are not one axis.
    `pm_rows` / `rm_rows` (default: `cells`) are the rows whose PM / RM are the cell's own models (an
    augmented model is not the cell's)."""
    pm_rows = cells if pm_rows is None else pm_rows
    rm_rows = cells if rm_rows is None else rm_rows

    def grid_of(rows: pd.DataFrame) -> pd.Series:
        return rows["grid"] if "grid" in rows else pd.Series("size", index=rows.index)

    grids = sorted(set(grid_of(pm_rows)) | set(grid_of(rm_rows)))
    warnings = []
    for grid in grids:
        where = f" ({grid} grid)" if len(grids) > 1 else ""
        pm_named, rm_named = NAMED_BY.get(grid, ("its labels", "its labels"))
        for axis, rows, label, column, metric, named_by in (
            ("PM", pm_rows, "pm_label", pm_metric, PM_METRIC, pm_named),
            ("RM", rm_rows, "rm_label", rm_metric, RM_METRIC, rm_named),
        ):
            reading = level_means(rows[grid_of(rows) == grid], label, column)
            warning = unordered_axis_warning(reading, f"{axis}{where}", metric, named_by=named_by)
            if warning:
                warnings.append(warning)
    return warnings


def printed(warnings: list[str], table: str) -> list[str]:
    """The warnings, each also printed with the name of the table they go under; returned to be written
    under it (write_table's `notes`)."""
    for warning in warnings:
        print(f"{table}: {warning}")
    return warnings
