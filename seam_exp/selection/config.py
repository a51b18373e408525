"""The `selection` config group's schema (conf/selection/default.yaml; docs/selection.md).

Which RL prompts selection drops and what the per-prompt table scores. Shared by +experiment=selection
(one RL run per method) and +experiment=augmentation (which augments the prompts a method would drop), so
both read the same cached table of a cell.
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING

from seam_exp.seam.candidates import VARIANTS
from seam_exp.seam.formula import FORMULAS
from seam_exp.selection.filters import parse_method
from seam_exp.utils.checks import BadValue, at_least, each_one_of, one_of, within


@dataclass
class SelectionConfig:
    # full | oracle | oracle_top | random | random_families | perplexity | seam:<variant>:<formula>
    method: str = "full"
    # The pre-registered primary method: named before any run, the one comparison with full read without a
    # multiple-comparison correction (every other method's p is Holm-adjusted), and the method whose family
    # mix random_families draws (docs/selection.md, "Controls and the primary method").
    primary: str = "seam:contrast:paper_prob"
    rate: float = 0.2  # share of RL prompts dropped by random, perplexity and seam (the paper's 20%)
    # oracle: drop a prompt when the RM orders at least this share of its PM-sample pairs against gold
    # (0.5: the RM is no better than a coin there); the share it drops is measured, not set
    oracle_threshold: float = 0.5
    max_prompts: int | None = None  # a seeded subset of the RL prompts for every method and run (None: all)
    # What the per-prompt table scores (every seam:<variant>:<formula> method): the YAML takes SEAM's lists.
    variants: list[str] = MISSING
    formulas: list[str] = MISSING

    def __post_init__(self):
        try:
            parse_method(self.method)
        except ValueError as e:
            raise BadValue(f"selection.method: {e}") from None
        try:
            primary = parse_method(self.primary)
        except ValueError as e:
            raise BadValue(f"selection.primary: {e}") from None
        if not primary.can_be_matched:
            raise BadValue(f"selection.primary: must drop a share of the prompts, got {self.primary!r}")
        within("selection.rate", self.rate, 0, 1, open_high=True)
        within("selection.oracle_threshold", self.oracle_threshold, 0, 1)
        at_least("selection.max_prompts", self.max_prompts, 1)
        if self.variants != MISSING:
            each_one_of("selection.variants", self.variants, VARIANTS)
        if self.formulas != MISSING:
            each_one_of("selection.formulas", self.formulas, FORMULAS)


@dataclass
class DatasetToolConfig:
    """The block of +experiment=score_dataset: SEAM-score a preference dataset and drop its least seamless
    rows (selection/dataset_tool.py; docs/selection.md)."""

    input: str | None = None  # a .parquet or .jsonl file, or a datasets folder; None: the world's RL prompts
    prompt_column: str = "prompt"
    chosen_column: str = "chosen"
    pm_path: str | None = None  # a causal LM folder (config.json); None: the `pm` preset
    # a one-label sequence-classification folder; None: the `rm` preset's trained RM
    rm_path: str | None = None
    variant: str = "contrast"  # contrast | adv | gpt (gpt needs seam/gpt=local or openai on your data)
    formula: str = MISSING  # the YAML takes seam.formula
    rate: float = 0.2  # share of rows dropped from the kept output
    output: str | None = None  # folder for scored.* and kept.*; None: the run folder

    def __post_init__(self):
        one_of("dataset_tool.variant", self.variant, VARIANTS)
        if self.formula != MISSING:
            one_of("dataset_tool.formula", self.formula, FORMULAS)
        within("dataset_tool.rate", self.rate, 0, 1, open_high=True)
