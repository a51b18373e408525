"""Each config group's schema: the dataclass that declares its keys, types and defaults once.

Registered in Hydra's ConfigStore as `<group>/<name>` (names start with `_`: never a choice on the command
line), the first entry of the group's YAML defaults list (conf/rl/ppo.yaml), so that a YAML file only
selects and overrides. Importing this module registers them: every place that composes a config imports
it (cli.py, experiments.config_with). Hydra checks types when it composes; cli.check_config builds the
dataclasses, whose `__post_init__` checks values, for every sweep point before any job starts. The trainer
group is Lightning's Trainer arguments (free-form, instantiated with `_target_`) and has no schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from seam_exp.augmentation.config import AugmentationConfig
from seam_exp.model_presets import SCHEMAS as MODEL_SCHEMAS
from seam_exp.online.config import SCHEMAS as ONLINE_SCHEMAS
from seam_exp.paper_data.config import SCHEMAS as PAPER_DATA_SCHEMAS
from seam_exp.rl.config import RLConfig
from seam_exp.seam.config import SCHEMAS as SEAM_SCHEMAS
from seam_exp.selection.config import DatasetToolConfig, SelectionConfig
from seam_exp.utils.checks import at_least, at_least_each
from seam_exp.world.schema import WorldSchema


@dataclass
class WorldScale:
    prompts_per_family: int = MISSING  # families that cannot supply that many distinct questions give all
    num_entities: int = MISSING


@dataclass
class PaperGrid:
    """The paper's grid (saturation_paper, selection_paper): SFT steps x RM preference pairs, RM steps =
    pairs x epochs / batch. Budgets, not sizes: they grow with sft_steps and with the world's pairs."""

    sft_steps: list[int] = MISSING  # the top cell is the recipe's full SFT (scale.sft_steps)
    rm_pairs: list[int] = MISSING
    rm_epochs: int = MISSING


@dataclass
class ScaleConfig:
    """The `scale` group: sizes and budgets of every experiment (conf/scale/<name>.yaml sets each of them;
    each experiment's own sweep axes are in conf/experiment/<name>.yaml)."""

    name: str = MISSING
    world: WorldScale = field(default_factory=WorldScale)
    sft_steps: int = MISSING
    rm_steps: int = MISSING
    val_every: int | None = MISSING  # SFT and RM steps between validations (None: none, the last weights)
    rl_steps: int = MISSING
    eval_prompts: int = MISSING
    samples_per_prompt: int = MISSING
    # The size grid (sanity, saturation, mismatch, models, recipe): a list, restricted as scale.sizes=[m,l].
    sizes: list[str] = MISSING
    # Training-budget multipliers of the budget grids (sanity, saturation_budget).
    budgets: list[float] = MISSING
    seeds: list[int] = MISSING  # RL seeds of the experiments that repeat every run (selection, augmentation)
    paper_grid: PaperGrid = field(default_factory=PaperGrid)

    def __post_init__(self):
        at_least("scale.world.prompts_per_family", self.world.prompts_per_family, 1)
        at_least_each(
            "scale", self, sft_steps=0, rm_steps=0, rl_steps=1, eval_prompts=1, samples_per_prompt=1
        )


SCHEMAS = {
    "rl/_schema": RLConfig,
    "data/_world": WorldSchema,
    **PAPER_DATA_SCHEMAS,
    **MODEL_SCHEMAS,
    **SEAM_SCHEMAS,
    **ONLINE_SCHEMAS,
    "selection/_schema": SelectionConfig,
    "scale/_schema": ScaleConfig,
    "augmentation/_schema": AugmentationConfig,  # the blocks of +experiment=augmentation and score_dataset
    "dataset_tool/_schema": DatasetToolConfig,
}


def register() -> None:
    store = ConfigStore.instance()
    for path, schema in SCHEMAS.items():
        group, name = path.rsplit("/", 1)
        store.store(group=group, name=name, node=schema)


register()
