"""Validation of SEAM against the ground truth: the true PM/RM mismatch of each prompt (docs/seam.md).

Draw n responses from the PM itself; among the pairs of them whose gold rewards differ, the share that
the RM orders against gold (an RM tie counts as a mismatch; seam_exp.metrics.preference computes it).
This is the paper's mismatch, measured exactly because gold is known. A prompt whose n samples all have
the same gold has no such pair and no ground truth (NaN); it is left out of the correlations.

With a few samples per prompt the ground truth is itself noisy, which caps how well any per-prompt score
can correlate with it. `split_half_reliability` measures that: the rank correlation of the mismatch from
the even-numbered samples with the one from the odd-numbered samples, stepped up to n samples with the
Spearman-Brown formula 2 rho / (1 + rho). A score that tracked the true per-prompt mismatch perfectly
would correlate with the measured one at about sqrt(reliability).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from functools import partial

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from seam_exp.metrics.intervals import correlation, paired_bootstrap_corr
from seam_exp.metrics.preference import mismatch_counts
from seam_exp.models.generation import GenerationSettings, generate
from seam_exp.seam.formula import orient
from seam_exp.seam.scoring import PM, RM, format_prompts, rm_scores
from seam_exp.utils.cache import ArtifactCache, cached_frame, code_version, stable_hash
from seam_exp.world.build import World


def pm_samples(pm: PM, world: World, prompt_ids: Sequence[int], n: int, gen, seed: int) -> pd.DataFrame:
    """n samples per prompt at the PM's generation settings: prompt_id, sample_index, text, has_eos."""
    questions = [world.problems[int(p)].question for p in prompt_ids]
    samples = generate(
        pm.model,
        pm.tokenizer,
        format_prompts(questions, pm.tokenizer, pm.fmt),
        n=n,
        settings=GenerationSettings.of(gen),
        seed=seed,
        progress=True,
    )
    return pd.DataFrame(
        {
            "prompt_id": [int(prompt_ids[i]) for i in samples.prompt_index],
            "sample_index": [j % n for j in range(len(samples.texts))],
            "text": samples.texts,  # as sampled: RL evaluation judges the very same strings
            "has_eos": samples.has_eos,
        }
    )


def true_mismatch(prompt_ids: Sequence[int], rewards: np.ndarray, gold: np.ndarray) -> pd.DataFrame:
    """Per prompt: gt_mismatch (NaN without a pair of different gold), gt_pairs, gt_gold_mean, gt_samples."""
    counts = mismatch_counts(prompt_ids, rewards, gold)
    samples = pd.DataFrame({"prompt_id": np.asarray(prompt_ids), "gold": gold}).groupby(
        "prompt_id", sort=True
    )
    stats = samples["gold"].agg(["mean", "size"])
    return pd.DataFrame(
        {
            "prompt_id": counts.groups,
            "gt_mismatch": counts.rate,
            "gt_pairs": counts.pairs.astype(int),
            "gt_gold_mean": stats["mean"].reindex(counts.groups).to_numpy(),
            "gt_samples": stats["size"].reindex(counts.groups).to_numpy(),
        }
    )


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


def cached_samples(
    cache: ArtifactCache, world, pm: PM, prompt_ids: Sequence[int], n: int, gen, seed: int
) -> pd.DataFrame:
    """pm_samples, cached under the policy's identity, its prompt format, the prompts and the sampling."""
    gen_key = {k: gen[k] for k in ("max_new_tokens", "temperature", "top_k", "top_p")}
    key = {
        "policy": pm.ident,
        "format": pm.fmt,
        "world": world.path.name,
        "prompts": stable_hash([int(i) for i in prompt_ids]),
        "n": n,
        "generation": gen_key,
        "seed": seed,
    }
    make = partial(pm_samples, pm, world, prompt_ids, n, gen, seed)
    return cached_frame(
        cache, "pm_samples", key, code_version(sys.modules[__name__]), "samples.parquet", make
    )[0]


def correlation_row(scores: np.ndarray, truth: np.ndarray, n_boot: int, level: float, seed: int) -> dict:
    """Spearman and Kendall of a per-prompt score with the ground truth, with paired bootstrap CIs."""
    row = {}
    for method in ("spearman", "kendall"):
        point, lo, hi = paired_bootstrap_corr(scores, truth, method, n_boot=n_boot, level=level, seed=seed)
        row |= {method: point, f"{method}_lo": lo, f"{method}_hi": hi}
    return row


def within_family_spearman(scores: np.ndarray, truth: np.ndarray, families: np.ndarray) -> float:
    """Spearman inside each task family, averaged with the families' sizes as weights: does a score
    rank prompts within a family, or only tell families apart? (NaN-free families only.)"""
    rhos, sizes = [], []
    for family in np.unique(families):
        inside = families == family
        rho = correlation(scores[inside], truth[inside]) if inside.sum() > 2 else float("nan")
        if rho == rho:  # a family with a constant score or truth has no ranking
            rhos.append(rho)
            sizes.append(inside.sum())
    return float(np.average(rhos, weights=sizes)) if rhos else float("nan")


def family_baseline_spearman(truth: np.ndarray, families: np.ndarray) -> float:
    """How well the family alone predicts the true mismatch: Spearman of each prompt's family mean (in
    sample) with its own mismatch. A score must beat this to say more than which family a prompt is in."""
    means = pd.Series(truth).groupby(families).transform("mean").to_numpy()
    return correlation(means, truth)


def validation_rows(
    per_prompt: pd.DataFrame,
    columns: Mapping[str, tuple[str, str, str]],
    n_boot: int,
    level: float,
    seed: int,
) -> list[dict]:
    """One row per score column (named (variant, formula, ablation)): dataset SEAM and the correlation
    of its unseamlessness (higher = less seamless, whatever the formula's sign) with the ground truth,
    over the prompts that have one; overall, within families, and the family-only baseline."""
    has_gt = per_prompt["gt_mismatch"].notna()
    truth = per_prompt.loc[has_gt, "gt_mismatch"].to_numpy()
    families = per_prompt.loc[has_gt, "family"].to_numpy() if "family" in per_prompt else None
    enough = len(truth) > 2
    baseline = family_baseline_spearman(truth, families) if enough and families is not None else float("nan")
    rows = []
    for column, (variant, formula, ablation) in columns.items():
        scores = orient(per_prompt.loc[has_gt, column].to_numpy(), formula)
        correlations = (
            correlation_row(scores, truth, n_boot, level, seed)
            if enough
            else dict.fromkeys(
                ["spearman", "spearman_lo", "spearman_hi", "kendall", "kendall_lo", "kendall_hi"],
                float("nan"),
            )
        )
        rows.append(
            {
                "variant": variant,
                "formula": formula,
                "ablation": ablation,
                "n_prompts": len(per_prompt),
                "n_gt_prompts": int(has_gt.sum()),
                "seam_mean": float(per_prompt[column].mean()),
                "gt_mismatch_mean": float(truth.mean()) if len(truth) else float("nan"),
                **correlations,
                "spearman_within_family": (
                    within_family_spearman(scores, truth, families)
                    if enough and families is not None
                    else float("nan")
                ),
                "family_baseline_spearman": baseline,
            }
        )
    return rows


def ground_truth_table(
    cfg, world: World, cache: ArtifactCache, pm: PM, rm: RM, ids: Sequence[int], *, seed: int | None = None
) -> tuple[pd.DataFrame, float]:
    """Per prompt, the true mismatch of n samples of the PM judged by the RM and by gold, and the
    split-half reliability of that ground truth. The samples are drawn with `seed` (the run's seed if
    None)."""
    n = cfg.seam.ground_truth.n_samples
    seed = cfg.seed if seed is None else seed
    samples = cached_samples(cache, world, pm, ids, n, cfg.pm.generation, seed)
    rewards = rm_scores(samples, world, rm.model, rm.tokenizer)
    gold = world.gold(samples["prompt_id"].tolist(), samples["text"].tolist())
    ids_of = samples["prompt_id"].to_numpy()
    reliability = split_half_reliability(ids_of, samples["sample_index"].to_numpy(), rewards, gold)
    return true_mismatch(ids_of, rewards, gold), reliability
