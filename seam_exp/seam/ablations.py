"""Named SEAM settings (the full score and its ablations) evaluated on one scored candidate table.

An ablation is a dict of overrides of the base setting (`seam.alpha`, `temperature`, `mode`, `tau`,
`weighting`) plus `score`: `seam` (sum_i w_i m_i) or `rank_discordance` (PM vs RM ordering over all
k+1 candidates, with the same length penalty). E.g. `{weighting: uniform}` is the RM-only ablation and
`{alpha: 0}` drops the length penalty.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from seam_exp.seam.score import SeamConfig, seam_table

SCORES = ("seam", "rank_discordance")
SEAM_KEYS = ("alpha", "temperature", "mode", "tau", "weighting")


def seam_config(base: Mapping, overrides: Mapping | None = None) -> tuple[SeamConfig, str]:
    """The SeamConfig and score name of base settings updated by an ablation's overrides."""
    merged = {k: base[k] for k in SEAM_KEYS if k in base}
    merged.update({k: v for k, v in (overrides or {}).items() if k != "score"})
    unknown = sorted(set(merged) - set(SEAM_KEYS))
    if unknown:
        raise ValueError(f"unknown SEAM setting '{unknown[0]}'; valid: {', '.join(SEAM_KEYS)}, score")
    score = (overrides or {}).get("score", "seam")
    if score not in SCORES:
        raise ValueError(f"unknown SEAM score '{score}'; valid: {', '.join(SCORES)}")
    return SeamConfig(**merged), score


def ablation_scores(scored: pd.DataFrame, base: Mapping, ablations: Mapping[str, Mapping]) -> pd.DataFrame:
    """One row per prompt, one column per named ablation (the per-prompt score under that setting)."""
    out = None
    for name, overrides in ablations.items():
        cfg, score = seam_config(base, overrides)
        table = seam_table(scored, cfg)[["prompt_id", score]].rename(columns={score: name})
        out = table if out is None else out.merge(table, on="prompt_id", validate="one_to_one")
    return out
