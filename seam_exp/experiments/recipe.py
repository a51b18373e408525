"""`+experiment=recipe`: choose each size's training recipe on validation data (docs/models.md, "Recipe").

One job trains one model (an SFT policy or a reward model) of one size at one learning rate and training
seed, validating along the way on the held-out `sft_val` / `rm_val` splits, and records the reading of the
weights it keeps with the whole validation curve. Nothing here reads an evaluation prompt.
Aggregation: per model kind, a table of every (size, learning rate) with its mean validation reading over
training seeds and the chosen one marked, and a figure of the validation curves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from seam_exp.experiments import Experiment
from seam_exp.experiments.models import trained_artifact
from seam_exp.models.train import metrics_of
from seam_exp.models.validation import HIGHER_IS_BETTER, RM_ACCURACY, RM_LOSS, SFT_GOLD, SFT_NLL
from seam_exp.reporting.plots import distinct_colors, plt, save_figure
from seam_exp.reporting.results import RunRow, collect_results, run_columns, write_results
from seam_exp.reporting.tables import SIZE_ORDER, row_as_markdown, write_table
from seam_exp.utils.runtime import output_dir

# What each kind is chosen by (the weights kept are chosen by the same reading), and a second reading shown.
CHOSEN_BY = {"pm": SFT_GOLD, "rm": RM_LOSS}
ALSO_SHOWN = {"pm": SFT_NLL, "rm": RM_ACCURACY}


def _stored(metric: str) -> str:
    """A validation reading's key in a model's metrics.json (KeepBest.summary writes `val_gold` for
    `val/gold`) and its column name in the recipe tables."""
    return metric.replace("/", "_")


CURVE_FILE = "validation_curve.json"


@dataclass
class RecipeRow(RunRow):
    artifact: str  # pm | rm
    size: str
    lr: float
    train_seed: int
    steps: int
    params: int
    monitor: str
    kept_step: int
    chosen_by: float  # the reading the recipe is chosen by (CHOSEN_BY), at the weights kept
    also_shown: float
    seconds: float


def _training(cfg: DictConfig) -> DictConfig:
    return cfg.pm.sft if cfg.artifact == "pm" else cfg.rm.train


def run(cfg: DictConfig) -> RecipeRow:
    folder, _ = trained_artifact(cfg)
    info = metrics_of(folder)
    train = _training(cfg)
    out = output_dir()
    out.mkdir(parents=True, exist_ok=True)
    (out / CURVE_FILE).write_text(json.dumps(info.get("curve", []), indent=1))
    kept = info.get("kept_step")
    row = RecipeRow(
        **run_columns(cfg, out),
        artifact=cfg.artifact,
        size=str(cfg[cfg.artifact].name),
        lr=float(train.lr),
        train_seed=int(train.seed),
        steps=int(info["steps"]),
        params=int(info["params"]),
        monitor=str(info.get("monitor", "")),
        kept_step=int(kept) if kept is not None else int(info["steps"]),
        chosen_by=float(info.get(_stored(CHOSEN_BY[cfg.artifact]), float("nan"))),
        also_shown=float(info.get(_stored(ALSO_SHOWN[cfg.artifact]), float("nan"))),
        seconds=float(info["seconds"]),
    )
    print(row_as_markdown(write_results([row], out)))
    return row


# ----------------------------------------------------------------------------------------- aggregation

KEYS = ["scale", "artifact", "size", "lr", "steps", "train_seed"]


def _size_rank(column: pd.Series) -> pd.Series:
    order = {s: i for i, s in enumerate(SIZE_ORDER)}
    return column.map(lambda s: order.get(s, len(order)))


def recipe_table(df: pd.DataFrame, artifact: str) -> pd.DataFrame:
    """Mean (and SD, with the number of seeds) of the chosen-by reading per (size, lr, steps), the best
    of each size marked `chosen`: the recipe the presets record."""
    name, other = _stored(CHOSEN_BY[artifact]), _stored(ALSO_SHOWN[artifact])
    table = (
        df.groupby(["size", "lr", "steps"])
        .agg(
            seeds=("train_seed", "nunique"),
            mean=("chosen_by", "mean"),
            sd=("chosen_by", "std"),
            other=("also_shown", "mean"),
            kept_step=("kept_step", "mean"),
            seconds=("seconds", "mean"),
        )
        .reset_index()
    )
    higher = HIGHER_IS_BETTER[CHOSEN_BY[artifact]]
    best = table.groupby("size")["mean"].transform("max" if higher else "min")
    table["chosen"] = (table["mean"] == best).map({True: "yes", False: ""})
    table = table.sort_values(["size", "lr", "steps"], key=lambda c: _size_rank(c) if c.name == "size" else c)
    # in units of 1e-4, so three decimals tell 3.75e-4 from 7.5e-4 (tables print 0.000 and 0.001)
    table["lr"] = table["lr"] * 1e4
    return table.rename(
        columns={"lr": "lr (1e-4)", "mean": f"{name} mean", "sd": f"{name} sd", "other": f"{other} mean"}
    )


def curves_figure(df: pd.DataFrame, artifact: str, path: Path) -> None:
    """Validation curves, one panel per size, one line per (lr, steps, seed): where each recipe peaks."""
    column = CHOSEN_BY[artifact]
    sizes = sorted(df["size"].unique(), key=lambda s: SIZE_ORDER.index(s) if s in SIZE_ORDER else 99)
    fig, axes = plt.subplots(1, len(sizes), figsize=(4 * len(sizes), 3.4), squeeze=False)
    colors = distinct_colors(sorted(df["lr"].unique()))
    styles = {steps: ["-", "--", ":", "-."][i % 4] for i, steps in enumerate(sorted(df["steps"].unique()))}
    for ax, size in zip(axes[0], sizes, strict=True):
        for _, run in df[df["size"] == size].iterrows():
            file = Path(run["run_dir"]) / CURVE_FILE
            curve = pd.DataFrame(json.loads(file.read_text())) if file.is_file() else pd.DataFrame()
            if column not in curve:  # a run trained without validation (or its folder moved)
                continue
            first = run["train_seed"] == df["train_seed"].min()
            label = f"lr {run['lr']:g}, {run['steps']} steps" if first else None
            style = styles[run["steps"]]
            ax.plot(curve["step"], curve[column], style, color=colors[run["lr"]], alpha=0.7, label=label)
        ax.set_title(f"{artifact} {size}", fontsize=9)
        ax.set_xlabel("step")
        ax.set_ylabel(column)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    save_figure(fig, path)


def aggregate(outputs: Path) -> list[Path]:
    df = collect_results(outputs, "recipe", RecipeRow)
    df = df.sort_values("_mtime").groupby(KEYS, as_index=False).last() if len(df) else df
    written = []
    folder = outputs / "figures" / "recipe"
    for (scale, artifact), group in df.groupby(["scale", "artifact"]):
        name = f"recipe_{artifact}_{scale}"
        title = f"Recipe: {artifact.upper()} validation reading per size and learning rate (scale={scale})"
        write_table(recipe_table(group, artifact), folder, name, title)
        curves_figure(group, artifact, folder / f"{name}.png")
        written += [folder / f"{name}.md", folder / f"{name}.png"]
    return written


EXPERIMENT = Experiment(run=run, row=RecipeRow, aggregate=aggregate)
