"""The SEAM-guided RM refresh: labels of the policy's own answers bought along the run, the RM trained on them,
RL going on against the refreshed RM; the cached RM untouched, and a stopped run resuming to the same run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import open_dict

from seam_exp.models.scoring import score_texts
from seam_exp.models.train import load_policy, load_reward, reward_pairs, sft_policy, trained_reward
from seam_exp.online import refresh as refresh_module
from seam_exp.online.config import RefreshConfig
from seam_exp.online.meter import seam_under
from seam_exp.online.refresh import REFRESH_FILE, reward_refresh_callbacks
from seam_exp.rl.evaluation import GoldEvaluator
from seam_exp.rl.run import rl_finetune
from seam_exp.seam.formula import unseamlessness
from seam_exp.utils.cache import ArtifactCache
from seam_exp.utils.checks import BadValue
from tests.unit.test_rl_run import _cfg, resumed_after_a_stop


def _setup(tiny_world, tmp_path, chooser="seam"):
    cfg = _cfg(tmp_path)
    with open_dict(cfg):
        cfg.rl.update(steps=5, checkpoint_every=2)
        cfg.rl.eval.every = 0
        cfg.online.variant = "adv"
        cfg.online.refresh.update(every=2, chooser=chooser, prompts=8, rm_steps=4, batch_size=8)
        cfg.seam.k = 3
    cache = ArtifactCache(tmp_path)
    return cfg, cache, sft_policy(cfg, tiny_world, cache)[0], trained_reward(cfg, tiny_world, cache)[0]


def test_the_rm_is_refreshed_on_bought_labels_the_cache_is_not_and_a_stop_resumes_the_same(
    tiny_world, tmp_path, monkeypatch
):
    cfg, cache, pm_dir, rm_dir = _setup(tiny_world, tmp_path)
    pool = tiny_world.data["rl"]

    def run(out):
        out.mkdir(exist_ok=True)
        callbacks = reward_refresh_callbacks(cfg, tiny_world, cache, pool, out)
        return rl_finetune(cfg, tiny_world, pm_dir, rm_dir, out, callbacks=callbacks)

    whole = run(tmp_path / "whole")
    rows = pd.read_csv(tmp_path / "whole" / REFRESH_FILE)
    assert rows["step"].tolist() == [2, 4]  # every 2 steps, never after the last
    assert (rows["labels"] <= 8).all() and rows["labels_total"].tolist() == rows["labels"].cumsum().tolist()
    assert (rows["labels"] > 0).all() and rows["rm_acc_after"].between(0, 1).all()
    # RL went on against the refreshed RM; the RM in the cache, an input of every other run, is as it was
    original, _ = load_reward(rm_dir)
    assert any(
        not torch.equal(a, b)
        for a, b in zip(original.parameters(), whole.module.rm.parameters(), strict=True)
    )
    again, _ = load_reward(rm_dir)
    assert all(torch.equal(a, b) for a, b in zip(original.parameters(), again.parameters(), strict=True))

    resumed = resumed_after_a_stop(
        run, cfg, tmp_path / "stopped", monkeypatch
    )  # from the checkpoint after step 2: the first refresh's RM
    for part in ("policy", "rm"):
        for name, weight in getattr(whole.module, part).state_dict().items():
            assert torch.equal(weight, getattr(resumed.module, part).state_dict()[name]), (part, name)
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "stopped" / REFRESH_FILE).drop(columns="seconds"), rows.drop(columns="seconds")
    )


def test_the_seam_chooser_buys_labels_on_the_least_seamless_prompts_and_random_on_a_seeded_draw(
    tiny_world, tmp_path
):
    cfg, cache, pm_dir, rm_dir = _setup(tiny_world, tmp_path)
    pool = tiny_world.data["rl"]
    (refresh,) = reward_refresh_callbacks(cfg, tiny_world, cache, pool, tmp_path)
    policy, tokenizer = load_policy(pm_dir)
    reward_model, _ = load_reward(rm_dir)
    refresh.tokenizer = tokenizer
    refresh.candidate_prompts = [refresh.prompt_text[int(p)] for p in refresh.candidates["prompt_id"]]

    chosen = refresh.choose(policy, reward_model, step=2)
    texts = refresh.candidates["text"].tolist()
    scored = refresh.candidates.assign(
        reward=score_texts(reward_model, tokenizer, refresh.candidate_prompts, texts)
    )
    formula = cfg.seam.formula
    per_prompt = seam_under(policy, tokenizer, refresh.candidate_prompts, scored, dict(refresh.seam), formula)
    badness = pd.Series(unseamlessness(per_prompt[formula], formula), index=per_prompt["prompt_id"])
    assert len(chosen) == 8 and badness.loc[chosen].min() >= badness.drop(index=chosen).max()

    with open_dict(cfg):
        cfg.online.refresh.chooser = "random"
    (control,) = reward_refresh_callbacks(cfg, tiny_world, cache, pool, tmp_path)
    drawn = control.choose(policy, reward_model, step=2)
    assert len(drawn) == 8 and drawn == control.choose(policy, reward_model, step=2)
    assert drawn != control.choose(policy, reward_model, step=4)  # a new draw at each refresh
    assert set(drawn) <= set(np.asarray(pool["prompt_id"]).tolist())

    with open_dict(cfg):
        cfg.online.refresh.update(chooser="oracle", oracle_samples=3)
    (oracle,) = reward_refresh_callbacks(cfg, tiny_world, cache, pool, tmp_path)
    oracle.tokenizer = tokenizer
    picked = oracle.choose(policy, reward_model, step=2)
    mismatch = oracle.exact_mismatch(policy, reward_model, step=2).fillna(-1.0)  # the same draw: same seed
    assert len(picked) == 8 and mismatch.loc[picked].min() >= mismatch.drop(index=picked).max()


@pytest.mark.parametrize("replay", [0.0, 0.5])
def test_replay_mixes_the_rms_own_pairs_into_each_refresh_minibatch(
    tiny_world, tmp_path, monkeypatch, replay
):
    cfg, cache, pm_dir, rm_dir = _setup(tiny_world, tmp_path, chooser="random")
    with open_dict(cfg):
        cfg.online.refresh.replay = replay  # batch_size 8: 4 of the RM's own pairs and 4 new ones at 0.5
    (refresh,) = reward_refresh_callbacks(cfg, tiny_world, cache, tiny_world.data["rl"], tmp_path)
    refresh.tokenizer = load_policy(pm_dir)[1]
    new_pairs = [dict(r) for r in tiny_world.data["rm_test"].select(range(6))]  # none of them trained on
    batches = []

    class Recording(refresh_module.PairCollator):
        def __call__(self, rows):
            batches.append(rows)
            return super().__call__(rows)

    monkeypatch.setattr(refresh_module, "PairCollator", Recording)
    refresh.train_reward(load_reward(rm_dir)[0], new_pairs, step=2)

    def key(row):
        return row["prompt"], row["chosen"], row["rejected"]

    trained_on, new = {key(r) for r in reward_pairs(cfg, tiny_world)}, {key(r) for r in new_pairs}
    accuracy_batch, *steps = batches
    assert {key(r) for r in accuracy_batch} == new  # the accuracy before and after is on the new pairs only
    assert len(steps) == cfg.online.refresh.rm_steps
    old_rows = 4 if replay else 0
    for rows in steps:
        assert sum(key(r) in trained_on for r in rows) == old_rows
        assert sum(key(r) in new for r in rows) == min(8 - old_rows, len(new_pairs))


def test_hacking_reads_each_reference_scored_by_the_rm_of_the_moment(tiny_world, tmp_path):
    # A refresh changes the RM in place during the run: the share of samples the RM puts above their
    # prompt's reference must compare both under the RM as it is now, never a reference score from the start.
    cfg, _, pm_dir, rm_dir = _setup(tiny_world, tmp_path)
    policy, tokenizer = load_policy(pm_dir)
    reward_model, _ = load_reward(rm_dir)
    rows = tiny_world.data["eval"].select(range(6))
    evaluator = GoldEvaluator(tiny_world, rows, tokenizer, 3, 16, 1.0, seed=0)
    before, ref_before = (
        evaluator.sample(policy, policy, reward_model),
        evaluator.reference_scores(reward_model),
    )
    with torch.no_grad():
        reward_model.score.weight.neg_()  # the RM's order reversed, as a refresh may move it
    after = evaluator.sample(policy, policy, reward_model)
    np.testing.assert_allclose(evaluator.reference_scores(reward_model), -ref_before, rtol=1e-5, atol=1e-6)
    below = before.rm < ref_before[before.prompt_index]
    above_now = evaluator.metrics(after, before, reward_model)["rm_above_reference"]
    assert above_now == pytest.approx(below.mean())


def test_a_bad_refresh_setting_is_refused():
    with pytest.raises(BadValue, match="online.refresh.chooser"):
        RefreshConfig(every=4, chooser="human", lr=1e-4)
    with pytest.raises(BadValue, match="online.refresh.prompts"):
        RefreshConfig(every=4, prompts=0, lr=1e-4)
    with pytest.raises(BadValue, match="online.refresh.replay"):
        RefreshConfig(every=4, replay=1.0, lr=1e-4)
