"""Online SEAM along TRL's RLOOTrainer (the bench extra: `pip install -e ".[bench]"`; skipped without TRL)."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from omegaconf import open_dict

from seam_exp.models.train import load_reward, sft_policy, trained_reward
from seam_exp.online.meter import ONLINE_FILE, online_seam_meter
from seam_exp.online.trainer_callback import OnlineSeamTrainerCallback
from seam_exp.utils.cache import ArtifactCache
from tests.unit.test_rl_run import _cfg

pytestmark = pytest.mark.slow


def test_online_seam_along_trl_rloo_leaves_the_run_as_it_was(tiny_world, tmp_path):
    pytest.importorskip("trl")
    from seam_exp.bench.rl import trl_rloo_trainer

    cfg = _cfg(tmp_path)
    with open_dict(cfg):
        cfg.online.update(prompts=5, samples_per_prompt=3, variant="adv")
        cfg.seam.k = 3
        cfg.rl.steps = 2  # two rollouts of 4 prompts x 4 answers, each two optimizer steps of 8
        cfg.rl.rollout.update(prompts_per_step=4, samples_per_prompt=4)
        cfg.rl.ppo.minibatch_size = 8
    cache = ArtifactCache(tmp_path)
    pm_dir, _ = sft_policy(cfg, tiny_world, cache)
    rm_dir, _ = trained_reward(cfg, tiny_world, cache)

    plain = trl_rloo_trainer(cfg, tiny_world, pm_dir, rm_dir, tmp_path / "plain")
    plain.train()
    meter = online_seam_meter(cfg, tiny_world, cache, tiny_world.data["rl"])
    tracking = OnlineSeamTrainerCallback(meter, load_reward(rm_dir)[0], every=1)
    tracked = trl_rloo_trainer(cfg, tiny_world, pm_dir, rm_dir, tmp_path / "tracked", [tracking])
    tracked.train()

    for (name, a), b in zip(
        plain.model.state_dict().items(), tracked.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    rows = pd.read_csv(tmp_path / "tracked" / ONLINE_FILE)
    steps = tracked.state.global_step
    assert steps > 1 and rows["step"].tolist() == list(range(steps + 1))
    assert rows["exact_mismatch"].between(0, 1).all() and rows["fixed_seam"].notna().all()
    assert rows["fixed_seam"].iloc[-1] != pytest.approx(rows["fixed_seam"].iloc[0], rel=1e-6)
