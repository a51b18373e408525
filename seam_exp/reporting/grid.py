"""Figures and summaries of a PM x RM grid of RL runs (saturation and the experiments built on it):
one line per cell with a CI over its replicates, a heatmap of the gain, and curves along each axis."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from seam_exp.reporting.plots import plt, save_figure
from seam_exp.reporting.seeds import summary_over_seeds
from seam_exp.reporting.tables import SIZE_ORDER


def axis_label(row: pd.Series, model: str) -> str:
    """How a cell's PM or RM is named on the axes: its size preset (size grid), size and budget (budget
    grid), or the training it got (paper grid: SFT steps, preference pairs)."""
    if row["grid"] == "paper":
        return f"SFT {int(row['sft_steps'])}" if model == "pm" else f"{int(row['rm_pairs'])} pairs"
    if row["grid"] == "budget":
        return f"{row[model]} x{float(row[f'{model}_budget']):g}"
    return str(row[model])


def axis_order(labels) -> list[str]:
    """Labels in the order of growing quality: size presets first by size, then by the numbers they hold."""

    def key(label: str):
        first = label.split()[0] if label.split() else ""
        size = SIZE_ORDER.index(first) if first in SIZE_ORDER else len(SIZE_ORDER)
        numbers = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", label)]
        return (size, re.sub(r"[\d.]+", "", label), numbers)

    return sorted(set(labels), key=key)


def with_axis_labels(df: pd.DataFrame) -> pd.DataFrame:
    if not len(df):
        return df.assign(pm_label=[], rm_label=[])
    return df.assign(
        pm_label=[axis_label(r, "pm") for _, r in df.iterrows()],
        rm_label=[axis_label(r, "rm") for _, r in df.iterrows()],
    )


def with_cell_names(df: pd.DataFrame) -> pd.DataFrame:
    """with_axis_labels, plus a `cell` column naming the (PM, RM) pair as 'PM <pm> / RM <rm>'."""
    df = with_axis_labels(df)
    return df.assign(cell=[f"PM {p} / RM {r}" for p, r in zip(df["pm_label"], df["rm_label"], strict=True)])


def cell_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per (PM, RM): the run's own bootstrap CI with one run, an interval over replicates otherwise."""
    return summary_over_seeds(
        rows,
        ["pm_label", "rm_label"],
        intervals=["gain", "win_rate", "kl"],
        means=[
            "pm_params",
            "rm_params",
            "rm_acc_heldout",
            "sft_gold",
            "rl_gold",
            "sft_proxy",
            "rl_proxy",
            "sft_mismatch",
            "mismatch",
            "hacking",
            "rl_steps",
            "rl_seconds",
        ],
        own_interval=True,
    )


def heatmap(summary: pd.DataFrame, missing: pd.DataFrame, title: str, path: Path) -> None:
    pms = axis_order([*summary["pm_label"], *missing["pm_label"]])
    rms = axis_order([*summary["rm_label"], *missing["rm_label"]])
    grid = np.full((len(pms), len(rms)), np.nan)
    for _, r in summary.iterrows():
        grid[pms.index(r["pm_label"]), rms.index(r["rm_label"])] = r["gain"]
    fig, ax = plt.subplots(figsize=(1.6 * len(rms) + 2.5, 1.2 * len(pms) + 1.8))
    bound = np.nanmax(np.abs(grid)) if np.isfinite(grid).any() else 1.0
    image = ax.imshow(grid, cmap="RdBu", vmin=-bound, vmax=bound)
    lookup = summary.set_index(["pm_label", "rm_label"])
    for i, pm in enumerate(pms):
        for j, rm in enumerate(rms):
            if (pm, rm) in lookup.index:
                r = lookup.loc[(pm, rm)]
                text = f"{r['gain']:+.3f}" + (
                    f"\n[{r['gain_lo']:+.2f}, {r['gain_hi']:+.2f}]" if np.isfinite(r["gain_lo"]) else ""
                )
            else:
                text = "missing"
            dark = np.isfinite(grid[i, j]) and abs(grid[i, j]) > 0.6 * bound  # white on a dark cell
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black")
    ax.set_xticks(range(len(rms)), rms)
    ax.set_yticks(range(len(pms)), pms)
    ax.set_xlabel("reward model")
    ax.set_ylabel("policy model")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, label="gold gain of RLHF over SFT")
    save_figure(fig, path)


def curves(summary: pd.DataFrame, title: str, path: Path) -> None:
    pms, rms = axis_order(summary["pm_label"]), axis_order(summary["rm_label"])
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    panels = [
        (axes[0], "rm_label", rms, "pm_label", pms, "gain", "gain along the RM axis"),
        (axes[1], "pm_label", pms, "rm_label", rms, "gain", "gain along the PM axis"),
        (axes[2], "rm_label", rms, "pm_label", pms, "rl_gold", "gold after RL (dashed: SFT start)"),
    ]
    for ax, x_col, x_order, line_col, line_order, y, name in panels:
        for line in line_order:
            g = summary[summary[line_col] == line].set_index(x_col).reindex(x_order)
            xs = np.arange(len(x_order))
            plotted = ax.errorbar(
                xs,
                g[y],
                yerr=None if y != "gain" else [g["gain"] - g["gain_lo"], g["gain_hi"] - g["gain"]],
                marker="o",
                capsize=3,
                label=f"{line_col[:2].upper()} {line}",
            )
            if y == "rl_gold":
                ax.plot(xs, g["sft_gold"], linestyle="--", color=plotted[0].get_color(), alpha=0.6)
        if y == "gain":
            ax.axhline(0, color="grey", lw=0.8)
        ax.set_xticks(range(len(x_order)), x_order)
        ax.set_xlabel("reward model" if x_col == "rm_label" else "policy model")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    save_figure(fig, path, title)
