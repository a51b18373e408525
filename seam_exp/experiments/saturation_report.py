"""The tables and figures of `+experiment=saturation` (the runner and its row: saturation.py).

Per scale, grid and RL algorithm: a heatmap of the gain over the PM x RM grid, curves along each axis and a
table (missing cells with the reason), with each cell's SFT gold and RM accuracy and a warning under it when
an axis is not ordered by them; and the same read at matched KL budgets, each run's checkpoint for a budget
chosen on validation prompts.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pandas as pd

from seam_exp.experiments.saturation import SaturationRow
from seam_exp.reporting.claims import Claim, Reading, is_plain, paired_difference, pooled, reading_of, top_two
from seam_exp.reporting.grid import axis_order, cell_summary, curves, heatmap, with_axis_labels
from seam_exp.reporting.plots import plt, save_figure
from seam_exp.reporting.precondition import grid_warnings, printed
from seam_exp.reporting.seeds import REPLICATE, summary_over_seeds
from seam_exp.reporting.sweep import RL_CELL, report_groups
from seam_exp.reporting.tables import ci_column, format_ci, write_table_and_figures
from seam_exp.rl.kl_budget import KL_BUDGETS, kl_budget_rows, run_history

CELL = {
    **RL_CELL,
    "pm_budget": "pm.sft.budget",
    "rm_budget": "rm.train.budget",
    "sft_steps": "pm.sft.max_steps",
    "rm_pairs": "rm.train.num_pairs",
    "seed": "seed",
}
GROUP = ["scale", "grid", "algorithm", "reward_source", "variant"]


def saturation_table(summary: pd.DataFrame, missing: pd.DataFrame) -> pd.DataFrame:
    parts = []
    if len(summary):
        parts.append(cell_rows(summary))
    if len(missing):
        status = "missing: " + missing["reason"].astype(str)
        parts.append(pd.DataFrame({"PM": missing["pm_label"], "RM": missing["rm_label"], "status": status}))
    table = pd.concat(parts, ignore_index=True)
    pm_order, rm_order = axis_order(table["PM"]), axis_order(table["RM"])
    return table.sort_values(
        ["PM", "RM"],
        key=lambda c: c.map({v: i for i, v in enumerate(pm_order if c.name == "PM" else rm_order)}),
    ).reset_index(drop=True)


def cell_rows(summary: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "PM": summary["pm_label"],
            "RM": summary["rm_label"],
            "RM acc": summary["rm_acc_heldout"],
            "seeds": summary["seeds"].astype(int),
            "models": summary["models"].astype(int),
            "CI over": summary["interval"],
            "SFT gold": summary["sft_gold"],
            "RL gold": summary["rl_gold"],
            "gain (95% CI)": ci_column(summary, "gain"),
            "win rate vs SFT (95% CI)": ci_column(summary, "win_rate", signed=False),
            "KL": summary["kl"],
            "proxy gain": summary["rl_proxy"] - summary["sft_proxy"],
            "mismatch SFT -> RL": [
                f"{a:.3f} -> {b:.3f}"
                for a, b in zip(summary["sft_mismatch"], summary["mismatch"], strict=True)
            ],
            "hacking": summary["hacking"],
            "status": "ok",
        }
    )


# ------------------------------------------------------------- matched KL budgets (rl/kl_budget.py)


def kl_budget_table(summary: pd.DataFrame) -> pd.DataFrame:
    wide = {}
    for _, r in summary.iterrows():
        cell = wide.setdefault((r["pm_label"], r["rm_label"]), {"PM": r["pm_label"], "RM": r["rm_label"]})
        cell[f"gain @ KL<={r['budget']:g} (step)"] = (
            f"{format_ci(r['gain'], r['gain_lo'], r['gain_hi'])} ({r['step']:.0f})"
        )
    table = pd.DataFrame(list(wide.values()))
    pm_order, rm_order = axis_order(table["PM"]), axis_order(table["RM"])
    rank = {"PM": {v: i for i, v in enumerate(pm_order)}, "RM": {v: i for i, v in enumerate(rm_order)}}
    return table.sort_values(["PM", "RM"], key=lambda c: c.map(rank[c.name])).reset_index(drop=True)


def gold_vs_kl_figure(rows: pd.DataFrame, title: str, path: Path) -> None:
    """Eval gold against eval KL to the SFT start along each run (mean over seeds at each evaluation):
    one panel per PM, one line per RM."""
    histories = []
    for _, row in rows.iterrows():
        history = run_history(row["run_dir"])
        if history is not None:
            histories.append(history.assign(pm_label=row["pm_label"], rm_label=row["rm_label"]))
    if not histories:
        return
    curves_df = (
        pd.concat(histories).groupby(["pm_label", "rm_label", "step"], as_index=False)[["kl", "gold"]].mean()
    )
    pms = axis_order(curves_df["pm_label"])
    fig, axes = plt.subplots(1, len(pms), figsize=(3.6 * len(pms) + 1, 3.6), squeeze=False, sharey=True)
    for ax, pm in zip(axes[0], pms, strict=True):
        mine = curves_df[curves_df["pm_label"] == pm]
        for rm in axis_order(mine["rm_label"]):
            line = mine[mine["rm_label"] == rm].sort_values("step")
            ax.plot(line["kl"], line["gold"], marker="o", ms=3, label=f"RM {rm}")
        for budget in KL_BUDGETS:
            ax.axvline(budget, color="grey", lw=0.6, ls=":")
        ax.set_title(f"PM {pm}", fontsize=9)
        ax.set_xlabel("KL to the SFT start (nats)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("gold (eval prompts)")
    axes[0][0].legend(fontsize=7)
    save_figure(fig, path, title)


def aggregate(outputs: Path) -> list[Path]:
    folder = outputs / "figures" / "saturation"
    written = []
    for group in report_groups(outputs, "saturation", CELL, SaturationRow, GROUP, relabel=with_axis_labels):
        name, rows, lost = group.name, group.rows, group.lost
        summary = cell_summary(rows) if len(rows) else pd.DataFrame(columns=["pm_label", "rm_label"])
        title = group.title("RLHF gain over SFT by gold")
        figures = {"_heatmap": partial(heatmap, summary, lost, title)}
        if len(summary):
            figures["_curves"] = partial(curves, summary, title)
        # the question reads each axis as quality: say under both tables where the measured one disagrees
        notes = printed(grid_warnings(summary.assign(grid=group.values["grid"])), name)
        written += write_table_and_figures(
            folder, name, title, saturation_table(summary, lost), figures, notes
        )
        chosen = kl_budget_rows(rows, ["pm_label", "rm_label", *REPLICATE]) if len(rows) else pd.DataFrame()
        if len(chosen):
            # per (cell, budget) over replicates; one run keeps its own bootstrap CI
            budgets = summary_over_seeds(
                chosen,
                ["pm_label", "rm_label", "budget"],
                intervals=["gain", "kl"],
                means=["step"],
                own_interval=True,
            )
            kl_title = f"{title}: at matched KL budgets, checkpoint chosen on validation prompts"
            kl_figures = {"_gold_vs_kl": partial(gold_vs_kl_figure, rows, title)}
            no_cells = pd.DataFrame(columns=["pm_label", "rm_label"])
            for budget, part in budgets.groupby("budget"):
                kl_figures[f"_heatmap_kl{budget:g}"] = partial(
                    heatmap, part, no_cells, f"{title}, KL <= {budget:g}"
                )
            written += write_table_and_figures(
                folder, f"{name}_kl_budgets", kl_title, kl_budget_table(budgets), kl_figures, notes
            )
    return written


# ------------------------------------------------------------------------- claims (reporting/claims.py)

SATURATION_COMMAND = "make run; +experiment=models train_seed=1,2; +experiment=saturation train_seed=0,1,2"
CLAIMS = [
    Claim(
        "saturation_pm",
        "Saturation along the PM axis: a better PM gives no larger RLHF gain",
        "no larger gain (Fig. 1)",
        "gold gain over SFT of the top PM minus the next PM's, with the top RM",
        "below",
        (0.0, 0.0),
        SATURATION_COMMAND,
    ),
    Claim(
        "saturation_rm",
        "Saturation along the RM axis: a better RM gives no larger RLHF gain",
        "no larger gain (Fig. 1)",
        "gold gain over SFT with the top RM minus with the next RM, for the top PM",
        "below",
        (0.0, 0.0),
        SATURATION_COMMAND,
    ),
]


def claims(outputs: Path) -> tuple[list[Claim], list[Reading]]:
    """The two saturation claims, read on the size grid's plain PPO runs of each scale: the top rung
    against the one below it along each axis, the other axis at its top, paired on trained models and RL
    seed."""
    readings = []
    for group in report_groups(
        outputs, "saturation", CELL, SaturationRow, GROUP, relabel=with_axis_labels, with_missing=False
    ):
        if group.values["grid"] != "size" or not is_plain(group):
            continue
        rows = group.rows
        pms, rms = top_two(rows["pm_label"]), top_two(rows["rm_label"])
        for claim, axis, other, rungs, others in (
            (CLAIMS[0], "pm_label", "rm_label", pms, rms),
            (CLAIMS[1], "rm_label", "pm_label", rms, pms),
        ):
            if len(rungs) < 2:
                continue
            diff = paired_difference(rows[rows[other] == others[0]], axis, *rungs, "gain")
            if len(diff):
                detail = f"{rungs[0]} - {rungs[1]} at {other[:2].upper()} {others[0]}"
                readings.append(
                    reading_of(claim, group.values["scale"], pooled(diff, "gain"), "gain", detail)
                )
    return CLAIMS, readings
