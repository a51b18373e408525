"""`+experiment=online_refresh_recipe`: choose the online RM refresh's settings on validation prompts before the
online verdict reads them (docs/online.md, "Choosing the refresh's settings").

One job = one RL run of the top cell at its PM's own RL recipe with the RM refreshed along it
(online/refresh.py), read as an rl_recipe run is, on validation prompts only, plus the refresh's settings, its
chooser, the labels it bought and the refreshed RM's held-out accuracy. Aggregation: one line per (settings,
chooser) with its interval over trained models, the settings of highest validation gain averaged over the
choosers marked chosen, and validation gold against KL along each run, one panel per chooser.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from seam_exp.errors import UserError
from seam_exp.experiments import Experiment
from seam_exp.experiments.rl_recipe import (
    KEYS,
    RECIPE,
    RLRecipeRow,
    gold_vs_kl_figure,
    recipe_table,
    validation_run,
)
from seam_exp.models.evaluate import heldout_pair_accuracy
from seam_exp.online.config import NO_REFRESH
from seam_exp.online.refresh import labels_bought
from seam_exp.reporting.results import collect_results, write_results
from seam_exp.reporting.tables import row_as_markdown, write_table


@dataclass
class RefreshRecipeRow(RLRecipeRow):
    settings: str  # the refresh's settings but its chooser (settings_label): the unit that is chosen
    chooser: str  # who picked the refresh's prompts
    labels: int  # labeler labels the refresh bought over the run
    rm_acc_heldout: float  # the refreshed RM at the end, on the world's held-out pairs


def settings_label(refresh) -> str:
    return (
        f"every {refresh.every}, {refresh.prompts} prompts, {refresh.rm_steps} RM steps at {float(refresh.lr):g},"
        f" replay {float(refresh.replay):g}"
    )


def run(cfg: DictConfig) -> RefreshRecipeRow:
    refresh = cfg.online.refresh
    if refresh.chooser == NO_REFRESH:
        raise UserError("online_refresh_recipe chooses an RM refresh's settings: set online.refresh.chooser")
    readings, result, world, out = validation_run(cfg)
    module = result.module
    row = RefreshRecipeRow(
        **readings,
        settings=settings_label(refresh),
        chooser=str(refresh.chooser),
        labels=labels_bought(out),
        rm_acc_heldout=heldout_pair_accuracy(module.rm, module.tokenizer, world)["rm_acc_heldout"],
    )
    print(row_as_markdown(write_results([row], out)))
    return row


def settings_table(df):
    return recipe_table(df, [*RECIPE, "settings"], across=["chooser"], shown=["labels", "rm_acc_heldout"])


def aggregate(outputs: Path) -> list[Path]:
    df = collect_results(outputs, "online_refresh_recipe", RefreshRecipeRow)
    keys = [*KEYS, "settings", "chooser"]
    df = df.sort_values("_mtime").groupby(keys, as_index=False).last() if len(df) else df
    written = []
    folder = outputs / "figures" / "online_refresh_recipe"
    for (scale, algorithm), group in df.groupby(["scale", "algorithm"]):
        name = f"online_refresh_recipe_{scale}_{algorithm}"
        title = f"RM refresh settings chosen on validation prompts ({algorithm}, scale={scale})"
        write_table(settings_table(group), folder, name, title)
        figure = folder / f"{name}_gold_vs_kl.png"
        gold_vs_kl_figure(group, figure, panel="chooser", label=lambda r: r["settings"])
        written += [folder / f"{name}.md", figure]
    return written


EXPERIMENT = Experiment(run=run, row=RefreshRecipeRow, aggregate=aggregate, runs_rl=True)
