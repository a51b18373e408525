"""Online SEAM (docs/online.md): SEAM of a fixed set of RL prompts re-scored under the current policy, beside
the exact mismatch of the same policy on the same prompts; one measurement, whatever trainer moves the
policy (this project's Lightning RL: tracking.py; a transformers/TRL Trainer: trainer_callback.py).

At each measurement, on `online.prompts` RL prompts (a seeded subset, fixed for the run):
- the policy draws `online.samples_per_prompt` answers per prompt (the rollout's sampling, a private RNG
  stream: tracking never changes the run it watches), judged by the RM and by gold: the exact mismatch of
  the prompt, the share of its gold-ordered pairs the RM orders wrongly (seam_exp/metrics/preference.py);
- `fixed`: SEAM of the prompt's reference and its k worse answers of the configured variant (the same
  texts all run long), rewarded by the RM of the moment and weighted by the current policy's log-probs;
- `own`: SEAM built from the policy's own answers: its first answer to each prompt plays the reference and
  k seeded perturbations of it (the adv variant's builder) the worse answers, all weighted by the current
  policy, the RM judging them now (the texts change as the policy does);
- `own_contrast` (when `online.variant` is contrast, whose question index it reuses): the same reference,
  and as worse answers the policy's own first answers to the k most similar other tracked questions, the
  contrast variant's construction applied to what the policy writes now.
Each row also holds the Spearman correlation of each score with the exact mismatch over the prompts and
the seconds the row took, so that its cost is read as a share of the run's time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from seam_exp.metrics.intervals import correlation
from seam_exp.metrics.preference import mismatch_counts
from seam_exp.models.scoring import score_texts
from seam_exp.rl.evaluation import GoldEvaluator, PolicySamples
from seam_exp.seam.candidates import make_builder
from seam_exp.seam.candidates.adv import AdvBuilder, world_names
from seam_exp.seam.candidates.base import build_candidates, prompt_rng
from seam_exp.seam.formula import formula_scores, orient
from seam_exp.seam.scoring import sequence_logprobs, variant_diagnostics
from seam_exp.utils.cache import ArtifactCache
from seam_exp.utils.config import to_container
from seam_exp.world.build import World

log = logging.getLogger(__name__)
# one row per measurement: step, seconds, exact mismatch, each score's mean and its rho with the mismatch
ONLINE_FILE = "online_seam.csv"


def tracked_prompts(rows, n: int, seed: int):
    """n distinct prompts of the RL rows (a seeded draw, in prompt-id order): {prompt_id: [...], prompt: [...]}."""
    frame = rows.select_columns(["prompt_id", "prompt"]).to_pandas().drop_duplicates("prompt_id")
    frame = frame.sort_values("prompt_id")
    chosen = np.sort(np.random.default_rng(seed).permutation(len(frame))[: min(n, len(frame))])
    frame = frame.iloc[chosen]
    return {"prompt_id": [int(i) for i in frame["prompt_id"]], "prompt": frame["prompt"].tolist()}


def seam_under(policy, tokenizer, prompts: Sequence[str], candidates: pd.DataFrame, seam: dict, formula: str):
    """SEAM per prompt (prompt_id, `formula`) of candidates whose RM rewards are known, weighted by this
    policy's log-probabilities (`prompts`: each candidate row's prompt text). Leaves the policy in eval mode."""
    logp, length = sequence_logprobs(policy, tokenizer, prompts, candidates["text"].tolist())
    return formula_scores(candidates.assign(logp=logp, length=length), seam, [formula])


def own_candidates(
    world: World, builder: AdvBuilder, prompt_ids: Sequence[int], answers: Sequence[str], k: int, salt: str
) -> pd.DataFrame:
    """Per prompt with a worded answer: the policy's answer (index 0, the reference) and k perturbations of
    it. A wordless answer (empty, or EOS at once) has nothing to perturb: its prompt is left out."""
    names, rows = world_names(world), []
    for pid, answer in zip(prompt_ids, answers, strict=True):
        if not answer.split():
            continue
        worse = builder.perturbations(
            answer,
            k,
            names,
            lambda slot, attempt, pid=int(pid): prompt_rng(0, pid, f"{salt}/{slot}/{attempt}"),
        )
        texts = [answer, *(w.text for w in worse)]
        rows += [
            {"prompt_id": int(pid), "candidate_index": i, "is_reference": i == 0, "text": t}
            for i, t in enumerate(texts)
        ]
    return pd.DataFrame(rows, columns=["prompt_id", "candidate_index", "is_reference", "text"])


def tracked_neighbours(prompt_ids: Sequence[int], vectors: np.ndarray, max_similarity: float) -> dict:
    """{prompt id: the other tracked prompts, most similar question first}, by the cosine of unit question
    embeddings (`vectors`, one row per id), leaving out near-duplicates (above `max_similarity`), as the
    contrast builder does over its pool."""
    sims = vectors @ vectors.T
    out = {}
    for i, pid in enumerate(prompt_ids):
        order = [j for j in np.argsort(-sims[i], kind="stable") if j != i and sims[i, j] <= max_similarity]
        out[int(pid)] = [int(prompt_ids[j]) for j in order]
    return out


def own_contrast_candidates(
    answers: dict[int, str], neighbours: dict[int, list[int]], k: int
) -> pd.DataFrame:
    """Per prompt with a worded answer: that answer (index 0, the reference) and, as its worse answers, the
    answers to its nearest tracked neighbours (up to k, none equal to the prompt's own answer or repeated):
    another question's answer, as contrast takes another question's reference."""
    rows = []
    for pid, answer in answers.items():
        if not answer.split():
            continue
        taken, texts = {answer}, [answer]
        for other in neighbours.get(pid, []):
            text = answers.get(other, "")
            if text.split() and text not in taken:
                taken.add(text)
                texts.append(text)
            if len(texts) == k + 1:
                break
        if len(texts) > 1:
            rows += [
                {"prompt_id": int(pid), "candidate_index": i, "is_reference": i == 0, "text": t}
                for i, t in enumerate(texts)
            ]
    return pd.DataFrame(rows, columns=["prompt_id", "candidate_index", "is_reference", "text"])


class OnlineSeamMeter:
    """One online SEAM measurement of a policy, whatever trainer moves it: `prepare` once with the RM and
    tokenizer the run uses, then `measure(policy, reward_model, step)` returns one row. Measuring never
    changes the policy (it is left in the mode it was in) nor the caller's random streams."""

    def __init__(
        self,
        world: World,
        rows: dict,
        candidates: pd.DataFrame,
        seam: dict,
        samples_per_prompt: int,
        max_new_tokens: int,
        temperature: float,
        seed: int,
        neighbours: dict[int, list[int]] | None = None,
    ):
        self.world, self.rows, self.seam, self.seed = world, rows, seam, seed
        self.neighbours = neighbours  # tracked_neighbours, for the own_contrast score (None: not scored)
        self.sampling = (samples_per_prompt, max_new_tokens, temperature)
        self.prompt_text = dict(zip(rows["prompt_id"], rows["prompt"], strict=True))
        self.fixed = candidates[candidates["prompt_id"].isin(self.prompt_text)].reset_index(drop=True)
        adv = seam["adv"]
        self.perturber = AdvBuilder(adv["rate"], adv["ops"], adv["attempts"])
        self.evaluator: GoldEvaluator | None = None
        self.setup_seconds = 0.0  # counted in the first row's seconds

    def prepare(self, tokenizer) -> None:
        start = time.perf_counter()
        n, max_new_tokens, temperature = self.sampling
        self.tokenizer = tokenizer
        self.evaluator = GoldEvaluator(
            self.world, self.rows, tokenizer, n, max_new_tokens, temperature, self.seed
        )
        self.setup_seconds = time.perf_counter() - start

    def _prompts(self, frame: pd.DataFrame) -> list[str]:
        return [self.prompt_text[int(p)] for p in frame["prompt_id"]]

    def _weighted(self, frame: pd.DataFrame, policy) -> pd.DataFrame:
        """SEAM per prompt (the configured formula) of `frame`'s candidates under the policy's log-probs."""
        return seam_under(
            policy, self.tokenizer, self._prompts(frame), frame, self.seam, self.seam["formula"]
        )

    def _score_own(self, own: pd.DataFrame, reward_model, policy):
        """SEAM per prompt of candidates built from the policy's answers, and how often a worse answer is not
        worse than its answer by gold (NaN where gold is a judge's paid call)."""
        if own.empty:  # every answer wordless: nothing to score
            return pd.DataFrame(columns=["prompt_id", self.seam["formula"]]), float("nan")
        start = time.perf_counter()
        own["reward"] = score_texts(reward_model, self.tokenizer, self._prompts(own), own["text"].tolist())
        rm_seconds = time.perf_counter() - start
        start = time.perf_counter()
        scores = self._weighted(own, policy)
        pm_seconds = time.perf_counter() - start
        not_worse = float("nan")
        if self.world.gold_is_free:
            own["gold"] = self.world.gold(own["prompt_id"].tolist(), own["text"].tolist())
            not_worse = variant_diagnostics(own, pm_seconds, rm_seconds, len(scores))["worse_gold_ge_ref"]
        return scores, not_worse

    def _own(self, samples: PolicySamples, ids: np.ndarray, reward_model, policy, step: int) -> dict:
        """The scores built from the policy's first answer to each prompt: {name: (SEAM per prompt, share of
        worse answers not worse by gold)}, and how many answers had no word to build from."""
        first = np.arange(0, len(samples.texts), samples.n)
        answers = {int(ids[i]): samples.texts[i] for i in first}
        adv = own_candidates(
            self.world,
            self.perturber,
            list(answers),
            list(answers.values()),
            self.seam["k"],
            f"online/{self.seed}/{step}",
        )
        scores = {"own": self._score_own(adv, reward_model, policy)}
        if self.neighbours is not None:
            contrast = own_contrast_candidates(answers, self.neighbours, self.seam["k"])
            scores["own_contrast"] = self._score_own(contrast, reward_model, policy)
        wordless = sum(not a.split() for a in answers.values())
        return scores, wordless

    @torch.no_grad()
    def measure(self, policy, reward_model, step: int, first: bool = False) -> dict:
        """One row: the exact mismatch of the policy's own answers, each score's mean and its Spearman
        correlation with that mismatch over the prompts, and the seconds it took (`first` adds prepare's)."""
        if self.evaluator is None:
            raise RuntimeError("OnlineSeamMeter.measure before prepare(tokenizer)")
        start = time.perf_counter()
        was_training = policy.training
        # the policy stands in for the start policy: the samples' KL to it is not read here
        samples = self.evaluator.sample(policy, policy, reward_model)
        ids = np.asarray(self.rows["prompt_id"])[samples.prompt_index]
        counts = mismatch_counts(ids, samples.rm, samples.gold)
        truth = pd.Series(counts.rate, index=counts.groups).dropna()
        own, wordless = self._own(samples, ids, reward_model, policy, step)
        # rewarded by the RM of the moment, as every other score here: a refresh may have moved it
        fixed = self.fixed.assign(
            reward=score_texts(
                reward_model, self.tokenizer, self._prompts(self.fixed), self.fixed["text"].tolist()
            )
        )
        scores = {"fixed": self._weighted(fixed, policy), **{name: seam for name, (seam, _) in own.items()}}
        policy.train(was_training)

        pooled = counts.pooled(seed=self.seed)  # over every gold-ordered pair, a bootstrap CI over prompts
        row = {
            "step": step,
            "exact_mismatch": pooled["mismatch"],
            "exact_mismatch_lo": pooled["mismatch_lo"],
            "exact_mismatch_hi": pooled["mismatch_hi"],
            "gold": float(samples.gold.mean()),
            **{f"{name}_worse_gold_ge_answer": not_worse for name, (_, not_worse) in own.items()},
            "own_wordless_answers": wordless,
        }
        formula = self.seam["formula"]
        for name, frame in scores.items():
            per_prompt = frame.set_index("prompt_id")[formula]
            judged = truth.index.intersection(per_prompt.index)
            row[f"{name}_seam"] = float(per_prompt.mean())
            row[f"{name}_spearman"] = (
                correlation(orient(per_prompt.loc[judged], formula), truth.loc[judged])
                if len(judged) > 2
                else float("nan")
            )
        row["seconds"] = time.perf_counter() - start + (self.setup_seconds if first else 0.0)
        shown = ", ".join(f"{n} {row[f'{n}_seam']:.3g} (rho {row[f'{n}_spearman']:.2f})" for n in scores)
        log.info(
            "online SEAM @ step %d: exact mismatch %.3f, %s, %.1f s",
            step,
            row["exact_mismatch"],
            shown,
            row["seconds"],
        )
        return row


def fixed_candidates(cfg, variant: str, world: World, cache: ArtifactCache, prompt_ids) -> pd.DataFrame:
    """The reference and `seam.k` worse answers of `variant` per prompt (cached), whose SEAM the online
    pieces re-weight under the current policy."""
    builder = make_builder(variant, cfg.seam, world, cache)
    ids = [int(p) for p in prompt_ids]
    return build_candidates(builder, world, ids, cfg.seam.k, cfg.seam.seed, cache)[0]


def online_seam_meter(cfg, world: World, cache: ArtifactCache, rows) -> OnlineSeamMeter:
    """The meter of a run configured by `cfg` (its `online`, `seam` and rollout settings) on its RL prompt
    rows (a selection passes its kept ones)."""
    online = cfg.online
    tracked = tracked_prompts(rows, online.prompts, online.seed)
    candidates = fixed_candidates(cfg, online.variant, world, cache, tracked["prompt_id"])
    neighbours = None
    if online.variant == "contrast":  # its question index is built for the fixed candidates anyway
        builder = make_builder("contrast", cfg.seam, world, cache)
        vectors = builder.index.vectors(tracked["prompt_id"])
        neighbours = tracked_neighbours(tracked["prompt_id"], vectors, builder.max_similarity)
    return OnlineSeamMeter(
        world,
        tracked,
        candidates,
        to_container(cfg.seam),
        online.samples_per_prompt,
        cfg.rl.rollout.max_new_tokens,
        cfg.rl.rollout.temperature,
        online.seed,
        neighbours,
    )
