"""Train (or fetch from the artifact cache) the SFT policy and the reward model of a config.

The cache key is exactly what determines the weights: the world, the preset's source/arch/training
settings (with step budgets resolved) and the code version of the modules that train them. The run seed
is not part of it: SFT and RM training have their own seeds (`pm.sft.seed`, `rm.train.seed`), so an N x M
grid over RL seeds trains N policies and M reward models once.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import lightning.pytorch as pl
from datasets import Dataset
from omegaconf import DictConfig, OmegaConf, open_dict
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)

from seam_exp.errors import UserError
from seam_exp.models import batching, datamodule, factory, generation, logprob, lora, optim, policy, reward
from seam_exp.models import validation as validation_module
from seam_exp.models.datamodule import TrainingDataModule
from seam_exp.models.factory import build_policy, build_reward, count_parameters, pretrained_tokenizer
from seam_exp.models.generation import GenerationSettings
from seam_exp.models.lora import merged, with_lora
from seam_exp.models.policy import SFTCollator, SFTModule
from seam_exp.models.reward import PairCollator, RewardModule
from seam_exp.models.validation import RM_LOSS, SFT_GOLD, SFT_NLL, GreedyGold, KeepBest
from seam_exp.utils.cache import ArtifactCache, code_version, stable_hash
from seam_exp.utils.config import to_container
from seam_exp.utils.trainer import build_trainer, distributed
from seam_exp.world.build import VALIDATION_SPLITS, World

log = logging.getLogger(__name__)
# Lightning's banner lines (GPU available, tips) repeat for every artifact; warnings still show.
logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
MODELS_VERSION = code_version(
    sys.modules[__name__],
    batching,
    datamodule,
    factory,
    generation,
    logprob,
    lora,
    optim,
    policy,
    reward,
    validation_module,
)


def _trainer(
    cfg: DictConfig, train: DictConfig, data: TrainingDataModule, folder: Path, name: str, callbacks
):
    """SFT and RM training: `train.max_steps` optimizer steps over as many epochs as that takes, gradients
    clipped at norm 1, validated every `train.val_every` steps when there are held-out rows. Built before
    any training, so a missing logger package fails before any work."""
    validating = train.val_every and data.validation is not None and len(data.validation)
    schedule = (
        {"val_check_interval": int(train.val_every), "check_val_every_n_epoch": None}
        if validating
        else {"limit_val_batches": 0}
    )
    return build_trainer(
        cfg,
        folder,
        name,
        max_steps=train.max_steps,
        max_epochs=data.epochs_for(train.max_steps),
        gradient_clip_val=1.0,
        callbacks=callbacks,
        **schedule,
    )


def _save(folder: Path, model, tokenizer, cfg: dict, metrics: dict) -> None:
    model.save_pretrained(str(folder / "model"))
    tokenizer.save_pretrained(str(folder / "tokenizer"))
    (folder / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(cfg)))
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=1))


def model_tokenizer(model_cfg: DictConfig, world: World):
    """Tiny models speak the world's tokenizer; pretrained ones keep their own."""
    return world.tokenizer if model_cfg.source == "scratch" else pretrained_tokenizer(model_cfg)


def _weights(preset: dict) -> dict:
    """What a model starts from besides its arch: the pretrained weights it loads (`hub_id` or the packaged
    `gguf`), and the LoRA adapters it trains through, if any."""
    start = {k: preset[k] for k in ("hub_id", "gguf") if preset["source"] != "scratch" and preset.get(k)}
    return {**start, **({"lora": preset["lora"]} if preset.get("lora") else {})}


def _processes(cfg: DictConfig) -> dict:
    """DDP gives other weights than one process (another data order): part of the key when used."""
    spec = distributed(cfg.trainer)
    return {"distributed": spec} if spec else {}


def _training(train: dict) -> dict:
    """A training block as a key: `group_by_length` only when on, so a shuffled model's key is the one it
    had before the option existed."""
    return {k: v for k, v in train.items() if k != "group_by_length" or v}


def policy_key(cfg: DictConfig, world: World) -> dict:
    pm = to_container(cfg.pm)
    key = {
        "world": asdict(world.cfg),
        "source": pm["source"],
        "arch": pm.get("arch"),
        "sft": _training(pm["sft"]),
    }
    return {**key, **_weights(pm), **_processes(cfg)}


def reward_key(cfg: DictConfig, world: World) -> dict:
    rm = to_container(cfg.rm)
    key = {
        "world": asdict(world.cfg),
        "source": rm["source"],
        "arch": rm.get("arch"),
        "train": _training(rm["train"]),
    }
    key.update({**_weights(rm), **_processes(cfg)})
    if rm.get("init", "scratch") == "sft":
        key["init_sft"] = policy_key(init_policy_cfg(cfg), world)
    return key


def init_policy_cfg(cfg: DictConfig) -> DictConfig:
    """The config of the SFT policy an `rm.init=sft` reward model starts from: the RM preset's own
    `init_policy` (the PM preset of its size, whatever PM the run pairs it with), trained for
    `rm.init_sft_steps` steps with the RM's training seed, so RM seed k starts from SFT seed k. Its
    architecture must be the RM's (the trunk is copied)."""
    if cfg.rm.get("init_policy") is None:
        raise UserError(
            f"rm.init=sft needs an init_policy (a PM preset) in the rm preset; rm={cfg.rm.name} has none"
        )
    policy = cfg.rm.init_policy
    shape = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")
    pm_arch, rm_arch = to_container(policy.arch), to_container(cfg.rm.arch)
    if any(pm_arch.get(k) != rm_arch.get(k) for k in shape):
        raise UserError(
            f"rm.init=sft needs rm.init_policy to share the RM's architecture: init_policy={policy.name}, rm={cfg.rm.name}"
        )
    started = OmegaConf.merge(
        policy, {"sft": {"max_steps": int(cfg.rm.init_sft_steps), "seed": int(cfg.rm.train.seed)}}
    )
    out = cfg.copy()
    with open_dict(out):
        out.pm = started
    return out


@dataclass(frozen=True)
class Recipe:
    """How one kind of model is trained: everything `train_into` needs besides the artifact folder, the
    cache key and an augmentation arm's rows. Made by `sft_recipe` and `rm_recipe` only when the artifact
    is not cached (they load the tokenizer)."""

    cfg: DictConfig  # the run's config: the preset trained, and the trainer and logger settings
    kind: str  # the preset trained: "pm" or "rm"
    run_name: str  # the logger's run and the log line's: "sft" or "rm"
    train: DictConfig  # the preset's training block: steps, batch size, optimiser, seed
    rows: Dataset
    tokenizer: PreTrainedTokenizerFast
    build_model: Callable[[DictConfig, PreTrainedTokenizerFast], PreTrainedModel]  # (preset, tokenizer)
    module_cls: type[pl.LightningModule]
    collate_cls: type
    validation: Dataset | None  # held-out rows read along training
    monitor: str  # the validation reading whose best weights are kept (models/validation.py)
    callbacks: tuple[pl.Callback, ...] = ()  # readings besides the module's own (SFT's greedy gold)

    @property
    def preset(self) -> DictConfig:
        return self.cfg[self.kind]


def sft_recipe(cfg: DictConfig, world: World) -> Recipe:
    """The SFT policy of cfg.pm: a causal LM on the world's `sft` split."""
    tokenizer = model_tokenizer(cfg.pm, world)
    validation = world.data.get(VALIDATION_SPLITS["sft"])
    # gold is read along training only where it is free (the world), never through a paid judge
    reads_gold = world.gold_is_free and validation is not None and len(validation) > 0
    return Recipe(
        cfg,
        kind="pm",
        run_name="sft",
        train=cfg.pm.sft,
        rows=world.data["sft"],
        tokenizer=tokenizer,
        build_model=build_policy,
        module_cls=SFTModule,
        collate_cls=SFTCollator,
        validation=validation,
        monitor=SFT_GOLD if reads_gold else SFT_NLL,
        callbacks=(GreedyGold(world, validation, tokenizer, GenerationSettings.of(cfg.pm.generation)),)
        if reads_gold
        else (),
    )


def reward_from_policy(sft_dir: Path, rm_cfg: DictConfig, tokenizer) -> PreTrainedModel:
    """A reward model whose trunk is the SFT policy saved in `sft_dir`, with a fresh scalar head."""
    return AutoModelForSequenceClassification.from_pretrained(str(sft_dir / "model"), num_labels=1)


def rm_recipe(cfg: DictConfig, world: World, init_from: Path | None = None) -> Recipe:
    """The reward model of cfg.rm on its preference pairs (reward_pairs): fresh weights, or the trunk of
    the SFT policy in folder `init_from` (rm.init=sft)."""
    tokenizer = model_tokenizer(cfg.rm, world)
    return Recipe(
        cfg,
        kind="rm",
        run_name="rm",
        train=cfg.rm.train,
        rows=reward_pairs(cfg, world),
        tokenizer=tokenizer,
        build_model=build_reward if init_from is None else partial(reward_from_policy, init_from),
        module_cls=RewardModule,
        collate_cls=PairCollator,
        validation=world.data.get(VALIDATION_SPLITS["rm"]),
        monitor=RM_LOSS,
    )


def train_into(folder: Path, recipe: Recipe, key: dict, augmented: Dataset | None = None) -> None:
    """Train a fresh model of `recipe` on its rows (plus `augmented` rows, if any) for `train.max_steps`
    steps (through LoRA adapters if the preset sets `lora`), validating on its validation rows and keeping
    the weights of the best `monitor` reading, and save it, its tokenizer, its config with `key` and its
    training metrics into the artifact folder."""
    cfg, preset, train, tokenizer = recipe.cfg, recipe.preset, recipe.train, recipe.tokenizer
    role = "policy" if recipe.kind == "pm" else "reward"
    collate = recipe.collate_cls(tokenizer, max_length=preset.arch.max_position_embeddings)
    data = TrainingDataModule(
        recipe.rows,
        collate,
        train.batch_size,
        train.seed,
        augmented,
        recipe.validation,
        train.group_by_length,
    )
    keep_best = KeepBest(recipe.monitor)
    trainer = _trainer(cfg, train, data, folder, recipe.run_name, [*recipe.callbacks, keep_best])
    pl.seed_everything(train.seed, workers=True)
    # train mode: pretrained weights load in eval mode, and Lightning keeps the mode it finds
    model = with_lora(recipe.build_model(preset, tokenizer).train(), preset.get("lora"), role)
    module = recipe.module_cls(model, train.lr, train.weight_decay, train.warmup_steps, train.max_steps)
    params = count_parameters(model)
    log.info(
        "%s of %s=%s (%d params) on %d rows for %d steps",
        recipe.run_name.upper(),
        recipe.kind,
        preset.name,
        params,
        len(data.train_set),
        train.max_steps,
    )
    start = time.perf_counter()
    if train.max_steps > 0:  # 0 steps: the model as built (the paper's "no SFT" PM, "0 pairs" RM)
        trainer.fit(module, datamodule=data)
    metrics = {
        "params": params,
        "rows": len(data.train_set),
        # the Trainer stops at max_steps (max_epochs=-1); read from the config because a DDP-spawned
        # run's step count stays in its worker processes
        "steps": max(0, train.max_steps),
        "seconds": time.perf_counter() - start,
        **{k: float(v) for k, v in trainer.callback_metrics.items() if not k.startswith("val/")},
        **keep_best.summary(),
    }
    _save(folder, merged(model), tokenizer, {recipe.kind: to_container(preset), "key": key}, metrics)


def augmented_key(key: dict, augmented, arm: str | None) -> dict:
    """A model's cache key with the rows an augmentation arm added (docs/augmentation.md): two arms, or
    two selections, never share an entry; without augmented rows the key is the original model's."""
    if augmented is None:
        return key
    rows = {"arm": arm, "rows": len(augmented), "hash": stable_hash(augmented.to_list())}
    return {**key, "augmentation": rows}


def sft_policy(
    cfg: DictConfig, world: World, cache: ArtifactCache, augmented=None, arm: str | None = None
) -> tuple[Path, bool]:
    """Folder of the SFT policy for cfg.pm (trained now if not cached) and whether it was trained now.

    With `augmented` rows (an augmentation arm's), it is retrained from the same initialisation, seed and
    number of steps on the SFT split plus those rows, so it differs from the original in its data only."""
    key = augmented_key(policy_key(cfg, world), augmented, arm)

    def build(folder: Path) -> None:
        train_into(folder, sft_recipe(cfg, world), key, augmented)

    return cache.get_or_build("pm", key, MODELS_VERSION, build)


def reward_pairs(cfg: DictConfig, world: World):
    """The preference pairs cfg.rm trains on: a seeded shuffle of the world's RM split, the first
    `rm.train.num_pairs` of them (all when unset)."""
    train = cfg.rm.train
    pairs = world.data["rm"].shuffle(seed=train.seed)
    if train.num_pairs is not None:
        pairs = pairs.select(range(min(train.num_pairs, len(pairs))))
    return pairs


def trained_reward(
    cfg: DictConfig, world: World, cache: ArtifactCache, augmented=None, arm: str | None = None
) -> tuple[Path, bool]:
    """Folder of the reward model for cfg.rm (trained now if not cached) and whether it was trained now.

    With `rm.init=sft` its trunk starts from an SFT policy (init_policy_cfg) and only the scalar head is
    new, as the paper (and InstructGPT) initialise reward models; otherwise it starts from scratch. With
    `augmented` pairs it is retrained on its own pairs plus those, as sft_policy does."""
    key = augmented_key(reward_key(cfg, world), augmented, arm)
    init_from = None
    if cfg.rm.get("init", "scratch") == "sft":
        init_from, _ = sft_policy(init_policy_cfg(cfg), world, cache)

    def build(folder: Path) -> None:
        train_into(folder, rm_recipe(cfg, world, init_from), key, augmented)

    return cache.get_or_build("rm", key, MODELS_VERSION, build)


def load_policy(folder: Path):
    model = AutoModelForCausalLM.from_pretrained(str(folder / "model"))
    return model.eval(), PreTrainedTokenizerFast.from_pretrained(str(folder / "tokenizer"))


def load_reward(folder: Path):
    model = AutoModelForSequenceClassification.from_pretrained(str(folder / "model"))
    return model.eval(), PreTrainedTokenizerFast.from_pretrained(str(folder / "tokenizer"))


def metrics_of(folder: Path) -> dict:
    return json.loads((folder / "metrics.json").read_text())
