"""The claims ledger (reporting/claims.py): the verdict rule, differences paired on trained models, the
ledger's 'no runs' rows, and claims read end to end from synthetic saturation, seam and augmentation outputs trees."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from seam_exp import experiments
from seam_exp.cli import CONF_DIR
from seam_exp.experiments.augmentation import AugmentationRow
from seam_exp.experiments.saturation import SaturationRow
from seam_exp.experiments.seam import SeamRow
from seam_exp.reporting.claims import Claim, Reading, ledger_table, paired_difference, pooled, write_ledger
from seam_exp.reporting.results import write_results
from seam_exp.utils.runtime import EVAL_SAMPLES_FILE


def claim(side: str, bound=(0.0, 0.0)) -> Claim:
    return Claim("k", "a claim", "+1%", "a reading", side, bound, "+experiment=x")


def reading(side: str, value: float, lo: float, hi: float, models: int = 3, bound=(0.0, 0.0)) -> Reading:
    return Reading(claim(side, bound), "default", value, lo, hi, models, models * 2, "trained models")


@pytest.mark.parametrize(
    ("side", "value", "lo", "hi", "verdict"),
    [
        ("above", 0.2, 0.1, 0.3, "reproduced"),
        ("above", 0.1, -0.1, 0.3, "inconclusive"),
        ("above", -0.2, -0.3, -0.1, "not reproduced"),
        ("below", -0.2, -0.3, -0.1, "reproduced"),
        ("below", 0.2, 0.1, 0.3, "not reproduced"),
        ("flat", 0.01, -0.05, 0.07, "reproduced"),
        ("flat", 0.1, 0.05, 0.15, "not reproduced"),
    ],
)
def test_a_direction_is_reproduced_only_when_the_interval_lies_on_the_papers_side(
    side, value, lo, hi, verdict
):
    assert reading(side, value, lo, hi).verdict() == verdict


def test_a_level_is_reproduced_when_the_point_is_in_the_range_and_refuted_when_the_interval_misses_it():
    band = (0.35, 0.40)
    assert reading("within", 0.37, 0.30, 0.45, bound=band).verdict() == "reproduced"
    assert reading("within", 0.30, 0.25, 0.36, bound=band).verdict() == "inconclusive"
    assert reading("within", 0.20, 0.15, 0.25, bound=band).verdict() == "not reproduced"


def test_one_trained_model_is_never_a_verdict_however_clear_its_interval():
    assert reading("above", 0.5, 0.4, 0.6, models=1).verdict() == "inconclusive (one trained model)"


def test_a_difference_pairs_runs_of_the_same_trained_models_and_rl_seed_and_pools_over_models():
    rng = np.random.default_rng(0)
    lines = []
    for model in range(4):
        shift = rng.normal(0, 1.0)  # a trained model moves both arms alike: pairing removes it
        for seed in range(3):
            for arm, effect in (("a", 0.3), ("b", 0.0)):
                lines.append(
                    {"pm_seed": model, "rm_seed": model, "seed": seed, "arm": arm, "gain": shift + effect}
                )
    rows = pd.DataFrame(lines).sample(frac=1.0, random_state=1)  # order must not matter
    diff = paired_difference(rows, "arm", "a", "b", "gain")
    assert len(diff) == 12 and np.allclose(diff["gain"], 0.3)
    line = pooled(diff, "gain").iloc[0]
    assert line["models"] == 4 and line["seeds"] == 12 and line["interval"] == "trained models"
    assert line["gain"] == pytest.approx(0.3)


def test_a_difference_leaves_out_replicates_that_ran_one_arm_only():
    rows = pd.DataFrame(
        [
            {"pm_seed": 0, "rm_seed": 0, "seed": 0, "arm": "a", "gain": 1.0},
            {"pm_seed": 0, "rm_seed": 0, "seed": 0, "arm": "b", "gain": 0.5},
            {"pm_seed": 1, "rm_seed": 1, "seed": 0, "arm": "a", "gain": 9.0},
        ]
    )
    assert paired_difference(rows, "arm", "a", "b", "gain")["gain"].tolist() == [0.5]
    assert paired_difference(rows, "arm", "a", "c", "gain").empty


def test_the_ledger_lists_every_claim_at_the_default_scale_and_says_which_have_no_runs(tmp_path):
    declared = [claim("above"), dataclasses.replace(claim("flat"), key="k2", statement="another")]
    smoke = dataclasses.replace(reading("above", 0.2, 0.1, 0.3), scale="smoke")
    tables = ledger_table([smoke], declared)
    assert list(tables) == ["default", "smoke"]
    assert tables["default"]["verdict"].tolist() == ["no runs", "no runs"]
    assert tables["smoke"]["verdict"].tolist() == ["reproduced", "no runs"]
    # a reading of one run has a point but no interval: the ledger and its figure still say so
    lone = dataclasses.replace(smoke, claim=declared[1], lo=np.nan, hi=np.nan, models=2, runs=1)
    assert (
        ledger_table([smoke, lone], declared)["smoke"]["verdict"].tolist()[1] == "inconclusive (no interval)"
    )
    text = write_ledger(tmp_path, [smoke, lone], declared).read_text()
    assert "Verdict rule" in text and "## scale=smoke" in text and "+0.200 [+0.100, +0.300]" in text
    # each scale's table links its figure, which is there
    for scale in ("default", "smoke"):
        assert f"](claims/claims_{scale}.png)" in text
        assert (tmp_path / "figures" / "claims" / f"claims_{scale}.png").stat().st_size > 0


def finished_job(root, experiment: str, row_type: type, overrides: list[str], **values):
    """A finished job of `experiment` at scale=smoke, composed from `overrides` as the command line would,
    whose one row holds `values` (zeros elsewhere)."""
    overrides = [f"+experiment={experiment}", "scale=smoke", *overrides]
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    job = root / experiment / ",".join(overrides[2:])
    (job / ".hydra").mkdir(parents=True)
    OmegaConf.save(cfg, job / ".hydra" / "config.yaml")
    OmegaConf.save(OmegaConf.create(overrides), job / ".hydra" / "overrides.yaml")
    fields = {f.name: 0.0 for f in dataclasses.fields(row_type)}
    fields |= {"experiment": experiment, "scale": "smoke", "pm": cfg.pm.name, "rm": cfg.rm.name}
    fields |= {"pm_seed": cfg.pm.sft.seed, "rm_seed": cfg.rm.train.seed, "seed": 0, "run_dir": str(job)}
    write_results([row_type(**(fields | values))], job)
    return job


def saturation_job(root, pm: str, rm: str, train_seed: int, gain: float):
    """A finished saturation job of the size grid whose row holds `gain`."""
    finished_job(
        root,
        "saturation",
        SaturationRow,
        [f"pm={pm}", f"rm={rm}", f"train_seed={train_seed}"],
        grid="size",
        algorithm="ppo",
        reward_source="rm",
        gain=gain,
        gain_lo=gain - 0.1,
        gain_hi=gain + 0.1,
    )


def test_saturation_reads_the_top_pm_against_the_next_with_the_top_rm_over_trained_models(tmp_path):
    # gains by (PM, RM): the top PM l gains 0.2 less than m with RM l, whatever the training seed's shift
    for train_seed, shift in enumerate((0.0, 0.5, -0.3)):
        for (pm, rm), gain in {("m", "m"): 0.4, ("m", "l"): 0.6, ("l", "m"): 0.1, ("l", "l"): 0.4}.items():
            saturation_job(tmp_path, pm, rm, train_seed, gain + shift)
    declared, readings = experiments.get("saturation").claims(tmp_path)
    by_key = {r.claim.key: r for r in readings}
    assert [c.key for c in declared] == ["saturation_pm", "saturation_rm"]
    pm_axis, rm_axis = by_key["saturation_pm"], by_key["saturation_rm"]
    assert pm_axis.value == pytest.approx(0.4 - 0.6) and pm_axis.models == 3 and pm_axis.scale == "smoke"
    assert rm_axis.value == pytest.approx(0.4 - 0.1)  # PM l: RM l against RM m
    assert pm_axis.verdict() == "reproduced" and rm_axis.verdict() == "not reproduced"


def test_seam_reads_the_primary_score_of_plain_runs_over_trained_models_never_a_variant(tmp_path):
    primary = {"policy": "sft", "variant": "contrast", "formula": "paper_prob", "ablation": "seam"}
    for train_seed, rho in enumerate((0.2, 0.4, 0.3)):
        finished_job(tmp_path, "seam", SeamRow, [f"train_seed={train_seed}"], **primary, spearman=rho)
    # the same cell with another ground-truth sample size, and another score of the plain runs' cell
    for train_seed in range(3):
        overrides = [f"train_seed={train_seed}", "seam.ground_truth.n_samples=8"]
        finished_job(tmp_path, "seam", SeamRow, overrides, **primary, spearman=-0.9)
    other = primary | {"formula": "normalized"}
    finished_job(tmp_path, "seam", SeamRow, ["train_seed=0", "seed=1"], **other, spearman=-0.9)
    _, readings = experiments.get("seam").claims(tmp_path)
    (read,) = readings
    assert read.value == pytest.approx(0.3) and read.models == 3 and read.runs == 3


def augmentation_job(root, arm: str, train_seed: int, gold: float):
    """A finished augmentation job whose final policy's two eval samples both have gold `gold`."""
    kind, _, side = arm.partition(":")
    job = finished_job(
        root,
        "augmentation",
        AugmentationRow,
        [f"augmentation.arm={arm}", f"train_seed={train_seed}"],
        grid="size",
        algorithm="ppo",
        reward_source="rm",
        arm=arm,
        kind=kind,
        side=side or "none",
        method="seam:contrast:paper_prob",
    )
    samples = pd.DataFrame({"policy": "final", "prompt_id": [0, 1], "sample": [0, 0], "gold": [gold, gold]})
    samples.to_parquet(job / EVAL_SAMPLES_FILE)


def test_augmentation_reads_seam_against_original_random_and_full_with_each_compute_controls_note(tmp_path):
    # per training: original 1.0 + shift, longer training alone +0.3, SEAM's rows +0.1 more, random's +0.0;
    # full's longer training alone +0.6 and its rows +0.2 more
    arms = {
        "original": 1.0,
        "longer:both": 1.3,
        "seam:both": 1.4,
        "random:both": 1.3,
        "longer_full:both": 1.6,
        "full:both": 1.8,
    }
    for train_seed, shift in enumerate((0.0, 0.4, -0.2)):
        for arm, gold in arms.items():
            augmentation_job(tmp_path, arm, train_seed, gold + shift)
    declared, readings = experiments.get("augmentation").claims(tmp_path)
    by_key = {r.claim.key: r for r in readings}
    over_original, over_random, against_full = (by_key[claim.key] for claim in declared)
    assert over_original.value == pytest.approx(0.4) and over_original.models == 3
    assert over_random.value == pytest.approx(0.1)
    assert against_full.value == pytest.approx(-0.4) and against_full.verdict() == "not reproduced"
    assert "seam:both over longer:both, its compute control: +0.100 [+0.100, +0.100]" in over_original.detail
    assert (
        "full:both over longer_full:both, its compute control: +0.200 [+0.200, +0.200]" in against_full.detail
    )
    assert "compute control" not in over_random.detail

    # without the control's runs the reading says nothing of it
    for job in (tmp_path / "augmentation").glob("*longer*"):
        shutil.rmtree(job)
    _, readings = experiments.get("augmentation").claims(tmp_path)
    assert all("compute control" not in r.detail for r in readings)
