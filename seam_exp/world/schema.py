"""The `data=world` schema: WorldConfig (world/build.py), which declares every key and default, with the
value rules checked when a run's config is composed (seam_exp/schemas.py).

A subclass, not an edit of WorldConfig: the code of build.py keys the cached world, and every cached SEAM
artifact with it, so the rules are added here rather than there.
"""

from __future__ import annotations

from dataclasses import dataclass

from seam_exp.utils.checks import above, at_least_each, number, one_of, within
from seam_exp.world.build import WorldConfig
from seam_exp.world.labeler import TIE_POLICIES


@dataclass
class WorldSchema(WorldConfig):
    def __post_init__(self):
        super().__post_init__()  # splits and mixes
        at_least_each(
            "data",
            self,
            prompts_per_family=1,
            num_entities=2,
            responses_per_prompt=2,
            pairs_per_prompt=1,
            vocab_size=50,
        )
        # the labeler is an untyped block (HumanLabeler's arguments, which it checks without the key's
        # name when the world is built): its types and values are checked here, by key
        labeler = self.labeler
        if "tau" in labeler:
            number("data.labeler.tau", labeler["tau"])
            above("data.labeler.tau", labeler["tau"], 0)
        if "noise" in labeler:
            number("data.labeler.noise", labeler["noise"])
            within("data.labeler.noise", labeler["noise"], 0, 0.5)
        if "tie_policy" in labeler:
            one_of("data.labeler.tie_policy", labeler["tie_policy"], TIE_POLICIES)
