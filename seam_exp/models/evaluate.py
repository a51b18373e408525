"""Gold-judged quality of a policy and accuracy of a reward model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from omegaconf import DictConfig

from seam_exp.models.batching import encode_pairs
from seam_exp.models.generation import Samples, generate
from seam_exp.models.reward import reward_scores
from seam_exp.reporting.stats import bootstrap_ci
from seam_exp.world.build import World


@torch.no_grad()
def score_responses(
    rm, tokenizer, prompts: Sequence[str], responses: Sequence[str], batch_size: int = 128
) -> np.ndarray:
    """RM reward of each (prompt, response)."""
    rm.eval()
    out = []
    for start in range(0, len(prompts), batch_size):
        batch = encode_pairs(
            tokenizer, prompts[start : start + batch_size], responses[start : start + batch_size]
        )
        out.append(reward_scores(rm, batch).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def pair_accuracy(rm, tokenizer, prompts, better: Sequence[str], worse: Sequence[str]) -> float:
    """Share of pairs where the RM scores `better` strictly above `worse` (ties count as wrong)."""
    r_better = score_responses(rm, tokenizer, list(prompts), list(better))
    r_worse = score_responses(rm, tokenizer, list(prompts), list(worse))
    return float(np.mean(r_better > r_worse)) if len(r_better) else float("nan")


def heldout_pair_accuracy(rm, tokenizer, world: World, split: str = "rm_test") -> dict[str, float]:
    """RM accuracy on held-out preference pairs: against the labeler's choice and against gold."""
    pairs = world.data[split]
    r_c = score_responses(rm, tokenizer, pairs["prompt"], pairs["chosen"])
    r_r = score_responses(rm, tokenizer, pairs["prompt"], pairs["rejected"])
    g_c, g_r = np.array(pairs["gold_chosen"]), np.array(pairs["gold_rejected"])
    decided = g_c != g_r
    gold_order = np.where(g_c > g_r, r_c > r_r, r_r > r_c)
    return {
        "rm_acc_heldout": float(np.mean(r_c > r_r)),
        "rm_acc_heldout_gold": float(np.mean(gold_order[decided])) if decided.any() else float("nan"),
    }


def sample_pairs_by_gold(prompt_ids: Sequence[int], gold: np.ndarray) -> list[tuple[int, int]]:
    """All pairs (i, j), i better than j by gold, among samples of the same prompt."""
    by_prompt: dict[int, list[int]] = {}
    for idx, pid in enumerate(prompt_ids):
        by_prompt.setdefault(pid, []).append(idx)
    pairs = []
    for idxs in by_prompt.values():
        for a_pos, a in enumerate(idxs):
            for b in idxs[a_pos + 1 :]:
                if gold[a] > gold[b]:
                    pairs.append((a, b))
                elif gold[b] > gold[a]:
                    pairs.append((b, a))
    return pairs


def mismatch_on_samples(rewards: np.ndarray, gold: np.ndarray, prompt_ids: Sequence[int]) -> dict[str, float]:
    """On pairs of samples of the same prompt with different gold: share the RM orders against gold
    (ties in reward count as mismatches, as a strict comparison would)."""
    pairs = sample_pairs_by_gold(prompt_ids, gold)
    if not pairs:
        return {"mismatch": float("nan"), "n_pairs": 0}
    wrong = [rewards[a] <= rewards[b] for a, b in pairs]
    return {"mismatch": float(np.mean(wrong)), "n_pairs": len(pairs)}


def policy_samples(
    model, tokenizer, world: World, split_rows, gen: DictConfig, n: int, seed: int
) -> tuple[Samples, list[int], np.ndarray]:
    """n samples per prompt at the preset's temperature, their prompt ids and gold rewards."""
    samples = generate(
        model,
        tokenizer,
        split_rows["prompt"],
        n=n,
        max_new_tokens=gen.max_new_tokens,
        temperature=gen.temperature,
        top_k=gen.top_k,
        top_p=gen.top_p,
        seed=seed,
        progress=True,
    )
    ids = [split_rows["prompt_id"][i] for i in samples.prompt_index]
    return samples, ids, world.gold(ids, samples.texts)


def policy_quality(
    model, tokenizer, world: World, split_rows, gen: DictConfig, n: int, seed: int
) -> tuple[dict, tuple]:
    """Mean gold of sampled answers (with a bootstrap CI over prompts) and greedy correctness."""
    samples, ids, gold = policy_samples(model, tokenizer, world, split_rows, gen, n, seed)
    per_prompt = gold.reshape(len(split_rows["prompt"]), n).mean(1)
    point, lo, hi = bootstrap_ci(per_prompt, seed=seed)
    greedy = generate(model, tokenizer, split_rows["prompt"], greedy=True, max_new_tokens=gen.max_new_tokens)
    g_ids = [split_rows["prompt_id"][i] for i in greedy.prompt_index]
    correct = [world.components(pid, y)["correct"] == 1.0 for pid, y in zip(g_ids, greedy.texts, strict=True)]
    exact = [y == world.problems[pid].reference for pid, y in zip(g_ids, greedy.texts, strict=True)]
    metrics = {
        "pm_gold_mean": point,
        "pm_gold_lo": lo,
        "pm_gold_hi": hi,
        "pm_greedy_gold": float(world.gold(g_ids, greedy.texts).mean()),
        "pm_greedy_correct": float(np.mean(correct)),
        "pm_greedy_exact": float(np.mean(exact)),
        "pm_eos_rate": float(np.mean(samples.has_eos)),
        "pm_response_tokens": float(np.mean([len(r) for r in samples.response_ids])),
    }
    return metrics, (samples, ids, gold)
