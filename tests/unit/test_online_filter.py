"""The online SEAM filter: it re-drops the least seamless prompts under the current policy along the run, the
prompt schedule then draws only from what it keeps, and a stopped run resumes to the same run."""

from __future__ import annotations

from types import SimpleNamespace

import lightning.pytorch as pl
import pandas as pd
import pytest
import torch
from omegaconf import open_dict

from seam_exp.models.train import load_policy, load_reward, sft_policy, trained_reward
from seam_exp.online.filtering import ONLINE_DROPPED_FILE, online_filter_callbacks
from seam_exp.rl.run import rl_finetune
from seam_exp.selection.config import SelectionConfig
from seam_exp.selection.filters import drop_count, dropped_prompts, parse_method
from seam_exp.selection.prompt_scores import selection_table
from seam_exp.utils.cache import ArtifactCache
from seam_exp.utils.checks import BadValue
from tests.unit.test_rl_run import _cfg, resumed_after_a_stop

METHOD = parse_method("online:adv:normalized")


class Batches(pl.Callback):
    """The prompt ids of every RL step's batch."""

    def __init__(self):
        self.ids: list[list[int]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.ids.append([int(row["prompt_id"]) for row in batch])


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A cache holding the tiny SFT policy and RM every test here reads (trained once)."""
    return tmp_path_factory.mktemp("models")


def _setup(tiny_world, cache_dir):
    cfg = _cfg(cache_dir, "selection")
    with open_dict(cfg):
        cfg.rl.update(steps=5, checkpoint_every=2)
        cfg.rl.eval.every = 0
        cfg.online.refilter_every = 1
        cfg.seam.k = 3
        cfg.selection.rate = 0.5
    cache = ArtifactCache(cache_dir)
    return cfg, cache, sft_policy(cfg, tiny_world, cache)[0], trained_reward(cfg, tiny_world, cache)[0]


def test_refilterings_drop_the_rate_later_batches_draw_what_they_kept_and_a_stop_resumes_the_same(
    tiny_world, models, tmp_path, monkeypatch
):
    cfg, cache, pm_dir, rm_dir = _setup(tiny_world, models)
    pool = tiny_world.data["rl"]
    start_dropped = [int(p) for p in pool["prompt_id"]][::2]  # any start: what matters is what follows
    kept = pool.filter(lambda row: row["prompt_id"] not in set(start_dropped))

    def run(out):
        out.mkdir(exist_ok=True)
        (refilter,) = online_filter_callbacks(cfg, METHOD, tiny_world, cache, pool, start_dropped, out)
        batches = Batches()
        result = rl_finetune(
            cfg, tiny_world, pm_dir, rm_dir, out, prompts=kept, callbacks=[refilter, batches], pool=pool
        )
        return result, batches.ids

    whole, whole_batches = run(tmp_path / "whole")
    rows = pd.read_csv(tmp_path / "whole" / ONLINE_DROPPED_FILE)
    # the start, then after every step while a batch is left to govern (step 4's would govern none of 5)
    assert sorted(rows["step"].unique()) == [0, 1, 2, 3]
    counts = rows.groupby("step").size()
    assert (counts.loc[[1, 2, 3]] == drop_count(len(pool), 0.5)).all()
    assert rows.loc[rows["step"] > 0, "score"].notna().all()
    dropped = {s: set(g["prompt_id"]) for s, g in rows.groupby("step")}
    # the re-filtering after step s (1-based) governs the batches from step s + 2 on: Lightning has
    # fetched the batch of step s + 1 already
    governing = [0, 0, 1, 2, 3]
    assert len(whole_batches) == cfg.rl.steps
    for batch_idx, ids in enumerate(whole_batches):
        assert not set(ids) & dropped[governing[batch_idx]], batch_idx

    resumed, resumed_batches = resumed_after_a_stop(run, cfg, tmp_path / "stopped", monkeypatch)
    assert resumed_batches == whole_batches[2:]  # from the checkpoint after step 2, the same prompts
    for name, weight in whole.module.policy.state_dict().items():
        assert torch.equal(weight, resumed.module.policy.state_dict()[name]), name
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "stopped" / ONLINE_DROPPED_FILE), rows)


def test_under_the_sft_policy_the_online_filter_drops_what_the_static_filter_drops(
    tiny_world, models, tmp_path
):
    cfg, cache, pm_dir, rm_dir = _setup(tiny_world, models)
    with open_dict(cfg):
        cfg.selection.update(variants=["adv"], formulas=["normalized"])
    static = dropped_prompts(
        parse_method("seam:adv:normalized"), selection_table(cfg, tiny_world, cache), 0.5, cfg.seed
    )
    (refilter,) = online_filter_callbacks(cfg, METHOD, tiny_world, cache, tiny_world.data["rl"], [], tmp_path)
    policy, tokenizer = load_policy(pm_dir)
    refilter.setup(None, SimpleNamespace(rm=load_reward(rm_dir)[0], tokenizer=tokenizer), "fit")
    assert refilter.refilter(policy, 0).tolist() == static.tolist()


def test_an_online_method_is_named_parsed_and_never_the_primary():
    assert (
        METHOD.name == "online:adv:normalized" and METHOD.uses_rate and METHOD.column == "seam:adv:normalized"
    )
    with pytest.raises(BadValue, match="selection.primary"):
        SelectionConfig(primary="online:contrast:paper_prob", variants=["adv"], formulas=["normalized"])
    with pytest.raises(BadValue, match="unknown variant .nope. in .online:nope:paper."):
        SelectionConfig(method="online:nope:paper", variants=["adv"], formulas=["normalized"])
