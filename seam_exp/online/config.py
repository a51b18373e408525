"""The `online` config group's schema (conf/online/default.yaml selects it; docs/online.md): SEAM re-scored
under the current policy along an RL run. Its worse answers, k, formula and length penalty are the `seam`
group's."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING

from seam_exp.seam.config import VARIANTS
from seam_exp.utils.checks import at_least_each, one_of


@dataclass
class OnlineSeamConfig:
    every: int = 0  # RL steps between scorings (0: off); when on, it also scores at the start and the end
    prompts: int = 64  # RL prompts tracked: a seeded draw, fixed for the run
    variant: str = "contrast"  # whose worse answers the `fixed` score weighs: contrast | gpt | adv
    samples_per_prompt: int = 4  # the policy's own answers per prompt, judged: its exact mismatch
    seed: int = 2025  # of the prompts drawn, the answers sampled and the perturbations of the `own` score
    # RL steps between re-filterings of an online selection method (online:<variant>:<formula>; 0: never,
    # the static filter); conf/online/default.yaml sets it to a fifth of the RL steps
    refilter_every: int = MISSING

    def __post_init__(self):
        at_least_each("online", self, every=0, prompts=3, samples_per_prompt=2, refilter_every=0)
        one_of("online.variant", self.variant, VARIANTS)


SCHEMAS = {"online/_schema": OnlineSeamConfig}
