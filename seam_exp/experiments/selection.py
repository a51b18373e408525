"""`+experiment=selection`: does RL on the prompts SEAM keeps beat RL on every prompt? (docs/selection.md)

One job = one RL run: a cell (PM, RM), a selection method (full, oracle, random, perplexity,
seam:<variant>:<formula>), a drop rate and an RL seed. Steps and batch are the same for every method,
so a filtered run sees its kept prompts more often, as in the paper. The run folder gets the dropped
prompt ids (dropped_prompts.csv) besides the RL outputs. Aggregation pairs every method with the `full`
run of the same cell and seed (same eval prompts, same sampling seed): gain over full in gold and win
rate against full per seed, then mean and a t-interval over seeds; a bar chart per cell, the filter-rate
curve, and how much the dropped sets of methods and of cells overlap. The table states each cell's PM SFT
gold and RM held-out accuracy and warns when the cells' PM or RM axis is not ordered by them.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from seam_exp.experiments import Experiment, prepare
from seam_exp.metrics.intervals import mean_ci_over_seeds
from seam_exp.models.evaluate import heldout_pair_accuracy
from seam_exp.models.train import metrics_of, sft_policy, trained_reward
from seam_exp.reporting.grid import with_cell_names
from seam_exp.reporting.plots import plt, save_figure
from seam_exp.reporting.precondition import grid_warnings, printed
from seam_exp.reporting.results import RunRow, run_columns, write_results
from seam_exp.reporting.sweep import RL_CELL, group_name, sweep_groups, sweep_results
from seam_exp.reporting.tables import format_ci, row_as_markdown, verdict, write_table_and_figures
from seam_exp.rl.config import rl_config
from seam_exp.rl.paired import paired_gain
from seam_exp.rl.run import rl_finetune
from seam_exp.seam.candidates import make_builder
from seam_exp.selection.filters import Method, dropped_prompts, overlap, parse_method
from seam_exp.selection.prompt_scores import rl_prompt_ids, selection_table
from seam_exp.utils.runtime import output_dir

log = logging.getLogger(__name__)
DROPPED_FILE = "dropped_prompts.csv"
MAIN_RATE = 0.2  # the paper's: the bar chart and main table compare methods at this drop rate


@dataclass
class SelectionRow(RunRow):
    grid: str  # size | paper: how the cell's PM and RM are named (reporting.grid.axis_label)
    sft_steps: int
    rm_pairs: int
    algorithm: str
    reward_source: str
    method: str  # as configured, e.g. seam:gpt:paper
    method_label: str  # with what wrote the worse answers, e.g. seam:gpt[scripted]:paper
    rate: float  # the configured drop rate (NaN for full and oracle, which do not use it)
    n_rl_prompts: int
    n_dropped: int
    dropped_share: float
    rl_steps: int
    sft_gold: float
    rm_acc_heldout: float  # the cell's RM on the held-out pairs (labeler's choice), as in saturation
    rl_gold: float
    gain: float  # over the SFT start, the run's own final evaluation
    gain_lo: float
    gain_hi: float
    kl: float
    mismatch: float
    hacking: float
    rl_seconds: float


def method_label(method: Method, cfg: DictConfig, world, cache) -> str:
    if method.kind != "seam":
        return method.name
    builder = make_builder(method.variant, cfg.seam, world, cache)
    return f"seam:{builder.label}:{method.formula}"


def kept_rl_rows(world, pool: list[int], dropped: np.ndarray):
    """The world's RL rows of the prompts in `pool` but not dropped (order kept)."""
    rl, kept = world.data["rl"], set(pool) - set(np.asarray(dropped).tolist())
    return rl.select([i for i, p in enumerate(rl["prompt_id"]) if int(p) in kept])


def run(cfg: DictConfig) -> SelectionRow:
    method = parse_method(cfg.selection.method)
    rl = rl_config(cfg.rl)
    world, cache = prepare(cfg)
    pm_dir, _ = sft_policy(cfg, world, cache)
    rm_dir, _ = trained_reward(cfg, world, cache)
    rate = float(cfg.selection.rate)
    if method.kind == "full":
        dropped, scores = np.array([], dtype=int), None
    else:
        table = selection_table(cfg, world, cache)
        dropped = dropped_prompts(method, table, rate, cfg.seed, cfg.selection.oracle_threshold)
        scores = table.set_index("prompt_id").loc[dropped, method.column] if method.column else None
    pool = rl_prompt_ids(world, cfg.selection.max_prompts)
    kept = kept_rl_rows(world, pool, dropped)
    out = output_dir()
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"prompt_id": dropped, "score": scores.to_numpy() if scores is not None else np.nan}).to_csv(
        out / DROPPED_FILE, index=False
    )
    label = method_label(method, cfg, world, cache)
    log.info("selection %s: %d of %d RL prompts dropped", label, len(dropped), len(pool))
    result = rl_finetune(cfg, world, pm_dir, rm_dir, out, rl, prompts=kept)
    start, final = result.history[0], result.history[-1]
    accuracy = heldout_pair_accuracy(result.module.rm, result.module.tokenizer, world)
    row = SelectionRow(
        **run_columns(cfg, out),
        grid=cfg.get("grid", "size"),
        sft_steps=metrics_of(pm_dir)["steps"],
        rm_pairs=metrics_of(rm_dir)["rows"],
        algorithm=rl.algorithm,
        reward_source=rl.reward.source,
        method=method.name,
        method_label=label,
        rate=rate if method.uses_rate else float("nan"),
        n_rl_prompts=len(pool),
        n_dropped=len(dropped),
        dropped_share=len(dropped) / len(pool),
        rl_steps=result.steps,
        sft_gold=start["gold"],
        rm_acc_heldout=accuracy["rm_acc_heldout"],
        rl_gold=final["gold"],
        gain=final["gain"],
        gain_lo=final["gain_lo"],
        gain_hi=final["gain_hi"],
        kl=final["kl"],
        mismatch=final["mismatch"],
        hacking=final["hacking"],
        rl_seconds=result.seconds,
    )
    df = write_results([row], out)
    print(row_as_markdown(df))
    return row


# ----------------------------------------------------------------------------------------- aggregation

CELL = {
    **RL_CELL,
    "sft_steps": "pm.sft.max_steps",
    "rm_pairs": "rm.train.num_pairs",
    "method": "selection.method",
    "rate": "selection.rate",
    "seed": "seed",
}
GROUP = ["scale", "algorithm", "reward_source", "variant"]


def paired_against_full(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per (cell, method, rate, seed) that has a full run of the same cell and seed: the gain
    in gold over full and the win rate against full, sample j of a prompt against sample j."""
    rows = rows.assign(rate_key=rows["rate"].fillna(-1.0))
    full = (
        rows[rows["method"] == "full"]
        .drop_duplicates(["cell", "seed"], keep="last")
        .set_index(["cell", "seed"])
    )
    out = []
    for _, r in rows[rows["method"] != "full"].iterrows():
        if (r["cell"], r["seed"]) not in full.index:
            continue
        paired = paired_gain(r["run_dir"], full.loc[(r["cell"], r["seed"]), "run_dir"])
        out.append(
            {
                **{
                    k: r[k]
                    for k in ("cell", "pm_label", "rm_label", "method", "method_label", "rate", "seed")
                },
                "rate_key": r["rate_key"],
                "dropped_share": r["dropped_share"],
                "kl": r["kl"],
                "kl_full": full.loc[(r["cell"], r["seed"]), "kl"],
                "gain_over_sft": r["gain"],
                "gold_full": paired["gold_base"],
                "gain_over_full": paired["gain"],
                "win_rate_vs_full": paired["win_rate"],
            }
        )
    return pd.DataFrame(out)


def summary_over_seeds(paired: pd.DataFrame) -> pd.DataFrame:
    out = []
    for (cell, label, _), g in paired.groupby(["cell", "method_label", "rate_key"], sort=False):
        line = {
            "cell": cell,
            "method": label,
            "rate": g["rate"].iloc[0],
            "seeds": len(g),
            "dropped": g["dropped_share"].mean(),
            "kl": g["kl"].mean(),
            "kl_full": g["kl_full"].mean(),
            "gain_over_sft": g["gain_over_sft"].mean(),
            "gold_full": g["gold_full"].mean(),
        }
        for metric in ("gain_over_full", "win_rate_vs_full"):
            point, lo, hi = mean_ci_over_seeds(g[metric])
            line |= {metric: point, f"{metric}_lo": lo, f"{metric}_hi": hi}
        out.append(line)
    return pd.DataFrame(out)


def selection_table_of(summary: pd.DataFrame, full_gold: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, r in summary.iterrows():
        rows.append(
            {
                "cell": r["cell"],
                "method": r["method"],
                "drop rate": "-" if r["rate"] != r["rate"] else f"{r['rate']:g}",
                "dropped": r["dropped"],
                "seeds": r["seeds"],
                "gold gain over full (95% CI)": format_ci(
                    r["gain_over_full"], r["gain_over_full_lo"], r["gain_over_full_hi"]
                ),
                "vs full": verdict(r["gain_over_full_lo"], r["gain_over_full_hi"]),
                # the paper's +4.4% is relative to full's judge score; gold's zero is arbitrary, so read loosely
                "% of full's gold": 100 * r["gain_over_full"] / r["gold_full"],
                "gain over SFT": r["gain_over_sft"],
                "win rate vs full (95% CI)": format_ci(
                    r["win_rate_vs_full"], r["win_rate_vs_full_lo"], r["win_rate_vs_full_hi"], signed=False
                ),
                "KL": r["kl"],
                "KL of full": r["kl_full"],
            }
        )
    for _, r in full_gold.iterrows():
        rows.append(
            {
                "cell": r["cell"],
                "method": "full",
                "drop rate": "-",
                "dropped": 0.0,
                "seeds": r["seeds"],
                "gold gain over full (95% CI)": f"(gain over SFT {format_ci(r['gain'], r['lo'], r['hi'])})",
                "vs full": "-",
                "gain over SFT": r["gain"],
                "KL": r["kl"],
            }
        )
    return pd.DataFrame(rows).sort_values(["cell", "method"], kind="stable").reset_index(drop=True)


def with_cell_models(table: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """The table with each cell's PM SFT gold and RM held-out accuracy (means over its runs) after its
    `cell` column: what the cell's models measure, beside the gains they gave."""
    models = rows.groupby("cell")[["sft_gold", "rm_acc_heldout"]].mean()
    at = list(table.columns).index("cell") + 1
    table = table.copy()
    table.insert(at, "PM SFT gold", table["cell"].map(models["sft_gold"]))
    table.insert(at + 1, "RM held-out acc", table["cell"].map(models["rm_acc_heldout"]))
    return table


def full_runs(rows: pd.DataFrame) -> pd.DataFrame:
    """The full runs' own gain over SFT, mean and t-interval over seeds, per cell."""
    out = []
    for cell, g in rows[rows["method"] == "full"].groupby("cell"):
        point, lo, hi = mean_ci_over_seeds(g["gain"])
        out.append({"cell": cell, "seeds": len(g), "gain": point, "lo": lo, "hi": hi, "kl": g["kl"].mean()})
    return pd.DataFrame(out, columns=["cell", "seeds", "gain", "lo", "hi", "kl"])


def bar_figure(summary: pd.DataFrame, title: str, path: Path) -> None:
    """Gain over full per method at the main rate (and full-independent oracle), one panel per cell."""
    main = summary[(summary["rate"] == MAIN_RATE) | summary["rate"].isna()]
    cells = sorted(main["cell"].unique())
    fig, axes = plt.subplots(
        1,
        len(cells),
        figsize=(max(9.0, 5 * len(cells)), 0.35 * main["method"].nunique() + 1.6),
        squeeze=False,
        sharex=True,
    )
    for ax, cell in zip(axes[0], cells, strict=True):
        part = main[main["cell"] == cell].sort_values("gain_over_full")
        y = np.arange(len(part))
        err = np.nan_to_num(
            np.vstack(
                [
                    part["gain_over_full"] - part["gain_over_full_lo"],
                    part["gain_over_full_hi"] - part["gain_over_full"],
                ]
            )
        )
        colors = ["tab:green" if m.startswith("seam") else "tab:grey" for m in part["method"]]
        ax.barh(y, part["gain_over_full"], xerr=err, color=colors, capsize=3)
        ax.set_yticks(y, part["method"], fontsize=8)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_title(cell, fontsize=9)
        ax.set_xlabel("gold gain over full (95% CI over seeds)")
        ax.grid(axis="x", alpha=0.3)
    save_figure(fig, path, title)


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


def dropped_sets(rows: pd.DataFrame) -> dict[tuple[str, str], set]:
    """(cell, method label) -> the prompts dropped at the main rate by its lowest seed's run."""
    main = rows[(rows["method"] != "full") & ((rows["rate"] == MAIN_RATE) | rows["rate"].isna())]
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
    results, missing = sweep_results(outputs, "selection", CELL, SelectionRow)
    if not len(results):
        return []
    results = with_cell_names(results)
    folder = outputs / "figures" / "selection"
    written = []
    for (scale, algorithm, source, variant), rows, _ in sweep_groups(results, missing.iloc[0:0], GROUP):
        name, extra = group_name(f"selection_{scale}_{algorithm}", source, variant)
        title = f"RL on selected prompts vs every prompt, judged by gold ({algorithm}{extra}, scale={scale})"
        paired = paired_against_full(rows)
        summary = summary_over_seeds(paired) if len(paired) else pd.DataFrame()
        figures = {}
        if len(summary):
            figures["_bars"] = lambda path, s=summary, t=title: bar_figure(s, t, path)
            if summary["rate"].dropna().nunique() > 1:
                figures["_rates"] = lambda path, s=summary, t=title: rate_figure(s, t, path)
        table = selection_table_of(summary, full_runs(rows)) if len(summary) else full_runs(rows)
        # a table of several cells reads their PM and RM axes: warn where measured quality disagrees
        notes = printed(grid_warnings(rows), name)
        written += write_table_and_figures(folder, name, title, with_cell_models(table, rows), figures, notes)
        within, across = overlap_tables(dropped_sets(rows))
        if len(within):
            overlap_title = f"Overlap of the dropped RL prompts at drop rate {MAIN_RATE:g} (scale={scale})"
            matrix = within.pivot_table(
                index=["cell", "method"], columns="other", values="overlap"
            ).reset_index()
            written += write_table_and_figures(
                folder,
                f"{name}_overlap",
                overlap_title,
                matrix,
                {"_heatmap": lambda path, w=within, t=overlap_title: overlap_figure(w, t, path)},
            )
            if len(across):
                across_title = f"Overlap of each method's dropped prompts across cells (scale={scale})"
                written += write_table_and_figures(
                    folder, f"{name}_overlap_across_cells", across_title, across, {}
                )
    return written


EXPERIMENT = Experiment(run=run, row=SelectionRow, aggregate=aggregate, runs_rl=True)
