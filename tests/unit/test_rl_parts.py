"""The pieces of the RL loop: rollout layout, critic alignment, score normalization, gold metrics, config."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from transformers import LlamaForCausalLM, LlamaForSequenceClassification

from seam_exp.cli import CONF_DIR
from seam_exp.models.batching import encode_prompts, pad_pairs
from seam_exp.models.factory import llama_config
from seam_exp.models.logprob import response_logprobs
from seam_exp.models.reward import reward_scores
from seam_exp.rl.config import rl_config
from seam_exp.rl.critic import ValueModel
from seam_exp.rl.evaluation import PolicySamples, gold_metrics, mismatch_metrics
from seam_exp.rl.reward_normalizer import RewardNormalizer
from seam_exp.rl.rollout import build_rollout_batch, response_token_logprobs, sample_rollout

ARCH = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64}


@pytest.fixture(scope="module")
def models(tiny_world):
    torch.manual_seed(0)
    policy = LlamaForCausalLM(llama_config(ARCH, tiny_world.tokenizer)).eval()
    rm = LlamaForSequenceClassification(llama_config(ARCH, tiny_world.tokenizer, num_labels=1)).eval()
    return policy, rm


def _ids(tiny_world, n=6):
    """Prompts of different lengths; responses with EOS, one truncated without EOS, of different lengths."""
    tok = tiny_world.tokenizer
    rows = tiny_world.data["rm"].select(range(n))
    prompts = encode_prompts(tok, rows["prompt"], add_bos=False)
    texts = [c if i % 2 else c + " And a few more words." for i, c in enumerate(rows["chosen"])]
    responses = [[*x, tok.eos_token_id] for x in tok(texts, add_special_tokens=False)["input_ids"]]
    responses[1] = responses[1][:-1]  # cut at the length limit: no EOS
    has_eos = [i != 1 for i in range(n)]
    return prompts, responses, has_eos


def test_rollout_layout_aligns_every_response_at_the_same_column(tiny_world):
    prompts, responses, has_eos = _ids(tiny_world)
    pad = tiny_world.tokenizer.pad_token_id
    batch = build_rollout_batch(prompts, responses, has_eos, pad)
    assert len({len(p) for p in prompts}) > 1 and len({len(r) for r in responses}) > 1
    assert batch.prompt_width == max(len(p) for p in prompts)
    for i, (p, r) in enumerate(zip(prompts, responses, strict=True)):
        row = batch.tokens.input_ids[i]
        assert row[batch.prompt_width - len(p) : batch.prompt_width].tolist() == p
        assert batch.response_ids[i, : len(r)].tolist() == r
        mask = batch.response_mask[i]
        assert mask[: len(r)].all() and not mask[len(r) :].any()  # a prefix, as rl.advantages expects
    assert batch.has_eos.tolist() == has_eos
    assert (batch.tokens.position_ids[batch.tokens.attention_mask.bool()] >= 0).all()


def test_rollout_logprobs_and_rm_scores_match_the_right_padded_reference(tiny_world, models):
    policy, rm = models
    prompts, responses, has_eos = _ids(tiny_world)
    pad = tiny_world.tokenizer.pad_token_id
    batch = build_rollout_batch(prompts, responses, has_eos, pad)
    reference = pad_pairs(prompts, responses, pad)  # the tested right-padded layout of models.batching
    with torch.no_grad():
        per_token = response_token_logprobs(policy, batch)
        ours = torch.where(batch.response_mask, per_token, 0.0).double().sum(-1)
        theirs = response_logprobs(policy, reference).sequence
        torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=0)
        torch.testing.assert_close(
            reward_scores(rm, batch.tokens), reward_scores(rm, reference), atol=1e-5, rtol=0
        )


def test_critic_from_reward_model_values_each_prefix_with_the_rm_score(tiny_world, models):
    _, rm = models
    prompts, responses, has_eos = _ids(tiny_world, n=3)
    pad = tiny_world.tokenizer.pad_token_id
    batch = build_rollout_batch(prompts, responses, has_eos, pad)
    critic = ValueModel.from_reward(rm).eval()
    with torch.no_grad():
        values = critic(batch)
        assert values.shape == batch.response_ids.shape
        # The value before response token t is read where the prompt + response[:t] ends.
        for i, (p, r) in enumerate(zip(prompts, responses, strict=True)):
            for t in (1, len(r) - 1):
                prefix = pad_pairs([p], [r[:t]], pad)
                assert values[i, t].item() == pytest.approx(reward_scores(rm, prefix).item(), abs=1e-5)


def test_critic_from_policy_starts_at_zero_and_owns_its_weights(tiny_world, models):
    policy, _ = models
    prompts, responses, has_eos = _ids(tiny_world, n=3)
    batch = build_rollout_batch(prompts, responses, has_eos, tiny_world.tokenizer.pad_token_id)
    critic = ValueModel.from_policy(policy)
    with torch.no_grad():
        assert torch.count_nonzero(critic(batch)) == 0
    trunk = dict(critic.trunk.named_parameters())
    for name, param in policy.get_decoder().named_parameters():
        assert torch.equal(trunk[name], param) and trunk[name] is not param


def test_sampled_rollout_holds_exactly_the_generated_tokens(tiny_world, models):
    policy, _ = models
    tok = tiny_world.tokenizer
    prompts = tiny_world.data["rl"]["prompt"][:4]
    batch, prompt_index, texts = sample_rollout(
        policy, tok, prompts, n=3, max_new_tokens=6, temperature=1.0, seed=1
    )
    assert prompt_index == [i for i in range(4) for _ in range(3)]
    for i, text in enumerate(texts):
        ids = batch.response_ids[i][batch.response_mask[i]].tolist()
        assert ids[-1] == tok.eos_token_id if batch.has_eos[i] else len(ids) == 6
        assert tok.decode([t for t in ids if t != tok.eos_token_id], skip_special_tokens=True) == text


def test_score_normalizer_modes():
    rng = np.random.default_rng(0)
    batches = [torch.tensor(rng.normal(3.0, 2.0, size=n)) for n in (5, 17, 9)]
    running = RewardNormalizer("running")
    for i, b in enumerate(batches):
        out = running(b)
        seen = torch.cat(batches[: i + 1]).numpy()
        assert running.mean == pytest.approx(seen.mean()) and running.std == pytest.approx(seen.std(ddof=1))
        torch.testing.assert_close(out, (b - seen.mean()) / (seen.std(ddof=1) + 1e-6))
    start = RewardNormalizer("start", clip=1.0)
    first = start(batches[0])
    assert first.abs().max() <= 1.0
    frozen = (batches[0].mean().item(), batches[0].std().item())
    start(batches[1])
    assert (start.mean, start.std) == pytest.approx(frozen)
    torch.testing.assert_close(RewardNormalizer("none")(batches[2]), batches[2])


def _samples(gold, rm, n, kl=None):
    gold, rm = np.asarray(gold, float), np.asarray(rm, float)
    return PolicySamples(
        n=n,
        prompt_index=np.repeat(np.arange(len(gold) // n), n),
        texts=[""] * len(gold),
        gold=gold,
        rm=rm,
        kl=np.zeros(len(gold)) if kl is None else np.asarray(kl, float),
        length=np.ones(len(gold)),
        has_eos=np.ones(len(gold), bool),
    )


def test_gold_metrics_by_hand():
    # 2 prompts x 2 samples. Pairs (policy vs start): 2>1 win, 1=1 tie | 0<3 loss, 3>2 win.
    start = _samples([1.0, 1.0, 3.0, 2.0], [0, 0, 0, 0], n=2)
    current = _samples([2.0, 1.0, 0.0, 3.0], [0, 0, 0, 0], n=2, kl=[1.0, 3.0, 0.5, 0.5])
    m = gold_metrics(current, start)
    assert m["gold"] == pytest.approx(1.5)
    assert m["gain"] == pytest.approx(((1.5 - 1.0) + (1.5 - 2.5)) / 2)
    assert m["win_rate"] == pytest.approx(((1 + 0.5) / 2 + (0 + 1) / 2) / 2)
    assert m["kl"] == pytest.approx((2.0 + 0.5) / 2)
    assert m["gain_lo"] <= m["gain"] <= m["gain_hi"]
    same = gold_metrics(start, start)
    assert (same["gain"], same["win_rate"], same["kl"]) == (0.0, 0.5, 0.0)


def test_mismatch_and_hacking_by_hand():
    # 2 prompts x 3 samples. Prompt 0: gold (3, 1, 1) gives pairs (0 > 1), (0 > 2); (1, 2) tie, no pair.
    # The RM scores sample 1 above sample 0 (wrong) and ties 0 with 2 (a tie counts as wrong): 2 of 2.
    # Prompt 1: gold (0, 1, 2) gives 3 pairs; the RM orders them all like gold: 0 of 3.
    gold = [3.0, 1.0, 1.0, 0.0, 1.0, 2.0]
    rm = [0.5, 0.9, 0.5, -1.0, 0.0, 1.0]
    ref_gold, ref_rm = np.array([2.0, 1.5]), np.array([0.6, 0.2])
    m = mismatch_metrics(_samples(gold, rm, n=3), ref_rm, ref_gold)
    assert m["mismatch_pairs"] == 5
    assert m["mismatch"] == pytest.approx(2 / 5)
    assert m["mismatch_lo"] <= m["mismatch"] <= m["mismatch_hi"]
    # RM above the prompt's reference: sample 1 (0.9 > 0.6) and sample 5 (1.0 > 0.2); of those, sample 1
    # is worse than its reference by gold (1 < 2), sample 5 is not (2 > 1.5).
    assert m["rm_above_reference"] == pytest.approx(2 / 6)
    assert m["hacking"] == pytest.approx(1 / 6)
    # An RM that orders every pair like gold has no mismatch.
    assert mismatch_metrics(_samples(gold, gold, n=3), ref_rm, ref_gold)["mismatch"] == 0.0


@pytest.mark.parametrize("rl", ["ppo", "rloo"])
def test_rl_configs_compose_into_typed_configs(rl):
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["+experiment=saturation", "scale=default", f"rl={rl}"])
    config = rl_config(cfg.rl)
    assert config.algorithm == rl and config.steps == cfg.scale.rl_steps
    assert config.eval.prompts == cfg.scale.eval_prompts


@pytest.mark.parametrize(
    "override, message",
    [
        ("rl.kl.estimator=k9", "rl.kl.estimator: unknown 'k9'; valid: k1, k3, abs, mse"),
        ("rl.reward.normalize=zscore", "rl.reward.normalize: unknown 'zscore'"),
        ("rl.ppo.minibatch_size=1000", "rl.ppo.minibatch_size: must be in [1, 32]"),
    ],
)
def test_bad_rl_config_is_one_line(override, message):
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["+experiment=saturation", override])
    with pytest.raises(ValueError) as info:
        rl_config(cfg.rl)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_rloo_needs_several_samples_per_prompt():
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            "config", overrides=["+experiment=saturation", "rl=rloo", "rl.rollout.samples_per_prompt=1"]
        )
    with pytest.raises(ValueError, match="leave-one-out"):
        rl_config(cfg.rl)
