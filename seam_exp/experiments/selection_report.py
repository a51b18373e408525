"""The tables and figures of `+experiment=selection` (the runner and its row: selection.py).

Every method is paired with the `full` run of the same cell and seeds (same trained models, eval prompts and
sampling seed): gain over full in gold and win rate against full per pair, then mean and an interval over
the replicates (trained models where there are several, reporting/seeds.py);
a bar chart per cell, the filter-rate curve, and how much the dropped sets of methods and of cells
overlap. The table states each cell's PM SFT gold and RM held-out accuracy and warns when the cells' PM or
RM axis is not ordered by them.
"""

from __future__ import annotations

import itertools
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from seam_exp.experiments.selection import DROPPED_FILE, SelectionRow
from seam_exp.metrics.multiple_comparisons import holm
from seam_exp.online.refresh import labels_bought
from seam_exp.reporting.claims import (
    Claim,
    Reading,
    is_plain,
    paired_difference,
    pooled,
    reading_of,
    top_cell_rows,
)
from seam_exp.reporting.grid import with_cell_names
from seam_exp.reporting.paired import paired_by_seed
from seam_exp.reporting.plots import distinct_colors, interval_bars, plt, save_figure
from seam_exp.reporting.precondition import grid_warnings, printed
from seam_exp.reporting.seeds import REPLICATE, summary_over_seeds
from seam_exp.reporting.sweep import CELL_GROUP, RL_CELL, report_groups
from seam_exp.reporting.tables import ci_column, format_ci, verdict, verdict_by_p, write_table_and_figures
from seam_exp.rl.kl_budget import kl_budget_rows, run_histories
from seam_exp.selection.filters import overlap

MAIN_RATE = 0.2  # the paper's: the bar chart and main table compare methods at this drop rate


def at_main_rate(frame: pd.DataFrame) -> pd.DataFrame:
    """The lines at the main drop rate and those without one (full, the oracle, a refresh arm)."""
    return frame[(frame["rate"] == MAIN_RATE) | frame["rate"].isna()]


CELL = {
    **RL_CELL,
    "sft_steps": "pm.sft.max_steps",
    "rm_pairs": "rm.train.num_pairs",
    "method": "selection.method",
    "rate": "selection.rate",
    "seed": "seed",
}


def against_full(method: str) -> str | None:
    return None if method == "full" else "full"


def paired_against_full(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per (cell, method, rate, seed) that has a full run of the same cell and seed: the gain
    in gold over full and the win rate against full, sample j of a prompt against sample j."""
    rows = rows.assign(rate_key=rows["rate"].fillna(-1.0))
    pairs = paired_by_seed(rows, "method", against_full)
    out = []
    for i, p in zip(pairs.index, pairs.itertuples(index=False), strict=True):
        r = rows.loc[i]
        out.append(
            {
                **{
                    k: r[k]
                    for k in (
                        "cell",
                        "pm_label",
                        "rm_label",
                        "method",
                        "method_label",
                        "primary",
                        "rate",
                        *REPLICATE,
                    )
                },
                "rate_key": r["rate_key"],
                "dropped_share": r["dropped_share"],
                "kl": r["kl"],
                "kl_full": rows.at[p.base, "kl"],
                "labels": labels_bought(r["run_dir"]),
                "gain_over_sft": r["gain"],
                "gold_full": p.gold_base,
                "gain_over_full": p.gain,
                "win_rate_vs_full": p.win_rate,
            }
        )
    return pd.DataFrame(out)


def summary_of_pairs(paired: pd.DataFrame) -> pd.DataFrame:
    """One line per (cell, method label, rate): the paired gains with intervals over their replicates, and
    each gain's test (with_tests)."""
    summary = summary_over_seeds(
        paired.rename(columns={"method": "method_name"}),
        ["cell", "method_label", "rate_key"],
        intervals=["gain_over_full", "win_rate_vs_full"],
        means=["dropped_share", "kl", "kl_full", "gain_over_sft", "gold_full", "labels"],
        first=["rate", "method_name", "primary"],
        sort=False,
    )
    return with_tests(summary.rename(columns={"method_label": "method", "dropped_share": "dropped"}))


def with_tests(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary with `is_primary` (the pre-registered primary method at the main rate: its gain over full
    is read as it is), `p_adjusted` (the primary's own p, every other comparison's Holm-adjusted over the
    other comparisons of its cell) and `holm_over` (how many comparisons that correction is over; 0 for the
    primary) (docs/selection.md, "Controls and the primary method")."""
    is_primary = ((summary["method_name"] == summary["primary"]) & (summary["rate"] == MAIN_RATE)).to_numpy()
    p = summary["gain_over_full_p"].to_numpy(dtype=float)
    adjusted, holm_over = p.copy(), np.zeros(len(p), dtype=int)
    for cell in summary["cell"].unique():
        family = ~is_primary & (summary["cell"] == cell).to_numpy()
        adjusted[family] = holm(p[family])
        holm_over[family] = int((family & ~np.isnan(p)).sum())
    return summary.assign(is_primary=is_primary, p_adjusted=adjusted, holm_over=holm_over)


def selection_table_of(summary: pd.DataFrame, full_gold: pd.DataFrame) -> pd.DataFrame:
    filtered = pd.DataFrame(
        {
            "cell": summary["cell"],
            "method": summary["method"],
            "drop rate": ["-" if rate != rate else f"{rate:g}" for rate in summary["rate"]],
            "dropped": summary["dropped"],
            "seeds": summary["seeds"],
            "models": summary["models"],
            "CI over": summary["interval"],
            "gold gain over full (95% CI)": ci_column(summary, "gain_over_full"),
            "test": [
                "primary" if primary else f"Holm over {n}"
                for primary, n in zip(summary["is_primary"], summary["holm_over"], strict=True)
            ],
            "p": summary["p_adjusted"],
            "vs full": [
                verdict(lo, hi) if primary else verdict_by_p(gain, p)
                for primary, gain, lo, hi, p in zip(
                    summary["is_primary"],
                    summary["gain_over_full"],
                    summary["gain_over_full_lo"],
                    summary["gain_over_full_hi"],
                    summary["p_adjusted"],
                    strict=True,
                )
            ],
            # the paper's +4.4% is relative to full's judge score; gold's zero is arbitrary, so read loosely
            "% of full's gold": 100 * summary["gain_over_full"] / summary["gold_full"],
            "gain over SFT": summary["gain_over_sft"],
            "win rate vs full (95% CI)": ci_column(summary, "win_rate_vs_full", signed=False),
            "KL": summary["kl"],
            "KL of full": summary["kl_full"],
            # what a refresh:<chooser> arm paid: labeler labels bought along the run (0 for the others)
            "RM labels": summary["labels"],
        }
    )
    full = pd.DataFrame(
        {
            "cell": full_gold["cell"],
            "method": "full",
            "drop rate": "-",
            "dropped": 0.0,
            "seeds": full_gold["seeds"],
            "models": full_gold["models"],
            "CI over": full_gold["interval"],
            "gold gain over full (95% CI)": [
                f"(gain over SFT {format_ci(*v)})"
                for v in zip(full_gold["gain"], full_gold["lo"], full_gold["hi"], strict=True)
            ],
            "vs full": "-",
            "gain over SFT": full_gold["gain"],
            "KL": full_gold["kl"],
        }
    )
    table = pd.concat([part for part in (filtered, full) if len(part)], ignore_index=True)
    return table.sort_values(["cell", "method"], kind="stable").reset_index(drop=True)


def with_cell_models(table: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """The table with each cell's PM SFT gold and RM held-out accuracy (means over its runs) after its
    `cell` column: what the cell's models measure, beside the gains they gave."""
    models = rows.groupby("cell")[["sft_gold", "rm_acc_heldout"]].mean()
    at = list(table.columns).index("cell") + 1
    table = table.copy()
    table.insert(at, "PM SFT gold", table["cell"].map(models["sft_gold"]))
    table.insert(at + 1, "RM held-out acc", table["cell"].map(models["rm_acc_heldout"]))
    return table


def kl_matched_against_full(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per (cell, method, rate, replicate, KL budget) whose full run of the same cell and
    replicate reached that budget too: eval gold of the method's checkpoint for the budget minus full's
    (both chosen on validation prompts; rl/kl_budget.py), so methods that drift at different speeds
    are compared at the same KL."""
    keep = ["cell", "method", "method_label", "rate", *REPLICATE]
    chosen = kl_budget_rows(rows, keep)
    at = ["cell", *REPLICATE, "budget"]
    full = chosen[chosen["method"] == "full"].drop_duplicates(at, keep="last").set_index(at)["gold"]
    other = chosen[chosen["method"] != "full"]
    gold_full = full.reindex(pd.MultiIndex.from_frame(other[at])).to_numpy()
    paired = other.assign(gain_over_full=other["gold"].to_numpy() - gold_full)
    return paired[paired["gain_over_full"].notna()]


def kl_matched_table(rows: pd.DataFrame) -> pd.DataFrame:
    """Per cell and method at the main rate: gain over full at each KL budget, interval over replicates."""
    paired = kl_matched_against_full(rows)
    paired = at_main_rate(paired)
    if paired.empty:
        return pd.DataFrame()
    summary = summary_over_seeds(
        paired, ["cell", "method_label", "budget"], intervals=["gain_over_full"], means=["kl", "step"]
    )
    wide = {}
    for _, r in summary.iterrows():
        line = wide.setdefault(
            (r["cell"], r["method_label"]),
            {"cell": r["cell"], "method": r["method_label"], "models": r["models"], "CI over": r["interval"]},
        )
        line[f"gain over full @ KL<={r['budget']:g} (mean step)"] = (
            f"{format_ci(r['gain_over_full'], r['gain_over_full_lo'], r['gain_over_full_hi'])} ({r['step']:.0f})"
        )
    return pd.DataFrame(list(wide.values()))


def full_runs(rows: pd.DataFrame) -> pd.DataFrame:
    """The full runs' own gain over SFT, mean and interval over replicates, per cell."""
    full = summary_over_seeds(rows[rows["method"] == "full"], ["cell"], intervals=["gain"], means=["kl"])
    return full.rename(columns={"gain_lo": "lo", "gain_hi": "hi"})


def bar_figure(summary: pd.DataFrame, title: str, path: Path) -> None:
    """Gain over full per method at the main rate (and full-independent oracle), one panel per cell."""
    main = at_main_rate(summary)
    interval_bars(
        main.assign(color=["tab:green" if m.startswith("seam") else "tab:grey" for m in main["method"]]),
        "gain_over_full",
        "method",
        "color",
        "gold gain over full (95% CI over replicates)",
        title,
        path,
        figsize=(max(9.0, 5 * main["cell"].nunique()), 0.35 * main["method"].nunique() + 1.6),
        sharex=True,
        sort=True,
    )


def rate_figure(summary: pd.DataFrame, title: str, path: Path) -> None:
    """Gain over full against the drop rate, one line per rated method, one panel per cell."""
    rated = summary[summary["rate"].notna()]
    cells = sorted(rated["cell"].unique())
    fig, axes = plt.subplots(
        1, len(cells), figsize=(max(9.0, 4.5 * len(cells)), 3.6), squeeze=False, sharey=True
    )
    for ax, cell in zip(axes[0], cells, strict=True):
        for label, line in rated[rated["cell"] == cell].groupby("method"):
            line = line.sort_values("rate")
            ax.plot(line["rate"], line["gain_over_full"], marker="o", label=label)
            ax.fill_between(line["rate"], line["gain_over_full_lo"], line["gain_over_full_hi"], alpha=0.15)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_title(cell, fontsize=9)
        ax.set_xlabel("share of RL prompts dropped")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("gold gain over full")
    axes[0][0].legend(fontsize=7)
    save_figure(fig, path, title)


ALONG_THE_RUN = ["gain", "kl", "mismatch", "hacking"]  # read at every evaluation of a run (history.csv)
# the trajectory figure's panels: (x column, y column, x label, y label)
TRAJECTORY_PANELS = [
    ("kl", "gain", "KL to the SFT start", "gold gain over SFT"),
    ("step", "mismatch", "RL step", "mismatch"),
    ("step", "hacking", "RL step", "hacking share"),
]


def trajectories(rows: pd.DataFrame) -> pd.DataFrame:
    """Per cell, method at the main rate (or without a rate) and evaluation step: the mean over its runs of
    the gold gain over SFT, KL, mismatch and hacking share on the eval samples (a reading a run lacks, NaN,
    is left out of that step's mean), and how many runs have a history; the online arms are read along
    the run against full and the static filter this way (docs/online.md)."""
    runs = at_main_rate(rows).assign(method=lambda f: f["method_label"])
    curves = run_histories(runs, ["cell", "method", "run_dir"])
    if curves.empty:
        return pd.DataFrame()
    # a history without one of the readings: NaN in its column, not a KeyError
    curves = curves.reindex(columns=["cell", "method", "run_dir", "step", *ALONG_THE_RUN])
    means = curves.groupby(["cell", "method", "step"], as_index=False)[ALONG_THE_RUN].mean()
    runs = curves.groupby(["cell", "method"], as_index=False)["run_dir"].nunique()
    return means.merge(runs.rename(columns={"run_dir": "runs"}))


def trajectory_table(curves: pd.DataFrame) -> pd.DataFrame:
    """One line per cell and method (full first in its cell): mismatch, then hacking share, at every
    evaluation step."""
    # unstack, not pivot_table: a reading no run has (all NaN) keeps its columns
    wide = curves.set_index(["cell", "method", "runs", "step"])[["mismatch", "hacking"]].unstack("step")
    wide.columns = [f"{name} @{step}" for name, step in wide.columns]
    wide = wide.reset_index()
    return wide.sort_values(["cell", "method"], key=lambda c: c.ne("full") if c.name == "method" else c)


def trajectory_figure(curves: pd.DataFrame, title: str, path: Path) -> None:
    """Per cell (a row of panels): gold gain against KL, mismatch and hacking against the RL step, one
    line per method, full in black."""
    cells = sorted(curves["cell"].unique())
    colors = distinct_colors(sorted(set(curves["method"]) - {"full"}))
    fig, axes = plt.subplots(
        len(cells), len(TRAJECTORY_PANELS), figsize=(14, 3.6 * len(cells)), squeeze=False
    )
    for row, cell in zip(axes, cells, strict=True):
        for method, line in curves[curves["cell"] == cell].groupby("method"):
            line = line.sort_values("step")
            style = {"color": "black", "lw": 2} if method == "full" else {"color": colors[method], "lw": 1}
            for ax, (x, y, _, _) in zip(row, TRAJECTORY_PANELS, strict=True):
                ax.plot(line[x], line[y], marker="o", ms=3, label=method, **style)
        for ax, (_, _, x_label, y_label) in zip(row, TRAJECTORY_PANELS, strict=True):
            ax.set(xlabel=x_label, ylabel=y_label)
            ax.set_title(cell, fontsize=9)
            ax.grid(alpha=0.3)
        row[0].legend(fontsize=6)
    save_figure(fig, path, title)


def dropped_sets(rows: pd.DataFrame) -> dict[tuple[str, str], set]:
    """(cell, method label) -> the prompts dropped at the main rate by its lowest seed's run."""
    main = at_main_rate(rows[rows["method"] != "full"])
    out = {}
    for (cell, label), g in main.groupby(["cell", "method_label"]):
        file = Path(g.sort_values("seed")["run_dir"].iloc[0]) / DROPPED_FILE
        if file.is_file():
            out[(cell, label)] = set(pd.read_csv(file)["prompt_id"].tolist())
    return out


def overlap_tables(sets: dict[tuple[str, str], set]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(method x method overlap within each cell; per method, the mean overlap of its dropped sets
    across pairs of cells: the paper's appendix E.2 reports 64-72% for SEAM)."""
    within = []
    for (c1, m1), (c2, m2) in itertools.product(sets, repeat=2):
        if c1 == c2:
            within.append(
                {"cell": c1, "method": m1, "other": m2, "overlap": overlap(sets[c1, m1], sets[c2, m2])}
            )
    across = []
    for method in sorted({m for _, m in sets}):
        cells = sorted(c for c, m in sets if m == method)
        pairs = [overlap(sets[a, method], sets[b, method]) for a, b in itertools.combinations(cells, 2)]
        if pairs:
            across.append(
                {
                    "method": method,
                    "cell pairs": len(pairs),
                    "mean overlap across cells": np.mean(pairs),
                    "min": np.min(pairs),
                    "max": np.max(pairs),
                }
            )
    return pd.DataFrame(within), pd.DataFrame(across)


def overlap_figure(within: pd.DataFrame, title: str, path: Path) -> None:
    cells = sorted(within["cell"].unique())
    fig, axes = plt.subplots(1, len(cells), figsize=(5.5 * len(cells), 5), squeeze=False)
    for ax, cell in zip(axes[0], cells, strict=True):
        grid = within[within["cell"] == cell].pivot(index="method", columns="other", values="overlap")
        ax.imshow(grid.to_numpy(), vmin=0, vmax=1, cmap="viridis")
        ax.set_xticks(range(len(grid.columns)), grid.columns, rotation=90, fontsize=7)
        ax.set_yticks(range(len(grid.index)), grid.index, fontsize=7)
        for (i, j), v in np.ndenumerate(grid.to_numpy()):
            ax.text(
                j, i, f"{v:.2f}", ha="center", va="center", fontsize=6, color="white" if v < 0.6 else "black"
            )
        ax.set_title(cell, fontsize=9)
    save_figure(fig, path, title)


def aggregate(outputs: Path) -> list[Path]:
    folder = outputs / "figures" / "selection"
    written = []
    groups = report_groups(
        outputs, "selection", CELL, SelectionRow, CELL_GROUP, relabel=with_cell_names, with_missing=False
    )
    for group in groups:
        name, rows = group.name, group.rows
        title = group.title("RL on selected prompts vs every prompt, judged by gold")
        paired = paired_against_full(rows)
        summary = summary_of_pairs(paired) if len(paired) else pd.DataFrame()
        figures = {}
        if len(summary):
            figures["_bars"] = partial(bar_figure, summary, title)
            if summary["rate"].dropna().nunique() > 1:
                figures["_rates"] = partial(rate_figure, summary, title)
        table = selection_table_of(summary, full_runs(rows)) if len(summary) else full_runs(rows)
        # a table of several cells reads their PM and RM axes: warn where measured quality disagrees
        notes = printed(grid_warnings(rows), name)
        written += write_table_and_figures(folder, name, title, with_cell_models(table, rows), figures, notes)
        matched = kl_matched_table(rows)
        if len(matched):
            matched_title = f"{title}: at matched KL budgets, checkpoints chosen on validation prompts"
            written += write_table_and_figures(
                folder, f"{name}_kl_budgets", matched_title, matched, {}, notes
            )
        curves = trajectories(rows)
        if len(curves):
            along_title = f"{title}: mismatch and hacking along the run (means over runs)"
            written += write_table_and_figures(
                folder,
                f"{name}_along_the_run",
                along_title,
                trajectory_table(curves),
                {"": partial(trajectory_figure, curves, along_title)},
            )
        within, across = overlap_tables(dropped_sets(rows))
        if len(within):
            scale = group.values["scale"]
            overlap_title = f"Overlap of the dropped RL prompts at drop rate {MAIN_RATE:g} (scale={scale})"
            matrix = within.pivot_table(
                index=["cell", "method"], columns="other", values="overlap"
            ).reset_index()
            written += write_table_and_figures(
                folder,
                f"{name}_overlap",
                overlap_title,
                matrix,
                {"_heatmap": partial(overlap_figure, within, overlap_title)},
            )
            if len(across):
                across_title = f"Overlap of each method's dropped prompts across cells (scale={scale})"
                written += write_table_and_figures(
                    folder, f"{name}_overlap_across_cells", across_title, across, {}
                )
    return written


# ------------------------------------------------------------------------- claims (reporting/claims.py)

SELECTION_COMMAND = "+experiment=selection_verdict train_seed=0,1,2"  # the top cell, 5 RL seeds
GRID_COMMAND = "+experiment=selection train_seed=0,1,2"  # every cell: what overlaps across cells need
RATES_COMMAND = "+experiment=selection_rates train_seed=0,1,2 'scale.seeds=[0,1,2,3,4]'"
ONLINE_COMMAND = "+experiment=online_verdict train_seed=0,1,2"  # the online arms on the top cell
ONLINE = "not measured (the paper's future work)"
PAPER_PEAK = (0.1, 0.2)  # appendix E.1: the drop rates where the filter's gain peaks
PAPER_OVERLAP = (0.64, 0.72)  # appendix E.2: SEAM's dropped sets across (PM, RM) pairs
CLAIMS = [
    Claim(
        "selection_gain",
        "RL on the prompts SEAM keeps beats RL on every prompt",
        "+4.4% (5.54 -> 5.78)",
        "gold gain over full of the primary method at a 20% drop rate, the top cell",
        "above",
        (0.0, 0.0),
        SELECTION_COMMAND,
    ),
    Claim(
        "selection_rate_peak",
        "The filter rate peaks at 10-20%",
        "peak at 10-20% (App. E.1)",
        "the primary's gain over full at its best rate in 10-20% minus at its best rate outside, the top cell",
        "above",
        (0.0, 0.0),
        RATES_COMMAND,
    ),
    Claim(
        "less_is_more",
        "Less is more: dropping the truly mismatched prompts helps",
        "oracle filter beats full (4.3)",
        "gold gain over full of the oracle at the others' 20% drop rate (oracle_top), the top cell",
        "above",
        (0.0, 0.0),
        SELECTION_COMMAND,
    ),
    Claim(
        "gpt_over_contrast",
        "Variants rank GPT > Contrast > Adv for selection (GPT > Contrast)",
        "GPT > Contrast (6.1)",
        "gain over full of seam:gpt:paper_prob minus seam:contrast:paper_prob at 20%, the top cell",
        "above",
        (0.0, 0.0),
        SELECTION_COMMAND,
    ),
    Claim(
        "contrast_over_adv",
        "Variants rank GPT > Contrast > Adv for selection (Contrast > Adv)",
        "Contrast > Adv (6.1)",
        "gain over full of seam:contrast:paper_prob minus seam:adv:paper_prob at 20%, the top cell",
        "above",
        (0.0, 0.0),
        SELECTION_COMMAND,
    ),
    Claim(
        "online_filter",
        "Re-filtering along RL (the online SEAM filter) beats RL on every prompt (this project's)",
        ONLINE,
        "gold gain over full of online:contrast:paper_prob at 20%, the top cell",
        "above",
        (0.0, 0.0),
        ONLINE_COMMAND,
    ),
    Claim(
        "online_over_static",
        "Re-filtering along RL beats filtering once before it (this project's)",
        ONLINE,
        "gain over full of online:contrast:paper_prob minus seam:contrast:paper_prob at 20%, the top cell",
        "above",
        (0.0, 0.0),
        ONLINE_COMMAND,
    ),
    Claim(
        "refresh_gain",
        "Refreshing the RM where it is least seamless beats RL against the fixed RM (this project's)",
        ONLINE,
        "gold gain over full of refresh:seam, the top cell",
        "above",
        (0.0, 0.0),
        ONLINE_COMMAND,
    ),
    Claim(
        "refresh_over_random",
        "SEAM picks better prompts to label for the RM refresh than chance (this project's)",
        ONLINE,
        "gain over full of refresh:seam minus refresh:random (the same labels), the top cell",
        "above",
        (0.0, 0.0),
        ONLINE_COMMAND,
    ),
    Claim(
        "dropped_overlap",
        "SEAM drops much the same prompts whichever (PM, RM) pair scores them",
        "64-72% overlap (App. E.2)",
        "mean overlap of the primary's dropped sets across pairs of cells, per trained model",
        "within",
        PAPER_OVERLAP,
        GRID_COMMAND,
    ),
]
# (claim key, method, other method or None for the gain over full itself) read at the main rate
AT_MAIN_RATE = [
    ("less_is_more", "oracle_top", None),
    ("gpt_over_contrast", "seam:gpt:paper_prob", "seam:contrast:paper_prob"),
    ("contrast_over_adv", "seam:contrast:paper_prob", "seam:adv:paper_prob"),
    ("online_filter", "online:contrast:paper_prob", None),
    ("online_over_static", "online:contrast:paper_prob", "seam:contrast:paper_prob"),
    ("refresh_gain", "refresh:seam", None),  # no drop rate: read with the methods at the main rate
    ("refresh_over_random", "refresh:seam", "refresh:random"),
]


def rate_peak_difference(paired: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """(per replicate, the gain at the best rate in the paper's 10-20% minus at the best rate outside it,
    each best by its mean; what was compared) for one method's paired runs at several rates."""
    means = paired.groupby("rate")["gain_over_full"].mean()
    in_band = means.index.to_series().between(*PAPER_PEAK).to_numpy()
    inside, outside = means[in_band], means[~in_band]
    if inside.empty or outside.empty:
        return pd.DataFrame(), ""
    best_in, best_out = inside.idxmax(), outside.idxmax()
    diff = paired_difference(paired, "rate", best_in, best_out, "gain_over_full")
    return diff, f"rate {best_in:g} - rate {best_out:g}"


def claims(outputs: Path) -> tuple[list[Claim], list[Reading]]:
    """The selection claims, per scale, on the top cell of the plain PPO sweep (top_cell_rows)."""
    by_key, readings = {c.key: c for c in CLAIMS}, []
    groups = report_groups(
        outputs, "selection", CELL, SelectionRow, CELL_GROUP, relabel=with_cell_names, with_missing=False
    )
    for group in groups:
        if not is_plain(group) or not len(group.rows):
            continue
        top = top_cell_rows(group.rows, "pm_label", "rm_label")
        scale, cell = group.values["scale"], top["cell"].iloc[0]
        paired = paired_against_full(top)
        if not len(paired):
            continue
        primary = paired["primary"].iloc[0]
        mine = paired[paired["method"] == primary]
        main = mine[mine["rate"] == MAIN_RATE]
        if len(main):
            share = main["gain_over_full"].mean() / main["gold_full"].mean()
            detail = f"{primary}, {cell}; {share:+.1%} of full's gold"
            readings.append(
                reading_of(
                    by_key["selection_gain"], scale, pooled(main, "gain_over_full"), "gain_over_full", detail
                )
            )
        diff, compared = rate_peak_difference(mine)
        if len(diff):
            summary = pooled(diff, "gain_over_full")
            readings.append(
                reading_of(
                    by_key["selection_rate_peak"], scale, summary, "gain_over_full", f"{compared}, {cell}"
                )
            )
        at_main = at_main_rate(paired)
        for key, method, other in AT_MAIN_RATE:
            if other is None:
                diff = at_main[at_main["method"] == method]
            else:
                diff = paired_difference(at_main, "method", method, other, "gain_over_full")
            if len(diff):
                summary = pooled(diff, "gain_over_full")
                readings.append(reading_of(by_key[key], scale, summary, "gain_over_full", cell))
        overlaps = overlap_per_model(group.rows, primary)
        if len(overlaps):
            summary = pooled(overlaps, "overlap")
            readings.append(reading_of(by_key["dropped_overlap"], scale, summary, "overlap", primary))
    return CLAIMS, readings


def overlap_per_model(rows: pd.DataFrame, method: str) -> pd.DataFrame:
    """Per trained model (PM and RM training seeds): the mean overlap of `method`'s dropped sets at the
    main rate across pairs of cells (overlap_tables)."""
    lines = []
    for (pm_seed, rm_seed), runs in rows[rows["method"] == method].groupby(["pm_seed", "rm_seed"]):
        _, across = overlap_tables(dropped_sets(runs))
        if len(across):
            lines.append(
                {
                    "pm_seed": pm_seed,
                    "rm_seed": rm_seed,
                    "seed": 0,
                    "overlap": across["mean overlap across cells"].iloc[0],
                }
            )
    return pd.DataFrame(lines)
