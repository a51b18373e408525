"""Runs pooled over seeds: one line per group, each compared number with a t-interval over its seeds.

A run's own bootstrap CI is over prompts; what another training seed would give is only seen across seeds,
so groups of runs report the t-interval over them (metrics.intervals.mean_ci_over_seeds). A group of one run
has none; where its own CI is the best there is, `own_interval` keeps it instead of a NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from seam_exp.metrics.intervals import mean_ci_over_seeds


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
    """One line per group of `by` (sorted, or as met with `sort=False`): `seeds`, its number of runs; the
    first value of each of `first` (one per group); `<m>`, `<m>_lo`, `<m>_hi` for each of `intervals`;
    the mean of each of `means`."""
    bounds = [f"{m}{end}" for m in intervals for end in ("", "_lo", "_hi")]
    lines = []
    for keys, g in rows.groupby(list(by), sort=sort):
        line = {**dict(zip(by, keys, strict=True)), "seeds": len(g), **{c: g[c].iloc[0] for c in first}}
        for m in intervals:
            if own_interval and len(g) == 1:
                point, lo, hi = g[[m, f"{m}_lo", f"{m}_hi"]].iloc[0]
            else:
                point, lo, hi = mean_ci_over_seeds(g[m])
            line |= {m: point, f"{m}_lo": lo, f"{m}_hi": hi}
        lines.append(line | {c: g[c].mean() for c in means})
    return pd.DataFrame(lines, columns=[*by, "seeds", *first, *bounds, *means])
