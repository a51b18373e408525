"""The cached steps of a SEAM run and its validation, free of Hydra (the runner wires them to the config).

PM-side work (log-probs of the candidates, samples for the ground truth) depends on the policy and not on
the RM, so it is cached under the policy's identity and shared by every RM of a sweep; RM rewards are
cheap and computed per run.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from seam_exp.reporting.stats import paired_bootstrap_corr
from seam_exp.seam import ground_truth, scorer
from seam_exp.utils.cache import ArtifactCache, code_version, stable_hash

PM_SCORES_FILE, SAMPLES_FILE, TIMING_FILE = "pm_scores.parquet", "samples.parquet", "timing.json"


def _cached_frame(
    cache: ArtifactCache, kind: str, key: dict, file: str, make: Callable[[], pd.DataFrame]
) -> tuple[pd.DataFrame, float]:
    """(frame, seconds it took to compute when it was built): timings survive the cache."""

    def build(tmp: Path) -> None:
        start = time.perf_counter()
        df = make()
        (tmp / TIMING_FILE).write_text(json.dumps({"seconds": time.perf_counter() - start}))
        df.to_parquet(tmp / file)

    version = code_version(sys.modules[__name__], scorer, ground_truth)
    folder, _ = cache.get_or_build(kind, key, version, build)
    return pd.read_parquet(folder / file), json.loads((folder / TIMING_FILE).read_text())["seconds"]


def cached_pm_scores(
    cache: ArtifactCache,
    policy_id: dict,
    candidates: pd.DataFrame,
    candidates_key: str,
    world,
    model,
    tok,
    fmt,
    batch_size,
) -> tuple[pd.DataFrame, float]:
    key = {"policy": policy_id, "format": fmt, "candidates": candidates_key}
    return _cached_frame(
        cache,
        "seam_pm_scores",
        key,
        PM_SCORES_FILE,
        lambda: scorer.pm_scores(candidates, world, model, tok, fmt, batch_size),
    )


def cached_samples(
    cache: ArtifactCache,
    policy_id: dict,
    world,
    model,
    tok,
    fmt,
    prompt_ids: Sequence[int],
    n: int,
    gen,
    seed: int,
) -> pd.DataFrame:
    gen_key = {k: gen[k] for k in ("max_new_tokens", "temperature", "top_k", "top_p")}
    key = {
        "policy": policy_id,
        "format": fmt,
        "world": world.path.name,
        "prompts": stable_hash([int(i) for i in prompt_ids]),
        "n": n,
        "generation": gen_key,
        "seed": seed,
    }
    make = lambda: ground_truth.pm_samples(model, tok, fmt, world, prompt_ids, n, gen, seed)  # noqa: E731
    return _cached_frame(cache, "pm_samples", key, SAMPLES_FILE, make)[0]


def correlation_row(scores: np.ndarray, truth: np.ndarray, n_boot: int, level: float, seed: int) -> dict:
    """Spearman and Kendall of a per-prompt score with the ground truth, with paired bootstrap CIs."""
    row = {}
    for method in ("spearman", "kendall"):
        point, lo, hi = paired_bootstrap_corr(scores, truth, method, n_boot=n_boot, level=level, seed=seed)
        row |= {method: point, f"{method}_lo": lo, f"{method}_hi": hi}
    return row


def validation_rows(
    per_prompt: pd.DataFrame, columns: Mapping[str, tuple[str, str]], n_boot: int, level: float, seed: int
) -> list[dict]:
    """One row per score column (named (variant, ablation)): dataset SEAM and its correlation with the
    ground truth over the prompts that have one."""
    has_gt = per_prompt["gt_mismatch"].notna()
    truth = per_prompt.loc[has_gt, "gt_mismatch"].to_numpy()
    rows = []
    for column, (variant, ablation) in columns.items():
        rows.append(
            {
                "variant": variant,
                "ablation": ablation,
                "n_prompts": len(per_prompt),
                "n_gt_prompts": int(has_gt.sum()),
                "seam_mean": float(per_prompt[column].mean()),
                "gt_mismatch_mean": float(truth.mean()) if len(truth) else float("nan"),
                **(
                    correlation_row(per_prompt.loc[has_gt, column].to_numpy(), truth, n_boot, level, seed)
                    if len(truth) > 2
                    else dict.fromkeys(
                        ["spearman", "spearman_lo", "spearman_hi", "kendall", "kendall_lo", "kendall_hi"],
                        float("nan"),
                    )
                ),
            }
        )
    return rows
