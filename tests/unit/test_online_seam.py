"""Online SEAM: scored along an RL run under the current policy, without changing the run it watches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import open_dict

from seam_exp.models.train import load_policy, load_reward, sft_policy, trained_reward
from seam_exp.online.meter import (
    ONLINE_FILE,
    online_seam_meter,
    own_contrast_candidates,
    tracked_neighbours,
)
from seam_exp.online.tracking import online_seam_callbacks
from seam_exp.online.trainer_callback import OnlineSeamTrainerCallback
from seam_exp.rl.run import rl_finetune
from seam_exp.seam.formula import formula_scores
from seam_exp.seam.scoring import pm_scores, rm_scores
from seam_exp.utils.cache import ArtifactCache
from seam_exp.utils.checks import BadValue
from seam_exp.utils.config import to_container
from tests.unit.test_rl_run import _cfg


def test_online_seam_scores_the_current_policy_and_leaves_the_run_as_it_was(tiny_world, tmp_path):
    cfg = _cfg(tmp_path)
    with open_dict(cfg):
        cfg.online.update(every=2, prompts=5, samples_per_prompt=3, variant="adv")
        cfg.seam.k = 3
    cache = ArtifactCache(tmp_path)
    pm_dir, _ = sft_policy(cfg, tiny_world, cache)
    rm_dir, _ = trained_reward(cfg, tiny_world, cache)
    plain = rl_finetune(cfg, tiny_world, pm_dir, rm_dir, tmp_path / "plain")
    out = tmp_path / "tracked"
    (tracking,) = online_seam_callbacks(cfg, tiny_world, cache, tiny_world.data["rl"], out)
    tracked = rl_finetune(cfg, tiny_world, pm_dir, rm_dir, out, callbacks=[tracking])

    # its sampling draws from a private RNG stream: the run's own evaluations are exactly those without it
    pd.testing.assert_frame_equal(pd.DataFrame(tracked.history), pd.DataFrame(plain.history))
    rows = pd.read_csv(out / ONLINE_FILE)
    assert rows["step"].tolist() == [0, 2, 3]  # start, every 2 steps, the end
    assert rows["exact_mismatch"].between(0, 1).all() and (rows["seconds"] > 0).all()
    assert (rows["exact_mismatch_lo"] <= rows["exact_mismatch"]).all()
    assert (rows["exact_mismatch"] <= rows["exact_mismatch_hi"]).all()
    assert rows["own_worse_gold_ge_answer"].between(0, 1).all() and (rows["own_wordless_answers"] >= 0).all()

    # at step 0 the policy is the SFT policy: the `fixed` score is the offline SEAM of those candidates
    policy, tokenizer = load_policy(pm_dir)
    reward_model, _ = load_reward(rm_dir)
    cands = tracking.meter.fixed
    scored = cands.merge(
        pm_scores(cands, tiny_world, policy, tokenizer, "world"), on=["prompt_id", "candidate_index"]
    )
    scored["reward"] = rm_scores(cands, tiny_world, reward_model, tokenizer)
    offline = formula_scores(scored, to_container(cfg.seam), [cfg.seam.formula])
    assert rows["fixed_seam"].iloc[0] == pytest.approx(offline[cfg.seam.formula].mean(), rel=1e-9)
    # and the policy moved: its log-probs, hence the score, are not the start's at the end
    assert rows["fixed_seam"].iloc[-1] != pytest.approx(rows["fixed_seam"].iloc[0], rel=1e-9)

    # a refresh moves the RM during a run: the fixed candidates are rewarded by the RM of the moment
    with torch.no_grad():
        reward_model.score.weight.neg_()
    scored["reward"] = rm_scores(cands, tiny_world, reward_model, tokenizer)
    moved = formula_scores(scored, to_container(cfg.seam), [cfg.seam.formula])
    row = tracking.meter.measure(policy, reward_model, step=9)
    assert row["fixed_seam"] == pytest.approx(moved[cfg.seam.formula].mean(), rel=1e-9)
    assert row["fixed_seam"] != pytest.approx(rows["fixed_seam"].iloc[0], rel=1e-6)

    # with neighbours among the tracked questions, the row also scores the policy's answers to them as the
    # worse answers (own_contrast), judged by gold like the others
    ids = tracking.meter.rows["prompt_id"]
    vectors = np.random.default_rng(0).normal(size=(len(ids), 4))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    tracking.meter.neighbours = tracked_neighbours(ids, vectors, max_similarity=0.95)
    row = tracking.meter.measure(policy, reward_model, step=10)
    assert 0 <= row["own_contrast_worse_gold_ge_answer"] <= 1 and "own_contrast_spearman" in row


def test_neighbours_are_the_most_similar_other_questions_without_near_duplicates():
    vectors = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [1.0, 0.0]])  # prompt 13 duplicates 10
    neighbours = tracked_neighbours([10, 11, 12, 13], vectors, max_similarity=0.95)
    assert neighbours[10] == [11, 12] and neighbours[12] == [11, 10, 13] and neighbours[11] == [10, 13, 12]


def test_own_contrast_takes_the_answers_to_the_neighbours_never_the_prompts_own_nor_twice():
    answers = {
        1: "The answer is 4.",
        2: "The answer is 5.",
        3: "The answer is 4.",
        4: "",
        5: "The answer is 5.",
    }
    neighbours = {1: [3, 2, 5, 4], 2: [5, 1], 4: [1, 2]}
    frame = own_contrast_candidates(answers, neighbours, k=2)
    texts = frame.groupby("prompt_id")["text"].apply(list).to_dict()
    # prompt 1: 3 answers what 1 answers, 5 repeats 2's answer; 2: its neighbour 5 too; 4 has no words
    assert texts == {1: ["The answer is 4.", "The answer is 5."], 2: ["The answer is 5.", "The answer is 4."]}
    assert frame.groupby("prompt_id")["is_reference"].first().all()


def test_a_bad_online_setting_is_refused(tmp_path):
    from seam_exp.online.config import OnlineSeamConfig

    with pytest.raises(BadValue, match="online.variant"):
        OnlineSeamConfig(every=4, variant="nope")
    with pytest.raises(BadValue, match="online.samples_per_prompt"):
        OnlineSeamConfig(every=4, samples_per_prompt=1)


def _sft_with_transformers(pm_dir, rows, out, callbacks):
    """A few steps of plain transformers.Trainer SFT from the policy in pm_dir: a trainer that is not ours."""
    from datasets import Dataset
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments

    policy, tokenizer = load_policy(pm_dir)
    texts = [r["prompt"] + r["response"] for r in rows.select(range(24))]
    data = Dataset.from_dict(dict(tokenizer(texts)))
    args = TrainingArguments(
        output_dir=str(out),
        max_steps=3,
        per_device_train_batch_size=8,
        learning_rate=1e-2,
        use_cpu=True,
        report_to="none",
        save_strategy="no",
        disable_tqdm=True,
        seed=0,
    )
    collator = DataCollatorForLanguageModeling(tokenizer, mlm=False)
    trainer = Trainer(
        model=policy.train(),
        args=args,
        train_dataset=data,
        data_collator=collator,
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    trainer.train()
    return policy


def test_online_seam_rides_a_transformers_trainer_and_leaves_its_training_as_it_was(tiny_world, tmp_path):
    cfg = _cfg(tmp_path)
    with open_dict(cfg):
        cfg.online.update(prompts=5, samples_per_prompt=3, variant="adv")
        cfg.seam.k = 3
    cache = ArtifactCache(tmp_path)
    pm_dir, _ = sft_policy(cfg, tiny_world, cache)
    rm_dir, _ = trained_reward(cfg, tiny_world, cache)
    reward_model, _ = load_reward(rm_dir)
    sft_rows = tiny_world.data["sft"]

    plain = _sft_with_transformers(pm_dir, sft_rows, tmp_path / "plain", [])
    meter = online_seam_meter(cfg, tiny_world, cache, tiny_world.data["rl"])
    tracking = OnlineSeamTrainerCallback(meter, reward_model, every=2)
    tracked = _sft_with_transformers(pm_dir, sft_rows, tmp_path / "tracked", [tracking])

    # measuring draws from private RNG streams and restores the model's mode: the training is unchanged
    for (name, a), b in zip(plain.state_dict().items(), tracked.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    rows = pd.read_csv(tmp_path / "tracked" / ONLINE_FILE)
    assert rows["step"].tolist() == [0, 2, 3]  # before the first step, every 2 optimizer steps, the end
    # the first row is the policy before any step, the last the trained one the Trainer hands back
    start, _ = load_policy(pm_dir)
    first = meter.measure(start, reward_model, 0)
    last = meter.measure(tracked, reward_model, 3)
    measured = [c for c in rows.columns if c != "seconds"]
    assert pd.Series(first)[measured].astype(float).tolist() == pytest.approx(rows.iloc[0][measured].tolist())
    assert pd.Series(last)[measured].astype(float).tolist() == pytest.approx(rows.iloc[-1][measured].tolist())
    assert rows["fixed_seam"].iloc[-1] != pytest.approx(rows["fixed_seam"].iloc[0], rel=1e-6)


def test_online_seam_callback_refuses_a_negative_interval():
    with pytest.raises(ValueError, match="every must be >= 0"):
        OnlineSeamTrainerCallback(None, None, every=-1)
