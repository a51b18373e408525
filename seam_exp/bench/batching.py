"""Training throughput with shuffled against length-grouped batches (`--sections batching`): SFT and RM
optimizer steps per second of one model size on its own training rows, through Lightning as the models are
trained, and the share of every batch that is padding (docs/performance.md, "Length-grouped batches"); then,
on shuffled batches, the same steps under bf16 autocast and with the model compiled (`torch.compile`), the
other two levers of throughput the profile names (docs/performance.md, "Precision and compilation")."""

from __future__ import annotations

import time

import lightning.pytorch as pl
import torch

from seam_exp.data_source import world_from
from seam_exp.experiments import config_with
from seam_exp.models.datamodule import TrainingDataModule
from seam_exp.models.train import rm_recipe, sft_recipe

WARM_UP_STEPS = 3  # steps left out of the timing: the first ones allocate and warm the kernels
# transformers sorts each megabatch of 50 batches longest first: time whole megabatches, or the grouped
# batches timed are the long ones (the bench's default of 100 steps is two)


class StepClock(pl.Callback):
    def __init__(self):
        self.ends: list[float] = []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self.ends.append(time.perf_counter())


def _padding_share(loader, batches: int) -> float:
    """Of the batches the timed steps train on (the loader is seeded, so the Trainer draws the same)."""
    real = padded = 0
    for i, batch in enumerate(loader):
        if i < WARM_UP_STEPS:
            continue
        if i == WARM_UP_STEPS + batches:
            break
        tokens = batch[0] if isinstance(batch, tuple) else batch
        real, padded = real + int(tokens.attention_mask.sum()), padded + tokens.attention_mask.numel()
    return 1 - real / padded


# (label, Lightning precision, compile the model): fp32 eager is how every model is trained
VARIANTS = (
    ("fp32", "32-true", False),
    ("bf16 autocast", "bf16-mixed", False),
    ("fp32 compiled", "32-true", True),
)


def _throughput(recipe, group_by_length: bool, steps: int, variant: tuple = VARIANTS[0]) -> dict:
    label, precision, compiled = variant
    train, preset = recipe.train, recipe.preset
    collate = recipe.collate_cls(recipe.tokenizer, max_length=preset.arch.max_position_embeddings)
    start = time.perf_counter()
    data = TrainingDataModule(
        recipe.rows, collate, train.batch_size, train.seed, group_by_length=group_by_length
    )
    padding = _padding_share(data.train_dataloader(), steps)  # includes the lengths, read once per fit
    setup = time.perf_counter() - start
    pl.seed_everything(train.seed)
    model = recipe.build_model(preset, recipe.tokenizer).train()
    if compiled:  # dynamic: a batch's length varies, and a static graph would recompile for each new one
        model = torch.compile(model, dynamic=True)
    module = recipe.module_cls(model, train.lr, train.weight_decay, train.warmup_steps, steps)
    clock = StepClock()
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        precision=precision,
        max_steps=steps + WARM_UP_STEPS,
        gradient_clip_val=1.0,
        limit_val_batches=0,
        logger=False,
        callbacks=[clock],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, datamodule=data)
    timed = clock.ends[WARM_UP_STEPS:]
    return {
        "model": recipe.run_name,
        "batches": "length-grouped" if group_by_length else "shuffled",
        "arithmetic": label,
        "padding share": padding,
        "steps/s": (len(timed) - 1) / (timed[-1] - timed[0]),
        "sampler setup s": setup,
        "threads": torch.get_num_threads(),
    }


def batching_rows(size: str, scale: str, steps: int) -> list[dict]:
    """SFT and RM of preset `size`, each trained `steps` timed steps from fresh weights with either kind
    of batch, then on shuffled batches in bf16 autocast and compiled, in the same process one after the
    other."""
    cfg = config_with(["+experiment=world", f"scale={scale}"], pm=size, rm=size)
    world = world_from(cfg)
    rows = []
    for recipe in (sft_recipe(cfg, world), rm_recipe(cfg, world)):
        for group_by_length in (False, True):
            rows.append({"size": size, **_throughput(recipe, group_by_length, steps)})
        for variant in VARIANTS[1:]:
            rows.append({"size": size, **_throughput(recipe, False, steps, variant)})
    return rows
