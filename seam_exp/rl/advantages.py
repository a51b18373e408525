"""Per-token rewards and advantages of PPO (GAE) and RLOO (leave-one-out) for RLHF of causal LMs.

Conventions shared by the RL math (here, seam_exp.rl.losses and seam_exp.rl.tensor_ops):

- A batch of responses is right-padded to ``[B, T]``; ``response_mask`` (bool, ``[B, T]``) is True on
  real response tokens, the EOS token included when one was generated, and False on the padding after
  it. The mask is therefore a contiguous prefix of each row.
- ``logprobs[b, t]`` is ``log pi(response[b, t] | prompt, response[b, :t])``; ``values[b, t]`` is the
  critic's estimate for the state *before* token ``t`` is emitted (the same position that predicts it).
- The episode ends after the last real token: one sequence-level score is paid there, per-token KL
  penalties are paid everywhere on the mask, and the value after the last token is 0 (no bootstrap).

Nothing here touches models or optimizers, so every function is testable with hand-built tensors.
"""

from __future__ import annotations

import torch


def token_rewards(
    scores: torch.Tensor,
    kl: torch.Tensor,
    response_mask: torch.Tensor,
    kl_coef: float,
    no_eos_penalty: float | None = None,
    has_eos: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token rewards: ``-kl_coef * kl`` on every real token plus the sequence score on the last one.

    ``scores [B]`` are the reward-model scores, ``kl [B, T]`` a per-token KL estimate (see
    :func:`seam_exp.rl.losses.kl_per_token`). The score lands at index ``response_mask.sum(1) - 1`` (the
    EOS when there is one). If ``no_eos_penalty`` is given, rows with ``has_eos`` False get that value
    *instead of* their score, a common guard against truncated, rambling responses. Padding gets 0.
    Returns ``(rewards [B, T], non_score_rewards [B, T])``, the latter being the KL part alone.
    """
    mask = response_mask.bool()
    lengths = mask.long().sum(dim=1)
    if bool((lengths == 0).any()):
        raise ValueError(
            "token_rewards: some responses have no real token, so there is nowhere to put the score"
        )
    zero = torch.zeros((), dtype=kl.dtype, device=kl.device)
    non_score = torch.where(mask, -kl_coef * kl, zero)
    scores = scores.to(kl.dtype)
    if no_eos_penalty is not None:
        if has_eos is None:
            raise ValueError("token_rewards: no_eos_penalty needs has_eos (see RolloutBatch.has_eos)")
        scores = torch.where(has_eos.bool(), scores, torch.full_like(scores, no_eos_penalty))
    rewards = non_score.clone()
    rows = torch.arange(rewards.shape[0], device=rewards.device)
    rewards[rows, lengths - 1] += scores
    return rewards, non_score


def gae(
    rewards: torch.Tensor, values: torch.Tensor, response_mask: torch.Tensor, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation (Schulman et al. 2016) over right-padded responses.

    ``delta_t = r_t + gamma * V_{t+1} - V_t`` and ``A_t = delta_t + gamma * lam * A_{t+1}``, where anything
    beyond the last real token counts as 0 (terminal state, no bootstrap). Returns
    ``(advantages, returns)`` of shape ``[B, T]``, ``returns = advantages + values`` (the critic's
    target), both 0 on padding. Advantages are *not* whitened here; see
    :func:`seam_exp.rl.tensor_ops.masked_whiten`.
    """
    mask = response_mask.bool()
    zero = torch.zeros((), dtype=values.dtype, device=values.device)
    values = torch.where(mask, values, zero)
    rewards = torch.where(mask, rewards.to(values.dtype), zero)
    _, T = rewards.shape
    next_value = torch.zeros_like(values[:, 0])
    next_adv = torch.zeros_like(values[:, 0])
    advantages = torch.zeros_like(values)
    for t in reversed(range(T)):
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        adv_t = torch.where(mask[:, t], delta + gamma * lam * next_adv, zero)
        advantages[:, t] = adv_t
        # Padding resets the recursion, so the step after the last real token contributes exactly 0.
        next_value, next_adv = values[:, t], adv_t
    returns = torch.where(mask, advantages + values, zero)
    return advantages, returns


def rloo_advantages(scores: torch.Tensor, k: int) -> torch.Tensor:
    """REINFORCE leave-one-out advantages (Ahmadian et al. 2024) for ``k`` samples per prompt.

    ``scores [B]`` with ``B = n_prompts * k``, the k samples of each prompt contiguous. Each sample's
    baseline is the mean score of the other ``k - 1`` samples of its prompt. Returns ``[B]``.
    """
    if k < 2:
        raise ValueError(f"rloo_advantages: leave-one-out needs k >= 2 samples per prompt, got k={k}")
    if scores.ndim != 1 or scores.shape[0] % k != 0:
        raise ValueError(
            f"rloo_advantages: expected scores of shape [n_prompts * {k}], got {tuple(scores.shape)}"
        )
    grouped = scores.view(-1, k)
    baseline = (grouped.sum(dim=1, keepdim=True) - grouped) / (k - 1)
    return (grouped - baseline).reshape(-1)
