"""The schema of `augmentation`, the block of +experiment=augmentation (docs/augmentation.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

from seam_exp.augmentation.arms import parse_arm
from seam_exp.selection.filters import parse_method
from seam_exp.utils.checks import BadValue, at_least, each_one_of, within

# Where similar instructions may come from: the PM's and the RM's training splits only. Never eval; not
# rm_test, whose pairs measure every arm's RM accuracy; not rl, whose prompts an added SFT demonstration
# would answer with gold before RL starts on them (docs/augmentation.md, "What is added per instruction").
POOL_SPLITS = ("sft", "rm")


@dataclass
class AugmentationConfig:
    arm: str = "original"  # original | <seam|random|full>:<pm|rm|both>
    # The SEAM score whose least seamless instructions the seam arm augments: contrast (whose retrieval
    # also writes the augmented data) with the formula that tracked the true mismatch best on the RL
    # prompts in +experiment=seam (never chosen on eval prompts).
    method: str = "seam:contrast:paper_prob"
    rate: float = 0.2  # share of the RL instructions the seam and random arms augment (the paper's 20%)
    per_instruction: int = 5  # SFT samples and preference pairs added per augmented instruction (paper: 5)
    # Similar instructions retrieved per instruction; the RM's worst-judged per_instruction make the pairs.
    retrieved: int = 8
    pool_splits: list[str] = field(default_factory=lambda: list(POOL_SPLITS))
    seed: int = 0  # the random arm's draw and the labeler's coins on the augmented pairs (not the RL seed)

    def __post_init__(self):
        try:
            parse_arm(self.arm)
        except ValueError as e:
            raise BadValue(f"augmentation.arm: {e}") from None
        try:
            kind = parse_method(self.method).kind
        except ValueError as e:
            raise BadValue(f"augmentation.method: {e}") from None
        if kind != "seam":
            raise BadValue(
                f"augmentation.method: must be a seam:<variant>:<formula> method, got {self.method!r}"
            )
        within("augmentation.rate", self.rate, 0, 1, open_low=True, open_high=True)
        at_least("augmentation.per_instruction", self.per_instruction, 1)
        at_least("augmentation.retrieved", self.retrieved, 1)
        if self.retrieved < self.per_instruction:
            raise BadValue(
                f"augmentation.retrieved: must be >= per_instruction ({self.per_instruction}), got {self.retrieved}"
            )
        each_one_of("augmentation.pool_splits", self.pool_splits, POOL_SPLITS)
