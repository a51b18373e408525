"""Aggregate sanity results: a table and a figure of PM and RM quality against size and budget."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from seam_exp.reporting.plots import plt, save_figure
from seam_exp.reporting.results import collect_results
from seam_exp.reporting.tables import write_table

SIZE_ORDER = ["xs", "s", "m", "l"]
KEYS = ["scale", "pm", "rm", "budget", "seed"]


def latest_per_cell(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values("_mtime").groupby(KEYS, as_index=False).last() if len(df) else df


def sanity_table(df: pd.DataFrame) -> pd.DataFrame:
    cols = [
        "scale",
        "pm",
        "budget",
        "pm_params",
        "sft_steps",
        "pm_gold_mean",
        "pm_gold_lo",
        "pm_gold_hi",
        "pm_greedy_correct",
        "rm",
        "rm_params",
        "rm_steps",
        "rm_acc_heldout",
        "rm_acc_heldout_gold",
        "rm_acc_pm_samples",
    ]
    order = {s: i for i, s in enumerate(SIZE_ORDER)}
    return df.sort_values(["scale", "budget", "pm"], key=lambda c: c.map(order) if c.name == "pm" else c)[
        cols
    ]


def sanity_figure(df: pd.DataFrame, path: Path) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    panels = [
        ("pm_params", "pm_gold_mean", "PM mean gold reward (samples)"),
        ("pm_params", "pm_greedy_correct", "PM greedy accuracy"),
        ("rm_params", "rm_acc_heldout", "RM held-out pair accuracy"),
    ]
    colors = {b: f"C{i}" for i, b in enumerate(sorted(df["budget"].unique()))}  # one color per budget
    for ax, (x, y, title) in zip(axes, panels, strict=True):
        for budget, group in df.groupby("budget"):
            group, color = group.sort_values(x), colors[budget]
            ax.plot(group[x], group[y], marker="o", color=color, label=f"budget x{budget:g}")
            if y == "pm_gold_mean":
                ax.fill_between(group[x], group["pm_gold_lo"], group["pm_gold_hi"], color=color, alpha=0.2)
            if y == "rm_acc_heldout":
                ax.plot(
                    group[x],
                    group["rm_acc_pm_samples"],
                    marker="x",
                    linestyle="--",
                    color=color,
                    label=f"on PM samples, x{budget:g}",
                )
        ax.set_xscale("log")
        ax.set_xlabel("parameters")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    save_figure(fig, path)


def aggregate(outputs: Path) -> list[Path]:
    df = latest_per_cell(collect_results(outputs, "sanity"))
    written = []
    folder = outputs / "figures" / "sanity"
    for scale, group in df.groupby("scale"):
        table = sanity_table(group)
        write_table(
            table, folder, f"sanity_{scale}", f"Sanity: PM and RM quality vs size and budget (scale={scale})"
        )
        sanity_figure(group, folder / f"sanity_{scale}.png")
        written += [folder / f"sanity_{scale}.md", folder / f"sanity_{scale}.png"]
    return written
