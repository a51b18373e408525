"""Runs pooled over replicates: one line per group, each compared number with an interval over what varies.

A run's own bootstrap CI is over prompts; what another training or RL seed would give is only seen across
runs. Where a group's runs read at least two trained models (PM and RM training seeds, reporting.results),
the interval is over trained models, RL seeds inside them and the shared prompts
(metrics.intervals.mean_ci_over_models); with one trained model it is a t-interval over its RL seeds, and
says so in the `interval` column, because it then says nothing about another training. A group of one run
has none; where its own CI is the best there is, `own_interval` keeps it instead of a NaN (a column without
`_lo`/`_hi` columns has no own CI, and a group of one run then none).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from seam_exp.metrics.intervals import MeanEstimate, estimate_over_models, estimate_over_seeds, se_of_interval

MODEL = ["pm_seed", "rm_seed"]  # the trained models a run read
# What makes two runs of one cell replicates, and pairs two arms' runs: the trained models and the RL seed.
REPLICATE = [*MODEL, "seed"]


def _interval(g: pd.DataFrame, m: str, models: list, own_interval: bool) -> tuple[tuple, str]:
    """((point, lo, hi, p of "the mean is 0"), what the interval spans) of column `m` over the runs `g`."""
    own = [f"{m}_lo", f"{m}_hi"]
    if own_interval and len(g) == 1 and set(own) <= set(g.columns):
        point, lo, hi = g[[m, *own]].iloc[0]
        own_se = float(se_of_interval(lo, hi))  # the run's bootstrap interval over prompts, read as normal
        return (point, lo, hi, MeanEstimate(point, own_se, np.inf).p_value()), "prompts (one run)"
    if len(set(models)) >= 2:
        has_own = set(own) <= set(g.columns) and g[own].notna().all().all()
        prompt_se = se_of_interval(g[own[0]], g[own[1]]) if has_own else None
        estimate, _ = estimate_over_models(g[m], models, prompt_se)
        spans = "trained models" + (" and prompts" if has_own else "")
    else:
        estimate = estimate_over_seeds(g[m])
        spans = "RL seeds of one trained model" if len(g) > 1 else "none"
    return (estimate.mean, *estimate.interval(), estimate.p_value()), spans


def summary_over_seeds(
    rows: pd.DataFrame,
    by: Sequence[str],
    intervals: Sequence[str] = (),
    means: Sequence[str] = (),
    first: Sequence[str] = (),
    *,
    own_interval: bool = False,
    sort: bool = True,
) -> pd.DataFrame:
    """One line per group of `by` (sorted, or as met with `sort=False`): `seeds`, its number of runs;
    `models`, of trained models; `interval`, what its intervals span; the first value of each of `first`
    (one per group); `<m>`, `<m>_lo`, `<m>_hi` and `<m>_p` (two-sided p of "the mean is 0", from the same
    standard error) for each of `intervals`; the mean of each of `means`."""
    bounds = [f"{m}{end}" for m in intervals for end in ("", "_lo", "_hi", "_p")]
    lines = []
    for keys, g in rows.groupby(list(by), sort=sort):
        models = list(zip(*(g[c] for c in MODEL), strict=True)) if set(MODEL) <= set(g.columns) else [0]
        line = {
            **dict(zip(by, keys, strict=True)),
            "seeds": len(g),
            "models": len(set(models)),
            "interval": "",
            **{c: g[c].iloc[0] for c in first},
        }
        for m in intervals:
            (point, lo, hi, p), line["interval"] = _interval(g, m, models, own_interval)
            line |= {m: point, f"{m}_lo": lo, f"{m}_hi": hi, f"{m}_p": p}
        lines.append(line | {c: g[c].mean() for c in means})
    return pd.DataFrame(lines, columns=[*by, "seeds", "models", "interval", *first, *bounds, *means])
