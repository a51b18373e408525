"""The RLHF Lightning module on the tiny world: it raises the reward it is trained on, and a diverging
run stops with a clear message and the last good weights."""

from __future__ import annotations

import copy

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir
from transformers import LlamaForCausalLM, LlamaForSequenceClassification

from seam_exp.cli import CONF_DIR
from seam_exp.models.factory import llama_config
from seam_exp.models.train import load_policy, load_reward, sft_policy, trained_reward
from seam_exp.rl.config import rl_config
from seam_exp.rl.module import RLHFModule
from seam_exp.rl.resume import PromptSchedule
from seam_exp.rl.run import fit, rl_trainer
from seam_exp.rl.tensor_ops import NonFiniteLossError
from seam_exp.utils.cache import ArtifactCache

ARCH = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64}


def _run_config():
    """The real trainer (cpu) and logger (csv) configs, as rl_finetune gets them."""
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=["+experiment=world", "trainer.enable_progress_bar=false"])


def _rl(rl="ppo", **overrides):
    args = [
        "+experiment=world",
        "scale=smoke",
        f"rl={rl}",
        "rl.rollout.max_new_tokens=8",
        "rl.optim.lr=1e-3",  # tiny models and few steps: a larger step than the default
        *[f"{k}={v}" for k, v in overrides.items()],
    ]
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return rl_config(compose("config", overrides=args).rl)


def _models(tokenizer, seed=0):
    """A random policy (and its copy as reference) and a random RM: enough for the plumbing tests."""
    torch.manual_seed(seed)
    policy = LlamaForCausalLM(llama_config(ARCH, tokenizer))
    rm = LlamaForSequenceClassification(llama_config(ARCH, tokenizer, num_labels=1))
    return policy, copy.deepcopy(policy), rm.eval()


@pytest.fixture(scope="module")
def artifacts(tiny_world, tmp_path_factory):
    """A briefly trained xs SFT policy and xs RM on the tiny world, through the real cached path."""
    cache_dir = tmp_path_factory.mktemp("rl_cache")
    overrides = ["+experiment=world", "scale=smoke", "pm=xs", "rm=xs", f"paths.cache_dir={cache_dir}"]
    overrides += ["trainer.enable_progress_bar=false", "pm.sft.max_steps=60", "rm.train.max_steps=60"]
    # the last weights: the tiny world's validation splits (a few prompts) would keep a noisy early step
    overrides += ["pm.sft.val_every=null", "rm.train.val_every=null"]
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    cache = ArtifactCache(cache_dir)
    return sft_policy(cfg, tiny_world, cache)[0], trained_reward(cfg, tiny_world, cache)[0]


def _slope_t(values: np.ndarray) -> float:
    """t statistic of the least-squares slope of values against their index."""
    x = np.arange(len(values), dtype=float)
    slope, intercept = np.polyfit(x, values, 1)
    residuals = values - (slope * x + intercept)
    se = np.sqrt(residuals.var(ddof=2) / ((x - x.mean()) ** 2).sum())
    return slope / se


def _fit(module, world, steps, tmp_path, callbacks=()):
    torch.set_num_threads(1)
    rl = module.cfg
    trainer = rl_trainer(_run_config(), tmp_path, list(callbacks))
    fit(trainer, module, PromptSchedule(world.data["rl"], rl.rollout.prompts_per_step, steps, seed=0))
    log = pd.read_csv(tmp_path / "logs" / "rl" / "metrics.csv")
    return log.dropna(subset=["score/proxy"]).reset_index(drop=True)


@pytest.mark.parametrize("algorithm", ["ppo", "rloo"])
def test_rl_raises_the_reward_model_score_on_the_tiny_world(tiny_world, artifacts, tmp_path, algorithm):
    pl.seed_everything(0)
    steps = 24
    extra = {"rl.rollout.prompts_per_step": 16} if algorithm == "rloo" else {}
    rl = _rl(algorithm, **{"rl.steps": steps, **extra})
    policy, tokenizer = load_policy(artifacts[0])
    reference, _ = load_policy(artifacts[0])
    rm, _ = load_reward(artifacts[1])
    module = RLHFModule(policy, reference, rm, tokenizer, rl, gold_fn=tiny_world.gold)
    log = _fit(module, tiny_world, steps, tmp_path)
    assert len(log) == steps
    # The RM score of the rollouts (in units of the SFT policy's score std) climbs, well beyond the noise.
    proxy = log["score/proxy_normalized"].to_numpy()
    t = _slope_t(proxy)
    assert t > 3 and proxy[-6:].mean() > proxy[:6].mean() + 0.3, f"{algorithm}: t={t:.2f}, proxy {proxy}"
    # Every documented diagnostic is logged; the policy moved away from the reference, which did not move.
    for column in ["score/gold", "kl/seq", "policy/entropy", "response/length", "response/eos_rate"]:
        assert log[column].notna().all(), column
    for column in ["policy/ratio", "policy/approx_kl", "policy/clip_frac"]:
        assert log[column].notna().all(), column
    assert log["kl/seq"].iloc[-6:].mean() > 0.1
    fresh, _ = load_policy(artifacts[0])
    for a, b in zip(fresh.parameters(), module.ref.parameters(), strict=True):
        assert torch.equal(a, b) and not b.requires_grad


def test_exploding_loss_stops_with_the_last_good_weights_saved(tiny_world, tmp_path):
    rl = _rl(**{"rl.steps": 3, "rl.max_loss": 1e-12})  # any real loss "explodes" at the first update
    policy, ref, rm = _models(tiny_world.tokenizer)
    before = {k: v.clone() for k, v in policy.state_dict().items()}
    module = RLHFModule(policy, ref, rm, tiny_world.tokenizer, rl, checkpoint_dir=tmp_path)
    with pytest.raises(NonFiniteLossError, match=r"RL diverged at step 1: loss exploded.*after step 0"):
        _fit(module, tiny_world, 3, tmp_path)
    # The half-done update of step 1 was rolled back: the policy is the one step 0 left.
    for key, value in module.policy.state_dict().items():
        torch.testing.assert_close(value, before[key])
    saved = LlamaForCausalLM.from_pretrained(str(tmp_path / "last_good" / "policy"))
    for key, value in saved.state_dict().items():
        torch.testing.assert_close(value, before[key])
    assert (tmp_path / "last_good" / "critic.pt").is_file()


class _PoisonRewardModel(pl.Callback):
    """Turns the RM's head to NaN just before step `at` (1-based), and records the policy after step at-1."""

    def __init__(self, at: int):
        self.at, self.good = at, None

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if batch_idx + 1 == self.at - 1:
            self.good = {k: v.clone() for k, v in module.policy.state_dict().items()}
            module.rm.score.weight.data.fill_(float("nan"))


def test_nan_reward_stops_the_run_and_restores_the_previous_step(tiny_world, tmp_path):
    rl = _rl(**{"rl.steps": 5})
    policy, ref, rm = _models(tiny_world.tokenizer)
    module = RLHFModule(policy, ref, rm, tiny_world.tokenizer, rl)
    poison = _PoisonRewardModel(at=3)
    with pytest.raises(NonFiniteLossError, match=r"RL diverged at step 3: reward-model score is not finite"):
        _fit(module, tiny_world, 5, tmp_path, [poison])
    changed = any(
        not torch.equal(v, poison.good[k]) for k, v in _models(tiny_world.tokenizer)[0].state_dict().items()
    )
    assert changed, "two steps of training must have moved the policy away from its initialisation"
    for key, value in module.policy.state_dict().items():
        torch.testing.assert_close(value, poison.good[key])
    assert np.isfinite(next(iter(poison.good.values())).numpy()).all()


def test_adaptive_kl_coefficient_follows_the_measured_kl(tiny_world, tmp_path):
    rl = _rl(**{"rl.steps": 5, "rl.kl.adaptive": True, "rl.kl.target": 0.05, "rl.kl.horizon": 64})
    policy, ref, rm = _models(tiny_world.tokenizer)
    log = _fit(RLHFModule(policy, ref, rm, tiny_world.tokenizer, rl), tiny_world, 5, tmp_path)
    coef, kl = log["kl/coef"].to_numpy(), log["kl/seq"].to_numpy()
    assert coef[0] == pytest.approx(rl.kl.coef)
    batch = rl.rollout.prompts_per_step * rl.rollout.samples_per_prompt
    for t in range(len(coef) - 1):  # Ziegler et al.: beta *= 1 + clip(KL / target - 1, +-0.2) * B / horizon
        error = np.clip(kl[t] / rl.kl.target - 1, -0.2, 0.2)
        assert coef[t + 1] == pytest.approx(coef[t] * (1 + error * batch / rl.kl.horizon), rel=1e-5)
    assert coef[-1] != coef[0]


def test_oracle_runs_train_on_gold_itself(tiny_world, tmp_path):
    rl = _rl(**{"rl.steps": 2, "rl.reward.source": "gold"})
    policy, ref, rm = _models(tiny_world.tokenizer)
    with pytest.raises(ValueError, match="needs the world's gold function"):
        RLHFModule(policy, ref, rm, tiny_world.tokenizer, rl)
    log = _fit(
        RLHFModule(policy, ref, rm, tiny_world.tokenizer, rl, gold_fn=tiny_world.gold),
        tiny_world,
        2,
        tmp_path,
    )
    np.testing.assert_allclose(log["score/proxy"], log["score/gold"], rtol=1e-6)
