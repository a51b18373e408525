"""The tables and figures of `+experiment=mismatch` (the runner and its row: mismatch.py).

Mismatch, hacking and gold gain against the RL step, per cell, as a figure and a table.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pandas as pd

from seam_exp.experiments.mismatch import MismatchRow
from seam_exp.reporting.plots import plt, save_figure
from seam_exp.reporting.sweep import CELL_GROUP, report_groups
from seam_exp.reporting.tables import SIZE_ORDER, write_table_and_figures

PAPER_MISMATCH = 0.35  # Lu et al. 2024: share of sampled PM responses where RM and humans disagree

CELL = {
    "scale": "scale.name",
    "algorithm": "rl.algorithm",
    "reward_source": "rl.reward.source",
    "pm": "pm.name",
    "rm": "rm.name",
    "seed": "seed",
}


def _cells(df: pd.DataFrame) -> list[tuple]:
    def key(cell):
        pm, rm, seed = cell
        rank = [SIZE_ORDER.index(x) if x in SIZE_ORDER else len(SIZE_ORDER) for x in (pm, rm)]
        return (*rank, pm, rm, seed)

    return sorted(set(map(tuple, df[["pm", "rm", "seed"]].to_numpy())), key=key)


def mismatch_table(df: pd.DataFrame, missing: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for pm, rm, seed in _cells(df):
        g = df[(df["pm"] == pm) & (df["rm"] == rm) & (df["seed"] == seed)].sort_values("step")
        first, last = g.iloc[0], g.iloc[-1]
        rows.append(
            {
                "PM": pm,
                "RM": rm,
                "seed": seed,
                "evals": len(g),
                "steps": int(last["step"]),
                "mismatch at start": f"{first['mismatch']:.3f} [{first['mismatch_lo']:.3f}, {first['mismatch_hi']:.3f}]",
                "mismatch at end": f"{last['mismatch']:.3f} [{last['mismatch_lo']:.3f}, {last['mismatch_hi']:.3f}]",
                "mean over evals": g["mismatch"].mean(),
                "pairs per eval": g["mismatch_pairs"].mean(),
                "hacking start -> end": f"{first['hacking']:.3f} -> {last['hacking']:.3f}",
                "gold gain at end": last["gain"],
                "KL at end": last["kl"],
                "status": "ok",
            }
        )
    for _, r in missing.iterrows():
        rows.append({"PM": r["pm"], "RM": r["rm"], "seed": r["seed"], "status": f"missing: {r['reason']}"})
    return pd.DataFrame(rows)


def mismatch_figure(df: pd.DataFrame, title: str, path: Path) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for pm, rm, seed in _cells(df):
        g = df[(df["pm"] == pm) & (df["rm"] == rm) & (df["seed"] == seed)].sort_values("step")
        label = f"PM {pm} / RM {rm}" + (f" (seed {seed})" if df["seed"].nunique() > 1 else "")
        (line,) = axes[0].plot(g["step"], g["mismatch"], marker="o", label=label)
        axes[0].fill_between(
            g["step"], g["mismatch_lo"], g["mismatch_hi"], color=line.get_color(), alpha=0.15
        )
        axes[1].plot(g["step"], g["hacking"], marker="o", color=line.get_color(), label=label)
        axes[2].plot(g["step"], g["gain"], marker="o", color=line.get_color(), label=label)
        axes[2].fill_between(g["step"], g["gain_lo"], g["gain_hi"], color=line.get_color(), alpha=0.15)
    axes[0].axhline(PAPER_MISMATCH, color="grey", linestyle="--", label="paper: 35%")
    axes[2].axhline(0, color="grey", lw=0.8)
    for ax, name in zip(
        axes,
        [
            "mismatch: RM orders the pair against gold",
            "hacking: RM above the reference, gold below",
            "gold gain over the SFT start",
        ],
        strict=True,
    ):
        ax.set_xlabel("RL step")
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    save_figure(fig, path, title)


def aggregate(outputs: Path) -> list[Path]:
    folder = outputs / "figures" / "mismatch"
    written = []
    for group in report_groups(outputs, "mismatch", CELL, MismatchRow, CELL_GROUP):
        rows, title = group.rows, group.title("RM/gold mismatch on the policy's samples during RL")
        figures = {"": partial(mismatch_figure, rows, title)}
        written += write_table_and_figures(
            folder, group.name, title, mismatch_table(rows, group.lost), figures if len(rows) else {}
        )
    return written
