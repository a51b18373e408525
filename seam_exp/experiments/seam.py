"""`+experiment=seam`: does SEAM (each variant, each ablation) track the true PM/RM mismatch?

One job = one (PM, RM) pair. On the world's RL prompts: k worse answers per prompt from each variant,
the PM's log-probs and the RM's rewards of reference and worse answers, SEAM per prompt under every
configured ablation; the ground truth per prompt from n PM samples judged by RM and gold; Spearman and
Kendall correlations with bootstrap CIs. The run folder gets results.csv (one row per variant x ablation),
seam_prompts.csv (per-prompt scores and ground truth: the scatter plots), seam_candidates.parquet (every
candidate with text, provenance, gold, log-prob, length, reward) and seam_tables.parquet (seam_table of
the base setting: weights and misjudgements per candidate).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pandas as pd
from omegaconf import DictConfig

from seam_exp.experiments import Experiment, prepare
from seam_exp.metrics.intervals import paired_bootstrap_corr_diff
from seam_exp.models.train import load_reward, trained_reward
from seam_exp.reporting.plots import plt, save_figure
from seam_exp.reporting.results import RunRow, collect_results, run_columns, write_results
from seam_exp.reporting.tables import file_safe, format_ci, to_markdown, write_table
from seam_exp.seam.formula import ablation_scores, seam_config, seam_table
from seam_exp.seam.policy import load_pm
from seam_exp.seam.scoring import prompt_format_of, score_variant, variant_diagnostics
from seam_exp.seam.validation import ground_truth_table, validation_rows
from seam_exp.utils.config import to_container
from seam_exp.utils.runtime import output_dir

log = logging.getLogger(__name__)
PROMPTS_FILE, CANDIDATES_FILE, TABLES_FILE = (
    "seam_prompts.csv",
    "seam_candidates.parquet",
    "seam_tables.parquet",
)


def prompt_ids_of(cfg: DictConfig, world) -> list[int]:
    ids = [int(i) for i in world.data[cfg.seam.split]["prompt_id"]]
    if cfg.seam.max_prompts is None or cfg.seam.max_prompts >= len(ids):
        return ids
    # A seeded random subset in split order, not the first n: whatever order the split has.
    pick = np.random.default_rng(cfg.seam.seed).choice(len(ids), cfg.seam.max_prompts, replace=False)
    return [ids[i] for i in sorted(pick)]


@dataclass
class SeamRow(RunRow):
    """One row per (variant, ablation): dataset SEAM and its rank correlation with the true mismatch."""

    policy: str
    variant: str
    ablation: str
    k: float
    n_prompts: int
    n_gt_prompts: int
    seam_mean: float
    gt_mismatch_mean: float
    gt_reliability: float
    spearman: float
    spearman_lo: float
    spearman_hi: float
    kendall: float
    kendall_lo: float
    kendall_hi: float
    worse_gold_ge_ref: float
    pm_seconds: float
    rm_seconds: float
    prompts_per_s: float


def run(cfg: DictConfig) -> list[SeamRow]:
    world, cache = prepare(cfg)
    pl.seed_everything(cfg.seed)
    ids = prompt_ids_of(cfg, world)
    pm, pm_tok, policy, policy_id = load_pm(cfg, world, cache)
    fmt = prompt_format_of(cfg.pm, pm_tok)
    rm_dir, _ = trained_reward(cfg, world, cache)
    rm, rm_tok = load_reward(rm_dir)
    log.info(
        "SEAM of pm=%s (%s, %s prompts) rm=%s on %d %s prompts",
        cfg.pm.name,
        policy,
        fmt,
        cfg.rm.name,
        len(ids),
        cfg.seam.split,
    )

    per_prompt, reliability = ground_truth_table(
        cfg, world, cache, pm, pm_tok, fmt, policy_id, rm, rm_tok, ids
    )
    per_prompt.insert(1, "family", [world.problems[int(p)].family for p in per_prompt["prompt_id"]])
    ablations = to_container(cfg.seam.ablations)
    base = to_container(cfg.seam)
    columns, extra, scored_all, tables = {}, {}, [], []
    for variant in cfg.seam.variants:
        scored, label, pm_s, rm_s = score_variant(
            cfg, variant, world, cache, pm, pm_tok, fmt, policy_id, rm, rm_tok, ids
        )
        scores = ablation_scores(scored, base, ablations)
        scores.columns = ["prompt_id", *(f"{label}:{a}" for a in scores.columns[1:])]
        per_prompt = per_prompt.merge(scores, on="prompt_id", validate="one_to_one")
        columns |= {f"{label}:{a}": (label, a) for a in ablations}
        extra[label] = variant_diagnostics(scored, pm_s, rm_s, len(ids))
        scored_all.append(scored.assign(variant=label))
        tables.append(seam_table(scored, seam_config(base)[0]).assign(variant=label))

    out = output_dir()
    out.mkdir(parents=True, exist_ok=True)
    per_prompt.to_csv(out / PROMPTS_FILE, index=False)
    pd.concat(scored_all, ignore_index=True).to_parquet(out / CANDIDATES_FILE)
    pd.concat(tables, ignore_index=True).to_parquet(out / TABLES_FILE)
    bootstrap = cfg.seam.bootstrap
    rows = [
        SeamRow(
            **run_columns(cfg, out), policy=policy, gt_reliability=reliability, **r, **extra[r["variant"]]
        )
        for r in validation_rows(per_prompt, columns, bootstrap.n_boot, bootstrap.level, cfg.seed)
    ]
    df = write_results(rows, out)
    shown = [
        "variant",
        "ablation",
        "n_gt_prompts",
        "seam_mean",
        "spearman",
        "spearman_lo",
        "spearman_hi",
        "kendall",
        "kendall_lo",
        "kendall_hi",
    ]
    print(f"SEAM vs true mismatch: pm={cfg.pm.name} ({policy}), rm={cfg.rm.name}, scale={cfg.scale.name}")
    print(to_markdown(df[shown]))
    return rows


# ----------------------------------------------------------------------------------------- aggregation

KEYS = ["scale", "pm", "policy", "rm", "seed", "variant", "ablation"]
MAIN_ABLATION = "seam"
# What each comparison isolates: the full score against the ablation that drops one ingredient.
COMPARISONS = {"uniform": "PM weighting", "no_length_penalty": "length penalty"}


def latest_per_cell(df: pd.DataFrame) -> pd.DataFrame:
    if not len(df):
        return df
    latest = df.groupby(KEYS)["_mtime"].transform("max")
    return df[df["_mtime"] == latest].drop_duplicates(KEYS, keep="last")


def correlation_table(df: pd.DataFrame) -> pd.DataFrame:
    # Variants and ablations keep the order the runs wrote them in (the config's order), not alphabetical.
    order = {key: i for i, key in enumerate(dict.fromkeys(zip(df["variant"], df["ablation"], strict=True)))}
    out = df.assign(_order=[order[k] for k in zip(df["variant"], df["ablation"], strict=True)])
    out = out.sort_values(["pm", "policy", "rm", "_order"], kind="stable")
    out["spearman (95% CI)"] = [
        format_ci(*r) for r in out[["spearman", "spearman_lo", "spearman_hi"]].to_numpy()
    ]
    out["kendall (95% CI)"] = [format_ci(*r) for r in out[["kendall", "kendall_lo", "kendall_hi"]].to_numpy()]
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
                    "spearman gain (95% CI)": format_ci(d, lo, hi),
                    "helps": "yes" if lo > 0 else ("hurts" if hi < 0 else "no evidence"),
                }
            )
    return pd.DataFrame(rows)


def aggregate(outputs: Path) -> list[Path]:
    df = latest_per_cell(collect_results(outputs, "seam", SeamRow))
    written = []
    folder = outputs / "figures" / "seam"
    for scale, group in df.groupby("scale"):
        title = f"SEAM vs true PM/RM mismatch, rank correlation over RL prompts (scale={scale})"
        write_table(correlation_table(group), folder, f"seam_{scale}", title)
        written.append(folder / f"seam_{scale}.md")
        deltas = ablation_deltas(group)
        if len(deltas):
            title = f"Does each ingredient help? Spearman(SEAM) - Spearman(ablation) (scale={scale})"
            write_table(deltas, folder, f"seam_{scale}_ablation_gains", title)
            written.append(folder / f"seam_{scale}_ablation_gains.md")
        for variant in sorted(group["variant"].unique()):
            path = folder / f"seam_{scale}_{file_safe(variant)}.png"
            if scatter_figure(group, variant, path):
                written.append(path)
    return written


EXPERIMENT = Experiment(run=run, row=SeamRow, aggregate=aggregate)
