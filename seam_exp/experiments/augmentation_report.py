"""The tables and figures of `+experiment=augmentation` (the runner and its row: augmentation.py).

Every arm is paired with `original` (and seam/full with `random` of the same side) by seed, on the same
eval samples, and a gain is traced to its model: the arm's SFT gold and its RM's held-out accuracy; a
table of several cells warns when their PM or RM axis is not ordered by those of the cells' own models.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import pandas as pd

from seam_exp.augmentation.arms import Arm, compute_control, parse_arm
from seam_exp.experiments.augmentation import AugmentationRow
from seam_exp.reporting.claims import Claim, Reading, is_plain, pooled, reading_of, top_cell_rows
from seam_exp.reporting.grid import with_cell_names
from seam_exp.reporting.paired import PAIRED, paired_by_seed
from seam_exp.reporting.plots import interval_bars, plt, save_figure
from seam_exp.reporting.precondition import grid_warnings, printed
from seam_exp.reporting.seeds import REPLICATE, summary_over_seeds
from seam_exp.reporting.sweep import CELL_GROUP, RL_CELL, report_groups
from seam_exp.reporting.tables import ci_column, format_ci, verdict, write_table_and_figures
from seam_exp.rl.kl_budget import run_history

CELL = {
    **RL_CELL,
    "arm": "augmentation.arm",
    "seed": "seed",
}
KIND_COLORS = {
    "seam": "tab:green",
    "random": "tab:grey",
    "random_families": "tab:olive",
    "full": "tab:blue",
    "longer": "tab:purple",
    "longer_full": "tab:pink",
    "original": "black",
}
# An arm's own numbers, averaged over its seeds in the table.
OWN = (
    "n_instructions",
    "sft_steps",
    "rm_steps",
    "sft_added",
    "pairs_added",
    "pairs_misjudged",
    "sft_gold",
    "rm_acc_heldout",
    "rm_acc_heldout_gold",
    "rl_gold",
    "gain",
    "kl",
    "sft_mismatch",
    "mismatch",
)


def paired_against(rows: pd.DataFrame, base_of: Callable[[Arm], str | None]) -> pd.DataFrame:
    """Per run whose arm has a base arm (`base_of(Arm)`, or None) run with the same cell and seeds: the
    gain in gold over that run and the win rate against it, sample j against sample j."""
    runs = rows.drop_duplicates(["cell", "arm", *REPLICATE], keep="last")
    pairs = paired_by_seed(runs, "arm", lambda arm: base_of(parse_arm(arm)))
    return runs.loc[pairs.index, ["cell", "arm", *REPLICATE]].join(pairs[PAIRED])


def over_original(arm: Arm) -> str | None:
    return None if arm.kind == "original" else "original"


def over_random(arm: Arm) -> str | None:
    return f"random:{arm.side}" if arm.kind in ("seam", "full") else None


def over_random_families(arm: Arm) -> str | None:
    """The family-mix control of the seam arm: random instructions in the seam arm's family mix, its side."""
    return f"random_families:{arm.side}" if arm.kind == "seam" else None


def over_full(arm: Arm) -> str | None:
    """The seam arm against augmenting every RL instruction on its side (the paper: about equal)."""
    return f"full:{arm.side}" if arm.kind == "seam" else None


def did_over_original(rows: pd.DataFrame) -> pd.DataFrame:
    """Per run of an augmented arm with an original run of the same cell and replicate: its own gain over
    its SFT start minus original's over original's (difference in differences), so a gain the arm's
    retrained SFT start brought is not counted as RL's (docs/augmentation.md, "Reading a gain")."""
    runs = rows.drop_duplicates(["cell", "arm", *REPLICATE], keep="last")
    original = runs[runs["kind"] == "original"].set_index(["cell", *REPLICATE])["gain"]
    arms = runs[runs["kind"] != "original"]
    base = original.reindex(pd.MultiIndex.from_frame(arms[["cell", *REPLICATE]])).to_numpy()
    did = arms[["cell", "arm", *REPLICATE]].assign(did_over_original=arms["gain"].to_numpy() - base)
    return did[did["did_over_original"].notna()]


def arm_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per (cell, arm): the arm's own numbers averaged over seeds, its paired gains over original,
    over random, over random_families (the family-mix control) and over longer (the compute control), and its
    difference in differences over original, with intervals over its replicates (reporting/seeds.py; NaN
    where it has none)."""
    summary = summary_over_seeds(rows, ["cell", "arm"], means=OWN, first=["kind", "side"], sort=False)
    summary = summary.drop(columns="interval")  # no interval of its own: the paired gains' come below
    did = summary_over_seeds(
        did_over_original(rows), ["cell", "arm"], intervals=["did_over_original"], sort=False
    )
    summary = summary.merge(did.drop(columns=["seeds", "models", "interval"]), on=["cell", "arm"], how="left")
    bases = (
        ("over_original", over_original),
        ("over_random", over_random),
        ("over_random_families", over_random_families),
        ("over_longer", compute_control),  # the original rows trained as long
    )
    for name, base_of in bases:
        paired = paired_against(rows, base_of).rename(
            columns={"gain": f"gain_{name}", "win_rate": f"win_rate_{name}", "gold_base": f"gold_{name}"}
        )
        pooled = summary_over_seeds(
            paired,
            ["cell", "arm"],
            intervals=[f"gain_{name}", f"win_rate_{name}"],
            means=[f"gold_{name}"],
            sort=False,
        )
        pooled = pooled.drop(columns=["seeds", "models"]).rename(columns={"interval": f"interval_{name}"})
        summary = summary.merge(pooled, on=["cell", "arm"], how="left")
    return summary


def _row_ci(r: pd.Series, m: str, signed: bool = True) -> str:
    """format_ci of one row's `m`, `m_lo`, `m_hi` (reporting.tables.ci_column, for a table built row-wise)."""
    return format_ci(r[m], r[f"{m}_lo"], r[f"{m}_hi"], signed=signed)


def _paired_or_dash(r: pd.Series, m: str) -> str:
    """A paired gain with its CI, or "-" for an arm without that base run (NaN)."""
    return "-" if r[m] != r[m] else _row_ci(r, m)


def augmentation_table(summary: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, r in summary.iterrows():
        rows.append(
            {
                "cell": r["cell"],
                "arm": r["arm"],
                "seeds": r["seeds"],
                "models": r["models"],
                "CI over": "-" if r["arm"] == "original" else r["interval_over_original"],
                # the same in every RL seed: the models are trained once per arm and training seed
                "instructions": int(r["n_instructions"]),
                "SFT rows added": int(r["sft_added"]),
                "pairs added": int(r["pairs_added"]),
                # epoch-matched where rows were added (longer: as many without them): compute per arm
                "steps SFT / RM": f"{r['sft_steps']:.0f} / {r['rm_steps']:.0f}",
                "pairs the RM misjudged": r["pairs_misjudged"],
                "PM SFT gold": r["sft_gold"],
                "RM held-out acc": r["rm_acc_heldout"],
                "final gold": r["rl_gold"],
                "gain over original (95% CI)": "-"
                if r["arm"] == "original"
                else _row_ci(r, "gain_over_original"),
                "vs original": "-"
                if r["arm"] == "original"
                else verdict(r["gain_over_original_lo"], r["gain_over_original_hi"]),
                # the paper's +4.1% is relative to original's judge score; gold's zero is arbitrary, so read loosely
                "% of original's gold": 100 * r["gain_over_original"] / r["gold_over_original"],
                "gain over random (95% CI)": _paired_or_dash(r, "gain_over_random"),
                # against random instructions in seam's family mix: SEAM beyond a family re-weighting
                "gain over random_families (95% CI)": _paired_or_dash(r, "gain_over_random_families"),
                # against the original rows trained as many steps: data beyond compute
                "gain over longer (95% CI)": _paired_or_dash(r, "gain_over_longer"),
                # each arm's RL gain over its own SFT start minus original's: what RL added beyond the start
                "diff-in-diff over original (95% CI)": "-"
                if r["arm"] == "original" or r["did_over_original"] != r["did_over_original"]
                else _row_ci(r, "did_over_original"),
                "win rate vs original": _row_ci(r, "win_rate_over_original", signed=False),
                "KL": r["kl"],
                "mismatch SFT -> final": f"{r['sft_mismatch']:.3f} -> {r['mismatch']:.3f}",
            }
        )
    return pd.DataFrame(rows)


def arm_order(summary: pd.DataFrame) -> pd.DataFrame:
    """original first, then by side (pm, rm, both) and kind (seam's controls, seam, then full's control and full)."""
    side = {"none": 0, "pm": 1, "rm": 2, "both": 3}
    kind = {
        "original": 0,
        "longer": 1,
        "random": 2,
        "random_families": 3,
        "seam": 4,
        "longer_full": 5,
        "full": 6,
    }
    key = summary["side"].map(side) * 10 + summary["kind"].map(kind)
    return summary.assign(_order=key).sort_values(["cell", "_order"]).drop(columns="_order")


def bar_figure(summary: pd.DataFrame, title: str, path: Path) -> None:
    """Gain over original per augmented arm with its CI over replicates, one panel per cell."""
    arms = summary[summary["kind"] != "original"]
    interval_bars(
        arms.iloc[::-1].assign(color=arms["kind"].map(KIND_COLORS)),
        "gain_over_original",
        "arm",
        "color",
        "gold gain over original (95% CI over replicates)",
        title,
        path,
        figsize=(max(8.0, 5.5 * arms["cell"].nunique()), 0.4 * arms["arm"].nunique() + 1.8),
    )


def mismatch_figure(rows: pd.DataFrame, title: str, path: Path) -> None:
    """The RM's mismatch with gold on the policy's own eval samples along RL, mean over seeds, one panel
    per augmented side (original drawn in each)."""
    curves = []
    for _, r in rows.iterrows():
        history = run_history(r["run_dir"])
        if history is not None:
            curves.append(history[["step", "mismatch"]].assign(arm=r["arm"], kind=r["kind"], side=r["side"]))
    if not curves:
        return
    curves = pd.concat(curves).groupby(["arm", "kind", "side", "step"], as_index=False)["mismatch"].mean()
    sides = [s for s in ("pm", "rm", "both") if s in set(curves["side"])]
    fig, axes = plt.subplots(
        1, max(1, len(sides)), figsize=(4.5 * max(1, len(sides)), 3.4), squeeze=False, sharey=True
    )
    for ax, side in zip(axes[0], sides or ["none"], strict=True):
        for (arm, kind), line in curves[curves["side"].isin([side, "none"])].groupby(["arm", "kind"]):
            ax.plot(line["step"], line["mismatch"], marker="o", ms=3, color=KIND_COLORS[kind], label=arm)
        ax.set_title(f"augmented: {side}", fontsize=9)
        ax.set_xlabel("RL step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("mismatch (RM vs gold, own samples)")
    save_figure(fig, path, title)


def cell_axis_warnings(rows: pd.DataFrame) -> list[str]:
    """Warnings under a table of several cells when their PM axis is not ordered by SFT gold or their RM
    axis by held-out accuracy, each read on the cell's own model: from the runs that did not augment it."""
    return grid_warnings(
        rows,
        pm_rows=rows[~rows["side"].isin(["pm", "both"])],
        rm_rows=rows[~rows["side"].isin(["rm", "both"])],
    )


def arm_groups(outputs: Path):
    """The augmentation sweep's report groups (reporting.sweep.report_groups), cells named, failed cells
    left out."""
    return report_groups(
        outputs,
        "augmentation",
        CELL,
        AugmentationRow,
        CELL_GROUP,
        relabel=with_cell_names,
        with_missing=False,
    )


def aggregate(outputs: Path) -> list[Path]:
    folder = outputs / "figures" / "augmentation"
    written = []
    for group in arm_groups(outputs):
        name, rows = group.name, group.rows
        title = group.title("RLHF after augmenting the PM and the RM, judged by gold")
        summary = arm_order(arm_summary(rows))
        figures = {
            "_bars": partial(bar_figure, summary, title),
            "_mismatch": partial(mismatch_figure, rows, title),
        }
        if (summary["kind"] == "original").all():
            figures.pop("_bars")
        notes = printed(cell_axis_warnings(rows), name)
        written += write_table_and_figures(folder, name, title, augmentation_table(summary), figures, notes)
    return written


# ------------------------------------------------------------------------- claims (reporting/claims.py)

AUGMENTATION_COMMAND = "+experiment=augmentation train_seed=0,1,2,3,4"
SEAM_ARM = "seam:both"  # the paper augments both models
CLAIMS = [
    Claim(
        "augmentation_over_original",
        "SEAM-guided augmentation of both models beats the original models",
        "+4.1% (5.56 -> 5.78)",
        "gold gain of the seam:both arm over original, paired on trained models and RL seed",
        "above",
        (0.0, 0.0),
        AUGMENTATION_COMMAND,
    ),
    Claim(
        "augmentation_over_random",
        "SEAM-guided augmentation beats augmenting random prompts",
        "+3.2% (5.60 -> 5.78)",
        "gold gain of the seam:both arm over random:both, paired on trained models and RL seed",
        "above",
        (0.0, 0.0),
        AUGMENTATION_COMMAND,
    ),
    Claim(
        "augmentation_vs_full",
        "SEAM-guided augmentation is about as good as augmenting every RL instruction",
        "about equal (full 5.81, SEAM 5.78)",
        "gold of the seam:both arm minus full:both, paired on trained models and RL seed",
        "flat",
        (0.0, 0.0),
        AUGMENTATION_COMMAND,
    ),
]
# Per claim above: the seam arm's base, and the arm whose gain over its compute control the reading notes
# (seam's gain over original may be its longer training; full trains far longer still).
CLAIM_BASES = (
    (over_original, SEAM_ARM),
    (over_random, None),
    (over_full, over_full(parse_arm(SEAM_ARM))),
)


def claims(outputs: Path) -> tuple[list[Claim], list[Reading]]:
    """The augmentation claims, per scale, on the cell of the largest PM (and with it the largest RM)."""
    readings = []
    for group in arm_groups(outputs):
        if not is_plain(group) or not len(group.rows):
            continue
        rows = top_cell_rows(group.rows, "pm_label", "rm_label")
        for claim, (base_of, noted) in zip(CLAIMS, CLAIM_BASES, strict=True):
            gains = arm_gains(rows, base_of)
            if len(gains):
                detail = f"{rows['cell'].iloc[0]}; {gains['gain'].mean() / gains['gold_base'].mean():+.1%} of the base's gold"
                if noted is not None:
                    detail += over_compute_control(rows, noted)
                readings.append(
                    reading_of(claim, group.values["scale"], pooled(gains, "gain"), "gain", detail)
                )
    return CLAIMS, readings


def arm_gains(rows: pd.DataFrame, base_of: Callable[[Arm], str | None], arm: str = SEAM_ARM) -> pd.DataFrame:
    """The runs of `arm` paired against their base: only they are paired, so no other arm's eval samples are read."""
    only = parse_arm(arm)
    return paired_against(rows, lambda other: base_of(other) if other == only else None)


def over_compute_control(rows: pd.DataFrame, arm: str) -> str:
    """An arm's gain over its compute control where that ran (what of its gain over original is the data,
    not the longer training; docs/augmentation.md, "Reading a gain"), as a note to the ledger's reading."""
    gains = arm_gains(rows, compute_control, arm)
    if not len(gains):
        return ""
    (gain,) = ci_column(pooled(gains, "gain"), "gain")
    return f"; {arm} over {compute_control(parse_arm(arm))}, its compute control: {gain}"
