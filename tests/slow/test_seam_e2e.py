"""`+experiment=seam` end to end at scale=smoke through the real entry point."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from seam_exp.experiments.seam import SeamRow
from seam_exp.reporting.results import columns_of
from seam_exp.reporting.tables import file_safe
from seam_exp.seam.formula import SeamConfig, seam_score
from tests.slow.helpers import run_experiment

pytestmark = pytest.mark.slow
VARIANTS = ["contrast", "gpt[scripted]", "adv"]  # the scripted writer is named for what it is
# (formula, ablation) of every reported score: soft only for the normalized formula, rank discordance once
SETTINGS = (
    {("normalized", a) for a in ("seam", "soft", "no_length_penalty", "uniform")}
    | {(f, a) for f in ("paper", "paper_prob") for a in ("seam", "no_length_penalty", "uniform")}
    | {("-", "rank_discordance")}
)


GROUND_TRUTH = "seam.ground_truth.n_samples=8"  # plumbing and shapes, not statistics: fewer PM samples


def test_seam_sweep_writes_correlations_scatters_and_every_intermediate(smoke_runs, tmp_path):
    smoke_runs.run("+experiment=seam", GROUND_TRUTH)  # the results notebook reads the same run
    shared = smoke_runs.root
    results = sorted((shared / "outputs" / "seam").rglob("results.csv"))
    rows = pd.concat(pd.read_csv(p) for p in results)
    assert list(rows.columns) == columns_of(SeamRow)
    assert (
        sorted(set(rows["rm"])) == ["m", "xs"] and set(rows["pm"]) == {"s"} and set(rows["policy"]) == {"sft"}
    )
    assert len(rows) == 2 * len(VARIANTS) * len(SETTINGS)
    assert set(zip(rows["variant"], rows["formula"], rows["ablation"], strict=True)) == {
        (v, f, a) for v in VARIANTS for f, a in SETTINGS
    }
    assert (rows["n_gt_prompts"] > 10).all() and (rows["k"] == 8).all()
    for method in ("spearman", "kendall"):
        assert rows[method].between(-1, 1).all()
        assert (rows[f"{method}_lo"] <= rows[method] + 1e-9).all() and (
            rows[method] <= rows[f"{method}_hi"] + 1e-9
        ).all()
    assert (rows.loc[rows["variant"] == "contrast", "worse_gold_ge_ref"] < 0.5).all()

    # Any per-prompt SEAM can be recomputed by hand from the candidate table of its run.
    run_dir = results[0].parent
    prompts = pd.read_csv(run_dir / "seam_prompts.csv")
    cands = pd.read_parquet(run_dir / "seam_candidates.parquet")
    assert {"text", "provenance", "gold", "logp", "length", "reward"} <= set(cands.columns)
    pid = int(prompts["prompt_id"].iloc[0])
    mine = cands[(cands["variant"] == "gpt[scripted]") & (cands["prompt_id"] == pid)].sort_values(
        "candidate_index"
    )
    worse, ref = mine.iloc[1:], mine.iloc[0]
    assert json.loads(worse["provenance"].iloc[0])["backend"] == "scripted"
    by_hand = seam_score(
        worse["logp"], worse["length"], worse["reward"], np.float64(ref["reward"]), **vars(SeamConfig())
    )
    assert prompts.set_index("prompt_id").loc[pid, "gpt[scripted]:normalized:seam"] == pytest.approx(
        float(by_hand)
    )

    figures = shared / "outputs" / "figures" / "seam"
    table = (figures / "seam_smoke.md").read_text()
    assert "| contrast" in table and "no_length_penalty" in table
    for variant in VARIANTS:
        assert (figures / f"seam_smoke_{file_safe(variant)}_normalized.png").stat().st_size > 10_000

    # A second sweep reuses every cached artifact: world, PM, RMs, index, candidates, PM scores, samples.
    # It runs on a private copy of the cache, which no other test's run writes to meanwhile (scratch
    # folders and locks left out: an artifact appears by an atomic rename, so the copy holds only whole ones).
    shutil.copytree(shared / "cache", tmp_path / "cache", ignore=shutil.ignore_patterns(".*", "*.lock"))
    cached = sorted(str(p.parent) for p in (tmp_path / "cache").rglob("MANIFEST.json"))
    kinds = {p.split("/")[-2] for p in cached}
    assert {"contrast_index", "seam_candidates", "seam_pm_scores", "pm_samples"} <= kinds
    run_experiment(tmp_path, "+experiment=seam", GROUND_TRUTH)
    assert sorted(str(p.parent) for p in (tmp_path / "cache").rglob("MANIFEST.json")) == cached


def test_rl_policy_source_reads_a_checkpoint_and_fails_clearly_without_one(tmp_path):
    with pytest.raises(AssertionError, match="seam.policy.checkpoint"):
        run_experiment(tmp_path, "+experiment=seam", "hydra.mode=RUN", "rm=xs", "seam.policy.source=rl")
    # An RL checkpoint is a folder with model/ and tokenizer/: the cached SFT policy is one, so scoring it
    # as "rl" must give exactly the SFT numbers.
    # rm.init=scratch: the cache then holds one SFT policy only (an SFT-start xs RM would add xs's)
    one = [
        "+experiment=seam",
        "hydra.mode=RUN",
        "rm=xs",
        "rm.init=scratch",
        "seam.variants=[adv]",
        "trainer.num_threads=1",
    ]
    one += ["seam.max_prompts=24", "seam.ground_truth.n_samples=4"]  # plumbing, not statistics
    run_experiment(tmp_path, *one)
    (sft_dir,) = [p.parent for p in (tmp_path / "cache" / "pm").rglob("MANIFEST.json")]
    run_experiment(tmp_path, *one, "seam.policy.source=rl", f"seam.policy.checkpoint={sft_dir}")
    runs = {
        pd.read_csv(p)["policy"].iloc[0]: p.parent
        for p in (tmp_path / "outputs" / "seam").rglob("results.csv")
    }
    assert set(runs) == {"sft", "rl"}
    sft, rl = (pd.read_csv(runs[k] / "seam_prompts.csv") for k in ("sft", "rl"))
    pd.testing.assert_frame_equal(sft, rl)
