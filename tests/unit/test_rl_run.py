"""One RL run on a chosen prompt subset: it trains on those prompts only and leaves its eval samples."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir

from seam_exp.errors import UserError
from seam_exp.models.train import sft_policy, trained_reward
from seam_exp.rl.module import RLHFModule
from seam_exp.rl.run import rl_finetune
from seam_exp.utils.cache import ArtifactCache
from seam_exp.utils.config import CONF_DIR
from seam_exp.utils.runtime import EVAL_SAMPLES_FILE, HISTORY_FILE


def _cfg(tmp_path, experiment: str = "saturation"):
    overrides = [
        f"+experiment={experiment}",
        "scale=smoke",
        "pm=xs",
        "rm=xs",
        f"paths.cache_dir={tmp_path}",
        "trainer.enable_progress_bar=false",
        "pm.sft.max_steps=5",
        "rm.train.max_steps=5",
        "rl.steps=3",
        "rl.eval.every=1",
        "rl.eval.prompts=6",
        "rl.eval.val_prompts=4",
    ]
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=overrides)


def test_rl_on_a_filtered_set_sees_no_dropped_prompt(tiny_world, tmp_path, monkeypatch):
    cfg = _cfg(tmp_path)
    cache = ArtifactCache(tmp_path)
    pm_dir, _ = sft_policy(cfg, tiny_world, cache)
    rm_dir, _ = trained_reward(cfg, tiny_world, cache)
    rl_rows = tiny_world.data["rl"]
    kept = rl_rows.select(range(0, len(rl_rows), 3))  # a third of the RL prompts
    seen = []
    gold = tiny_world.gold

    def recording_gold(ids, texts):
        seen.extend(int(i) for i in ids)
        return gold(ids, texts)

    monkeypatch.setattr(tiny_world, "gold", recording_gold)
    run = rl_finetune(cfg, tiny_world, pm_dir, rm_dir, tmp_path / "run", prompts=kept)
    eval_ids = set(tiny_world.data["eval"]["prompt_id"])
    val_ids = set(tiny_world.data["rm_test"]["prompt_id"])
    trained_on = {i for i in seen if i not in eval_ids | val_ids}  # gold also judges eval and validation
    assert trained_on and trained_on <= set(kept["prompt_id"])
    assert not trained_on & (set(rl_rows["prompt_id"]) - set(kept["prompt_id"]))

    # history has every evaluation, with validation gold and KL; the eval samples of start and end
    history = pd.read_csv(tmp_path / "run" / HISTORY_FILE)
    assert list(history["step"]) == [0, 1, 2, 3] and history["val_gold"].notna().all()
    assert history["gold"].tolist() == pytest.approx([h["gold"] for h in run.history])
    samples = pd.read_parquet(tmp_path / "run" / EVAL_SAMPLES_FILE)
    final = samples[samples["policy"] == "final"]
    assert len(final) == 6 * cfg.rl.eval.samples_per_prompt and set(final["prompt_id"]) <= eval_ids
    assert final["gold"].mean() == pytest.approx(run.history[-1]["gold"])

    with pytest.raises(UserError, match="RL prompt set is empty"):
        rl_finetune(cfg, tiny_world, pm_dir, rm_dir, tmp_path / "none", prompts=rl_rows.select([]))


class Stopped(RuntimeError):
    """Stands in for a kill: the run stops right after a step, its checkpoint from an earlier step."""


def stopping_after(step: int) -> type:
    """An RLCheckpoint (patched in as rl.run's) that writes its checkpoints, then stops the run after `step`."""
    from seam_exp.rl import run as rl_run

    class StopAfter(rl_run.RLCheckpoint):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
            if batch_idx + 1 == step:
                raise Stopped

    return StopAfter


def resumed_after_a_stop(run, cfg, folder, monkeypatch, step: int = 3):
    """`run(folder)` stopped after `step` RL steps (its checkpoint from the step before), then run again
    with resume=true: what the resumed run returns. Undoes the test's monkeypatches before resuming."""
    from omegaconf import open_dict

    from seam_exp.rl import run as rl_run

    monkeypatch.setattr(rl_run, "RLCheckpoint", stopping_after(step))
    with pytest.raises(Stopped):
        run(folder)
    monkeypatch.undo()
    with open_dict(cfg):
        cfg.resume = True
    return run(folder)


def test_a_stopped_run_resumes_to_the_numbers_of_an_uninterrupted_one(tiny_world, tmp_path, monkeypatch):
    from omegaconf import open_dict

    from seam_exp.rl import run as rl_run
    from seam_exp.utils.runtime import RL_CHECKPOINT

    cfg = _cfg(tmp_path)
    with open_dict(cfg):
        cfg.rl.steps, cfg.rl.checkpoint_every, cfg.rl.eval.every = 5, 2, 2
    cache = ArtifactCache(tmp_path)
    pm_dir, _ = sft_policy(cfg, tiny_world, cache)
    rm_dir, _ = trained_reward(cfg, tiny_world, cache)
    whole = rl_finetune(cfg, tiny_world, pm_dir, rm_dir, tmp_path / "whole")
    assert not (tmp_path / "whole" / RL_CHECKPOINT).parent.exists()  # removed once the run finished

    monkeypatch.setattr(rl_run, "RLCheckpoint", stopping_after(3))
    with pytest.raises(Stopped):
        rl_finetune(cfg, tiny_world, pm_dir, rm_dir, tmp_path / "stopped")
    assert (tmp_path / "stopped" / RL_CHECKPOINT).is_file()  # written after step 2
    monkeypatch.undo()

    with open_dict(cfg):
        cfg.resume = True
    rollouts = []
    make_experience = RLHFModule.make_experience
    monkeypatch.setattr(
        RLHFModule, "make_experience", lambda m, rows: rollouts.append(1) or make_experience(m, rows)
    )
    resumed = rl_finetune(cfg, tiny_world, pm_dir, rm_dir, tmp_path / "stopped")
    assert len(rollouts) == 3  # steps 3, 4 and 5: the two before the checkpoint are not redone
    assert [h["step"] for h in resumed.history] == [0, 2, 4, 5]
    assert pd.DataFrame(resumed.history).equals(pd.DataFrame(whole.history))
    for name, weight in whole.module.policy.state_dict().items():
        assert torch.equal(weight, resumed.module.policy.state_dict()[name]), name
    assert resumed.module.kl_ctl.value == whole.module.kl_ctl.value


@pytest.fixture(scope="module")
def held_out_world(tmp_path_factory):
    """Enough RM-test prompts per family (60 in all) for validation draws of 18."""
    from seam_exp.world.build import load_world
    from tests.conftest import tiny_world_config

    return load_world(tiny_world_config(prompts_per_family=200), ArtifactCache(tmp_path_factory.mktemp("w")))


@pytest.mark.parametrize("n", [6, 12, 18])
def test_validation_prompts_have_the_eval_prompts_family_mix(held_out_world, n):
    """The KL-budget reading chooses checkpoints on these prompts: a family mix unlike eval's (the split
    stored in family order once gave all-arithmetic validation prompts) would choose on other tasks."""
    from seam_exp.rl.run import validation_prompts

    tiny_world = held_out_world
    eval_rows = tiny_world.data["eval"].select(range(60))
    drawn = validation_prompts(tiny_world, n, eval_rows, seed=0)
    ids = drawn["prompt_id"]
    assert len(ids) == len(set(ids)) == n
    held_out = set(tiny_world.data["rm_test"]["prompt_id"])
    assert set(ids) <= held_out  # never an RL or eval prompt
    family = {pid: tiny_world.problems[pid].family for pid in ids}
    val_share = pd.Series(list(family.values())).value_counts(normalize=True)
    eval_share = pd.Series(eval_rows["family"]).value_counts(normalize=True)
    gap = val_share.reindex(eval_share.index, fill_value=0.0).sub(eval_share).abs()
    assert gap.max() <= 1.0 / n + 1e-9, gap  # equal up to rounding one prompt
    assert set(val_share.index) <= set(eval_share.index)
    assert validation_prompts(tiny_world, n, eval_rows, seed=0) == drawn  # seeded
    assert validation_prompts(tiny_world, n, eval_rows, seed=1)["prompt_id"] != ids


def test_the_sft_starts_eval_samples_are_drawn_once_for_every_run_from_it(tiny_world, tmp_path, monkeypatch):
    from seam_exp.rl import evaluation

    cfg = _cfg(tmp_path)
    cache = ArtifactCache(tmp_path)
    pm_dir, _ = sft_policy(cfg, tiny_world, cache)
    rm_dir, _ = trained_reward(cfg, tiny_world, cache)
    drawn = []
    sample_rollout = evaluation.sample_rollout
    monkeypatch.setattr(
        evaluation, "sample_rollout", lambda *a, **k: drawn.append(1) or sample_rollout(*a, **k)
    )

    first = rl_finetune(cfg, tiny_world, pm_dir, rm_dir, tmp_path / "first")
    evaluations = len(first.history)  # at steps 0, 1, 2, 3; each on the eval and the validation prompts
    assert len(drawn) == 2 * evaluations
    drawn.clear()
    second = rl_finetune(cfg, tiny_world, pm_dir, rm_dir, tmp_path / "second")
    assert len(drawn) == 2 * (evaluations - 1)  # the start's samples came from the cache
    assert pd.DataFrame(second.history).equals(pd.DataFrame(first.history))
    start = pd.read_parquet(tmp_path / "second" / EVAL_SAMPLES_FILE).query("policy == 'start'")
    assert start.equals(pd.read_parquet(tmp_path / "first" / EVAL_SAMPLES_FILE).query("policy == 'start'"))
    assert len(list((tmp_path / "eval_start_samples").iterdir())) >= 2  # eval and validation prompts


def test_extra_early_evaluations_add_history_rows_and_leave_the_run_as_it_was(tiny_world, tmp_path):
    cfg = _cfg(tmp_path)
    cfg.rl.steps, cfg.rl.eval.every = 4, 2
    cache = ArtifactCache(tmp_path)
    pm_dir, _ = sft_policy(cfg, tiny_world, cache)
    rm_dir, _ = trained_reward(cfg, tiny_world, cache)
    plain = pd.DataFrame(rl_finetune(cfg, tiny_world, pm_dir, rm_dir, tmp_path / "plain").history)
    cfg.rl.eval.at = [1, 3]
    dense = pd.DataFrame(rl_finetune(cfg, tiny_world, pm_dir, rm_dir, tmp_path / "dense").history)
    assert plain["step"].tolist() == [0, 2, 4] and dense["step"].tolist() == [0, 1, 2, 3, 4]
    # evaluating draws from its own random stream: the policy at steps 2 and 4 is the same either way
    assert dense.set_index("step").loc[[0, 2, 4]].reset_index().equals(plain)
