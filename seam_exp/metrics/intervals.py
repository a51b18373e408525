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


def percentile_interval(data: tuple, statistic: Callable, n_boot: int, level: float, seed: int):
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
    lo, hi = percentile_interval((a,), stat, n_boot, level, seed)
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

    lo, hi = percentile_interval((num, den), ratio, n_boot, level, seed)
    return float(ratio(num, den)), lo, hi


# Above this many prompts Kendall's tau is computed per resample by scipy (O(n log n) each) rather than from
# every resample's n x n matrix of pair signs at once (O(n^2) each, but one numpy call for the whole batch).
KENDALL_PAIR_MATRIX_MAX_N = 100  # the crossover measured on 1000 resamples
# resamples per chunk x n^2: bounds the pair matrices' memory (about six float64 arrays of it, ~200 MB)
_PAIR_MATRIX_ELEMENTS = 4_000_000


def _check_method(method: str) -> None:
    if method not in ("spearman", "kendall"):
        raise ValueError(f"method must be 'spearman' or 'kendall', got {method!r}")


def _pearson_last_axis(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    da, db = a - a.mean(-1, keepdims=True), b - b.mean(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant row has no correlation: NaN
        r = (da * db).sum(-1) / np.sqrt((da * da).sum(-1) * (db * db).sum(-1))
    return np.clip(r, -1.0, 1.0)


def _kendall_tau_b_pairs(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of each row from the signs of all its pairs: (concordant - discordant) over
    sqrt(pairs untied in x * pairs untied in y), the definition scipy.stats.kendalltau computes."""
    n = x.shape[-1]
    flat_x, flat_y = x.reshape(-1, n), y.reshape(-1, n)
    out = np.empty(flat_x.shape[0])
    chunk = max(1, _PAIR_MATRIX_ELEMENTS // (n * n))
    for start in range(0, flat_x.shape[0], chunk):
        sx = np.sign(flat_x[start : start + chunk, :, None] - flat_x[start : start + chunk, None, :])
        sy = np.sign(flat_y[start : start + chunk, :, None] - flat_y[start : start + chunk, None, :])
        with np.errstate(invalid="ignore", divide="ignore"):
            tau = (sx * sy).sum((-2, -1)) / np.sqrt(np.abs(sx).sum((-2, -1)) * np.abs(sy).sum((-2, -1)))
        out[start : start + chunk] = tau
    return np.clip(out, -1.0, 1.0).reshape(x.shape[:-1])


def _kendall_per_row(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    n = x.shape[-1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sps.ConstantInputWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        taus = [
            sps.kendalltau(a, b).statistic for a, b in zip(x.reshape(-1, n), y.reshape(-1, n), strict=True)
        ]
    return np.asarray(taus, dtype=np.float64).reshape(x.shape[:-1])


def rank_correlation(x, y, method: CorrMethod = "spearman", axis: int = -1) -> np.ndarray:
    """Spearman's rho or Kendall's tau-b along `axis` of paired arrays, NaN where either side is constant.
    Vectorized over the other axes, so scipy.stats.bootstrap scores all its resamples in one call rather
    than one Python call each (scipy's spearmanr and kendalltau take one pair of vectors at a time)."""
    _check_method(method)
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    y = np.moveaxis(np.asarray(y, dtype=np.float64), axis, -1)
    if x.shape != y.shape:
        raise ValueError(f"x and y must be paired: shapes {x.shape} and {y.shape}")
    if method == "spearman":  # Pearson of the average ranks, as scipy.stats.spearmanr
        return _pearson_last_axis(sps.rankdata(x, axis=-1), sps.rankdata(y, axis=-1))
    if x.shape[-1] <= KENDALL_PAIR_MATRIX_MAX_N:
        return _kendall_tau_b_pairs(x, y)
    return _kendall_per_row(x, y)


def correlation(x, y, method: CorrMethod = "spearman") -> float:
    """Spearman's rho or Kendall's tau-b of two paired vectors; NaN (no warning) when either is constant."""
    return float(rank_correlation(x, y, method))


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

    def rho(a, b, axis=-1):
        return rank_correlation(a, b, method, axis)

    lo, hi = percentile_interval((xa, ya), rho, n_boot, level, seed)
    return point, lo, hi


def paired_bootstrap_corr_diff(
    a, b, y, method: CorrMethod = "spearman", n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """(d, lo, hi) for d = corr(a, y) - corr(b, y): do two per-prompt scores track y differently?

    Prompts are resampled jointly for both scores, so the interval accounts for their correlation (a CI
    per score, compared by overlap, would be far too conservative).
    """
    aa, bb, ya = _paired("a,b,y", a, b, y)

    _check_method(method)

    def diff(a_, b_, y_, axis=-1):
        return rank_correlation(a_, y_, method, axis) - rank_correlation(b_, y_, method, axis)

    lo, hi = percentile_interval((aa, bb, ya), diff, n_boot, level, seed)
    return float(diff(aa, bb, ya)), lo, hi


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
