"""Gold-judged evaluation of an RL policy on held-out prompts, and mismatch on its own samples; the
Lightning callback that runs it at the start, every `rl.eval.every` steps and at the end of RL.

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
  gold scores them lower. The reference is scored in every evaluation by the RM that scores the samples,
  so that it stays right when the RM changes during the run (an online refresh, docs/online.md).

The metrics themselves (ties, win outcomes, mismatch, hacking, intervals) come from seam_exp.metrics.

The SFT start's samples depend on the start policy, the prompts and the sampling settings only, never on
the RM or the RL seed, so every run from one SFT policy (each RM of a grid row, each RL seed, each
selection method) would draw the very same ones: with a StartCache they are drawn once and kept in the
artifact cache (docs/rl.md, "Gold evaluation"); the RM's scores and the KL are computed in each run.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch

from seam_exp.metrics.intervals import bootstrap_ci
from seam_exp.metrics.preference import mismatch_counts, reward_hacking, win_outcomes
from seam_exp.models.reward import reward_scores
from seam_exp.models.scoring import score_texts
from seam_exp.rl.losses import kl_per_token
from seam_exp.rl.rollout import response_token_logprobs, sample_rollout
from seam_exp.utils.cache import ArtifactCache, code_version, stable_hash
from seam_exp.world.build import World

log = logging.getLogger(__name__)


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


START_SAMPLES_FILE = "start_samples.pt"


@dataclass(frozen=True)
class StartCache:
    """Where the start policy's eval samples are kept: the artifact cache, and the start policy's own
    artifact folder, which names it (a policy outside the cache has no stable name and is never cached)."""

    cache: ArtifactCache
    policy: Path


class GoldEvaluator:
    def __init__(
        self,
        world: World,
        rows,
        tokenizer,
        n: int,
        max_new_tokens: int,
        temperature: float,
        seed: int,
        batch_size: int = 64,
        start_cache: StartCache | None = None,
    ):
        self.world, self.tokenizer = world, tokenizer
        self.prompt_ids, self.prompts = list(rows["prompt_id"]), list(rows["prompt"])
        self.n, self.max_new_tokens, self.temperature = n, max_new_tokens, temperature
        self.seed, self.batch_size, self.start_cache = seed, batch_size, start_cache
        self.references = [world.problems[i].reference for i in self.prompt_ids]
        self.ref_gold = world.gold(self.prompt_ids, self.references)

    def _rollout(self, policy):
        # A private RNG stream: evaluating must neither depend on nor disturb the training's randomness,
        # on the CPU and on the GPU that samples (where the CUDA generator drives the rollouts).
        device = next(policy.parameters()).device
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            return sample_rollout(
                policy,
                self.tokenizer,
                self.prompts,
                n=self.n,
                max_new_tokens=self.max_new_tokens,
                temperature=self.temperature,
                seed=self.seed,
            )

    def _start_rollout(self, policy):
        """The start policy's rollout, drawn once per (policy, prompts, settings) and kept in the cache."""
        device = next(policy.parameters()).device.type
        key = {
            "policy": str(self.start_cache.policy.relative_to(self.start_cache.cache.root)),
            "prompts": stable_hash([int(i) for i in self.prompt_ids]),
            "settings": [self.n, self.max_new_tokens, self.temperature, self.seed, device],
        }

        def build(folder: Path) -> None:
            torch.save(self._rollout(policy), folder / START_SAMPLES_FILE)

        version = code_version(sys.modules[__name__], sys.modules[sample_rollout.__module__])
        folder, _ = self.start_cache.cache.get_or_build("eval_start_samples", key, version, build)
        return torch.load(folder / START_SAMPLES_FILE, weights_only=False)

    @torch.no_grad()
    def sample(self, policy, start_policy, reward_model, at_start: bool = False) -> PolicySamples:
        """The policy's samples on the prompts, judged; `at_start` (the policy is still the start policy)
        reads them from the StartCache where there is one."""
        was_training = policy.training
        policy.eval()
        device = next(policy.parameters()).device
        cached = at_start and self.start_cache is not None
        batch, prompt_index, texts = self._start_rollout(policy) if cached else self._rollout(policy)
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

    def reference_scores(self, reward_model) -> np.ndarray:
        """The RM's score of each prompt's reference answer: the bar of the hacking share."""
        return score_texts(reward_model, self.tokenizer, self.prompts, self.references)

    def metrics(self, current: PolicySamples, start: PolicySamples, reward_model) -> dict[str, float]:
        """Gold quality of `current` against `start` and the RM's mismatch on `current`'s samples;
        `reward_model` is the one that scored them, so the references are read by the same RM."""
        return {
            **gold_metrics(current, start, self.seed),
            **mismatch_metrics(current, self.reference_scores(reward_model), self.ref_gold, self.seed),
            "proxy": float(current.rm.mean()),
            "correct_rate": self.correct_rate(current),
            "eos_rate": float(current.has_eos.mean()),
            "response_tokens": float(current.length.mean()),
        }

    def correct_rate(self, samples: PolicySamples) -> float:
        """Share of samples whose answer is right (NaN on judged data, which has no notion of it)."""
        if not hasattr(self.world, "components"):
            return float("nan")
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
    wins = current.per_prompt(win_outcomes(current.gold, start.gold)).mean(1)
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
    """Mismatch (pooled over pairs, bootstrap CI over prompts) and reward hacking; `ref_*` are per prompt."""
    per_row = samples.prompt_index
    return {
        **mismatch_counts(per_row, samples.rm, samples.gold).pooled(seed=seed),
        **reward_hacking(samples.rm, ref_rm[per_row], samples.gold, ref_gold[per_row]),
    }


class AlongTheRun(pl.Callback):
    """Lightning callback that measures the policy at the start of RL, every `every` RL steps (0: never),
    after each step of `at`, and at the end, one history row each; a resumed run (seam_exp/rl/resume.py)
    keeps the rows it had. A subclass says what one measurement is (`measure`)."""

    def __init__(self, every: int = 0, at: Sequence[int] = ()):
        self.every, self.at = every, frozenset(at)
        self.history: list[dict] = []  # one row per measurement: its step and what was measured
        self.steps_done = 0

    def measure(self, trainer: pl.Trainer, module, step: int) -> None:
        raise NotImplementedError

    def on_train_start(self, trainer, pl_module) -> None:
        if not self.history:  # a resumed run has its rows so far (load_state_dict)
            self.measure(trainer, pl_module, 0)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.steps_done = batch_idx + 1
        due = (self.every > 0 and self.steps_done % self.every == 0) or self.steps_done in self.at
        if due and self.steps_done < trainer.num_training_batches:
            self.measure(trainer, pl_module, self.steps_done)

    def on_train_end(self, trainer, pl_module) -> None:
        if not self.history or self.history[-1]["step"] != self.steps_done:
            self.measure(trainer, pl_module, self.steps_done)

    def state_dict(self) -> dict:
        return {"history": self.history, "steps_done": self.steps_done}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history, self.steps_done = state_dict["history"], state_dict["steps_done"]


class GoldEvaluation(AlongTheRun):
    """Gold-judged evaluation on the eval prompts (and validation prompts) along the run."""

    def __init__(
        self,
        evaluator: GoldEvaluator,
        every: int = 0,
        validator: GoldEvaluator | None = None,
        at: Sequence[int] = (),
    ):
        super().__init__(every, at)
        self.evaluator, self.validator = evaluator, validator
        self.start: PolicySamples | None = None
        self.last: PolicySamples | None = None

    def _validate(self, module, at_start: bool) -> dict[str, float]:
        """Gold and KL to the start on the validation prompts (NaN without them): what checkpoints are
        chosen on, so that the eval prompts only ever report."""
        if self.validator is None:
            return {"val_gold": float("nan"), "val_kl": float("nan")}
        samples = self.validator.sample(module.policy, module.ref, module.rm, at_start=at_start)
        return {"val_gold": float(samples.gold.mean()), "val_kl": float(samples.kl.mean())}

    def measure(self, trainer: pl.Trainer, module, step: int) -> None:
        # the first evaluation, before any RL step (a resumed run has its start)
        at_start = self.start is None
        samples = self.evaluator.sample(module.policy, module.ref, module.rm, at_start=at_start)
        if at_start:
            self.start = samples
        self.last = samples
        metrics = {
            "step": step,
            **self.evaluator.metrics(samples, self.start, module.rm),
            **self._validate(module, at_start),
        }
        self.history.append(metrics)
        if trainer.logger is not None:
            trainer.logger.log_metrics({f"eval/{k}": v for k, v in metrics.items() if k != "step"}, step=step)
        log.info(
            "eval @ step %d: gold %.3f (gain %+.3f), win rate %.3f, KL %.2f, proxy %.3f, mismatch %.3f",
            step,
            metrics["gold"],
            metrics["gain"],
            metrics["win_rate"],
            metrics["kl"],
            metrics["proxy"],
            metrics["mismatch"],
        )

    # A resumed run continues with the evaluations it had (its history) and the start's samples every later
    # evaluation is paired with.
    def state_dict(self) -> dict:
        return {**super().state_dict(), "start": self.start, "last": self.last}

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self.start, self.last = state_dict["start"], state_dict["last"]
