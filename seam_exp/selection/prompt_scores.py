"""The per-prompt table every selection method ranks by, for one (PM, RM) cell (docs/selection.md).

One row per RL prompt: its task family, SEAM under each configured variant and formula (the main setting
of the `seam` group, no ablation), the PM's per-token perplexity of the reference answer, and the true mismatch of the
SFT PM's own samples judged by the RM and by gold (what the oracle drops by). Built once per cell and
cached: every method and RL seed of the cell reads the same table.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from seam_exp.models.train import load_reward, trained_reward
from seam_exp.seam import formula, scoring, validation
from seam_exp.seam.formula import formula_scores
from seam_exp.seam.policy import load_pm
from seam_exp.seam.scoring import PM, RM, score_variant
from seam_exp.seam.validation import ground_truth_table
from seam_exp.selection.filters import FAMILY_COLUMN, MISMATCH_COLUMN, PERPLEXITY_COLUMN, seam_column
from seam_exp.utils.cache import ArtifactCache, cached_frame, code_version, stable_hash
from seam_exp.utils.config import to_container
from seam_exp.world.build import World

TABLE_FILE = "prompt_scores.parquet"


def reference_perplexity(scored: pd.DataFrame) -> pd.DataFrame:
    """prompt_id, ref_perplexity = exp(-log pi(reference) / |reference|) under the PM."""
    ref = scored[scored["is_reference"]]
    return pd.DataFrame(
        {
            "prompt_id": ref["prompt_id"].to_numpy(),
            PERPLEXITY_COLUMN: np.exp(-ref["logp"].to_numpy() / ref["length"].to_numpy()),
        }
    )


def rl_prompt_ids(world: World, max_prompts: int | None = None) -> list[int]:
    """The RL prompts selection works on: all of them, or a seeded random subset of `max_prompts` (for a
    worse-answer writer too slow for the whole split; every method and RL run then uses the subset)."""
    ids = sorted({int(i) for i in world.data["rl"]["prompt_id"]})
    if max_prompts is None or max_prompts >= len(ids):
        return ids
    return sorted(np.random.default_rng(0).choice(ids, max_prompts, replace=False).tolist())


def _build(cfg, world, cache, pm: PM, rm: RM, ids: list[int]) -> pd.DataFrame:
    truth, _ = ground_truth_table(cfg, world, cache, pm, rm, ids, seed=cfg.seam.seed)
    table = truth[["prompt_id", MISMATCH_COLUMN, "gt_pairs"]]
    families = world.data["rl"].select_columns(["prompt_id", FAMILY_COLUMN]).to_pandas()
    table = table.merge(families.drop_duplicates("prompt_id"), on="prompt_id", validate="one_to_one")
    base, formulas = to_container(cfg.seam), list(cfg.selection.formulas)
    for variant in cfg.selection.variants:
        scored, _, _, _ = score_variant(cfg, variant, world, cache, pm, rm, ids)
        scores = formula_scores(scored, base, formulas)
        scores = scores.rename(columns={f: seam_column(variant, f) for f in formulas})
        table = table.merge(scores, on="prompt_id", validate="one_to_one")
        if PERPLEXITY_COLUMN not in table:  # the reference is the same text in every variant
            table = table.merge(reference_perplexity(scored), on="prompt_id", validate="one_to_one")
    return table.sort_values("prompt_id").reset_index(drop=True)


def selection_table(cfg: DictConfig, world: World, cache: ArtifactCache) -> pd.DataFrame:
    """The cached per-prompt table of the cell's SFT PM (cfg.pm) and RM (cfg.rm) on every RL prompt."""
    pm = load_pm(cfg, world, cache)
    rm_dir, _ = trained_reward(cfg, world, cache)
    ids = rl_prompt_ids(world, cfg.selection.get("max_prompts"))
    seam = to_container(cfg.seam)
    key = {
        "policy": pm.ident,
        "rm": rm_dir.name,
        "prompts": stable_hash(ids),
        "variants": list(cfg.selection.variants),
        "formulas": list(cfg.selection.formulas),
        "seam": {
            k: v for k, v in seam.items() if k not in ("ablations", "bootstrap", "formulas", "max_prompts")
        },
        "generation": to_container(cfg.pm.generation),
    }
    version = code_version(sys.modules[__name__], formula, scoring, validation)

    def make() -> pd.DataFrame:
        return _build(cfg, world, cache, pm, RM(*load_reward(rm_dir)), ids)

    return cached_frame(cache, "selection_scores", key, version, TABLE_FILE, make)[0]
