"""Uncertainty for reported numbers: bootstrap CIs over prompts, paired correlation CIs, win rates, and
t-intervals over seeds.

Bootstrap intervals are percentile intervals: simple, and they need no normality assumption for
per-prompt statistics such as mismatch rates that live in [0, 1]. Comparisons over a handful of seeds use
a t-interval instead, because with n = 3..5 a bootstrap has almost nothing to resample.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Literal

import numpy as np
from scipy import stats as sps


def _clean_1d(name: str, values) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64).ravel()
    if a.size == 0:
        raise ValueError(f"{name} is empty")
    # Silently dropping NaNs would change n behind the caller's back; make them decide.
    if np.isnan(a).any():
        raise ValueError(f"{name} contains NaN; drop or impute them first")
    return a


def _alpha_tails(level: float) -> tuple[float, float]:
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    return 100 * (1 - level) / 2, 100 * (1 + level) / 2


def bootstrap_ci(
    values,
    stat: Callable[[np.ndarray], float] = np.mean,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(point, lo, hi): stat on the data and the percentile interval over n_boot resamples with replacement."""
    a = _clean_1d("values", values)
    lo_q, hi_q = _alpha_tails(level)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, a.size, size=(n_boot, a.size))
    boots = np.array([stat(a[i]) for i in idx], dtype=np.float64)
    lo, hi = np.percentile(boots, [lo_q, hi_q])
    return float(stat(a)), float(lo), float(hi)


def _corr(x: np.ndarray, y: np.ndarray, method: str) -> float:
    # A constant resample has no ranking; scipy returns NaN with a warning, which we expect and skip.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sps.ConstantInputWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        if method == "spearman":
            return float(sps.spearmanr(x, y).statistic)
        return float(sps.kendalltau(x, y).statistic)


def paired_bootstrap_corr(
    x,
    y,
    method: Literal["spearman", "kendall"] = "spearman",
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(rho, lo, hi): rank correlation of paired per-prompt values, with prompts resampled jointly.

    Resamples whose x or y is constant give an undefined correlation and are left out of the percentile
    interval; if every resample is undefined, lo and hi are NaN (and so is rho for constant input).
    """
    if method not in ("spearman", "kendall"):
        raise ValueError(f"method must be 'spearman' or 'kendall', got {method!r}")
    xa, ya = _clean_1d("x", x), _clean_1d("y", y)
    if xa.size != ya.size:
        raise ValueError(f"x and y must be paired: lengths {xa.size} != {ya.size}")
    lo_q, hi_q = _alpha_tails(level)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, xa.size, size=(n_boot, xa.size))
    boots = np.array([_corr(xa[i], ya[i], method) for i in idx])
    boots = boots[~np.isnan(boots)]
    lo, hi = np.percentile(boots, [lo_q, hi_q]) if boots.size else (np.nan, np.nan)
    return _corr(xa, ya, method), float(lo), float(hi)


def paired_bootstrap_corr_diff(
    a,
    b,
    y,
    method: Literal["spearman", "kendall"] = "spearman",
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(d, lo, hi) for d = corr(a, y) - corr(b, y): do two per-prompt scores track y differently?

    Prompts are resampled jointly for both scores, so the interval accounts for their correlation (a CI
    per score, compared by overlap, would be far too conservative). Undefined resamples are skipped.
    """
    if method not in ("spearman", "kendall"):
        raise ValueError(f"method must be 'spearman' or 'kendall', got {method!r}")
    aa, bb, ya = _clean_1d("a", a), _clean_1d("b", b), _clean_1d("y", y)
    if not aa.size == bb.size == ya.size:
        raise ValueError(f"a, b and y must be paired: lengths {aa.size}, {bb.size}, {ya.size}")
    lo_q, hi_q = _alpha_tails(level)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, ya.size, size=(n_boot, ya.size))
    boots = np.array([_corr(aa[i], ya[i], method) - _corr(bb[i], ya[i], method) for i in idx])
    boots = boots[~np.isnan(boots)]
    lo, hi = np.percentile(boots, [lo_q, hi_q]) if boots.size else (np.nan, np.nan)
    return _corr(aa, ya, method) - _corr(bb, ya, method), float(lo), float(hi)


def win_rate(
    a, b, *, atol: float = 0.0, ci: bool = False, n_boot: int = 1000, level: float = 0.95, seed: int = 0
):
    """Mean over pairs of 1[a > b] + 0.5 * 1[a == b]; a and b are paired gold scores (e.g. policy vs SFT).

    |a - b| <= atol counts as a tie (gold scores are floats). Returns the rate, or with ci=True the tuple
    (rate, lo, hi) from bootstrap_ci over the per-pair outcomes.
    """
    aa, bb = _clean_1d("a", a), _clean_1d("b", b)
    if aa.size != bb.size:
        raise ValueError(f"a and b must be paired: lengths {aa.size} != {bb.size}")
    tie = np.abs(aa - bb) <= atol
    outcome = np.where(tie, 0.5, (aa > bb).astype(np.float64))
    if ci:
        return bootstrap_ci(outcome, np.mean, n_boot=n_boot, level=level, seed=seed)
    return float(outcome.mean())


def mean_ci_over_seeds(values, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, lo, hi) with a Student-t interval: mean +- t_{(1+level)/2, n-1} * s / sqrt(n), s with ddof=1.

    With a single value the interval is undefined and (v, NaN, NaN) is returned, so that a one-seed
    smoke run still produces a table.
    """
    a = _clean_1d("values", values)
    _alpha_tails(level)
    mean = float(a.mean())
    if a.size < 2:
        return mean, float("nan"), float("nan")
    half = sps.t.ppf((1 + level) / 2, df=a.size - 1) * a.std(ddof=1) / np.sqrt(a.size)
    return mean, float(mean - half), float(mean + half)
