"""Aggregate seam results: the correlation table of every variant and ablation with the true mismatch, and
one scatter figure per variant (per-prompt SEAM against true mismatch, one panel per PM/RM cell)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from seam_exp.reporting.plots import plt, save_figure
from seam_exp.reporting.results import collect_results
from seam_exp.reporting.stats import paired_bootstrap_corr_diff
from seam_exp.reporting.tables import write_table

KEYS = ["scale", "pm", "policy", "rm", "seed", "variant", "ablation"]
PROMPTS_FILE = "seam_prompts.csv"  # written by seam_exp.experiments.seam
MAIN_ABLATION = "seam"
# What each comparison isolates: the full score against the ablation that drops one ingredient.
COMPARISONS = {"uniform": "PM weighting", "no_length_penalty": "length penalty"}


def latest_per_cell(df: pd.DataFrame) -> pd.DataFrame:
    if not len(df):
        return df
    latest = df.groupby(KEYS)["_mtime"].transform("max")
    return df[df["_mtime"] == latest].drop_duplicates(KEYS, keep="last")


def _ci(point: float, lo: float, hi: float) -> str:
    return f"{point:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def seam_table(df: pd.DataFrame) -> pd.DataFrame:
    # Variants and ablations keep the order the runs wrote them in (the config's order), not alphabetical.
    order = {key: i for i, key in enumerate(dict.fromkeys(zip(df["variant"], df["ablation"], strict=True)))}
    out = df.assign(_order=[order[k] for k in zip(df["variant"], df["ablation"], strict=True)])
    out = out.sort_values(["pm", "policy", "rm", "_order"], kind="stable")
    out["spearman (95% CI)"] = [_ci(*r) for r in out[["spearman", "spearman_lo", "spearman_hi"]].to_numpy()]
    out["kendall (95% CI)"] = [_ci(*r) for r in out[["kendall", "kendall_lo", "kendall_hi"]].to_numpy()]
    cols = [
        "pm",
        "policy",
        "rm",
        "variant",
        "ablation",
        "n_gt_prompts",
        "seam_mean",
        "gt_mismatch_mean",
        "gt_reliability",
        "spearman (95% CI)",
        "kendall (95% CI)",
        "worse_gold_ge_ref",
        "prompts_per_s",
    ]
    return out[cols]


def scatter_figure(df: pd.DataFrame, variant: str, path: Path) -> bool:
    """Per-prompt SEAM (main setting) vs true mismatch, one panel per (pm, policy, rm); False if no data."""
    cells = df[(df["variant"] == variant) & (df["ablation"] == MAIN_ABLATION)].sort_values(
        ["pm", "policy", "rm"]
    )
    panels = []
    for _, row in cells.iterrows():
        prompts, column = _prompts_of(row), f"{variant}:{MAIN_ABLATION}"
        if prompts is not None and column in prompts:
            panels.append((row, prompts, column))
    if not panels:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), squeeze=False)
    for ax, (row, prompts, column) in zip(axes[0], panels, strict=True):
        for family, group in prompts.groupby("family"):
            ax.scatter(group[column], group["gt_mismatch"], s=8, alpha=0.5, label=family)
        ax.set_title(
            f"pm={row['pm']} ({row['policy']}), rm={row['rm']}\n"
            f"Spearman {row['spearman']:+.2f} [{row['spearman_lo']:+.2f}, {row['spearman_hi']:+.2f}]",
            fontsize=9,
        )
        ax.set_xlabel(f"SEAM ({variant})")
        ax.set_ylabel("true mismatch (PM samples)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=6, markerscale=2)
    save_figure(fig, path)
    return True


def _prompts_of(row) -> pd.DataFrame | None:
    file = Path(row["run_dir"]) / PROMPTS_FILE
    return pd.read_csv(file).dropna(subset=["gt_mismatch"]) if file.is_file() else None


def ablation_deltas(df: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Does each ingredient help? Spearman(full SEAM) - Spearman(ablation without it), with a paired
    bootstrap CI over prompts, per (cell, variant)."""
    rows = []
    main = df[df["ablation"] == MAIN_ABLATION].sort_values(["pm", "policy", "rm"], kind="stable")
    for _, row in main.iterrows():
        prompts = _prompts_of(row)
        for ablation, ingredient in COMPARISONS.items():
            a, b = f"{row['variant']}:{MAIN_ABLATION}", f"{row['variant']}:{ablation}"
            if prompts is None or a not in prompts or b not in prompts or len(prompts) < 3:
                continue
            d, lo, hi = paired_bootstrap_corr_diff(
                prompts[a], prompts[b], prompts["gt_mismatch"], n_boot=n_boot, seed=seed
            )
            rows.append(
                {
                    "pm": row["pm"],
                    "policy": row["policy"],
                    "rm": row["rm"],
                    "variant": row["variant"],
                    "ingredient": ingredient,
                    "vs": ablation,
                    "spearman gain (95% CI)": _ci(d, lo, hi),
                    "helps": "yes" if lo > 0 else ("hurts" if hi < 0 else "no evidence"),
                }
            )
    return pd.DataFrame(rows)


def aggregate(outputs: Path) -> list[Path]:
    df = latest_per_cell(collect_results(outputs, "seam"))
    written = []
    folder = outputs / "figures" / "seam"
    for scale, group in df.groupby("scale"):
        title = f"SEAM vs true PM/RM mismatch, rank correlation over RL prompts (scale={scale})"
        write_table(seam_table(group), folder, f"seam_{scale}", title)
        written.append(folder / f"seam_{scale}.md")
        deltas = ablation_deltas(group)
        if len(deltas):
            title = f"Does each ingredient help? Spearman(SEAM) - Spearman(ablation) (scale={scale})"
            write_table(deltas, folder, f"seam_{scale}_ablation_gains", title)
            written.append(folder / f"seam_{scale}_ablation_gains.md")
        for variant in sorted(group["variant"].unique()):
            path = folder / f"seam_{scale}_{variant}.png"
            if scatter_figure(group, variant, path):
                written.append(path)
    return written
