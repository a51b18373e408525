"""The augmented SFT policy and reward model of an arm, trained (or fetched from the artifact cache).

They are retrained from the same initialisation, seed and number of steps as the original models, on the
original rows plus the augmented ones shuffled together, rather than continued from the original
checkpoints: an arm then differs from `original` in its data only, not in extra training steps.
The cache key is the original model's key plus the augmented rows themselves, so two arms (or two
selections) never share an entry.
"""

from __future__ import annotations

import sys
from pathlib import Path

from datasets import Dataset
from omegaconf import DictConfig

from seam_exp.augmentation import data as data_module
from seam_exp.errors import UserError
from seam_exp.models.factory import build_policy, build_reward
from seam_exp.models.policy import SFTCollator, SFTModule
from seam_exp.models.reward import PairCollator, RewardModule
from seam_exp.models.train import (
    MODELS_VERSION,
    model_tokenizer,
    policy_key,
    reward_key,
    reward_pairs,
    train_into,
)
from seam_exp.utils.cache import ArtifactCache, code_version, stable_hash
from seam_exp.world.build import World

VERSION = f"{MODELS_VERSION}-{code_version(sys.modules[__name__], data_module)}"


def _key(base: dict, augmented: Dataset, arm: str) -> dict:
    rows = {"arm": arm, "rows": len(augmented), "hash": stable_hash(augmented.to_list())}
    return {**base, "augmentation": rows}


def augmented_policy(
    cfg: DictConfig, world: World, cache: ArtifactCache, sft: Dataset, arm: str
) -> tuple[Path, bool]:
    """The SFT policy of cfg.pm trained on the world's SFT rows plus `sft`."""
    key = _key(policy_key(cfg, world), sft, arm)

    def build(folder: Path) -> None:
        tokenizer = model_tokenizer(cfg.pm, world)
        rows = world.data["sft"]
        train_into(
            folder,
            cfg,
            "pm",
            cfg.pm.sft,
            rows,
            tokenizer,
            build_policy,
            SFTModule,
            SFTCollator,
            key,
            "sft",
            sft,
        )

    return cache.get_or_build("pm", key, VERSION, build)


def augmented_reward(
    cfg: DictConfig, world: World, cache: ArtifactCache, pairs: Dataset, arm: str
) -> tuple[Path, bool]:
    """The reward model of cfg.rm trained on its own preference pairs plus `pairs`."""
    if cfg.rm.get("init", "scratch") != "scratch":
        raise UserError(
            "augmentation: only reward models trained from scratch (rm.init=scratch) can be augmented"
        )
    key = _key(reward_key(cfg, world), pairs, arm)

    def build(folder: Path) -> None:
        tokenizer = model_tokenizer(cfg.rm, world)
        rows = reward_pairs(cfg, world)
        train_into(
            folder,
            cfg,
            "rm",
            cfg.rm.train,
            rows,
            tokenizer,
            build_reward,
            RewardModule,
            PairCollator,
            key,
            "rm",
            pairs,
        )

    return cache.get_or_build("rm", key, VERSION, build)
