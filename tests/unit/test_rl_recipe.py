"""The RL recipe table (experiments/rl_recipe.py): per PM, the recipe of highest mean validation gain is the
chosen one, its interval over trained models (no model runs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

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
