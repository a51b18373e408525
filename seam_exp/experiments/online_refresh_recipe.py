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
    recipe_table,
    validation_run,
    write_recipes,
)
from seam_exp.models.evaluate import heldout_pair_accuracy
from seam_exp.online.config import NO_REFRESH
from seam_exp.online.refresh import labels_bought
from seam_exp.reporting.results import write_results
from seam_exp.reporting.tables import row_as_markdown


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
    keys = [*KEYS, "settings", "chooser"]
    return write_recipes(
        outputs,
        "online_refresh_recipe",
        RefreshRecipeRow,
        keys,
        "RM refresh settings",
        settings_table,
        panel="chooser",
        label=lambda r: r["settings"],
    )


EXPERIMENT = Experiment(run=run, row=RefreshRecipeRow, aggregate=aggregate, runs_rl=True)
