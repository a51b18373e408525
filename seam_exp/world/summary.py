"""Tables that describe a built world: what is in it, how gold scores each response kind, how the
simulated human agrees with gold."""

from __future__ import annotations

import numpy as np
import pandas as pd

from seam_exp.data.layout import ALL_SPLITS
from seam_exp.world.build import World
from seam_exp.world.labeler import HumanLabeler, agreement_with_gold
from seam_exp.world.responses import CONTENTS, KINDS, STYLES, make_response, parse_kind


def counts_table(world: World) -> pd.DataFrame:
    """Prompts per split and family (pairs for the preference splits)."""
    prompts = world.data["prompts"].to_pandas()
    table = pd.crosstab(prompts["family"], prompts["split"]).reindex(columns=list(ALL_SPLITS), fill_value=0)
    table.loc["total"] = table.sum()
    table["rm_pairs"] = [
        *(world.data["rm"].to_pandas().groupby("family").size().reindex(table.index[:-1], fill_value=0)),
        len(world.data["rm"]),
    ]
    return table.reset_index()


def gold_by_kind(world: World, num_prompts: int = 300, seed: int = 0) -> pd.DataFrame:
    """Gold reward of every response kind (content x style) on the same sample of prompts."""
    rng = np.random.default_rng(seed)
    ids = sorted(world.problems)
    chosen = rng.choice(ids, size=min(num_prompts, len(ids)), replace=False)
    rows = []
    for pid in chosen:
        p = world.problems[int(pid)]
        fam = world.families[p.family]
        other_ids = [i for i in ids if world.problems[i].family != p.family]
        for kind in KINDS:
            content, style = parse_kind(kind)
            if content == "off_topic" and not other_ids:
                continue
            other = world.problems[int(rng.choice(other_ids))] if content == "off_topic" else None
            y = make_response(kind, p, fam, rng, other=other)
            comps = world.components(int(pid), y)
            rows.append(
                {
                    "kind": kind,
                    "content": content,
                    "style": style,
                    "gold": world.gold([int(pid)], [y])[0],
                    "words": len(y.split()),
                    **comps,
                }
            )
    df = pd.DataFrame(rows)
    groups = df.groupby(["kind", "content", "style"], sort=False)
    gold = groups["gold"].agg(["size", "mean", "std", "min", "max"]).add_prefix("gold_")
    agg = pd.concat([gold.rename(columns={"gold_size": "n"}), groups[["correct", "words"]].mean()], axis=1)
    return agg.reset_index()


def gold_grid(by_kind: pd.DataFrame) -> pd.DataFrame:
    """Mean gold as a content x style grid: the whole response generator at a glance."""
    grid = by_kind.pivot(index="content", columns="style", values="gold_mean")
    return grid.reindex(index=list(CONTENTS), columns=list(STYLES)).reset_index()


def labeler_agreement(world: World, taus=(0.05, 0.1, 0.3, 1.0, 3.0)) -> pd.DataFrame:
    """Agreement of the labeler with gold on the RM pairs' gold scores, at the configured tau and others."""
    pairs = world.data["rm"]
    ga, gb = np.array(pairs["gold_chosen"]), np.array(pairs["gold_rejected"])
    configured = world.labeler.tau
    rows = []
    for tau in sorted({*taus, configured}):
        lab = HumanLabeler(tau, world.labeler.noise, world.labeler.tie_policy)
        rows.append(
            {
                "tau": tau,
                "configured": tau == configured,
                "agreement_with_gold": agreement_with_gold(lab, ga, gb),
            }
        )
    labels_agree = float(np.mean(ga > gb)) if len(ga) else float("nan")
    out = pd.DataFrame(rows)
    out.attrs["rm_pairs_agreement"] = labels_agree
    return out


def length_bias(world: World) -> float:
    """Share of labeled RM pairs in which the longer response was chosen: the shortcut an RM may learn."""
    df = world.data["rm"].to_pandas()
    longer = df["chosen"].str.len() != df["rejected"].str.len()
    return float((df.loc[longer, "chosen"].str.len() > df.loc[longer, "rejected"].str.len()).mean())
