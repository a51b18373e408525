"""The ground truth SEAM is validated against: the true PM/RM mismatch of each prompt (DESIGN.md s. 4).

Draw n responses from the PM itself; among the pairs of them whose gold rewards differ, the share that
the RM orders against gold (an RM tie counts as a mismatch, as in models.evaluate.mismatch_on_samples).
This is the paper's mismatch, measured exactly because gold is known. A prompt whose n samples all have
the same gold has no such pair and no ground truth (NaN); it is left out of the correlations.

With a few samples per prompt the ground truth is itself noisy, which caps how well any per-prompt score
can correlate with it. `split_half_reliability` measures that: the rank correlation of the mismatch from
the even-numbered samples with the one from the odd-numbered samples, stepped up to n samples with the
Spearman-Brown formula 2 rho / (1 + rho). A score that tracked the true per-prompt mismatch perfectly
would correlate with the measured one at about sqrt(reliability).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from seam_exp.models.evaluate import sample_pairs_by_gold
from seam_exp.models.generation import generate
from seam_exp.seam.scorer import format_prompts
from seam_exp.world.build import World


def pm_samples(
    model, tokenizer, fmt: str, world: World, prompt_ids: Sequence[int], n: int, gen, seed: int
) -> pd.DataFrame:
    """n samples per prompt at the PM's generation settings: prompt_id, sample_index, text, has_eos."""
    questions = [world.problems[int(p)].question for p in prompt_ids]
    samples = generate(
        model,
        tokenizer,
        format_prompts(questions, tokenizer, fmt),
        n=n,
        max_new_tokens=gen.max_new_tokens,
        temperature=gen.temperature,
        top_k=gen.top_k,
        top_p=gen.top_p,
        seed=seed,
        progress=True,
    )
    return pd.DataFrame(
        {
            "prompt_id": [int(prompt_ids[i]) for i in samples.prompt_index],
            "sample_index": [j % n for j in range(len(samples.texts))],
            "text": [t.strip() for t in samples.texts],
            "has_eos": samples.has_eos,
        }
    )


def true_mismatch(prompt_ids: Sequence[int], rewards: np.ndarray, gold: np.ndarray) -> pd.DataFrame:
    """Per prompt: gt_mismatch (NaN without a pair of different gold), gt_pairs, gt_gold_mean, gt_samples."""
    ids = np.asarray(prompt_ids)
    pairs = sample_pairs_by_gold(list(ids), np.asarray(gold))
    wrong = pd.DataFrame(
        {"prompt_id": [ids[a] for a, _ in pairs], "wrong": [rewards[a] <= rewards[b] for a, b in pairs]},
        columns=["prompt_id", "wrong"],
    )
    per_pair = wrong.groupby("prompt_id")["wrong"].agg(["mean", "size"])
    samples = (
        pd.DataFrame({"prompt_id": ids, "gold": gold})
        .groupby("prompt_id", sort=True)["gold"]
        .agg(["mean", "size"])
    )
    out = pd.DataFrame(
        {
            "prompt_id": samples.index.to_numpy(),
            "gt_mismatch": per_pair["mean"].reindex(samples.index).astype(float).to_numpy(),
            "gt_pairs": per_pair["size"].reindex(samples.index).fillna(0).astype(int).to_numpy(),
            "gt_gold_mean": samples["mean"].to_numpy(),
            "gt_samples": samples["size"].to_numpy(),
        }
    )
    return out


def split_half_reliability(
    prompt_ids: Sequence[int], sample_index: Sequence[int], rewards: np.ndarray, gold: np.ndarray
) -> float:
    """Spearman-Brown corrected split-half (even vs odd samples) reliability of the per-prompt mismatch."""
    ids, even = np.asarray(prompt_ids), np.asarray(sample_index) % 2 == 0
    halves = [
        true_mismatch(ids[m], np.asarray(rewards)[m], np.asarray(gold)[m]).set_index("prompt_id")[
            "gt_mismatch"
        ]
        for m in (even, ~even)
    ]
    both = pd.concat(halves, axis=1).dropna()
    if len(both) < 3 or both.iloc[:, 0].nunique() < 2 or both.iloc[:, 1].nunique() < 2:
        return float("nan")
    rho = float(spearmanr(both.iloc[:, 0], both.iloc[:, 1]).statistic)
    return 2 * rho / (1 + rho) if rho > -1 else float("nan")
