"""The RL recipe table (experiments/rl_recipe.py): per PM, the recipe of highest mean validation gain is the
chosen one, its interval over trained models; an RM refresh's settings (experiments/online_refresh_recipe.py) are
chosen by their mean over the choosers (no model runs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seam_exp.experiments.online_refresh_recipe import settings_table
from seam_exp.experiments.rl_recipe import recipe_table


def test_the_chosen_recipe_has_the_highest_mean_validation_gain_per_pm_over_trained_models():
    rows = []
    # PM m: the slow recipe gains on average, though one training of the fast one gains most;
    # PM l: the fast recipe, in every training
    gains = {("m", 1e-5): (0.10, 0.20, 0.00), ("m", 1e-4): (0.50, -0.40, -0.30), ("l", 1e-5): (0.0, 0.1, 0.0)}
    gains[("l", 1e-4)] = (0.2, 0.3, 0.25)
    for (pm, lr), by_training in gains.items():
        for train_seed, gain in enumerate(by_training):
            rows.append(
                {
                    "pm": pm, "rm": "l", "lr": lr, "kl_coef": 0.05, "pm_seed": train_seed,
                    "rm_seed": train_seed, "seed": 0, "val_gain": gain, "val_gain_best": max(gain, 0.0),
                    "val_best_step": 12, "val_kl": 2.0, "rl_seconds": 100.0,
                }
            )  # fmt: skip
    table = recipe_table(pd.DataFrame(rows))
    chosen = table[table["chosen"] == "yes"].set_index("PM")["lr (1e-4)"]
    assert chosen.to_dict() == {"m": pytest.approx(0.1), "l": pytest.approx(1.0)}
    assert table["PM"].tolist() == ["m", "m", "l", "l"]  # sizes in the grid's order
    assert (table["models"] == 3).all() and (table["CI over"] == "trained models").all()
    m_fast = table[(table["PM"] == "m") & np.isclose(table["lr (1e-4)"], 1.0)].iloc[0]
    assert m_fast["validation gold gain, final (95% CI)"].startswith("-0.067 [")


def test_refresh_settings_are_chosen_by_their_mean_over_the_choosers_not_by_one_choosers_best():
    # "steep" is best for the seam chooser alone but bad for random; "mild" is better on average over both
    gains = {
        ("steep", "seam"): 0.30,
        ("steep", "random"): -0.20,
        ("mild", "seam"): 0.10,
        ("mild", "random"): 0.08,
    }
    rows = [
        {
            "pm": "l", "rm": "l", "lr": 1e-5, "kl_coef": 0.2, "pm_seed": t, "rm_seed": t, "seed": 0,
            "val_gain": gain + 0.01 * t, "val_gain_best": 0.3, "val_best_step": 12, "val_kl": 0.2,
            "rl_seconds": 100.0, "settings": settings, "chooser": chooser, "labels": 40 + t, "rm_acc_heldout": 0.7,
        }
        for (settings, chooser), gain in gains.items()
        for t in range(3)
    ]  # fmt: skip
    table = settings_table(pd.DataFrame(rows))
    chosen = table[table["chosen"] == "yes"]
    assert set(chosen["settings"]) == {"mild"} and set(chosen["chooser"]) == {"seam", "random"}
    assert len(table) == 4 and (table["labels"] == 41).all() and (table["models"] == 3).all()


@pytest.mark.parametrize("n", [3, 12, 24])
def test_every_recipe_of_a_gold_vs_kl_figure_gets_its_own_colour(n):
    from matplotlib.colors import to_hex

    from seam_exp.reporting.plots import distinct_colors

    recipes = [f"lr {i}" for i in range(n)]
    colors = distinct_colors(recipes)
    assert list(colors) == recipes
    assert len({to_hex(c) for c in colors.values()}) == n
