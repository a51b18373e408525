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
from seam_exp.reporting.claims import Claim, Reading, pooled, reading_of, top_cell_rows
from seam_exp.reporting.plots import plt, save_figure
from seam_exp.reporting.results import RunRow, collect_results, columns_of, run_columns, write_results
from seam_exp.reporting.seeds import summary_over_seeds
from seam_exp.reporting.sweep import sweep_jobs
from seam_exp.reporting.tables import ci_column, file_safe, format_ci, to_markdown, write_table
from seam_exp.seam.formula import (
    LEAST_SEAMLESS_END,
    NO_FORMULA,
    ablation_scores,
    orient,
    seam_config,
    seam_table,
)
from seam_exp.seam.policy import load_pm
from seam_exp.seam.scoring import RM, score_variant, variant_diagnostics
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
    # In id order, as selection lists the RL prompts (selection/prompt_scores.py: rl_prompt_ids): the PM's
    # samples are drawn in batches, so the same order lets both experiments share them (and their cache).
    ids = sorted(int(i) for i in world.data[cfg.seam.split]["prompt_id"])
    if cfg.seam.max_prompts is None or cfg.seam.max_prompts >= len(ids):
        return ids
    # A seeded random subset, not the first n.
    pick = np.random.default_rng(cfg.seam.seed).choice(len(ids), cfg.seam.max_prompts, replace=False)
    return [ids[i] for i in sorted(pick)]


@dataclass
class SeamRow(RunRow):
    """One row per (variant, ablation): dataset SEAM and its rank correlation with the true mismatch."""

    policy: str
    variant: str
    formula: str  # normalized | paper | paper_prob, or "-" for rank discordance (docs/seam.md)
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
    spearman_within_family: float
    family_baseline_spearman: float
    worse_gold_ge_ref: float
    pm_seconds: float
    rm_seconds: float
    prompts_per_s: float


def run(cfg: DictConfig) -> list[SeamRow]:
    world, cache = prepare(cfg)
    pl.seed_everything(cfg.seed)
    ids = prompt_ids_of(cfg, world)
    pm = load_pm(cfg, world, cache)
    rm_dir, _ = trained_reward(cfg, world, cache)
    rm = RM(*load_reward(rm_dir))
    log.info(
        "SEAM of pm=%s (%s, %s prompts) rm=%s on %d %s prompts",
        cfg.pm.name,
        pm.label,
        pm.fmt,
        cfg.rm.name,
        len(ids),
        cfg.seam.split,
    )

    per_prompt, reliability = ground_truth_table(cfg, world, cache, pm, rm, ids)
    per_prompt.insert(1, "family", [world.problems[int(p)].family for p in per_prompt["prompt_id"]])
    ablations = to_container(cfg.seam.ablations)
    base, formulas = to_container(cfg.seam), list(cfg.seam.formulas)
    columns, extra, scored_all, tables = {}, {}, [], []
    for variant in cfg.seam.variants:
        scored, label, pm_s, rm_s = score_variant(cfg, variant, world, cache, pm, rm, ids)
        scores = ablation_scores(scored, base, ablations, formulas)
        named = {c: f"{label}:{c}" for c in scores.columns[1:]}  # <variant>:<formula>:<ablation>
        per_prompt = per_prompt.merge(scores.rename(columns=named), on="prompt_id", validate="one_to_one")
        columns |= {full: (label, *c.split(":")) for c, full in named.items()}
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
            **run_columns(cfg, out), policy=pm.label, gt_reliability=reliability, **r, **extra[r["variant"]]
        )
        for r in validation_rows(per_prompt, columns, bootstrap.n_boot, bootstrap.level, cfg.seed)
    ]
    df = write_results(rows, out)
    shown = [
        "variant",
        "formula",
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
    print(f"SEAM vs true mismatch: pm={cfg.pm.name} ({pm.label}), rm={cfg.rm.name}, scale={cfg.scale.name}")
    print(to_markdown(df[shown]))
    return rows


# ----------------------------------------------------------------------------------------- aggregation

KEYS = ["scale", "pm", "policy", "rm", "pm_seed", "rm_seed", "seed", "variant", "formula", "ablation"]
CELL = ["pm", "policy", "rm"]
MAIN_ABLATION, MAIN_FORMULA = "seam", "normalized"
# What each comparison isolates: the full score against the ablation that drops one ingredient.
COMPARISONS = {"uniform": "PM weighting", "no_length_penalty": "length penalty"}


def latest_per_cell(df: pd.DataFrame) -> pd.DataFrame:
    if not len(df):
        return df
    latest = df.groupby(KEYS)["_mtime"].transform("max")
    return df[df["_mtime"] == latest].drop_duplicates(KEYS, keep="last")


# Per-setting readings averaged over a group's runs beside its pooled correlations.
MEAN_COLUMNS = [
    "n_gt_prompts",
    "seam_mean",
    "gt_mismatch_mean",
    "gt_reliability",
    "spearman_within_family",
    "family_baseline_spearman",
    "worse_gold_ge_ref",
    "prompts_per_s",
]
SETTING = ["variant", "formula", "ablation"]


def _in_setting_order(df: pd.DataFrame) -> pd.DataFrame:
    """Sorted by cell, then by setting in the order the runs wrote them (the config's order)."""
    settings = list(zip(*(df[c] for c in SETTING), strict=True))
    order = {key: i for i, key in enumerate(dict.fromkeys(settings))}
    return df.assign(_order=[order[k] for k in settings]).sort_values([*CELL, "_order"], kind="stable")


def per_training_table(df: pd.DataFrame) -> pd.DataFrame:
    """One line per run: each training's correlations, their intervals over prompts."""
    out = _in_setting_order(df).sort_values([*CELL, "pm_seed", "rm_seed", "_order"], kind="stable")
    for method in ("spearman", "kendall"):
        out[f"{method} (95% CI)"] = ci_column(out, method)
    return out[
        [*CELL, "pm_seed", "rm_seed", *SETTING, "spearman (95% CI)", "kendall (95% CI)", *MEAN_COLUMNS]
    ]


def correlation_table(df: pd.DataFrame) -> pd.DataFrame:
    """One line per (cell, setting): the correlations pooled over trained models (each run's interval over
    prompts inside the interval over trainings; reporting/seeds.py), the other readings averaged."""
    ordered = _in_setting_order(df)
    out = summary_over_seeds(
        ordered,
        [*CELL, *SETTING],
        intervals=["spearman", "kendall"],
        means=MEAN_COLUMNS,
        own_interval=True,
        sort=False,
    )
    for method in ("spearman", "kendall"):
        out[f"{method} (95% CI)"] = ci_column(out, method)
    out["trained models / runs"] = [f"{m} / {n}" for m, n in zip(out["models"], out["seeds"], strict=True)]
    shown = ["trained models / runs", "interval", "spearman (95% CI)", "kendall (95% CI)", *MEAN_COLUMNS]
    return out[[*CELL, *SETTING, *shown]].rename(columns={"interval": "CI over"})


def _column(row, formula: str | None = None, ablation: str | None = None) -> str:
    """The per-prompt column of a result row's setting (or of another formula/ablation of its variant)."""
    return f"{row['variant']}:{formula or row['formula']}:{ablation or row['ablation']}"


def scatter_figure(df: pd.DataFrame, variant: str, formula: str, path: Path) -> bool:
    """Per-prompt SEAM (main ablation) vs true mismatch, one panel per run (cell and training); False if no
    data."""
    cells = df[(df["variant"] == variant) & (df["formula"] == formula) & (df["ablation"] == MAIN_ABLATION)]
    panels = []
    for _, row in cells.sort_values([*CELL, "pm_seed", "rm_seed"]).iterrows():
        prompts = _prompts_of(row)
        if prompts is not None and _column(row) in prompts:
            panels.append((row, prompts, _column(row)))
    if not panels:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), squeeze=False)
    for ax, (row, prompts, column) in zip(axes[0], panels, strict=True):
        for family, group in prompts.groupby("family"):
            ax.scatter(group[column], group["gt_mismatch"], s=8, alpha=0.5, label=family)
        ax.set_title(
            f"pm={row['pm']} ({row['policy']}), rm={row['rm']}, training {row['pm_seed']}/{row['rm_seed']}\n"
            f"Spearman {format_ci(row['spearman'], row['spearman_lo'], row['spearman_hi'], digits=2)}",
            fontsize=9,
        )
        end = "lower" if LEAST_SEAMLESS_END.get(formula) == "low" else "higher"
        ax.set_xlabel(f"SEAM ({variant}, {formula}; {end} = less seamless)")
        ax.set_ylabel("true mismatch (PM samples)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=6, markerscale=2)
    save_figure(fig, path)
    return True


def _prompts_of(row) -> pd.DataFrame | None:
    file = Path(row["run_dir"]) / PROMPTS_FILE
    return pd.read_csv(file).dropna(subset=["gt_mismatch"]) if file.is_file() else None


def _paired_delta(prompts: pd.DataFrame, a: tuple[str, str], b: tuple[str, str], n_boot: int, seed: int):
    """Spearman(a) - Spearman(b) with the true mismatch, each oriented by its formula, and its paired
    bootstrap interval over prompts; a, b = (column, formula); None when a column is missing."""
    if a[0] not in prompts or b[0] not in prompts or len(prompts) < 3:
        return None
    d, lo, hi = paired_bootstrap_corr_diff(
        orient(prompts[a[0]], a[1]),
        orient(prompts[b[0]], b[1]),
        prompts["gt_mismatch"],
        n_boot=n_boot,
        seed=seed,
    )
    return {"gain": d, "gain_lo": lo, "gain_hi": hi}


def pooled_gains(per_run: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """One line per comparison `by`: the Spearman gain pooled over trained models (each run's paired
    interval over prompts inside it), whether it helps by that interval, and each training's own gain."""
    if not len(per_run):
        return per_run
    out = summary_over_seeds(per_run, by, intervals=["gain"], own_interval=True, sort=False)
    per_training = per_run.groupby(by, sort=False)["gain"].agg(lambda g: ", ".join(f"{v:+.3f}" for v in g))
    return pd.DataFrame(
        {
            **{c: out[c] for c in by},
            "trained models / runs": [f"{m} / {n}" for m, n in zip(out["models"], out["seeds"], strict=True)],
            "CI over": out["interval"],
            "spearman gain (95% CI)": ci_column(out, "gain"),
            "helps": np.where(
                out["gain_lo"] > 0, "yes", np.where(out["gain_hi"] < 0, "hurts", "no evidence")
            ),
            "per training": per_training.to_numpy(),
        }
    )


def _run_keys(row) -> dict:
    return {k: row[k] for k in (*CELL, "pm_seed", "rm_seed", "seed", "variant")}


def ablation_deltas(df: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Does each ingredient help? Spearman(full SEAM) - Spearman(ablation without it), per (cell, variant,
    formula), pooled over trained models (pooled_gains)."""
    rows = []
    main = df[df["ablation"] == MAIN_ABLATION].sort_values([*CELL, "pm_seed", "rm_seed"], kind="stable")
    for _, row in main.iterrows():
        prompts = _prompts_of(row)
        for ablation, ingredient in COMPARISONS.items():
            a, b = (_column(row), row["formula"]), (_column(row, ablation=ablation), row["formula"])
            delta = _paired_delta(prompts, a, b, n_boot, seed) if prompts is not None else None
            if delta:
                rows.append(
                    {
                        **_run_keys(row),
                        "formula": row["formula"],
                        "ingredient": ingredient,
                        "vs": ablation,
                        **delta,
                    }
                )
    return pooled_gains(pd.DataFrame(rows), [*CELL, "variant", "formula", "ingredient", "vs"])


def formula_deltas(df: pd.DataFrame, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Which formula tracks the true mismatch better? Spearman(formula) - Spearman(normalized), both
    oriented (higher = less seamless), per (cell, variant), pooled over trained models (pooled_gains)."""
    rows = []
    others = df[(df["ablation"] == MAIN_ABLATION) & ~df["formula"].isin([MAIN_FORMULA, NO_FORMULA])]
    for _, row in others.sort_values([*CELL, "pm_seed", "rm_seed"], kind="stable").iterrows():
        prompts = _prompts_of(row)
        a, b = (_column(row), row["formula"]), (_column(row, formula=MAIN_FORMULA), MAIN_FORMULA)
        delta = _paired_delta(prompts, a, b, n_boot, seed) if prompts is not None else None
        if delta:
            rows.append({**_run_keys(row), "formula": row["formula"], "vs": MAIN_FORMULA, **delta})
    return pooled_gains(pd.DataFrame(rows), [*CELL, "variant", "formula", "vs"])


def aggregate(outputs: Path) -> list[Path]:
    df = latest_per_cell(collect_results(outputs, "seam", SeamRow))
    written = []
    folder = outputs / "figures" / "seam"
    for scale, group in df.groupby("scale"):
        title = f"SEAM vs true PM/RM mismatch, rank correlation over RL prompts (scale={scale})"
        write_table(correlation_table(group), folder, f"seam_{scale}", f"{title}, over trained models")
        write_table(
            per_training_table(group), folder, f"seam_{scale}_per_training", f"{title}, each training"
        )
        written += [folder / f"seam_{scale}.md", folder / f"seam_{scale}_per_training.md"]
        for name, deltas, what in (
            (
                "ablation_gains",
                ablation_deltas(group),
                "Does each ingredient help? Spearman(SEAM) - Spearman(ablation), over trained models",
            ),
            (
                "formula_gains",
                formula_deltas(group),
                "Which formula tracks mismatch better? Spearman(formula) - Spearman(normalized), over trained models",
            ),
        ):
            if len(deltas):
                write_table(deltas, folder, f"seam_{scale}_{name}", f"{what} (scale={scale})")
                written.append(folder / f"seam_{scale}_{name}.md")
        for variant, formula in sorted(
            set(zip(group["variant"], group["formula"], strict=True))
            - {(v, NO_FORMULA) for v in group["variant"]}
        ):
            path = folder / f"seam_{scale}_{file_safe(variant)}_{formula}.png"
            if scatter_figure(group, variant, formula, path):
                written.append(path)
    return written


# ------------------------------------------------------------------------- claims (reporting/claims.py)

PRIMARY_SETTING = ("contrast", "paper_prob", MAIN_ABLATION)  # selection's pre-registered primary's score
CLAIMS = [
    Claim(
        "seam_tracks_mismatch",
        "SEAM tracks the true PM/RM mismatch (this project's addition)",
        "not measured",
        "Spearman of SEAM (contrast, paper_prob) with the exact per-prompt mismatch, the top PM and RM",
        "above",
        (0.0, 0.0),
        # the size grid's top cell, as every other row reads it (the experiment's own default is PM s)
        "+experiment=seam pm=l rm=l train_seed=0,1,2",
    )
]


# What names a SEAM job's cell; any other override makes it a variant (reporting/sweep.py: job_variant).
SEAM_CELL = {
    "scale": "scale.name",
    "pm": "pm.name",
    "rm": "rm.name",
    "pm_seed": "pm.sft.seed",
    "rm_seed": "rm.train.seed",
    "seed": "seed",
}


def plain_results(outputs: Path) -> pd.DataFrame:
    """The result rows of the SEAM jobs run without an extra override: a variant (another ground-truth
    sample size, a policy read from an RL checkpoint) is another experiment, never the claim's reading.
    (Not sweep_results: its `variant` column would overwrite the row's own SEAM variant.)"""
    jobs = sweep_jobs(outputs, "seam", SEAM_CELL)
    plain = jobs[jobs["ok"].astype(bool) & (jobs["variant"] == "")]
    frames = [collect_results(job, "seam", SeamRow) for job in plain["job_dir"]]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns_of(SeamRow))


def claims(outputs: Path) -> tuple[list[Claim], list[Reading]]:
    """Whether the primary SEAM score tracks the true mismatch, per scale, on its top (PM, RM) cell."""
    df, readings = latest_per_cell(plain_results(outputs)), []
    variant, formula, ablation = PRIMARY_SETTING
    if len(df):
        df = df[
            df["variant"].str.startswith(variant) & (df["formula"] == formula) & (df["ablation"] == ablation)
        ]
    for scale, runs in df.groupby("scale"):
        cell = top_cell_rows(runs, "pm", "rm")
        cell = cell[cell["policy"] == cell["policy"].iloc[0]]
        detail = f"PM {cell['pm'].iloc[0]} ({cell['policy'].iloc[0]}), RM {cell['rm'].iloc[0]}"
        readings.append(reading_of(CLAIMS[0], scale, pooled(cell, "spearman"), "spearman", detail))
    return CLAIMS, readings


EXPERIMENT = Experiment(run=run, row=SeamRow, aggregate=aggregate, claims=claims)
