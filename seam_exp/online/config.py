"""The `online` config group's schema (conf/online/default.yaml selects it; docs/online.md): SEAM re-scored
under the current policy along an RL run. Its worse answers, k, formula and length penalty are the `seam`
group's."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

from seam_exp.seam.config import VARIANTS
from seam_exp.selection.filters import REFRESH_CHOOSERS
from seam_exp.utils.checks import at_least_each, one_of, within

NO_REFRESH = "none"


@dataclass
class RefreshConfig:
    """The SEAM-guided RM refresh (online/refresh.py): labels of the policy's own answers, bought every
    `every` RL steps on `prompts` prompts (one pair each, ties dropped), the RM trained on them."""

    # none: off | seam: the currently least seamless prompts | random: the control, same labels | oracle:
    # the largest exact mismatch on the policy's answers (gold; the bound). A selection run's
    # refresh:<chooser> method sets it.
    chooser: str = NO_REFRESH
    # RL steps between refreshes (conf/online/default.yaml: a fifth of the run); labels per RL step =
    # prompts / every
    every: int = MISSING
    prompts: int = 128  # chosen on validation prompts (docs/online.md, "Choosing the refresh's settings")
    rm_steps: int = 8  # AdamW steps on the new pairs per refresh
    batch_size: int = 32
    lr: float = MISSING  # conf/online/default.yaml: a tenth of the RM's own training rate
    oracle_samples: int = 4  # answers per pool prompt the oracle chooser judges
    # share of each refresh minibatch drawn from the pairs the RM was trained on (0: the new pairs only): a
    # rehearsal, so a few new labels are learnt without the RM forgetting the rest (docs/online.md)
    replay: float = 0.0

    def __post_init__(self):
        at_least_each("online.refresh", self, every=1, prompts=1, rm_steps=1, batch_size=1, oracle_samples=2)
        within("online.refresh.replay", self.replay, 0.0, 1.0, open_high=True)
        one_of("online.refresh.chooser", self.chooser, (NO_REFRESH, *REFRESH_CHOOSERS))


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
    refresh: RefreshConfig = field(default_factory=RefreshConfig)

    def __post_init__(self):
        at_least_each("online", self, every=0, prompts=3, samples_per_prompt=2, refilter_every=0)
        one_of("online.variant", self.variant, VARIANTS)


SCHEMAS = {"online/_schema": OnlineSeamConfig}
