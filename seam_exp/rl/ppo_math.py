"""Pure tensor math of PPO (and RLOO) for RLHF of causal language models.

Conventions shared by every function here:

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

import math
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F

KLKind = Literal["k1", "k3", "abs", "mse"]


class NonFiniteLossError(FloatingPointError):
    """A loss or statistic became NaN/inf; raised early so a diverged run stops with a clear message."""


def check_finite(name: str, tensor: torch.Tensor) -> torch.Tensor:
    """Raise :class:`NonFiniteLossError` if ``tensor`` holds NaN or inf; return it unchanged otherwise."""
    t = tensor.detach()
    finite = torch.isfinite(t)
    if bool(finite.all()):
        return tensor
    n_nan = int(torch.isnan(t).sum())
    n_inf = int(torch.isinf(t).sum())
    raise NonFiniteLossError(
        f"{name} is not finite: {n_nan} NaN and {n_inf} inf among {t.numel()} values (shape {tuple(t.shape)})"
    )


# --------------------------------------------------------------------------------------------- masks


def first_eos_mask(
    response_ids: torch.Tensor, eos_token_id: int, pad_token_id: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask of the real part of each response: tokens up to and including the first EOS.

    Rows without an EOS (truncated at the length limit) are real up to their trailing run of pad tokens
    (when ``pad_token_id`` differs from ``eos_token_id``), i.e. entirely real when the row is full. Only
    the *trailing* run counts as padding, so a pad token the model happened to sample mid-response stays
    a real token (it was generated and has a log-prob). Returns ``(mask [B, T] bool, has_eos [B] bool)``.
    """
    _, T = response_ids.shape
    pos = torch.arange(T, device=response_ids.device).expand_as(response_ids)
    is_eos = response_ids == eos_token_id
    has_eos = is_eos.any(dim=1)
    # argmax over bools returns the first True; rows without EOS get T - 1 (keep everything).
    end = torch.where(has_eos, is_eos.int().argmax(dim=1), torch.full_like(pos[:, 0], T - 1))
    if pad_token_id is not None and pad_token_id != eos_token_id:
        # Length of the trailing pad run: cumulative product over the reversed row stops at the first non-pad.
        n_trailing_pad = (response_ids == pad_token_id).flip(1).long().cumprod(dim=1).sum(dim=1)
        end = torch.where(has_eos, end, T - 1 - n_trailing_pad)
    mask = pos <= end.unsqueeze(1)
    return mask, has_eos


def sequence_lengths(response_mask: torch.Tensor) -> torch.Tensor:
    """Number of real tokens per row, ``[B]`` long."""
    return response_mask.long().sum(dim=1)


# --------------------------------------------------------------------------------- masked statistics


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of ``x`` over True entries of ``mask`` (whole tensor, or along ``dim``).

    Padded entries are selected away with ``where`` rather than multiplied by 0, so NaN/inf garbage at
    padded positions cannot leak into the result. An all-False mask gives NaN (0 / 0), which
    :func:`check_finite` then reports, rather than a silent 0.
    """
    mask = mask.bool()
    x0 = torch.where(mask, x, torch.zeros((), dtype=x.dtype, device=x.device))
    if dim is None:
        return x0.sum() / mask.sum()
    return x0.sum(dim=dim) / mask.sum(dim=dim)


def masked_var(x: torch.Tensor, mask: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """Variance of ``x`` over the True entries of ``mask`` (Bessel-corrected if ``unbiased``)."""
    mask = mask.bool()
    n = int(mask.sum())
    if n == 0:
        raise ValueError("masked_var: the mask selects no element")
    if unbiased and n == 1:
        raise ValueError("masked_var: unbiased variance needs at least 2 elements, the mask selects 1")
    centered = x - masked_mean(x, mask)
    var = masked_mean(centered**2, mask)
    return var * (n / (n - 1)) if unbiased else var


def masked_whiten(
    x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True, eps: float = 1e-8
) -> torch.Tensor:
    """Scale ``x`` to unit (unbiased) variance over the mask, and to zero mean if ``shift_mean``.

    ``shift_mean=False`` keeps the original mean (used for rewards, whose sign carries meaning).
    Padded positions are set to 0 in the output, so they never depend on padded inputs.
    """
    mask = mask.bool()
    mean = masked_mean(x, mask)
    var = masked_var(x, mask, unbiased=True)
    whitened = (x - mean) * torch.rsqrt(var + eps)
    if not shift_mean:
        whitened = whitened + mean
    return torch.where(mask, whitened, torch.zeros((), dtype=whitened.dtype, device=whitened.device))


# ------------------------------------------------------------------------------------ log-probs, KL


def logprobs_from_logits(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``log_softmax(logits)[..., labels]`` for ``logits [..., V]`` and ``labels [...]`` -> ``[...]``.

    Computed as gathered logit minus logsumexp, which avoids materialising a second ``[..., V]`` tensor;
    half precision is upcast because logsumexp over a large vocabulary loses too many bits in fp16/bf16.
    """
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    picked = logits.gather(-1, labels.long().unsqueeze(-1)).squeeze(-1)
    return picked - torch.logsumexp(logits, dim=-1)


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


def entropy_from_logits(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked mean over tokens of the entropy of ``softmax(logits)``; ``logits [B, T, V]``, ``mask [B, T]``."""
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    logp = F.log_softmax(logits, dim=-1)
    p = logp.exp()
    # Masked-out vocabulary entries (logit -inf) have p = 0 and contribute 0, not 0 * -inf = NaN.
    entropy = -torch.where(p > 0, p * logp, torch.zeros((), dtype=p.dtype, device=p.device)).sum(dim=-1)
    return masked_mean(entropy, mask)


# --------------------------------------------------------------------------------- rewards and GAE


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
    :func:`kl_per_token`). The score lands at index ``response_mask.sum(1) - 1`` (the EOS when there is
    one). If ``no_eos_penalty`` is given, rows with ``has_eos`` False get that value *instead of* their
    score, a common guard against truncated, rambling responses. Padding gets 0.
    Returns ``(rewards [B, T], non_score_rewards [B, T])``, the latter being the KL part alone.
    """
    mask = response_mask.bool()
    lengths = sequence_lengths(mask)
    if bool((lengths == 0).any()):
        raise ValueError(
            "token_rewards: some responses have no real token, so there is nowhere to put the score"
        )
    zero = torch.zeros((), dtype=kl.dtype, device=kl.device)
    non_score = torch.where(mask, -kl_coef * kl, zero)
    scores = scores.to(kl.dtype)
    if no_eos_penalty is not None:
        if has_eos is None:
            raise ValueError("token_rewards: no_eos_penalty needs has_eos (see first_eos_mask)")
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
    target), both 0 on padding. Advantages are *not* whitened here; see :func:`masked_whiten`.
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


# -------------------------------------------------------------------------------------------- losses


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


# ---------------------------------------------------------------------------------------------- RLOO


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


# ------------------------------------------------------------------------------------ KL controllers


class FixedKLController:
    """Constant KL coefficient; same interface as :class:`AdaptiveKLController`."""

    def __init__(self, kl_coef: float) -> None:
        self.value = float(kl_coef)

    def update(self, current_kl: float, n_steps: int) -> float:
        return self.value


class AdaptiveKLController:
    """Adaptive KL coefficient of Ziegler et al. 2019 ("Fine-Tuning LMs from Human Preferences").

    ``e = clip(KL / target - 1, -0.2, 0.2)`` and ``beta <- beta * (1 + e * n_steps / horizon)``: beta
    grows when the policy drifts further than ``target`` nats from the reference and shrinks otherwise,
    at a rate bounded by the clip and set by ``horizon`` (in samples, so ``n_steps`` = batch size).
    """

    def __init__(self, init_kl_coef: float, target: float, horizon: int) -> None:
        if target <= 0 or horizon <= 0:
            raise ValueError(f"AdaptiveKLController: target and horizon must be > 0, got {target}, {horizon}")
        self.value = float(init_kl_coef)
        self.target = float(target)
        self.horizon = int(horizon)

    def update(self, current_kl: float, n_steps: int) -> float:
        if not math.isfinite(current_kl):
            raise NonFiniteLossError(f"AdaptiveKLController.update: current_kl is not finite ({current_kl})")
        error = min(max(current_kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + error * n_steps / self.horizon
        return self.value


__all__ = [
    "AdaptiveKLController",
    "FixedKLController",
    "KLKind",
    "NonFiniteLossError",
    "PolicyLossOutput",
    "ValueLossOutput",
    "check_finite",
    "entropy_from_logits",
    "first_eos_mask",
    "gae",
    "kl_per_token",
    "logprobs_from_logits",
    "masked_mean",
    "masked_var",
    "masked_whiten",
    "policy_loss",
    "rloo_advantages",
    "sequence_lengths",
    "token_rewards",
    "value_loss",
]
