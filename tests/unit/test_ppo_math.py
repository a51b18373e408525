"""Unit tests of the PPO/RLOO tensor math (seam_exp.rl.tensor_ops, advantages, losses, kl_control); every
expected value is worked out by hand in the test."""

import math

import pytest
import torch

from seam_exp.models.logprob import token_logprobs
from seam_exp.rl.advantages import gae, rloo_advantages, token_rewards
from seam_exp.rl.kl_control import AdaptiveKLController, FixedKLController
from seam_exp.rl.losses import kl_per_token, policy_loss, value_loss
from seam_exp.rl.tensor_ops import (
    NonFiniteLossError,
    check_finite,
    entropy_from_logits,
    masked_mean,
    masked_var,
    masked_whiten,
)

NAN = float("nan")


def close(actual, expected, atol=1e-6):
    torch.testing.assert_close(actual, torch.as_tensor(expected, dtype=actual.dtype), atol=atol, rtol=0)


# ----------------------------------------------------------------------------------------------- GAE


def test_gae_hand_computed_with_padding():
    gamma, lam = 0.9, 0.8  # gamma * lam = 0.72
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=torch.bool)
    # Garbage (including NaN) at padded positions must not matter.
    rewards = torch.tensor([[1.0, 0.0, 2.0, 50.0], [0.0, 3.0, NAN, 7.0]])
    values = torch.tensor([[0.5, 1.0, -1.0, 9.0], [2.0, 1.0, 4.0, NAN]])
    adv, ret = gae(rewards, values, mask, gamma, lam)
    # Row 0, no bootstrap after t=2:
    #   t=2: delta = 2 + 0 - (-1) = 3                    A = 3
    #   t=1: delta = 0 + 0.9 * (-1) - 1 = -1.9           A = -1.9 + 0.72 * 3 = 0.26
    #   t=0: delta = 1 + 0.9 * 1 - 0.5 = 1.4             A = 1.4 + 0.72 * 0.26 = 1.5872
    # Row 1:
    #   t=1: delta = 3 - 1 = 2                           A = 2
    #   t=0: delta = 0 + 0.9 * 1 - 2 = -1.1              A = -1.1 + 0.72 * 2 = 0.34
    close(adv, [[1.5872, 0.26, 3.0, 0.0], [0.34, 2.0, 0.0, 0.0]])
    # returns = A + V on real tokens, 0 on padding
    close(ret, [[2.0872, 1.26, 2.0, 0.0], [2.34, 3.0, 0.0, 0.0]])


def test_gae_gamma_lam_one_is_reward_to_go_minus_value():
    mask = torch.ones(1, 3, dtype=torch.bool)
    rewards = torch.tensor([[1.0, 2.0, 3.0]])
    values = torch.tensor([[0.5, 0.25, 0.0]])
    adv, ret = gae(rewards, values, mask, gamma=1.0, lam=1.0)
    close(ret, [[6.0, 5.0, 3.0]])
    close(adv, [[5.5, 4.75, 3.0]])


# -------------------------------------------------------------------------------- masked statistics


def test_masked_mean_and_var_ignore_padding():
    x = torch.tensor([[1.0, 2.0, 3.0, NAN], [4.0, 5.0, float("inf"), -7.0]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=torch.bool)
    close(masked_mean(x, mask), 3.0)
    close(masked_mean(x, mask, dim=1), [2.0, 4.5])
    # deviations from 3: -2, -1, 0, 1, 2 -> sum of squares 10
    close(masked_var(x, mask, unbiased=True), 10 / 4)
    close(masked_var(x, mask, unbiased=False), 10 / 5)
    with pytest.raises(ValueError):
        masked_var(x, torch.zeros_like(mask))
    with pytest.raises(ValueError):
        masked_var(x, torch.tensor([[1, 0, 0, 0], [0, 0, 0, 0]], dtype=torch.bool), unbiased=True)


def test_masked_whiten_hand_computed_and_padding_invariant():
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]], dtype=torch.bool)
    x = torch.tensor([[1.0, 2.0, 3.0, 0.0], [4.0, 5.0, 0.0, 0.0]])
    w = masked_whiten(x, mask)
    s = math.sqrt(2.5)  # unbiased std of 1..5
    close(w, [[-2 / s, -1 / s, 0.0, 0.0], [1 / s, 2 / s, 0.0, 0.0]], atol=1e-5)
    close(masked_mean(w, mask), 0.0, atol=1e-6)
    close(masked_var(w, mask, unbiased=True), 1.0, atol=1e-5)

    # Changing padded inputs (even to huge values or NaN) changes nothing in the output.
    x_garbage = x.clone()
    x_garbage[0, 3], x_garbage[1, 2], x_garbage[1, 3] = 1e6, NAN, -3.0
    assert torch.equal(masked_whiten(x_garbage, mask), w)

    # shift_mean=False keeps the original mean of 3.
    w_noshift = masked_whiten(x, mask, shift_mean=False)
    close(w_noshift, [[-2 / s + 3, -1 / s + 3, 3.0, 0.0], [1 / s + 3, 2 / s + 3, 0.0, 0.0]], atol=1e-5)


# ---------------------------------------------------------------------------------------- log-probs, KL


def test_token_logprobs_and_entropy():
    logits = torch.tensor([[[0.0, math.log(3.0)], [0.0, 0.0]]])  # softmax (1/4, 3/4) and (1/2, 1/2)
    labels = torch.tensor([[1, 0]])
    close(token_logprobs(logits, labels), [[math.log(0.75), math.log(0.5)]])

    # Entropy of uniform over 4 is log 4; the padded position holds garbage that must be ignored.
    uniform = torch.zeros(1, 3, 4)
    uniform[0, 2] = torch.tensor([NAN, 1.0, 2.0, 3.0])
    mask = torch.tensor([[True, True, False]])
    close(entropy_from_logits(uniform, mask), math.log(4.0))
    # A vocabulary entry masked with -inf contributes 0: uniform over the other 2 gives log 2.
    masked_vocab = torch.tensor([[[0.0, 0.0, float("-inf")]]])
    close(entropy_from_logits(masked_vocab, torch.tensor([[True]])), math.log(2.0))


def test_kl_estimators_hand_values():
    logp = torch.tensor([0.0])
    ref = torch.tensor([math.log(2.0)])  # log(ref/p) = log 2
    close(kl_per_token(logp, ref, "k1"), [-math.log(2.0)])
    close(kl_per_token(logp, ref, "k3"), [(2.0 - 1.0) - math.log(2.0)])
    close(kl_per_token(logp, ref, "abs"), [math.log(2.0)])
    close(kl_per_token(logp, ref, "mse"), [0.5 * math.log(2.0) ** 2])
    with pytest.raises(ValueError):
        kl_per_token(logp, ref, "k2")


def test_k3_non_negative_and_zero_when_equal():
    g = torch.Generator().manual_seed(0)
    logp = -torch.rand(1000, generator=g) * 5
    ref = -torch.rand(1000, generator=g) * 5
    assert (kl_per_token(logp, ref, "k3") >= 0).all()
    assert torch.equal(kl_per_token(logp, logp, "k3"), torch.zeros(1000))
    assert torch.equal(kl_per_token(logp, logp, "k1"), torch.zeros(1000))


# --------------------------------------------------------------------------------- rewards placement


def test_token_rewards_kl_penalty_and_score_on_last_real_token():
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]], dtype=torch.bool)
    kl = torch.tensor([[0.1, 0.2, 0.3, 9.0], [0.5, 9.0, NAN, 9.0], [0.0, 0.2, 0.0, 0.4]])
    scores = torch.tensor([1.0, 2.0, 3.0])
    rewards, non_score = token_rewards(scores, kl, mask, kl_coef=0.5)
    close(non_score, [[-0.05, -0.1, -0.15, 0.0], [-0.25, 0.0, 0.0, 0.0], [0.0, -0.1, 0.0, -0.2]])
    close(rewards, [[-0.05, -0.1, 0.85, 0.0], [1.75, 0.0, 0.0, 0.0], [0.0, -0.1, 0.0, 2.8]])


def test_token_rewards_no_eos_penalty_only_on_rows_without_eos():
    # Responses [5, 6, EOS, pad], [5, 6, 7, 8] (truncated: no EOS), [5, EOS, pad, pad].
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    has_eos = torch.tensor([True, False, True])
    kl = torch.full((3, 4), 0.2)
    scores = torch.tensor([1.0, 2.0, 3.0])
    rewards, _ = token_rewards(scores, kl, mask, kl_coef=0.5, no_eos_penalty=-1.0, has_eos=has_eos)
    # -0.1 per real token; row 1 is truncated (no EOS) so its score 2.0 is replaced by -1.
    close(rewards, [[-0.1, -0.1, 0.9, 0.0], [-0.1, -0.1, -0.1, -1.1], [-0.1, 2.9, 0.0, 0.0]])
    rewards_plain, _ = token_rewards(scores, kl, mask, kl_coef=0.5)
    close(rewards_plain[1], [-0.1, -0.1, -0.1, 1.9])
    with pytest.raises(ValueError):
        token_rewards(scores, kl, mask, kl_coef=0.5, no_eos_penalty=-1.0)


def test_token_rewards_rejects_empty_response():
    mask = torch.tensor([[1, 0], [0, 0]], dtype=torch.bool)
    with pytest.raises(ValueError):
        token_rewards(torch.ones(2), torch.zeros(2, 2), mask, kl_coef=0.1)


# -------------------------------------------------------------------------------------------- losses


def test_policy_loss_clipping_hand_built():
    clip = 0.2
    ratios = torch.tensor([[1.5, 0.5, 1.1, 0.5, 123.0]])
    adv = torch.tensor([[1.0, 1.0, -2.0, -1.0, NAN]])
    mask = torch.tensor([[1, 1, 1, 1, 0]], dtype=torch.bool)
    old = torch.tensor([[-1.0, -2.0, -0.5, -3.0, NAN]])
    logp = (old.nan_to_num(0.0) + ratios.log()).requires_grad_(True)
    out = policy_loss(logp, old, adv, mask, clip)
    # per token max(-A r, -A clip(r, 0.8, 1.2)):
    #   r=1.5, A=1:  max(-1.5, -1.2) = -1.2  clipped
    #   r=0.5, A=1:  max(-0.5, -0.8) = -0.5  unclipped (pessimistic side)
    #   r=1.1, A=-2: max(2.2, 2.2)   =  2.2  inside the range
    #   r=0.5, A=-1: max(0.5, 0.8)   =  0.8  clipped
    close(out.loss, (-1.2 - 0.5 + 2.2 + 0.8) / 4)
    close(out.clip_fraction, 2 / 4)
    close(out.ratio_mean, (1.5 + 0.5 + 1.1 + 0.5) / 4)
    k3 = [(r - 1) - math.log(r) for r in (1.5, 0.5, 1.1, 0.5)]
    close(out.approx_kl, sum(k3) / 4)
    # Clipped tokens get no gradient; others d/dlogp (-A r) / 4.
    out.loss.backward()
    close(logp.grad, [[0.0, -0.5 / 4, 2.2 / 4, 0.0, 0.0]])


def test_value_loss_clipping_hand_built():
    values = torch.tensor([[1.0, 0.0, 2.0, 5.0]], requires_grad=True)
    old_values = torch.tensor([[0.5, 0.1, 1.0, 0.0]])
    returns = torch.tensor([[2.0, 0.0, 1.0, 0.0]])
    mask = torch.tensor([[1, 1, 1, 0]], dtype=torch.bool)
    out = value_loss(values, old_values, returns, mask, clip_range_value=0.2)
    # tok0: V_clip = 0.7, errors (1-2)^2 = 1 vs (0.7-2)^2 = 1.69 -> 1.69 (clipped wins)
    # tok1: V_clip = 0.0 (inside), both errors 0                -> 0
    # tok2: V_clip = 1.2, errors (2-1)^2 = 1 vs (1.2-1)^2 = 0.04 -> 1 (unclipped wins)
    close(out.loss, 0.5 * (1.69 + 0.0 + 1.0) / 3)
    close(out.clip_fraction, 1 / 3)
    out.loss.backward()
    # Only tok2's unclipped error carries gradient: 0.5 * 2 * (2 - 1) / 3.
    close(values.grad, [[0.0, 0.0, 1 / 3, 0.0]])


# ------------------------------------------------------------------------------------ KL controllers


def test_adaptive_kl_controller_direction_and_magnitude():
    ctl = AdaptiveKLController(0.1, target=6.0, horizon=10_000)
    # KL far above target: error clipped to +0.2 -> 0.1 * (1 + 0.2 * 256 / 10000)
    assert ctl.update(12.0, 256) == pytest.approx(0.1 * 1.00512)
    ctl = AdaptiveKLController(0.1, target=6.0, horizon=10_000)
    # KL below target: error clipped to -0.2 -> coefficient shrinks
    assert ctl.update(3.0, 256) == pytest.approx(0.1 * (1 - 0.00512))
    ctl = AdaptiveKLController(0.1, target=6.0, horizon=1000)
    # within the clip: error = 6.6 / 6 - 1 = 0.1 -> 0.1 * (1 + 0.1 * 1000 / 1000)
    assert ctl.update(6.6, 1000) == pytest.approx(0.11)
    assert ctl.value == pytest.approx(0.11)
    fixed = FixedKLController(0.05)
    assert fixed.update(100.0, 256) == 0.05 and fixed.value == 0.05


# ---------------------------------------------------------------------------------------------- RLOO


def test_rloo_advantages_hand_computed():
    scores = torch.tensor([1.0, 2.0, 3.0, 10.0, 10.0, 4.0])
    adv = rloo_advantages(scores, k=3)
    # prompt 0: baselines (2+3)/2, (1+3)/2, (1+2)/2 = 2.5, 2, 1.5
    # prompt 1: baselines (10+4)/2, (10+4)/2, (10+10)/2 = 7, 7, 10
    close(adv, [-1.5, 0.0, 1.5, 3.0, 3.0, -6.0])
    close(rloo_advantages(torch.tensor([1.0, 3.0]), k=2), [-2.0, 2.0])
    with pytest.raises(ValueError):
        rloo_advantages(scores, k=1)
    with pytest.raises(ValueError):
        rloo_advantages(scores, k=4)


# ----------------------------------------------------------------------------------------- finiteness


@pytest.mark.parametrize("bad", [NAN, float("inf"), float("-inf")])
def test_check_finite_raises(bad):
    t = torch.tensor([1.0, bad])
    with pytest.raises(NonFiniteLossError, match="policy_loss") as info:
        check_finite("policy_loss", t)
    assert "\n" not in str(info.value)


def test_check_finite_passes_through_finite():
    t = torch.tensor([1.0, -2.0])
    assert check_finite("x", t) is t
