"""Rank-correlation intervals (`--sections intervals`): the paired bootstrap every SEAM validation row
computes (Spearman and Kendall with the true mismatch, 1000 resamples), timed as it runs (all resamples
in one vectorized call, seam_exp/metrics/intervals.py) and as scipy would run it given a statistic without
an axis (one Python call per resample, how it ran before), on synthetic per-prompt scores of several
prompt counts. The two must give the same interval: the section says how far apart they are.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from scipy import stats as sps

from seam_exp.metrics.intervals import paired_bootstrap_corr, percentile_interval

N_BOOT = 1000
SCIPY = {"spearman": sps.spearmanr, "kendall": sps.kendalltau}


def _timed(fn, repeats: int) -> tuple[float, tuple]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), out


def per_resample_interval(score: np.ndarray, truth: np.ndarray, method: str) -> tuple[float, float]:
    """The same interval with scipy's own correlation as a statistic without an `axis` argument: scipy
    then calls it once per resample."""

    def statistic(a, b):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return SCIPY[method](a, b).statistic

    return percentile_interval((score, truth), statistic, N_BOOT, 0.95, 0)


def method_row(score: np.ndarray, truth: np.ndarray, method: str, repeats: int) -> dict:
    batched_s, batched = _timed(lambda: paired_bootstrap_corr(score, truth, method, n_boot=N_BOOT), repeats)
    looped_s, looped = _timed(lambda: per_resample_interval(score, truth, method), max(1, repeats // 2))
    return {
        "prompts": len(score),
        "method": method,
        "per_resample_s": looped_s,
        "batched_s": batched_s,
        "speedup": looped_s / batched_s,
        "max_abs_diff": float(np.max(np.abs(np.subtract(batched[1:], looped)))),
    }


def interval_rows(prompt_counts: list[int], repeats: int) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    for n in prompt_counts:
        truth = rng.binomial(8, 0.3, size=n) / 8  # a mismatch rate over 8 pairs: ties, as the real one has
        score = truth + rng.normal(size=n)
        rows += [method_row(score, truth, method, repeats) for method in SCIPY]
    return rows
