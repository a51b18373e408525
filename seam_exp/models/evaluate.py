"""Gold-judged quality of an SFT policy and accuracy of a reward model (the sanity experiment's numbers)."""

from __future__ import annotations

import numpy as np
from omegaconf import DictConfig

from seam_exp.metrics.intervals import bootstrap_ci
from seam_exp.metrics.preference import mismatch_counts
from seam_exp.metrics.ties import gold_order
from seam_exp.models.generation import GenerationSettings, Samples, generate
from seam_exp.models.scoring import score_texts
from seam_exp.world.build import World


def heldout_pair_accuracy(rm, tokenizer, world: World, split: str = "rm_test") -> dict[str, float]:
    """RM accuracy on held-out preference pairs: against the labeler's choice and against gold (a tie
    in RM score counts as wrong)."""
    pairs = world.data[split]
    n = len(pairs)
    rewards = score_texts(
        rm, tokenizer, list(pairs["prompt"]) * 2, list(pairs["chosen"]) + list(pairs["rejected"])
    )
    r_c, r_r = rewards[:n], rewards[n:]
    by_gold = gold_order(pairs["gold_chosen"], pairs["gold_rejected"])
    decided = by_gold != 0
    gold_order_kept = np.where(by_gold > 0, r_c > r_r, r_r > r_c)
    return {
        "rm_acc_heldout": float(np.mean(r_c > r_r)),
        "rm_acc_heldout_gold": float(np.mean(gold_order_kept[decided])) if decided.any() else float("nan"),
    }


def policy_samples(
    model, tokenizer, world: World, split_rows, gen: DictConfig, n: int, seed: int
) -> tuple[Samples, list[int], np.ndarray]:
    """n samples per prompt at the preset's generation settings, their prompt ids and gold rewards."""
    samples = generate(
        model,
        tokenizer,
        split_rows["prompt"],
        n=n,
        settings=GenerationSettings.of(gen),
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
    greedy = generate(
        model, tokenizer, split_rows["prompt"], greedy=True, settings=GenerationSettings.of(gen)
    )
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


def rm_mismatch_on_samples(rm, tokenizer, prompts: list[str], samples: Samples, ids, gold) -> dict:
    """The RM's mismatch with gold on pairs of the policy's own samples (pooled over prompts)."""
    rewards = score_texts(rm, tokenizer, prompts, samples.texts)
    return mismatch_counts(ids, rewards, gold).pooled()
