"""Which RL prompts each selection method drops (docs/selection.md).

A method reads one per-prompt table of the RL prompts (selection.prompt_scores builds it) and returns the
ids it drops; everything else is kept. Methods:
  full                      drop nothing
  oracle                    drop the prompts whose true mismatch (the RM against gold on the SFT PM's own
                            samples) is at least `oracle_threshold`: the share dropped is measured, not set
  oracle_top                drop the round(rate * n) prompts of highest true mismatch: the oracle at the
                            others' drop rate, so that it is compared with them at the same share dropped
  random                    drop round(rate * n) prompts chosen at random (the seed varies the draw)
  random_families           drop at random, within each task family, as many prompts as the primary
                            method (selection.primary) drops from that family: random in its family mix,
                            the control that tells a family re-weighting from what SEAM sees per prompt
  perplexity                drop the round(rate * n) prompts whose reference answer the PM finds least
                            likely (highest per-token perplexity): the paper's "LLaMa perplexity" filter
  seam:<variant>:<formula>  drop the round(rate * n) least seamless prompts under that variant and formula
  online:<variant>:<formula> as seam:<variant>:<formula> at the start, then again every
                            `online.refilter_every` RL steps under the current policy (online/filtering.py)
  refresh:<chooser>         drop nothing, and refresh the RM along the run on labels of the policy's own
                            answers on the prompts <chooser> picks (online/refresh.py): an online arm read
                            against full like the filters, by the same report
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from seam_exp.seam.candidates import VARIANTS
from seam_exp.seam.formula import FORMULAS, highest_ids, least_seamless

PLAIN_METHODS = ("full", "oracle", "oracle_top", "random", "random_families", "perplexity")
# Methods whose drop count is the rate; full and oracle ignore it.
RATED_METHODS = ("random", "random_families", "perplexity", "seam", "online", "oracle_top")
SCORED_KINDS = ("seam", "online")  # <kind>:<variant>:<formula>
# Who picks the prompts the RM refresh buys labels on (refresh:<chooser>; online/refresh.py implements them,
# online.refresh.chooser names them): named here, below both, because a method names one.
REFRESH_CHOOSERS = ("seam", "random", "oracle")
PERPLEXITY_COLUMN, MISMATCH_COLUMN, FAMILY_COLUMN = "ref_perplexity", "gt_mismatch", "family"


@dataclass(frozen=True)
class Method:
    kind: str  # full | oracle | oracle_top | random | random_families | perplexity | seam | online | refresh
    variant: str | None = None  # a SEAM variant, or a refresh's chooser
    formula: str | None = None

    @property
    def name(self) -> str:
        if self.kind == "refresh":
            return f"refresh:{self.variant}"
        return f"{self.kind}:{self.variant}:{self.formula}" if self.kind in SCORED_KINDS else self.kind

    @property
    def uses_rate(self) -> bool:
        return self.kind in RATED_METHODS

    @property
    def can_be_matched(self) -> bool:
        """Whether random_families can draw in its family mix: it drops a share of the prompts by its own
        ranking, fixed for the run (random_families itself only copies another's mix; an online filter's
        changes along the run)."""
        return self.uses_rate and self.kind not in ("random_families", "online")

    @property
    def column(self) -> str | None:
        """The per-prompt score column the method ranks by (an online filter: at the start)."""
        return {
            "seam": seam_column(self.variant, self.formula),
            "online": seam_column(self.variant, self.formula),
            "perplexity": PERPLEXITY_COLUMN,
            "oracle": MISMATCH_COLUMN,
            "oracle_top": MISMATCH_COLUMN,
        }.get(self.kind)


def seam_column(variant: str, formula: str) -> str:
    return f"seam:{variant}:{formula}"


def parse_method(name: str) -> Method:
    """A method from its name; a one-line ValueError naming what is wrong otherwise."""
    if name in PLAIN_METHODS:
        return Method(name)
    parts = str(name).split(":")
    if len(parts) == 3 and parts[0] in SCORED_KINDS:
        kind, variant, formula = parts
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant '{variant}' in '{name}'; valid: {', '.join(VARIANTS)}")
        if formula not in FORMULAS:
            raise ValueError(f"unknown formula '{formula}' in '{name}'; valid: {', '.join(FORMULAS)}")
        return Method(kind, variant, formula)
    if len(parts) == 2 and parts[0] == "refresh":
        if parts[1] not in REFRESH_CHOOSERS:
            raise ValueError(
                f"unknown chooser '{parts[1]}' in '{name}'; valid: {', '.join(REFRESH_CHOOSERS)}"
            )
        return Method("refresh", parts[1])
    raise ValueError(
        f"unknown selection method '{name}'; valid: {', '.join(PLAIN_METHODS)}, seam:<variant>:<formula>, "
        "online:<variant>:<formula>, refresh:<chooser>"
    )


def drop_count(n: int, rate: float) -> int:
    return int(round(rate * n))


def dropped_prompts(
    method: Method,
    table: pd.DataFrame,
    rate: float,
    seed: int,
    oracle_threshold: float = 0.5,
    primary: Method | None = None,
) -> np.ndarray:
    """The prompt ids `method` drops from `table` (one row per RL prompt), sorted; random_families draws
    in the family mix of what `primary` drops at the same rate."""
    if not 0 <= rate < 1:
        raise ValueError(f"selection.rate must be in [0, 1), got {rate}")
    if table["prompt_id"].duplicated().any():
        raise ValueError("the per-prompt table has a prompt more than once")
    ids = table["prompt_id"].to_numpy()
    count = drop_count(len(ids), rate)
    if method.column is not None and method.column not in table:
        raise ValueError(f"selection method '{method.name}' needs the column '{method.column}', not scored")
    if method.kind in ("full", "refresh"):
        dropped = ids[:0]
    elif method.kind == "oracle":
        # Prompts without a ground truth (every sample of the same gold) have nothing to disagree about.
        dropped = ids[table[MISMATCH_COLUMN].fillna(0.0).to_numpy() >= oracle_threshold]
    elif method.kind == "oracle_top":
        # prompts without a ground truth rank below every measured one
        dropped = highest_ids(ids, table[MISMATCH_COLUMN].fillna(-np.inf), count, seed)
    elif method.kind == "random":
        dropped = np.random.default_rng(seed).choice(ids, count, replace=False)
    elif method.kind == "random_families":
        if primary is None or not primary.can_be_matched:
            raise ValueError("random_families needs a primary method that drops prompts to match")
        if FAMILY_COLUMN not in table:
            raise ValueError(f"selection method 'random_families' needs the column '{FAMILY_COLUMN}'")
        matched = dropped_prompts(primary, table, rate, seed, oracle_threshold)
        dropped = random_in_family_mix(table, matched, seed)
    elif method.kind == "perplexity":
        dropped = highest_ids(ids, table[PERPLEXITY_COLUMN], count, seed)
    else:
        dropped = least_seamless(ids, table[method.column].to_numpy(), method.formula, rate, seed)
    return np.sort(dropped)


def random_in_family_mix(table: pd.DataFrame, matched, seed: int) -> np.ndarray:
    """As many prompts of each family as the ids `matched` hold, drawn at random within that family."""
    family = table.set_index("prompt_id")[FAMILY_COLUMN]
    quotas = family.loc[np.asarray(matched)].value_counts().sort_index()
    rng = np.random.default_rng(seed)
    drawn = [rng.choice(family.index[family == f].to_numpy(), n, replace=False) for f, n in quotas.items()]
    return np.concatenate(drawn) if drawn else family.index.to_numpy()[:0]


def overlap(a, b) -> float:
    """|A and B| / min(|A|, |B|): the share of the smaller dropped set that the other also drops."""
    a, b = set(np.asarray(a).tolist()), set(np.asarray(b).tolist())
    return len(a & b) / min(len(a), len(b)) if a and b else float("nan")
