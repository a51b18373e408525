"""The per-token KL estimate to the reference and PPO's clipped policy and value losses.

Tensors follow the `[B, T]` response layout described in seam_exp.rl.advantages.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch

from seam_exp.rl.tensor_ops import masked_mean

KLKind = Literal["k1", "k3", "abs", "mse"]


def kl_per_token(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, kind: KLKind = "k1") -> torch.Tensor:
    """Per-token estimate of KL(pi || pi_ref) from tokens sampled from pi (Schulman's estimators).

    With ``log_r = ref_logprobs - logprobs``:
    - ``k1 = -log_r``: unbiased, can be negative per token; the classic RLHF penalty.
    - ``k3 = (exp(log_r) - 1) - log_r``: unbiased and always >= 0 (``exp(u) >= 1 + u``).
    - ``abs = |log_r|`` and ``mse = 0.5 * log_r ** 2`` (k2): biased, non-negative, low variance.
    """
    log_r = ref_logprobs - logprobs
    if kind == "k1":
        return -log_r
    if kind == "k3":
        # expm1 keeps precision when the policies are close (log_r ~ 0).
        return torch.expm1(log_r) - log_r
    if kind == "abs":
        return log_r.abs()
    if kind == "mse":
        return 0.5 * log_r.square()
    raise ValueError(f"kl_per_token: unknown kind {kind!r}; expected one of 'k1', 'k3', 'abs', 'mse'")


class PolicyLossOutput(NamedTuple):
    loss: torch.Tensor
    clip_fraction: torch.Tensor
    approx_kl: torch.Tensor
    ratio_mean: torch.Tensor


def policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip_range: float,
) -> PolicyLossOutput:
    """PPO clipped surrogate, averaged over all real tokens of the batch (token-level mean).

    ``loss = mean(max(-A * r, -A * clip(r, 1 - eps, 1 + eps)))`` with ``r = exp(logp - old_logp)``.
    Diagnostics (detached): ``clip_fraction`` = share of tokens where the clipped term is the active one;
    ``approx_kl`` = k3 estimate of KL(pi_old || pi), ``mean((r - 1) - log r)``, which is unbiased and
    >= 0 because the tokens were sampled from pi_old; ``ratio_mean`` = mean of ``r``.
    """
    mask = mask.bool()
    zero = torch.zeros((), dtype=logprobs.dtype, device=logprobs.device)
    # Zero the log-ratio on padding before exp so garbage there cannot overflow into inf * 0 = NaN.
    log_ratio = torch.where(mask, logprobs - old_logprobs, zero)
    ratio = torch.exp(log_ratio)
    adv = torch.where(mask, advantages, zero)
    unclipped = -adv * ratio
    clipped = -adv * torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    with torch.no_grad():
        clip_fraction = masked_mean((clipped > unclipped).to(logprobs.dtype), mask)
        approx_kl = masked_mean(torch.expm1(log_ratio) - log_ratio, mask)
        ratio_mean = masked_mean(ratio, mask)
    return PolicyLossOutput(loss, clip_fraction, approx_kl, ratio_mean)


class ValueLossOutput(NamedTuple):
    loss: torch.Tensor
    clip_fraction: torch.Tensor


def value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    mask: torch.Tensor,
    clip_range_value: float,
) -> ValueLossOutput:
    """Clipped value loss ``0.5 * mean(max((V - R)^2, (V_clip - R)^2))`` over real tokens.

    ``V_clip = old_V + clip(V - old_V, -c, c)`` keeps the critic near the values used to build the
    advantages (PPO2 / TRL convention). ``clip_fraction`` = share of tokens where the clipped error wins.
    """
    mask = mask.bool()
    v_clipped = old_values + torch.clamp(values - old_values, -clip_range_value, clip_range_value)
    err = (values - returns).square()
    err_clipped = (v_clipped - returns).square()
    loss = 0.5 * masked_mean(torch.maximum(err, err_clipped), mask)
    with torch.no_grad():
        clip_fraction = masked_mean((err_clipped > err).to(values.dtype), mask)
    return ValueLossOutput(loss, clip_fraction)
