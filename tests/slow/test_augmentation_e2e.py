"""`+experiment=augmentation` end to end at scale=smoke through the real entry point."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from seam_exp.augmentation.arms import parse_arm, selected_instructions
from seam_exp.data_source import world_from
from seam_exp.experiments.augmentation import INSTRUCTIONS_FILE, PAIRS_FILE, SFT_FILE, AugmentationRow
from seam_exp.reporting.results import columns_of
from seam_exp.selection.filters import parse_method
from seam_exp.selection.prompt_scores import TABLE_FILE
from seam_exp.utils.config import CONF_DIR
from tests.slow.helpers import cache_keys

pytestmark = pytest.mark.slow
ARMS = ["original", "seam:both", "random:pm", "full:rm"]
AUGMENTATION_SMOKE = (
    "+experiment=augmentation",
    f"sweep.smoke.arms=[{','.join(ARMS)}]",  # the smoke scale's own list (conf/experiment),
    "seam.ground_truth.n_samples=8",
    "trainer.num_threads=1",
)


def test_augmentation_sweep_adds_five_rows_per_instruction_and_never_an_rl_or_eval_prompt(smoke_runs):
    smoke_runs.run(*AUGMENTATION_SMOKE)
    tmp_path = smoke_runs.root
    rows = pd.concat(pd.read_csv(p) for p in (tmp_path / "outputs" / "augmentation").rglob("results.csv"))
    assert list(rows.columns) == columns_of(AugmentationRow) and sorted(rows["arm"]) == sorted(ARMS)
    rows = rows.set_index("arm")

    cache = tmp_path / "cache"
    (table_file,) = cache.rglob(TABLE_FILE)
    table = pd.read_parquet(table_file)
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            "config", overrides=["+experiment=augmentation", "scale=smoke", f"paths.cache_dir={cache}"]
        )
    world = world_from(cfg)
    held = [world.data[split] for split in ("rl", "eval")]  # prompts RL trains or is judged on
    held_ids = {int(i) for d in held for i in d["prompt_id"]}
    held_prompts = {p for d in held for p in d["prompt"]}

    for arm in ARMS[1:]:
        run_dir = Path(rows.loc[arm, "run_dir"])
        ids = pd.read_csv(run_dir / INSTRUCTIONS_FILE)["prompt_id"].tolist()
        expected = selected_instructions(
            parse_arm(arm), table, parse_method("seam:contrast:paper_prob"), 0.2, 0
        )
        assert ids == expected.tolist() and rows.loc[arm, "n_instructions"] == len(ids)
        side = parse_arm(arm)
        for wanted, file, column in (
            (side.augments_pm, SFT_FILE, "sft_added"),
            (side.augments_rm, PAIRS_FILE, "pairs_added"),
        ):
            assert (run_dir / file).is_file() == wanted
            if wanted:
                added = pd.read_parquet(run_dir / file)
                assert len(added) == rows.loc[arm, column]
                assert added.groupby("augmented_for").size().eq(5).all()
                assert sorted(set(added["augmented_for"])) == ids
                # every row is a training prompt's, its answers too: never an RL or eval prompt's
                sources = set(added["prompt_id"])
                if file == PAIRS_FILE:
                    sources |= set(added["worse_source_prompt_id"])
                assert not sources & held_ids and not set(added["prompt"]) & held_prompts
    assert rows.loc["full:rm", "n_instructions"] == len(table)

    # One model per augmented arm and side, keyed by its rows: arms never share a cache entry.
    for kind, arms in (("pm", {"seam", "random"}), ("rm", {"seam", "full"})):
        keys = cache_keys(cache, kind)
        assert sorted(k["augmentation"]["arm"] for k in keys if "augmentation" in k) == sorted(arms)

    report = (
        tmp_path
        / "outputs"
        / "figures"
        / "augmentation"
        / "augmentation_smoke_ppo_seam.ground_truth.n_samples=8"
    )
    text = Path(f"{report}.md").read_text()
    for arm in ARMS:
        assert f"| {arm} " in text
    assert Path(f"{report}_bars.png").is_file() and Path(f"{report}_mismatch.png").is_file()
