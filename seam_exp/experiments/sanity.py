"""`+experiment=sanity`: do PM quality and RM accuracy grow with size and training budget?

One job = one (PM, RM) pair. The PM is judged by gold on held-out eval prompts (sampled and greedy);
the RM by pair accuracy on held-out preference pairs and on pairs of this PM's own samples ordered by
gold: the gap between the two is the distribution shift the paper's mismatch is about.
Aggregation: a table and a figure of PM and RM quality against size and budget, per scale.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import lightning.pytorch as pl
import pandas as pd
from omegaconf import DictConfig

from seam_exp.experiments import Experiment, prepare
from seam_exp.models.evaluate import heldout_pair_accuracy, policy_quality, rm_mismatch_on_samples
from seam_exp.models.train import load_policy, load_reward, metrics_of, sft_policy, trained_reward
from seam_exp.reporting.plots import plt, save_figure
from seam_exp.reporting.results import RunRow, collect_results, run_columns, write_results
from seam_exp.reporting.tables import SIZE_ORDER, row_as_markdown, write_table
from seam_exp.utils.runtime import output_dir

log = logging.getLogger(__name__)


@dataclass
class SanityRow(RunRow):
    budget: float
    sft_seed: int  # the PM's and the RM's own training seeds: PM quality varies with them at this scale
    rm_seed: int
    pm_params: int
    rm_params: int
    sft_steps: int
    rm_steps: int
    rm_pairs: int
    pm_gold_mean: float
    pm_gold_lo: float
    pm_gold_hi: float
    pm_greedy_gold: float
    pm_greedy_correct: float
    pm_greedy_exact: float
    pm_eos_rate: float
    pm_response_tokens: float
    rm_acc_heldout: float
    rm_acc_heldout_gold: float
    rm_acc_pm_samples: float
    rm_pm_sample_pairs: int
    sft_seconds: float
    rm_seconds: float


def eval_rows(world, cfg: DictConfig):
    rows = world.data["eval"]
    return rows.select(range(min(cfg.scale.eval_prompts, len(rows))))


def run(cfg: DictConfig) -> SanityRow:
    world, cache = prepare(cfg)
    pm_dir, _ = sft_policy(cfg, world, cache)
    rm_dir, _ = trained_reward(cfg, world, cache)
    policy, tokenizer = load_policy(pm_dir)
    rm, _ = load_reward(rm_dir)
    pl.seed_everything(cfg.seed)

    rows = eval_rows(world, cfg)
    pm_metrics, (samples, ids, gold) = policy_quality(
        policy, tokenizer, world, rows, cfg.pm.generation, cfg.scale.samples_per_prompt, cfg.seed
    )
    prompts = [rows["prompt"][i] for i in samples.prompt_index]
    on_samples = rm_mismatch_on_samples(rm, tokenizer, prompts, samples, ids, gold)
    pm_info, rm_info = metrics_of(pm_dir), metrics_of(rm_dir)
    row = SanityRow(
        **run_columns(cfg, output_dir()),
        budget=cfg.pm.sft.budget,
        sft_seed=cfg.pm.sft.seed,
        rm_seed=cfg.rm.train.seed,
        pm_params=pm_info["params"],
        rm_params=rm_info["params"],
        sft_steps=pm_info["steps"],
        rm_steps=rm_info["steps"],
        rm_pairs=rm_info["rows"],
        **pm_metrics,
        **heldout_pair_accuracy(rm, tokenizer, world),
        rm_acc_pm_samples=1.0 - on_samples["mismatch"],
        rm_pm_sample_pairs=on_samples["mismatch_pairs"],
        sft_seconds=pm_info["seconds"],
        rm_seconds=rm_info["seconds"],
    )
    df = write_results([row], output_dir())
    print(row_as_markdown(df))
    return row


# ----------------------------------------------------------------------------------------- aggregation

KEYS = ["scale", "pm", "rm", "budget", "sft_seed", "rm_seed", "seed"]


def latest_per_cell(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values("_mtime").groupby(KEYS, as_index=False).last() if len(df) else df


def sanity_table(df: pd.DataFrame) -> pd.DataFrame:
    cols = [
        "scale",
        "pm",
        "budget",
        "sft_seed",
        "pm_params",
        "sft_steps",
        "pm_gold_mean",
        "pm_gold_lo",
        "pm_gold_hi",
        "pm_greedy_correct",
        "rm",
        "rm_seed",
        "rm_params",
        "rm_steps",
        "rm_acc_heldout",
        "rm_acc_heldout_gold",
        "rm_acc_pm_samples",
    ]
    order = {s: i for i, s in enumerate(SIZE_ORDER)}
    keys = ["scale", "budget", "pm", "sft_seed", "rm_seed"]
    return df.sort_values(keys, key=lambda c: c.map(order) if c.name == "pm" else c)[cols]


def sanity_figure(df: pd.DataFrame, path: Path) -> None:
    """PM and RM quality against size, one line per budget through the mean over training seeds, every
    seed's own value as a dot: at this scale a model's quality moves with its training seed."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    panels = [
        ("pm_params", "pm_gold_mean", "PM mean gold reward (samples)"),
        ("pm_params", "pm_greedy_correct", "PM greedy accuracy"),
        ("rm_params", "rm_acc_heldout", "RM held-out pair accuracy (x: on PM samples)"),
    ]
    colors = {b: f"C{i}" for i, b in enumerate(sorted(df["budget"].unique()))}  # one color per budget
    for ax, (x, y, title) in zip(axes, panels, strict=True):
        series = [(y, "o", "-")] + ([("rm_acc_pm_samples", "x", "--")] if y == "rm_acc_heldout" else [])
        for budget, group in df.groupby("budget"):
            color = colors[budget]
            for column, marker, style in series:
                ax.scatter(group[x], group[column], color=color, marker=marker, s=12, alpha=0.5)
                means = group.groupby(x)[column].mean()
                label = f"budget x{budget:g}" if style == "-" else None
                ax.plot(
                    means.index, means.to_numpy(), marker=marker, linestyle=style, color=color, label=label
                )
        ax.set_xscale("log")
        ax.set_xlabel("parameters")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    save_figure(fig, path)


def aggregate(outputs: Path) -> list[Path]:
    df = latest_per_cell(collect_results(outputs, "sanity", SanityRow))
    written = []
    folder = outputs / "figures" / "sanity"
    for scale, group in df.groupby("scale"):
        write_table(
            sanity_table(group),
            folder,
            f"sanity_{scale}",
            f"Sanity: PM and RM quality vs size and budget (scale={scale})",
        )
        sanity_figure(group, folder / f"sanity_{scale}.png")
        written += [folder / f"sanity_{scale}.md", folder / f"sanity_{scale}.png"]
    return written


EXPERIMENT = Experiment(run=run, row=SanityRow, aggregate=aggregate)
