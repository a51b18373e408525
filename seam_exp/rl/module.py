"""RLHF of a causal LM against a frozen reward model: PPO (or RLOO) as a Lightning module.

One training step = one rollout + several epochs of minibatch updates on it (manual optimization,
since a step is many optimizer steps):

1. Sample responses to a batch of RL prompts from the current policy (pure sampling at a temperature).
2. Score them with the frozen RM at the last response token (EOS included when generated); normalize
   the score (rl.reward.normalize) and optionally replace it with a penalty when no EOS was emitted.
3. Per-token KL penalty to the frozen SFT reference, -beta * kl_t, on every response token.
4. PPO: the critic's values + GAE give advantages and returns; RLOO: the leave-one-out baseline over the
   k samples of a prompt, the advantage spread over the response's tokens.
5. Whitened advantages; clipped policy loss (+ clipped value loss); the KL controller is updated.

The gold reward is computed on the rollouts for logging only (the policy never sees it), unless
rl.reward.source=gold trains on gold itself: an oracle run, the ceiling of what an RM could give. A NaN or
exploding loss stops the run with a clear message, after restoring (and saving) the last good weights.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch

from seam_exp.models.logprob import token_logprobs
from seam_exp.models.reward import reward_scores
from seam_exp.rl.advantages import gae, rloo_advantages, token_rewards
from seam_exp.rl.config import RLConfig
from seam_exp.rl.critic import build_critic
from seam_exp.rl.kl_control import AdaptiveKLController, FixedKLController
from seam_exp.rl.losses import kl_per_token, policy_loss, value_loss
from seam_exp.rl.resume import random_states, set_random_states
from seam_exp.rl.reward_normalizer import RewardNormalizer
from seam_exp.rl.rollout import RolloutBatch, response_logits, response_token_logprobs, sample_rollout
from seam_exp.rl.tensor_ops import (
    NonFiniteLossError,
    check_finite,
    entropy_from_logits,
    masked_mean,
    masked_whiten,
)

log = logging.getLogger(__name__)

GoldFn = Callable[[Sequence[int], Sequence[str]], np.ndarray]


@dataclass
class Experience:
    """Everything the updates of one rollout need, computed once without gradients."""

    batch: RolloutBatch
    old_logprobs: torch.Tensor  # [B, T]
    advantages: torch.Tensor  # [B, T]
    values: torch.Tensor | None  # [B, T] (PPO only)
    returns: torch.Tensor | None  # [B, T] (PPO only)
    stats: dict[str, float]


class RLHFModule(pl.LightningModule):
    def __init__(
        self,
        policy,
        ref_policy,
        reward_model,
        tokenizer,
        cfg: RLConfig,
        gold_fn: GoldFn | None = None,
        checkpoint_dir: Path | None = None,
    ):
        super().__init__()
        self.automatic_optimization = False  # a step is a rollout plus many minibatch updates
        self.cfg, self.tokenizer, self.gold_fn, self.checkpoint_dir = cfg, tokenizer, gold_fn, checkpoint_dir
        self.policy = policy
        self.ref = ref_policy.eval().requires_grad_(False)
        self.rm = reward_model.eval().requires_grad_(False)
        self.critic = build_critic(cfg.critic_init, policy, reward_model) if cfg.algorithm == "ppo" else None
        kl = cfg.kl
        self.kl_ctl = (
            AdaptiveKLController(kl.coef, kl.target, kl.horizon)
            if kl.adaptive
            else FixedKLController(kl.coef)
        )
        self.normalizer = RewardNormalizer(cfg.reward.normalize, cfg.reward.clip)
        if cfg.reward.source == "gold" and gold_fn is None:
            raise ValueError("rl.reward.source=gold needs the world's gold function")
        self._last_good: tuple[int, dict, dict | None] | None = None
        self._resumed_random_states: dict | None = None
        self.steps_done = 0  # RL steps finished (counting those before a resume)

    # ----------------------------------------------------------------------------------- plumbing

    def train(self, mode: bool = True):
        super().train(mode)
        self.ref.eval()  # the frozen models stay in inference mode whatever Lightning asks
        self.rm.eval()
        return self

    def configure_optimizers(self):
        o = self.cfg.optim
        groups = [{"params": self.policy.parameters(), "lr": o.lr}]
        if self.critic is not None:
            groups.append({"params": self.critic.parameters(), "lr": o.critic_lr})
        return torch.optim.AdamW(groups, weight_decay=o.weight_decay, eps=o.eps)

    def _trainable(self) -> list[torch.nn.Module]:
        return [m for m in (self.policy, self.critic) if m is not None]

    # ---------------------------------------------------------------------------------- experience

    @torch.no_grad()
    def make_experience(self, rows: list[dict]) -> Experience:
        c = self.cfg
        self.policy.eval()
        if self.critic is not None:
            self.critic.eval()
        batch, prompt_index, texts = sample_rollout(
            self.policy,
            self.tokenizer,
            [r["prompt"] for r in rows],
            n=c.rollout.samples_per_prompt,
            max_new_tokens=c.rollout.max_new_tokens,
            temperature=c.rollout.temperature,
        )
        batch = batch.to(self.device)
        mask = batch.response_mask
        old_logprobs = response_token_logprobs(self.policy, batch, c.rollout.temperature)
        ref_logprobs = response_token_logprobs(self.ref, batch, c.rollout.temperature)
        gold = None
        if self.gold_fn is not None:
            ids = [rows[i]["prompt_id"] for i in prompt_index]
            gold = torch.as_tensor(self.gold_fn(ids, texts), device=self.device, dtype=torch.float32)
        if c.reward.source == "gold":
            raw_scores = gold
        else:
            raw_scores = check_finite("reward-model score", reward_scores(self.rm, batch.tokens))
        scores = self.normalizer(raw_scores)
        kl = torch.where(mask, kl_per_token(old_logprobs, ref_logprobs, c.kl.estimator), 0.0)
        rewards, non_score = token_rewards(
            scores, kl, mask, self.kl_ctl.value, c.reward.no_eos_penalty, batch.has_eos
        )
        values = self.critic(batch) if self.critic is not None else None
        advantages, returns = self._advantages(rewards, values, mask)

        seq_kl = kl.sum(-1)
        stats = {
            "score/proxy": raw_scores.mean().item(),
            "score/proxy_normalized": scores.mean().item(),
            "kl/seq": seq_kl.mean().item(),
            "kl/coef": self.kl_ctl.value,
            "reward/non_score": non_score.sum(-1).mean().item(),
            "reward/total": rewards.sum(-1).mean().item(),
            "response/length": batch.lengths.float().mean().item(),
            "response/eos_rate": batch.has_eos.float().mean().item(),
        }
        if values is not None:
            stats["value/mean"] = masked_mean(values, mask).item()
            stats["value/returns"] = masked_mean(returns, mask).item()
        if gold is not None:
            stats["score/gold"] = gold.mean().item()
        return Experience(batch, old_logprobs, advantages, values, returns, stats)

    def _advantages(
        self, rewards: torch.Tensor, values: torch.Tensor | None, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(advantages, returns): GAE on the critic's values (PPO), or leave-one-out (RLOO, no returns)."""
        c = self.cfg
        returns = None
        if values is not None:
            advantages, returns = gae(rewards, values, mask, c.ppo.gamma, c.ppo.lam)
        else:
            # The whole (penalized) return of a sample minus the mean of its prompt's other samples.
            seq_adv = rloo_advantages(rewards.sum(-1), c.rollout.samples_per_prompt)
            advantages = torch.where(mask, seq_adv.unsqueeze(-1).expand_as(mask).to(rewards.dtype), 0.0)
        if c.ppo.whiten_advantages:
            advantages = masked_whiten(advantages, mask)
        return check_finite("advantages", advantages), returns

    # ------------------------------------------------------------------------------------- updates

    def _check_loss(self, loss: torch.Tensor) -> None:
        check_finite("loss", loss)
        if abs(loss.item()) > self.cfg.max_loss:
            raise NonFiniteLossError(
                f"loss exploded: |{loss.item():.4g}| > rl.max_loss={self.cfg.max_loss:g}"
            )

    def update(self, exp: Experience) -> dict[str, float]:
        c, opt = self.cfg, self.optimizers()
        self.policy.train()
        if self.critic is not None:
            self.critic.train()
        stats: dict[str, list[float]] = defaultdict(list)
        n = len(exp.batch)
        for _ in range(c.ppo.epochs):
            epoch_kl = []
            for idx in torch.randperm(n, device=self.device).split(c.ppo.minibatch_size):
                mb = exp.batch.select(idx)
                logits = response_logits(self.policy, mb, c.rollout.temperature)
                logprobs = token_logprobs(logits, mb.response_ids)
                pg = policy_loss(
                    logprobs, exp.old_logprobs[idx], exp.advantages[idx], mb.response_mask, c.ppo.clip_range
                )
                entropy = entropy_from_logits(logits, mb.response_mask)
                loss = pg.loss - c.ppo.entropy_coef * entropy
                if self.critic is not None:
                    vf = value_loss(
                        self.critic(mb),
                        exp.values[idx],
                        exp.returns[idx],
                        mb.response_mask,
                        c.ppo.clip_range_value,
                    )
                    loss = loss + c.ppo.vf_coef * vf.loss
                    stats["value/loss"].append(vf.loss.item())
                    stats["value/clip_frac"].append(vf.clip_fraction.item())
                self._check_loss(loss)
                opt.zero_grad()
                self.manual_backward(loss)
                for module in self._trainable():
                    norm = torch.nn.utils.clip_grad_norm_(module.parameters(), c.optim.max_grad_norm)
                    check_finite("gradient norm", norm)
                opt.step()
                epoch_kl.append(pg.approx_kl.item())
                stats["policy/loss"].append(pg.loss.item())
                stats["policy/entropy"].append(entropy.item())
                stats["policy/approx_kl"].append(pg.approx_kl.item())
                stats["policy/clip_frac"].append(pg.clip_fraction.item())
                stats["policy/ratio"].append(pg.ratio_mean.item())
                stats["loss/total"].append(loss.item())
            if c.ppo.target_kl is not None and np.mean(epoch_kl) > c.ppo.target_kl:
                break  # the policy already moved far from the rollout's: more epochs would be off-policy
        return {key: float(np.mean(v)) for key, v in stats.items()}

    # ------------------------------------------------------------------------- last good weights

    def _snapshot(self, step: int) -> None:
        def copy(module):
            return {k: v.detach().clone() for k, v in module.state_dict().items()}

        self._last_good = (step, copy(self.policy), copy(self.critic) if self.critic is not None else None)

    def _restore_and_save_last_good(self) -> str:
        if self._last_good is None:
            return "no step had finished, so there are no good weights to keep"
        step, policy_state, critic_state = self._last_good
        self.policy.load_state_dict(policy_state)
        if critic_state is not None:
            self.critic.load_state_dict(critic_state)
        where = "kept in memory"
        if self.checkpoint_dir is not None:
            folder = Path(self.checkpoint_dir) / "last_good"
            self.policy.save_pretrained(str(folder / "policy"))
            self.tokenizer.save_pretrained(str(folder / "policy"))
            if self.critic is not None:
                torch.save(self.critic.state_dict(), folder / "critic.pt")
            where = f"saved to {folder}"
        return f"the policy after step {step} is restored and {where}"

    # ----------------------------------------------------------------------- checkpoints (resume)

    FROZEN = ("ref.", "rm.")  # the run's inputs (its SFT policy and RM folders), not its state

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        state = checkpoint["state_dict"]
        checkpoint["state_dict"] = {k: v for k, v in state.items() if not k.startswith(self.FROZEN)}
        n = self.normalizer
        checkpoint["rl_state"] = {
            "steps_done": self.steps_done,
            "kl_coef": self.kl_ctl.value,
            "normalizer": (n.count, n.mean, n.m2),
            "random_states": random_states(),
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        frozen = {k: v for k, v in self.state_dict().items() if k.startswith(self.FROZEN)}
        checkpoint["state_dict"].update(frozen)  # so that loading stays strict for everything else
        state = checkpoint["rl_state"]
        self.steps_done = state["steps_done"]
        self.kl_ctl.value = state["kl_coef"]
        self.normalizer.count, self.normalizer.mean, self.normalizer.m2 = state["normalizer"]
        # set at the start of training, after everything Lightning does on the way there
        self._resumed_random_states = state["random_states"]

    # --------------------------------------------------------------------------------- the step

    def on_train_start(self) -> None:
        self._snapshot(self.steps_done)
        if self._resumed_random_states is not None:
            set_random_states(self._resumed_random_states)
            self._resumed_random_states = None

    def training_step(self, rows: list[dict], batch_idx: int):
        step = batch_idx + 1
        try:
            exp = self.make_experience(rows)
            stats = {**exp.stats, **self.update(exp)}
        except NonFiniteLossError as exc:
            kept = self._restore_and_save_last_good()
            raise NonFiniteLossError(f"RL diverged at step {step}: {exc}; {kept}") from exc
        self._snapshot(step)
        self.steps_done = step
        self.kl_ctl.update(exp.stats["kl/seq"], len(exp.batch))
        shown = {"score/proxy", "score/gold", "kl/seq"}
        n = len(exp.batch)
        self.log_dict({k: v for k, v in stats.items() if k not in shown}, on_step=True, batch_size=n)
        self.log_dict(
            {k: v for k, v in stats.items() if k in shown}, on_step=True, prog_bar=True, batch_size=n
        )
        return None
