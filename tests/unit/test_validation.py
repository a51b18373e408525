"""Validation along training: held-out splits, the weights kept, the recipe and ladder readings."""

from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import pytest
import torch

from seam_exp.data.layout import VALIDATION_SPLITS
from seam_exp.models.datamodule import TrainingDataModule
from seam_exp.models.validation import SFT_NLL, KeepBest
from seam_exp.utils.cache import ArtifactCache
from seam_exp.world.build import WorldConfig, load_world
from tests.conftest import tiny_world_config


def test_validation_splits_are_held_out_and_leave_the_other_splits_as_they_were(tiny_world, tmp_path):
    without = load_world(
        tiny_world_config(validation_fractions={"sft": 0.0, "rm": 0.0}), ArtifactCache(tmp_path)
    )
    data = tiny_world.data
    for name in ("rm_test", "rl", "eval"):
        assert data[name].to_list() == without.data[name].to_list()
    split_of = dict(zip(data["prompts"]["prompt_id"], data["prompts"]["split"], strict=True))
    for train, val in VALIDATION_SPLITS.items():
        val_ids, train_ids = set(data[val]["prompt_id"]), set(data[train]["prompt_id"])
        everything = set(without.data[train]["prompt_id"])
        assert val_ids and not val_ids & train_ids and val_ids | train_ids == everything
        assert len(val_ids) == round(0.05 * len(everything))
        assert {split_of[p] for p in val_ids} == {val}
        # every row of a held-out prompt moved with it, in order
        kept = [r for r in without.data[train].to_list() if r["prompt_id"] in val_ids]
        assert data[val].to_list() == kept


def test_validation_fractions_outside_zero_one_are_refused():
    with pytest.raises(ValueError, match=r"data.validation_fractions.sft must be in \[0, 1\)"):
        WorldConfig(validation_fractions={"sft": 1.0, "rm": 0.05})
    with pytest.raises(ValueError, match="names 'rl'"):
        WorldConfig(validation_fractions={"rl": 0.1})


@pytest.mark.parametrize(("steps", "epochs"), [(1, 1), (5, 1), (6, 2), (40, 8), (41, 9)])
def test_the_epoch_count_covers_the_step_budget(steps, epochs):
    data = TrainingDataModule(list(range(137)), None, batch_size=32, seed=0)  # 5 batches a pass
    assert data.epochs_for(steps) == epochs


class _Walker(pl.LightningModule):
    """One weight that SGD walks from 0 towards 10; validation reads |w - 3|, best near step 3."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))

    def training_step(self, batch, batch_idx):
        return (self.w - 10.0) ** 2 / 20.0  # gradient w - 10 over 10: steps of about one

    def validation_step(self, batch, batch_idx):
        self.log(SFT_NLL, (self.w - 3.0).abs())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=1.0)

    def train_dataloader(self):
        return torch.utils.data.DataLoader(torch.zeros(4, 1), batch_size=1)

    def val_dataloader(self):
        return torch.utils.data.DataLoader(torch.zeros(1, 1), batch_size=1)


def test_the_weights_kept_are_those_of_the_best_validation(tmp_path):
    keep = KeepBest(SFT_NLL)
    trainer = pl.Trainer(
        max_steps=12,
        max_epochs=3,
        val_check_interval=1,
        check_val_every_n_epoch=None,
        callbacks=[keep],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    module = _Walker()
    trainer.fit(module)
    curve = pd.DataFrame(keep.curve)
    assert len(curve) == 12 and curve[SFT_NLL].iloc[-1] > curve[SFT_NLL].min()  # the last is not best
    best = curve.loc[curve[SFT_NLL].idxmin()]
    summary = keep.summary()
    assert summary["kept_step"] == best["step"] and summary["val_nll"] == pytest.approx(best[SFT_NLL])
    assert abs(float(module.w) - 3.0) == pytest.approx(best[SFT_NLL], abs=1e-6)  # its weights put back


def _recipe_rows(artifact: str, readings: dict[tuple[str, float], list[float]]) -> pd.DataFrame:
    rows = []
    for (size, lr), values in readings.items():
        for seed, value in enumerate(values):
            rows.append(
                {"size": size, "lr": lr, "train_seed": seed, "chosen_by": value, "also_shown": 0.0}
                | {"kept_step": 100, "steps": 800, "seconds": 1.0, "artifact": artifact}
            )
    return pd.DataFrame(rows)


def test_the_recipe_table_chooses_each_size_by_its_mean_validation_reading():
    from seam_exp.experiments.recipe import recipe_table

    # PMs are chosen by validation gold (higher better), RMs by validation loss (lower better)
    pm = _recipe_rows("pm", {("s", 1e-3): [1.0, 1.4], ("s", 2e-3): [1.3, 1.2], ("l", 1e-3): [2.0, 2.0]})
    table = recipe_table(pm, "pm")
    chosen = table[table["chosen"] == "yes"][["size", "lr (1e-4)"]].values.tolist()
    assert chosen == [["s", pytest.approx(20.0)], ["l", pytest.approx(10.0)]]
    assert table["size"].tolist() == ["s", "s", "l"]  # in size order
    rm = _recipe_rows("rm", {("m", 1e-3): [0.60, 0.62], ("m", 2e-3): [0.63, 0.64]})
    assert recipe_table(rm, "rm").query("chosen == 'yes'")["lr (1e-4)"].tolist() == [pytest.approx(10.0)]


def _ladder(means: dict[str, float], sd: float, n: int = 5) -> pd.DataFrame:
    rows = []
    for size, mean in means.items():
        rows.append(
            {
                "size": size,
                **{
                    f"{c} {k}": v
                    for c in ("pm_gold_mean", "pm_greedy_gold", "rm_acc_heldout")
                    for k, v in (("mean", mean), ("sd", sd), ("n", n))
                },
            }
        )
    return pd.DataFrame(rows)


def test_the_ladder_is_ordered_only_when_every_adjacent_pair_is_separated():
    from seam_exp.experiments.sanity import ladder_verdict

    # SE of a difference of two means of 5 seeds with SD 0.1: 0.063; separated means differ by > 0.126
    lines = ladder_verdict(_ladder({"xs": 0.8, "s": 1.0, "m": 1.2, "l": 1.4}, sd=0.1))
    assert lines[0].startswith("SFT sampled gold: ORDERED")
    assert "target <= 0.08: MISSED" in lines[1]  # SD 0.1 is above the SFT target
    close = ladder_verdict(_ladder({"xs": 0.8, "s": 1.0, "m": 1.1, "l": 1.4}, sd=0.1))[0]
    assert close.startswith("SFT sampled gold: NOT ORDERED") and "<? m 1.100" in close
    swapped = ladder_verdict(_ladder({"xs": 0.8, "s": 1.0, "m": 1.4, "l": 1.2}, sd=0.005))
    assert swapped[0].startswith("SFT sampled gold: NOT ORDERED") and ">= l 1.200" in swapped[0]
    assert "target <= 0.08: met" in swapped[1] and "target <= 0.01: met" in swapped[-1]


def test_the_seed_summary_counts_each_trained_model_once():
    from seam_exp.experiments.sanity import seed_summary

    df = pd.DataFrame(
        {
            "pm": ["s"] * 4,
            "rm": ["s"] * 4,
            "pm_seed": [0, 0, 1, 1],  # each PM read twice (with two RMs)
            "rm_seed": [0, 1, 0, 1],
            "pm_gold_mean": [1.0, 1.0, 2.0, 2.0],
            "pm_greedy_gold": [1.0, 1.0, 1.0, 1.0],
            "rm_acc_heldout": [0.6, 0.7, 0.6, 0.7],
        }
    )
    row = seed_summary(df).iloc[0]
    assert row["pm_gold_mean n"] == 2 and row["pm_gold_mean sd"] == pytest.approx(np.std([1, 2], ddof=1))
    assert row["rm_acc_heldout n"] == 2 and row["rm_acc_heldout mean"] == pytest.approx(0.65)


def test_a_size_with_one_trained_model_has_no_spread_verdict():
    from seam_exp.experiments.sanity import ladder_verdict

    lines = ladder_verdict(_ladder({"xs": 0.8, "s": 1.0}, sd=float("nan"), n=1))
    assert "not measured for xs, s (one seed)" in lines[1] and "MISSED" not in lines[1]
