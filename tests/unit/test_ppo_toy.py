"""A toy PPO run, end to end on the functions of ``seam_exp.rl.ppo_math``, with no world dependency.

A tiny randomly initialised Llama learns to emit a target token: reward = share of the 8 response slots
filled with it (so stopping early at EOS is not free). The policy is tied to a frozen reference copy by
a per-token KL penalty; a separate tiny Llama with a scalar head is the critic.
"""

import copy

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM, LlamaModel

from seam_exp.rl.ppo_math import (
    FixedKLController,
    check_finite,
    entropy_from_logits,
    first_eos_mask,
    gae,
    kl_per_token,
    logprobs_from_logits,
    masked_mean,
    masked_whiten,
    policy_loss,
    token_rewards,
    value_loss,
)

VOCAB, PAD, EOS, TARGET = 16, 0, 1, 7
PROMPT = [3, 9, 4, 12]
RESP_LEN = 8


def tiny_config() -> LlamaConfig:
    return LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=32,
        pad_token_id=PAD,
        eos_token_id=EOS,
        bos_token_id=2,
    )


class Critic(torch.nn.Module):
    """Value head on its own tiny Llama trunk: value of the state that predicts each position's next token."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.trunk = LlamaModel(config)
        self.head = torch.nn.Linear(config.hidden_size, 1)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(input_ids=input_ids).last_hidden_state).squeeze(-1)


@torch.no_grad()
def sample(policy: LlamaForCausalLM, batch: int) -> torch.Tensor:
    """Ancestral sampling of RESP_LEN tokens (temperature 1); tokens after the first EOS become PAD."""
    seq = torch.tensor(PROMPT).repeat(batch, 1)
    for _ in range(RESP_LEN):
        logits = policy(input_ids=seq).logits[:, -1]
        nxt = torch.multinomial(torch.softmax(logits, dim=-1), 1)
        seq = torch.cat([seq, nxt], dim=1)
    resp = seq[:, len(PROMPT) :]
    mask, _ = first_eos_mask(resp, EOS, PAD)
    return torch.where(mask, resp, torch.full_like(resp, PAD))


def response_logits(model: LlamaForCausalLM, resp: torch.Tensor) -> torch.Tensor:
    """Logits predicting each response token (positions P-1 .. P+T-2). Right padding needs no attention
    mask in a causal model: real tokens never see the padding after them."""
    ids = torch.cat([torch.tensor(PROMPT).repeat(resp.shape[0], 1), resp], dim=1)
    return model(input_ids=ids).logits[:, len(PROMPT) - 1 : -1]


def critic_values(critic: Critic, resp: torch.Tensor) -> torch.Tensor:
    ids = torch.cat([torch.tensor(PROMPT).repeat(resp.shape[0], 1), resp], dim=1)
    return critic(ids)[:, len(PROMPT) - 1 : -1]


def run_toy_ppo(seed: int, n_rollouts: int = 30, batch: int = 32) -> list[float]:
    torch.manual_seed(seed)
    config = tiny_config()
    policy = LlamaForCausalLM(config)
    ref = copy.deepcopy(policy).eval().requires_grad_(False)
    critic = Critic(config)
    opt = torch.optim.Adam([*policy.parameters(), *critic.parameters()], lr=3e-3)
    kl_ctl = FixedKLController(0.02)
    gamma, lam, clip, clip_v, vf_coef, ppo_epochs, n_minibatches = 1.0, 0.95, 0.2, 0.2, 0.5, 4, 2

    mean_rewards = []
    for _ in range(n_rollouts):
        # ---- rollout (no gradients): sample, score, old log-probs, reference log-probs, values
        with torch.no_grad():
            resp = sample(policy, batch)
            mask, has_eos = first_eos_mask(resp, EOS, PAD)
            scores = ((resp == TARGET) & mask).float().sum(dim=1) / RESP_LEN
            mean_rewards.append(scores.mean().item())
            old_logp = logprobs_from_logits(response_logits(policy, resp), resp)
            ref_logp = logprobs_from_logits(response_logits(ref, resp), resp)
            old_values = critic_values(critic, resp)
            kl = kl_per_token(old_logp, ref_logp, "k1")
            rewards, _ = token_rewards(scores, kl, mask, kl_ctl.value)
            advantages, returns = gae(rewards, old_values, mask, gamma, lam)
            advantages = masked_whiten(advantages, mask)
            kl_ctl.update(masked_mean(kl, mask).item(), batch)

        # ---- several PPO epochs of minibatch updates on this rollout
        for _ in range(ppo_epochs):
            for idx in torch.randperm(batch).chunk(n_minibatches):
                logits = response_logits(policy, resp[idx])
                logp = logprobs_from_logits(logits, resp[idx])
                pg = policy_loss(logp, old_logp[idx], advantages[idx], mask[idx], clip)
                vf = value_loss(
                    critic_values(critic, resp[idx]), old_values[idx], returns[idx], mask[idx], clip_v
                )
                loss = check_finite("ppo_loss", pg.loss + vf_coef * vf.loss)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_([*policy.parameters(), *critic.parameters()], 1.0)
                opt.step()
        # entropy is a diagnostic only; computing it exercises the masked path on real logits
        check_finite("entropy", entropy_from_logits(logits.detach(), mask[idx]))
    return mean_rewards


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_toy_ppo_learns_target_token(seed):
    # Seeds 0-4 measured: reward ~0.05 at the start (1/16 chance per slot), 0.95-0.99 after 30 rollouts.
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    rewards = run_toy_ppo(seed=seed)
    start = sum(rewards[:3]) / 3
    end = sum(rewards[-3:]) / 3
    assert end > start + 0.5, f"PPO did not learn: reward {start:.3f} -> {end:.3f}; curve {rewards}"
