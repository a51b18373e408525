"""Confidence intervals: percentile bootstrap over prompts (scipy.stats.bootstrap) and t over seeds.

Samples of one prompt are not independent, so the bootstrap resamples prompts, never samples: callers
pass one value per prompt (or per-prompt arrays resampled jointly with `paired=True`). Percentile
intervals need no normality assumption for rates in [0, 1]. Comparisons over a handful of seeds use a
Student-t interval, because with 3 to 5 seeds a bootstrap has almost nothing to resample.
An interval that the data cannot define (one value, or resamples whose statistic is undefined, such as
the rank correlation of a constant resample) is NaN, never a made-up number.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats as sps

NAN3 = (float("nan"), float("nan"), float("nan"))
CorrMethod = Literal["spearman", "kendall"]


def clean_1d(name: str, values) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64).ravel()
    if a.size == 0:
        raise ValueError(f"{name} is empty")
    # Silently dropping NaNs would change n behind the caller's back; make them decide.
    if np.isnan(a).any():
        raise ValueError(f"{name} contains NaN; drop or impute them first")
    return a


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")


def _percentile_interval(data: tuple, statistic: Callable, n_boot: int, level: float, seed: int):
    _check_level(level)
    if len(data[0]) < 2:
        return float("nan"), float("nan")
    with warnings.catch_warnings():
        # A degenerate bootstrap distribution gives a NaN interval, which is the honest answer.
        warnings.simplefilter("ignore")
        res = sps.bootstrap(
            data,
            statistic,
            n_resamples=n_boot,
            confidence_level=level,
            method="percentile",
            paired=len(data) > 1,
            rng=np.random.default_rng(seed),
        )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def bootstrap_ci(
    values,
    stat: Callable[..., float] = np.mean,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(point, lo, hi): `stat` of the per-prompt values and its percentile bootstrap interval."""
    a = clean_1d("values", values)
    lo, hi = _percentile_interval((a,), stat, n_boot, level, seed)
    return float(stat(a)), lo, hi


def ratio_of_sums_ci(
    numerators, denominators, n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """(sum(num) / sum(den), lo, hi) with prompts resampled jointly: a pooled rate whose prompts weigh by
    how many events they hold (e.g. mismatched pairs over pairs)."""
    num, den = clean_1d("numerators", numerators), clean_1d("denominators", denominators)
    if num.size != den.size:
        raise ValueError(f"numerators and denominators must be paired: {num.size} != {den.size}")

    def ratio(n, d, axis=-1):
        return n.sum(axis=axis) / d.sum(axis=axis)

    lo, hi = _percentile_interval((num, den), ratio, n_boot, level, seed)
    return float(ratio(num, den)), lo, hi


def correlation(x, y, method: CorrMethod = "spearman") -> float:
    """Spearman's rho or Kendall's tau-b; NaN (no warning) when either side is constant."""
    if method not in ("spearman", "kendall"):
        raise ValueError(f"method must be 'spearman' or 'kendall', got {method!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sps.ConstantInputWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        fn = sps.spearmanr if method == "spearman" else sps.kendalltau
        return float(fn(x, y).statistic)


def _paired(names: str, *arrays) -> tuple[np.ndarray, ...]:
    out = tuple(clean_1d(n, a) for n, a in zip(names.split(","), arrays, strict=True))
    if len({a.size for a in out}) != 1:
        raise ValueError(f"{names} must be paired: lengths {', '.join(str(a.size) for a in out)}")
    return out


def paired_bootstrap_corr(
    x, y, method: CorrMethod = "spearman", n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """(rho, lo, hi): rank correlation of paired per-prompt values, prompts resampled jointly."""
    xa, ya = _paired("x,y", x, y)
    point = correlation(xa, ya, method)
    lo, hi = _percentile_interval((xa, ya), lambda a, b: correlation(a, b, method), n_boot, level, seed)
    return point, lo, hi


def paired_bootstrap_corr_diff(
    a, b, y, method: CorrMethod = "spearman", n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """(d, lo, hi) for d = corr(a, y) - corr(b, y): do two per-prompt scores track y differently?

    Prompts are resampled jointly for both scores, so the interval accounts for their correlation (a CI
    per score, compared by overlap, would be far too conservative).
    """
    aa, bb, ya = _paired("a,b,y", a, b, y)

    def diff(a_, b_, y_):
        return correlation(a_, y_, method) - correlation(b_, y_, method)

    lo, hi = _percentile_interval((aa, bb, ya), diff, n_boot, level, seed)
    return diff(aa, bb, ya), lo, hi


@dataclass(frozen=True)
class MeanEstimate:
    """A mean with its standard error and degrees of freedom (inf: normal), from which the interval and
    the two-sided test of "the mean is 0" are read, so that the two always agree."""

    mean: float
    se: float  # NaN: nothing to estimate it from (one run, one trained model)
    df: float

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        _check_level(level)
        if np.isnan(self.se):
            return float("nan"), float("nan")
        half = float(sps.t.ppf(0.5 + level / 2, self.df)) * self.se if self.se > 0 else 0.0
        return self.mean - half, self.mean + half

    def p_value(self) -> float:
        """Two-sided p of a t-test of mean 0 (NaN without a standard error)."""
        if np.isnan(self.se):
            return float("nan")
        if self.se == 0:
            return 1.0 if self.mean == 0 else 0.0
        return float(2 * sps.t.sf(abs(self.mean) / self.se, self.df))


def estimate_over_seeds(values) -> MeanEstimate:
    """The mean of independent replicates with its Student-t standard error (n - 1 df)."""
    a = clean_1d("values", values)
    if a.size < 2:
        return MeanEstimate(float(a.mean()), float("nan"), float("nan"))
    return MeanEstimate(float(a.mean()), float(sps.sem(a)), float(a.size - 1))


def mean_ci_over_seeds(values, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, lo, hi) with a Student-t interval over seeds; one seed gives (value, NaN, NaN)."""
    estimate = estimate_over_seeds(values)
    return (estimate.mean, *estimate.interval(level))


def se_of_interval(lo, hi, level: float = 0.95) -> np.ndarray:
    """The standard error a normal interval [lo, hi] at `level` implies (e.g. a run's bootstrap CI)."""
    _check_level(level)
    return (np.asarray(hi, dtype=np.float64) - np.asarray(lo, dtype=np.float64)) / (
        2 * sps.norm.ppf(0.5 + level / 2)
    )


def estimate_over_models(values, models, prompt_se=None) -> tuple[MeanEstimate, int]:
    """(the mean with its standard error, the number of trained models) of runs nested in trained models
    (docs/metrics.md, "Intervals over trained models").

    `values` holds one number per run, `models` the trained model (PM and RM training seeds) each run read,
    so runs of one model differ only by their RL seed. The point is the mean of the model means, and the
    interval a Student-t over the model means (n_models - 1 degrees of freedom): in a balanced nested design
    this is the exact interval for the grand mean, and it spans training and RL seeds alike, whereas a t over
    runs treats the RL seeds of one model as independent draws and under-covers. Every run reads the same
    evaluation prompts, so what another draw of prompts would give is common to all runs and never seen
    across them: `prompt_se` (each run's own standard error over prompts, e.g. from its bootstrap CI) adds
    it, with Welch-Satterthwaite degrees of freedom. One trained model gives a NaN standard error: its runs
    say nothing about another training.
    """
    a = clean_1d("values", values)
    index: dict = {}  # any hashable model id (e.g. a (PM seed, RM seed) tuple) -> its number
    ids = np.array([index.setdefault(m, len(index)) for m in models])
    if ids.size != a.size:
        raise ValueError(f"values and models must be paired: {a.size} != {ids.size}")
    means = np.array([a[ids == m].mean() for m in range(len(index))])
    n, mean = means.size, float(means.mean())
    if n < 2:
        return MeanEstimate(mean, float("nan"), float("nan")), n
    var_models = float(means.var(ddof=1)) / n
    var_prompts = 0.0 if prompt_se is None else float(np.mean(clean_1d("prompt_se", prompt_se))) ** 2
    # Welch-Satterthwaite: the prompt term is estimated from hundreds of prompts, its df taken as infinite.
    df = (var_models + var_prompts) ** 2 / (var_models**2 / (n - 1)) if var_models > 0 else np.inf
    return MeanEstimate(mean, float(np.sqrt(var_models + var_prompts)), float(df)), n


def mean_ci_over_models(
    values, models, prompt_se=None, level: float = 0.95
) -> tuple[float, float, float, int]:
    """(mean, lo, hi, number of trained models) of estimate_over_models."""
    estimate, n = estimate_over_models(values, models, prompt_se)
    return (estimate.mean, *estimate.interval(level), n)
