"""The data of a run: the preference world (seam_exp/world) or the paper's Stack Exchange data judged by an
LLM (seam_exp/paper_data), chosen by the `data` config group. The one place that loads either source, so
neither imports the other; everything downstream reads a run's data through the same attributes."""

from __future__ import annotations

from seam_exp.paper_data.stack_exchange import JudgedData, load_stack_exchange
from seam_exp.utils.config import to_dataclass
from seam_exp.utils.runtime import cache_from
from seam_exp.world.build import World, WorldConfig, load_world


def world_from(cfg) -> World | JudgedData:
    """The data of a run's config (`data` group), loaded from or built into the run's artifact cache."""
    if cfg.data.name == "stack_exchange":
        return load_stack_exchange(cfg.data, cache_from(cfg))
    return load_world(to_dataclass(WorldConfig, cfg.data, "data"), cache_from(cfg))
