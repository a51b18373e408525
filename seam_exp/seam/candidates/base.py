"""The one interface of the worse-answer builders (contrast, gpt, adv) and the candidate table they feed.

A builder maps prompt ids of the world to k worse answers each, every one with its provenance (where it
came from, how it was made), so any SEAM number can be traced back to the text it was computed on.
The candidate table is long: one row per (prompt, candidate), candidate_index 0 = the reference answer,
1..k = the worse answers; `seam.formula.seam_table` consumes it once log-probs and rewards are added.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from seam_exp.utils.cache import ArtifactCache, code_version, stable_hash
from seam_exp.world.build import World

CANDIDATES_FILE = "candidates.parquet"


@dataclass(frozen=True)
class Worse:
    text: str
    provenance: dict = field(default_factory=dict)


class WorseAnswerBuilder:
    """Subclasses set `variant` and implement `build`; `settings` must hold everything that determines
    the output (it is the cache key, together with the world, the prompts, k and the seed)."""

    variant: str = ""

    @property
    def label(self) -> str:
        """The name tables and file names show: the variant, with what really wrote the answers where
        that can differ (gpt[scripted] is the world's error injector, not a language model)."""
        return self.variant

    def settings(self) -> dict:
        raise NotImplementedError

    def build(self, world: World, prompt_ids: Sequence[int], k: int, seed: int) -> dict[int, list[Worse]]:
        raise NotImplementedError


def prompt_rng(seed: int, prompt_id: int, salt: str) -> np.random.Generator:
    """A generator per (seed, prompt, purpose): a prompt's answers do not depend on which others are built."""
    return np.random.default_rng([seed, int(prompt_id), int(stable_hash(salt, 8), 16)])


def candidate_frame(world: World, built: dict[int, list[Worse]], variant: str) -> pd.DataFrame:
    """Long table: per prompt the reference (index 0) then its worse answers (1..k), with provenance
    and the gold reward of each text (gold is for diagnostics only: SEAM never reads it)."""
    rows = []
    for pid, worse in built.items():
        p = world.problems[pid]
        items = [Worse(p.reference, {"source": "reference"}), *worse]
        for i, w in enumerate(items):
            rows.append(
                {
                    "prompt_id": int(pid),
                    "variant": variant,
                    "candidate_index": i,
                    "is_reference": i == 0,
                    "text": w.text,
                    "provenance": json.dumps(w.provenance, sort_keys=True),
                }
            )
    df = pd.DataFrame(rows)
    # (NaN where gold costs a judge call per text: judged data)
    df["gold"] = world.gold(df["prompt_id"].tolist(), df["text"].tolist()) if world.gold_is_free else np.nan
    return df


def build_candidates(
    builder: WorseAnswerBuilder,
    world: World,
    prompt_ids: Sequence[int],
    k: int,
    seed: int,
    cache: ArtifactCache | None = None,
) -> tuple[pd.DataFrame, Path | None]:
    """The candidate table of `builder` on `prompt_ids`, in their order, cached (GPT backends make
    generations costly). A prompt's answers do not depend on the others built with it (prompt_rng), so the
    cache holds the *set* of prompts: callers that list the same prompts in another order (the SEAM
    experiment in split order, selection sorted) share one table, and the PM scores cached under it."""
    ids = [int(i) for i in prompt_ids]
    prompts = sorted(set(ids))

    def make() -> pd.DataFrame:
        return candidate_frame(world, builder.build(world, prompts, k, seed), builder.variant)

    if cache is None:
        return in_prompt_order(make(), ids), None
    key = {
        "world": world.path.name,
        "variant": builder.variant,
        "settings": builder.settings(),
        "k": k,
        "seed": seed,
        "prompts": stable_hash(prompts),
    }
    # Editing the builder's module or this one invalidates cached candidates.
    version = code_version(sys.modules[__name__], sys.modules[type(builder).__module__])
    folder, _ = cache.get_or_build(
        "seam_candidates", key, version, lambda tmp: make().to_parquet(tmp / CANDIDATES_FILE)
    )
    return in_prompt_order(pd.read_parquet(folder / CANDIDATES_FILE), ids), folder


def in_prompt_order(candidates: pd.DataFrame, ids: list[int]) -> pd.DataFrame:
    """The rows of `candidates` with their prompts in the order of `ids` (each prompt's rows as they were)."""
    position = {p: i for i, p in enumerate(ids)}
    order = np.argsort(candidates["prompt_id"].map(position).to_numpy(), kind="stable")
    return candidates.iloc[order].reset_index(drop=True)
