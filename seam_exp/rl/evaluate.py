"""Gold-judged evaluation of an RL policy on held-out prompts, and mismatch on its own samples.

For each evaluation the policy draws n samples per eval prompt with a fixed seed (the SFT start is
sampled the same way), and every sample gets its gold reward, its RM score and its KL to the start
(sum over tokens of log pi - log pi_start: an unbiased estimate of the sequence KL, since the tokens
come from pi). Reported, with bootstrap 95% CIs over prompts (samples of one prompt are not
independent, so prompts are the resampling unit):

- mean gold, gain over the SFT start (paired by prompt), win rate against the start (sample j of the
  policy against sample j of the start on the same prompt, gold as judge, ties counted half), KL;
- mismatch: among pairs of samples of the same prompt with different gold, the share the RM orders
  against gold (the paper's mismatch, measured exactly);
- reward hacking: the share of samples the RM scores above the prompt's gold reference answer while
  gold scores them lower.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from seam_exp.models.evaluate import sample_pairs_by_gold, score_responses
from seam_exp.models.reward import reward_scores
from seam_exp.reporting.stats import bootstrap_ci, win_rate
from seam_exp.rl.ppo_math import kl_per_token
from seam_exp.rl.rollout import response_token_logprobs, sample_rollout
from seam_exp.world.build import World

TIE_ATOL = 1e-9  # gold is deterministic: equal texts give equal floats


@dataclass
class PolicySamples:
    """n samples per eval prompt (contiguous by prompt) with their per-sample judgements."""

    n: int
    prompt_index: np.ndarray  # [N]
    texts: list[str]
    gold: np.ndarray  # [N]
    rm: np.ndarray  # [N] raw RM score
    kl: np.ndarray  # [N] sequence KL estimate to the start policy
    length: np.ndarray  # [N] response tokens
    has_eos: np.ndarray  # [N]

    def per_prompt(self, values: np.ndarray) -> np.ndarray:
        return values.reshape(-1, self.n)


class GoldEvaluator:
    def __init__(
        self,
        world: World,
        rows,
        tokenizer,
        reward_model,
        n: int,
        max_new_tokens: int,
        temperature: float,
        seed: int,
        batch_size: int = 64,
    ):
        self.world, self.tokenizer = world, tokenizer
        self.prompt_ids, self.prompts = list(rows["prompt_id"]), list(rows["prompt"])
        self.n, self.max_new_tokens, self.temperature = n, max_new_tokens, temperature
        self.seed, self.batch_size = seed, batch_size
        references = [world.problems[i].reference for i in self.prompt_ids]
        self.ref_gold = world.gold(self.prompt_ids, references)
        self.ref_rm = score_responses(reward_model, tokenizer, self.prompts, references)

    @torch.no_grad()
    def sample(self, policy, start_policy, reward_model) -> PolicySamples:
        was_training = policy.training
        policy.eval()
        # A private RNG stream: evaluating must neither depend on nor disturb the training's randomness.
        with torch.random.fork_rng(devices=[]):
            batch, prompt_index, texts = sample_rollout(
                policy,
                self.tokenizer,
                self.prompts,
                n=self.n,
                max_new_tokens=self.max_new_tokens,
                temperature=self.temperature,
                seed=self.seed,
            )
        device = next(policy.parameters()).device
        kl, rm = [], []
        for idx in torch.arange(len(batch)).split(self.batch_size):
            mb = batch.select(idx).to(device)
            logp = response_token_logprobs(policy, mb, self.temperature)
            start_logp = response_token_logprobs(start_policy, mb, self.temperature)
            per_token = torch.where(mb.response_mask, kl_per_token(logp, start_logp, "k1"), 0.0)
            kl.append(per_token.double().sum(-1).cpu())
            rm.append(reward_scores(reward_model, mb.tokens).cpu())
        policy.train(was_training)
        ids = [self.prompt_ids[i] for i in prompt_index]
        return PolicySamples(
            n=self.n,
            prompt_index=np.asarray(prompt_index),
            texts=texts,
            gold=self.world.gold(ids, texts),
            rm=torch.cat(rm).numpy().astype(np.float64),
            kl=torch.cat(kl).numpy(),
            length=batch.lengths.numpy(),
            has_eos=batch.has_eos.numpy(),
        )

    def metrics(self, current: PolicySamples, start: PolicySamples) -> dict[str, float]:
        """Gold quality of `current` against `start` and the RM's mismatch on `current`'s samples."""
        return {
            **gold_metrics(current, start, self.seed),
            **mismatch_metrics(current, self.ref_rm, self.ref_gold, self.seed),
            "proxy": float(current.rm.mean()),
            "correct_rate": self.correct_rate(current),
            "eos_rate": float(current.has_eos.mean()),
            "response_tokens": float(current.length.mean()),
        }

    def correct_rate(self, samples: PolicySamples) -> float:
        ids = [self.prompt_ids[i] for i in samples.prompt_index]
        return float(
            np.mean(
                [
                    self.world.components(i, y)["correct"] == 1.0
                    for i, y in zip(ids, samples.texts, strict=True)
                ]
            )
        )


def gold_metrics(current: PolicySamples, start: PolicySamples, seed: int = 0) -> dict[str, float]:
    """Mean gold, gain over `start`, win rate against `start` (ties half) and KL, each with a bootstrap
    95% CI over prompts. Sample j of a prompt is compared with sample j of the start on that prompt."""
    gold, start_gold = current.per_prompt(current.gold), start.per_prompt(start.gold)
    wins = np.array([win_rate(a, b, atol=TIE_ATOL) for a, b in zip(gold, start_gold, strict=True)])
    out = {}
    for name, per_prompt in [
        ("gold", gold.mean(1)),
        ("gain", gold.mean(1) - start_gold.mean(1)),
        ("win_rate", wins),
        ("kl", current.per_prompt(current.kl).mean(1)),
    ]:
        point, lo, hi = bootstrap_ci(per_prompt, seed=seed)
        out.update({name: point, f"{name}_lo": lo, f"{name}_hi": hi})
    return out


def mismatch_metrics(
    samples: PolicySamples, ref_rm: np.ndarray, ref_gold: np.ndarray, seed: int = 0
) -> dict[str, float]:
    """Mismatch (with a bootstrap CI over prompts) and reward hacking; `ref_*` are per prompt."""
    pairs = sample_pairs_by_gold(samples.prompt_index.tolist(), samples.gold)
    above = samples.rm > ref_rm[samples.prompt_index]
    hacked = above & (samples.gold < ref_gold[samples.prompt_index] - TIE_ATOL)
    out = {
        "mismatch": float("nan"),
        "mismatch_lo": float("nan"),
        "mismatch_hi": float("nan"),
        "mismatch_pairs": len(pairs),
        "hacking": float(hacked.mean()),
        "rm_above_reference": float(above.mean()),
    }
    if not pairs:
        return out
    better, worse = (np.array(x) for x in zip(*pairs, strict=True))
    # A tie in RM score counts against the RM, as a strict ordering would (models.evaluate convention).
    wrong = samples.rm[better] <= samples.rm[worse]
    prompt = samples.prompt_index[better]
    n_prompts = int(samples.prompt_index.max()) + 1
    wrong_by_prompt = np.bincount(prompt, weights=wrong, minlength=n_prompts)
    pairs_by_prompt = np.bincount(prompt, minlength=n_prompts).astype(np.float64)

    def ratio(idx: np.ndarray) -> float:
        idx = idx.astype(int)
        return float(wrong_by_prompt[idx].sum() / pairs_by_prompt[idx].sum())

    point, lo, hi = bootstrap_ci(np.flatnonzero(pairs_by_prompt), stat=ratio, seed=seed)
    return {**out, "mismatch": point, "mismatch_lo": lo, "mismatch_hi": hi}
