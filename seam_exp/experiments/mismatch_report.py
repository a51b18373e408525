"""The tables and figures of `+experiment=mismatch` (the runner and its row: mismatch.py).

Mismatch, hacking and gold gain against the RL step, per cell (PM, RM), pooled over its runs: trained models
(`train_seed`) and RL seeds are replicates of the cell, read with intervals over trained models where there are
several (reporting/seeds.py), never separate lines nor dropped. A figure and a table per group.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pandas as pd

from seam_exp.experiments.mismatch import MismatchRow
from seam_exp.reporting.plots import plt, save_figure
from seam_exp.reporting.seeds import REPLICATE, summary_over_seeds
from seam_exp.reporting.sweep import CELL_GROUP, RL_CELL, report_groups
from seam_exp.reporting.tables import SIZE_ORDER, ci_column, write_table_and_figures

PAPER_MISMATCH = 0.35  # Lu et al. 2024: share of sampled PM responses where RM and humans disagree

CELL = {**{k: v for k, v in RL_CELL.items() if k != "grid"}, "seed": "seed"}
PAIR = ["pm", "rm"]


def _size_sorted(df: pd.DataFrame) -> pd.DataFrame:
    def rank(column: pd.Series) -> pd.Series:
        return column.map(lambda x: SIZE_ORDER.index(x) if x in SIZE_ORDER else len(SIZE_ORDER))

    return df.sort_values(PAIR, key=rank, kind="stable").reset_index(drop=True)


def run_ends(df: pd.DataFrame) -> pd.DataFrame:
    """One line per run (cell and replicate): its first and last evaluation side by side, and how much the
    mismatch grew between them (paired within the run)."""
    lines = []
    for keys, g in df.groupby([*PAIR, *REPLICATE]):
        g = g.sort_values("step")
        first, last = g.iloc[0], g.iloc[-1]
        lines.append(
            {
                **dict(zip([*PAIR, *REPLICATE], keys, strict=True)),
                "evals": len(g),
                "steps": int(last["step"]),
                **{f"mismatch_start{e}": first[f"mismatch{e}"] for e in ("", "_lo", "_hi")},
                **{f"mismatch_end{e}": last[f"mismatch{e}"] for e in ("", "_lo", "_hi")},
                "mismatch_growth": last["mismatch"] - first["mismatch"],
                "mismatch_mean": g["mismatch"].mean(),
                "pairs": g["mismatch_pairs"].mean(),
                "hacking_start": first["hacking"],
                "hacking_end": last["hacking"],
                **{f"gain_end{e}": last[f"gain{e}"] for e in ("", "_lo", "_hi")},
                "kl_end": last["kl"],
            }
        )
    return pd.DataFrame(lines)


def mismatch_table(df: pd.DataFrame, missing: pd.DataFrame) -> pd.DataFrame:
    """One line per (PM, RM), every run of the cell pooled; a missing run is a line of its own."""
    rows = []
    if len(df):
        summary = summary_over_seeds(
            run_ends(df),
            PAIR,
            intervals=["mismatch_start", "mismatch_end", "mismatch_growth", "gain_end"],
            means=["evals", "steps", "mismatch_mean", "pairs", "hacking_start", "hacking_end", "kl_end"],
            own_interval=True,
        )
        summary = _size_sorted(summary)
        rows = pd.DataFrame(
            {
                "PM": summary["pm"],
                "RM": summary["rm"],
                "runs": summary["seeds"],
                "trained models": summary["models"],
                "CI over": summary["interval"],
                "steps": summary["steps"].astype(int),
                "mismatch at start": ci_column(summary, "mismatch_start", signed=False),
                "mismatch at end": ci_column(summary, "mismatch_end", signed=False),
                "growth (end - start)": ci_column(summary, "mismatch_growth"),
                "mean over evals": summary["mismatch_mean"],
                "pairs per eval": summary["pairs"],
                "hacking start -> end": [
                    f"{a:.3f} -> {b:.3f}"
                    for a, b in zip(summary["hacking_start"], summary["hacking_end"], strict=True)
                ],
                "gold gain at end": ci_column(summary, "gain_end"),
                "KL at end": summary["kl_end"],
                "status": "ok",
            }
        ).to_dict("records")
    for _, r in missing.iterrows():
        rows.append({"PM": r["pm"], "RM": r["rm"], "status": f"missing: {r['reason']} (seed {r['seed']})"})
    return pd.DataFrame(rows)


def mismatch_figure(df: pd.DataFrame, title: str, path: Path) -> None:
    """Per cell, each quantity against the RL step, its mean over the cell's runs with the pooled interval."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    by_step = summary_over_seeds(
        df, [*PAIR, "step"], intervals=["mismatch", "hacking", "gain"], own_interval=True
    )
    for (pm, rm), g in _size_sorted(by_step).groupby(PAIR, sort=False):
        g = g.sort_values("step")
        runs = int(g["seeds"].max())
        label = f"PM {pm} / RM {rm}" + (f" ({runs} runs)" if runs > 1 else "")
        for ax, quantity in zip(axes, ("mismatch", "hacking", "gain"), strict=True):
            (line,) = ax.plot(g["step"], g[quantity], marker="o", label=label)
            ax.fill_between(
                g["step"], g[f"{quantity}_lo"], g[f"{quantity}_hi"], color=line.get_color(), alpha=0.15
            )
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
