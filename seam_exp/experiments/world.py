"""`+experiment=world`: build (or load) the preference world and describe it."""

from __future__ import annotations

import logging

from omegaconf import DictConfig

from seam_exp.data_source import world_from
from seam_exp.experiments import Experiment
from seam_exp.reporting.tables import write_table
from seam_exp.utils.runtime import output_dir
from seam_exp.world.summary import counts_table, gold_by_kind, gold_grid, labeler_agreement, length_bias

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict:
    world = world_from(cfg)
    out = output_dir()
    agreement = labeler_agreement(world)
    by_kind = gold_by_kind(world)
    tables = [
        write_table(counts_table(world), out, "world_counts", "Prompts per split and family"),
        write_table(by_kind, out, "world_gold_by_kind", "Gold reward by response kind"),
        write_table(gold_grid(by_kind), out, "world_gold_grid", "Mean gold reward, content x style"),
        write_table(agreement, out, "labeler_agreement", "Labeler agreement with gold (RM pairs)"),
    ]
    bias = length_bias(world)
    print("\n\n".join(tables))
    print(
        f"\nlonger response chosen in {bias:.1%} of RM pairs of unequal length; vocab {len(world.tokenizer)}"
    )
    print(f"world artifact: {world.path}\nresults: {out}")
    return {"length_bias": bias}


EXPERIMENT = Experiment(run=run)
