"""The tables and figures of `+experiment=mismatch_paper` (the runner and its row: mismatch_paper.py).

Per scale: a table over trained models (one line per pair of PMs and RM, its intervals over the trainings and
the prompts inside them) with its bar chart, the paper's 35-40% beside them, and the per-training table under
it. The tables state the PMs' gold and the RMs' accuracy and warn when the best PM is not better, or the RMs
not ordered, by them.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from seam_exp.experiments.mismatch_paper import MismatchPaperRow
from seam_exp.reporting.claims import Claim, Reading, paired_difference, pooled, reading_of, top_two
from seam_exp.reporting.grid import axis_order
from seam_exp.reporting.plots import plt, save_figure
from seam_exp.reporting.precondition import (
    PM_METRIC,
    RM_METRIC,
    level_means,
    printed,
    unordered_axis_warning,
)
from seam_exp.reporting.results import collect_results
from seam_exp.reporting.seeds import summary_over_seeds
from seam_exp.reporting.tables import SIZE_ORDER, format_ci, write_table_and_figures

PAPER_MISMATCH = (0.35, 0.40)  # abstract; section 4.2 and appendix B (60.5% agreement)
JUDGES = ("labeler", "gold")
CELL = ["pm_best", "pm_mid", "rm"]


def by_rm_order(column: pd.Series) -> pd.Series:
    order = {s: i for i, s in enumerate(SIZE_ORDER)}
    return column.map(order) if column.name == "rm" else column


def pooled_over_trainings(df: pd.DataFrame) -> pd.DataFrame:
    """One line per pair of PMs and RM: each mismatch pooled over the trained models (the runs of one
    training averaged first, its own interval over prompts added; reporting/seeds.py), with the mean
    model readings beside it."""
    means = ["pm_best_gold", "pm_mid_gold", "rm_acc_heldout", "labeler_gold_agreement", "best_wins_by_gold"]
    intervals = [f"mismatch_vs_{j}" for j in JUDGES]
    summary = summary_over_seeds(df, CELL, intervals=intervals, means=means, own_interval=True)
    return summary.sort_values(CELL, key=by_rm_order).reset_index(drop=True)


def pooled_table(summary: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "PMs (best vs mid)": [
                f"{b} vs {m}" for b, m in zip(summary["pm_best"], summary["pm_mid"], strict=True)
            ],
            "RM": summary["rm"],
            "trained models / runs": [
                f"{m} / {n}" for m, n in zip(summary["models"], summary["seeds"], strict=True)
            ],
            "CI over": summary["interval"],
            "PM SFT gold (best / mid)": [
                f"{b:.3f} / {m:.3f}"
                for b, m in zip(summary["pm_best_gold"], summary["pm_mid_gold"], strict=True)
            ],
            "RM acc (held-out)": summary["rm_acc_heldout"],
            "labeler agrees with gold": summary["labeler_gold_agreement"],
            **{
                f"mismatch vs {j} (95% CI)": [
                    format_ci(*r, signed=False)
                    for r in summary[
                        [f"mismatch_vs_{j}", f"mismatch_vs_{j}_lo", f"mismatch_vs_{j}_hi"]
                    ].to_numpy()
                ]
                for j in JUDGES
            },
            "paper (vs humans)": f"{PAPER_MISMATCH[0]:.2f}-{PAPER_MISMATCH[1]:.2f}",
        }
    )


def paper_protocol_table(df: pd.DataFrame) -> pd.DataFrame:
    """One line per run: each training's own reading, its interval over prompts."""
    df = df.sort_values([*CELL, "pm_seed", "rm_seed", "seed"], key=by_rm_order)
    return pd.DataFrame(
        {
            "PMs (best vs mid)": [f"{b} vs {m}" for b, m in zip(df["pm_best"], df["pm_mid"], strict=True)],
            "training seeds (PM / RM)": [
                f"{a} / {b}" for a, b in zip(df["pm_seed"], df["rm_seed"], strict=True)
            ],
            "PM SFT gold (best / mid)": [
                f"{b:.3f} / {m:.3f}" for b, m in zip(df["pm_best_gold"], df["pm_mid_gold"], strict=True)
            ],
            "RM": df["rm"],
            "RM acc (held-out)": df["rm_acc_heldout"],
            "pairs labeled / gold-decided": [
                f"{a} / {b}" for a, b in zip(df["labeled_pairs"], df["gold_pairs"], strict=True)
            ],
            "best PM wins by gold": df["best_wins_by_gold"],
            "labeler agrees with gold": df["labeler_gold_agreement"],
            "mismatch vs labeler (95% CI)": [
                format_ci(*r, signed=False)
                for r in df[
                    ["mismatch_vs_labeler", "mismatch_vs_labeler_lo", "mismatch_vs_labeler_hi"]
                ].to_numpy()
            ],
            "mismatch vs gold (95% CI)": [
                format_ci(*r, signed=False)
                for r in df[["mismatch_vs_gold", "mismatch_vs_gold_lo", "mismatch_vs_gold_hi"]].to_numpy()
            ],
            "paper (vs humans)": f"{PAPER_MISMATCH[0]:.2f}-{PAPER_MISMATCH[1]:.2f}",
        }
    )


def paper_protocol_notes(df: pd.DataFrame) -> list[str]:
    """Warnings under the table when a model it compares is not better by measurement than its label
    says: the best PM's SFT gold not above the mid PM's (per pair of PMs), or the RMs' held-out accuracy
    not growing with their size."""
    warnings = []
    for (best, mid), pair in df.groupby(["pm_best", "pm_mid"]):
        if best != mid:
            gold = {mid: pair["pm_mid_gold"].mean(), best: pair["pm_best_gold"].mean()}
            warnings.append(unordered_axis_warning(gold, "PM (mid -> best)", PM_METRIC, order=[mid, best]))
    warnings.append(unordered_axis_warning(level_means(df, "rm", "rm_acc_heldout"), "RM", RM_METRIC))
    return [w for w in warnings if w]


def paper_protocol_figure(summary: pd.DataFrame, title: str, path: Path) -> None:
    """Bars of each RM's mismatch against the labeler and against gold, pooled over trained models."""
    df = summary
    x = np.arange(len(df))
    fig, ax = plt.subplots(figsize=(1.2 * len(df) + 3, 3.8))
    for shift, judge in zip((-0.2, 0.2), JUDGES, strict=True):
        mid = df[f"mismatch_vs_{judge}"]
        err = [mid - df[f"mismatch_vs_{judge}_lo"], df[f"mismatch_vs_{judge}_hi"] - mid]
        ax.bar(x + shift, mid, width=0.4, yerr=err, capsize=3, label=f"RM vs {judge}")
    ax.axhspan(*PAPER_MISMATCH, color="grey", alpha=0.25, label="paper: 35-40% (vs humans)")
    ax.set_xticks(
        x, [f"RM {r}\n({b} vs {m})" for r, b, m in zip(df["rm"], df["pm_best"], df["pm_mid"], strict=True)]
    )
    ax.set_ylabel(f"share of pairs the RM picks wrongly\n(95% CI over {df['interval'].iloc[0]})", fontsize=8)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, axis="y")
    save_figure(fig, path, title)


def newest_runs(outputs: Path) -> pd.DataFrame:
    """The newest run of each (scale, PM pair, RM, trained models, seed)."""
    df = collect_results(outputs, "mismatch_paper", MismatchPaperRow)
    if not len(df):
        return df
    key = ["scale", "pm_best", "pm_mid", "rm", "pm_seed", "rm_seed", "seed"]
    return df.sort_values("_mtime").groupby(key, as_index=False).last()


def aggregate(outputs: Path) -> list[Path]:
    df = newest_runs(outputs)
    written = []
    folder = outputs / "figures" / "mismatch_paper"
    for scale, group in df.groupby("scale"):
        name = f"mismatch_paper_{scale}"
        title = f"Mismatch by the paper's protocol: best vs mid-grid PM on the same prompts (scale={scale})"
        summary = pooled_over_trainings(group)
        figures = {"": partial(paper_protocol_figure, summary, title)}
        notes = printed(paper_protocol_notes(group), name)
        written += write_table_and_figures(folder, name, title, pooled_table(summary), figures, notes)
        per_training = f"{name}_per_training"
        written += write_table_and_figures(
            folder, per_training, f"{title}, each training", paper_protocol_table(group), {}, []
        )
    return written


# ------------------------------------------------------------------------- claims (reporting/claims.py)

MISMATCH_COMMAND = "+experiment=mismatch_paper train_seed=0,1,2"
CLAIMS = [
    Claim(
        "mismatch_level",
        "The RM misjudges the PM's own answers: mismatch 35-40%",
        "0.35 (abstract), ~0.40 (4.2, App. B)",
        "mismatch against the labeler, best vs mid PM, the top RM",
        "within",
        PAPER_MISMATCH,
        MISMATCH_COMMAND,
    ),
    Claim(
        "mismatch_flat",
        "Mismatch is flat over RM size",
        "flat over 7B / 13B / 70B (App. B)",
        "mismatch against the labeler, the top RM minus the smallest",
        "flat",
        (0.0, 0.0),
        MISMATCH_COMMAND,
    ),
]


def claims(outputs: Path) -> tuple[list[Claim], list[Reading]]:
    """Both mismatch claims on the paper's protocol, per scale, for its pair of PMs with the best top PM."""
    df, readings, column = newest_runs(outputs), [], "mismatch_vs_labeler"
    for scale, runs in df.groupby("scale"):
        best = top_two(runs["pm_best"])[0]
        runs = runs[runs["pm_best"] == best]
        runs = runs[runs["pm_mid"] == runs["pm_mid"].iloc[0]]
        rms = axis_order(runs["rm"])
        top = runs[runs["rm"] == rms[-1]]
        readings.append(
            reading_of(
                CLAIMS[0],
                scale,
                pooled(top, column),
                column,
                f"PMs {best} vs {runs['pm_mid'].iloc[0]}, RM {rms[-1]}",
            )
        )
        if len(rms) >= 2:
            diff = paired_difference(runs, "rm", rms[-1], rms[0], column)
            if len(diff):
                detail = f"RM {rms[-1]} - RM {rms[0]}"
                readings.append(reading_of(CLAIMS[1], scale, pooled(diff, column), column, detail))
    return CLAIMS, readings
