"""`+experiment=rl_recipe`: choose the RL recipe (learning rate, KL coefficient) on validation prompts
(docs/rl.md, "Choosing the RL recipe").

One job = one RL run of one PM against the grid's top RM at one (rl.optim.lr, rl.kl.coef), evaluated after
steps 2, 4 and 8 and every fifth of the run on the validation prompts (`rl.eval.val_prompts`, never an eval prompt). The row holds only
validation readings: the gold of the final policy over the SFT start, the best gold along the run and the KL
spent. Aggregation: per PM size, every recipe's mean validation gain over trained models and RL seeds, the
highest marked chosen, and a figure of validation gold against KL along each run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from seam_exp.errors import UserError
from seam_exp.experiments import Experiment, prepare
from seam_exp.models.train import sft_policy, trained_reward
from seam_exp.online.config import NO_REFRESH
from seam_exp.online.refresh import reward_refresh_callbacks
from seam_exp.reporting.grid import axis_order
from seam_exp.reporting.plots import distinct_colors, plt, save_figure
from seam_exp.reporting.results import RunRow, collect_results, run_columns, write_results
from seam_exp.reporting.seeds import REPLICATE, summary_over_seeds
from seam_exp.reporting.tables import ci_column, row_as_markdown, write_table
from seam_exp.rl.config import rl_config
from seam_exp.rl.kl_budget import run_history
from seam_exp.rl.run import RLRun, rl_finetune
from seam_exp.utils.runtime import output_dir
from seam_exp.world.build import World


@dataclass
class RLRecipeRow(RunRow):
    algorithm: str
    lr: float
    kl_coef: float
    rl_steps: int
    val_gold_start: float  # the SFT start's gold on the validation prompts
    val_gain: float  # the final policy's validation gold minus the start's: what the recipe is chosen by
    val_gain_best: float  # the best validation gold along the run minus the start's
    val_best_step: int
    val_kl: float  # the final policy's KL to the start on the validation prompts
    rl_seconds: float


def validation_run(cfg: DictConfig) -> tuple[dict, RLRun, World, Path]:
    """One RL run of cfg, read on the validation prompts only: its RLRecipeRow columns, the run, the world and
    the run's folder. An RM refresh (online.refresh.chooser) runs along it when one is set."""
    rl = rl_config(cfg.rl)
    if int(cfg.rl.eval.val_prompts) < 1:
        raise UserError("a recipe is chosen on validation prompts: rl.eval.val_prompts must be at least 1")
    world, cache = prepare(cfg)
    pm_dir, _ = sft_policy(cfg, world, cache)
    rm_dir, _ = trained_reward(cfg, world, cache)
    out = output_dir()
    refreshing = reward_refresh_callbacks(cfg, world, cache, world.data["rl"], out)
    result = rl_finetune(cfg, world, pm_dir, rm_dir, out, rl, callbacks=refreshing)
    history = pd.DataFrame(result.history)
    start, best = history["val_gold"].iloc[0], history.loc[history["val_gold"].idxmax()]
    readings = dict(
        **run_columns(cfg, out),
        algorithm=rl.algorithm,
        lr=float(rl.optim.lr),
        kl_coef=float(rl.kl.coef),
        rl_steps=int(rl.steps),
        val_gold_start=float(start),
        val_gain=float(history["val_gold"].iloc[-1] - start),
        val_gain_best=float(best["val_gold"] - start),
        val_best_step=int(best["step"]),
        val_kl=float(history["val_kl"].iloc[-1]),
        rl_seconds=float(result.seconds),
    )
    return readings, result, world, out


def run(cfg: DictConfig) -> RLRecipeRow:
    if cfg.online.refresh.chooser != NO_REFRESH:
        raise UserError(
            "rl_recipe reads RL against a fixed RM: choose an RM refresh's settings with "
            "+experiment=online_refresh_recipe"
        )
    readings, _, _, out = validation_run(cfg)
    row = RLRecipeRow(**readings)
    print(row_as_markdown(write_results([row], out)))
    return row


# ----------------------------------------------------------------------------------------- aggregation

RECIPE = ["lr", "kl_coef"]
KEYS = ["scale", "algorithm", "pm", "rm", *RECIPE, *REPLICATE]


def recipe_table(
    df: pd.DataFrame, recipe: Sequence[str] = RECIPE, across: Sequence[str] = (), shown: Sequence[str] = ()
) -> pd.DataFrame:
    """One line per (PM, RM, lr, KL coefficient, the rest of `recipe`, `across`): the validation gain over the
    SFT start with its interval over trained models (RL seeds inside them), the best gain along the run, the KL
    and the means of `shown`; per (PM, RM) the recipe of highest mean gain, averaged over `across` (a refresh's
    choosers: so no one of them is tuned alone), marked chosen."""
    lines = ["pm", "rm", *recipe, *across]
    summary = summary_over_seeds(
        df,
        lines,
        intervals=["val_gain"],
        means=["val_gain_best", "val_best_step", "val_kl", *shown, "rl_seconds"],
    )
    over_across = summary.groupby(["pm", "rm", *recipe])["val_gain"].transform("mean")
    best = over_across.groupby([summary["pm"], summary["rm"]]).transform("max")
    summary["chosen"] = (over_across == best).map({True: "yes", False: ""})
    rank = {pm: i for i, pm in enumerate(axis_order(summary["pm"]))}
    summary = summary.sort_values(lines, key=lambda c: c.map(rank) if c.name == "pm" else c)
    return pd.DataFrame(
        {
            "PM": summary["pm"],
            "RM": summary["rm"],
            "lr (1e-4)": summary["lr"] * 1e4,  # as the PM/RM recipe tables: 1e-5 reads 0.100, not 0.000
            "KL coef": summary["kl_coef"],
            **{c: summary[c] for c in [*recipe, *across] if c not in RECIPE},
            "runs": summary["seeds"],
            "models": summary["models"],
            "CI over": summary["interval"],
            "validation gold gain, final (95% CI)": ci_column(summary, "val_gain"),
            "best along the run": summary["val_gain_best"],
            "at step": summary["val_best_step"],
            "validation KL": summary["val_kl"],
            **{c: summary[c] for c in shown},
            "RL seconds": summary["rl_seconds"],
            "chosen": summary["chosen"],
        }
    )


def recipe_label(row) -> str:
    return f"lr {row['lr']:g}, KL coef {row['kl_coef']:g}"


def gold_vs_kl_figure(
    df: pd.DataFrame, path: Path, panel: str = "pm", label: Callable = recipe_label
) -> None:
    """Validation gold over the SFT start against validation KL along each run, one panel per `panel` (a PM
    size), one colour per recipe (`label` of a run): where a recipe buys gold and where it starts to lose it."""
    panels = axis_order(df[panel]) if panel == "pm" else sorted(df[panel].unique())
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.4), squeeze=False)
    recipes = sorted({label(r) for _, r in df.iterrows()})
    colors = distinct_colors(recipes)
    for ax, value in zip(axes[0], panels, strict=True):
        labelled = set()
        for _, r in df[df[panel] == value].iterrows():
            history = run_history(r["run_dir"])
            if history is None:
                continue
            recipe = label(r)
            shown = None if recipe in labelled else recipe
            labelled.add(recipe)
            gain = history["val_gold"] - history["val_gold"].iloc[0]
            ax.plot(history["val_kl"], gain, "o-", color=colors[recipe], alpha=0.6, ms=3, label=shown)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_title(f"PM {value}" if panel == "pm" else f"{panel} {value}", fontsize=9)
        ax.set_xlabel("validation KL to the SFT start")
        ax.set_ylabel("validation gold - SFT start")
        ax.grid(alpha=0.3)
        if labelled:
            ax.legend(fontsize=7)
    save_figure(fig, path)


def write_recipes(
    outputs: Path, experiment: str, row_type: type, keys: Sequence[str], what: str, table: Callable, **figure
) -> list[Path]:
    """Per scale and algorithm, `table` of the newest run of each of `keys` of `experiment` and the validation
    gold-vs-KL figure (`figure`: its panel and label)."""
    df = collect_results(outputs, experiment, row_type)
    df = df.sort_values("_mtime").groupby(list(keys), as_index=False).last() if len(df) else df
    written = []
    folder = outputs / "figures" / experiment
    for (scale, algorithm), group in df.groupby(["scale", "algorithm"]):
        name = f"{experiment}_{scale}_{algorithm}"
        write_table(
            table(group), folder, name, f"{what} chosen on validation prompts ({algorithm}, scale={scale})"
        )
        gold_vs_kl_figure(group, folder / f"{name}_gold_vs_kl.png", **figure)
        written += [folder / f"{name}.md", folder / f"{name}_gold_vs_kl.png"]
    return written


def aggregate(outputs: Path) -> list[Path]:
    return write_recipes(outputs, "rl_recipe", RLRecipeRow, KEYS, "RL recipe", recipe_table)


EXPERIMENT = Experiment(run=run, row=RLRecipeRow, aggregate=aggregate, runs_rl=True)
