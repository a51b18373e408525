"""Validation along SFT and RM training, on the held-out `sft_val` / `rm_val` splits (docs/world.md), and
the weights kept: those of the best validation reading, never chosen on an evaluation prompt
(docs/models.md, "Validation and the weights kept")."""

from __future__ import annotations

import math

import lightning.pytorch as pl
import torch

from seam_exp.models.generation import GenerationSettings, generate

# What each model kind is judged by, and in which direction: SFT by the gold of its greedy answers when
# gold is free (the world), else by its validation NLL; the RM by its Bradley-Terry loss on held-out pairs.
SFT_GOLD, SFT_NLL, RM_LOSS, RM_ACCURACY = "val/gold", "val/nll", "val/loss", "val/accuracy"
HIGHER_IS_BETTER = {SFT_GOLD: True, SFT_NLL: False, RM_LOSS: False, RM_ACCURACY: True}


class GreedyGold(pl.Callback):
    """Mean gold of the policy's greedy answers to the validation prompts, logged as `val/gold` at the end
    of every validation: the cheap reading of what SFT is for, beside the NLL of the demonstrations."""

    def __init__(self, world, rows, tokenizer, settings: GenerationSettings):
        self.world, self.tokenizer, self.settings = world, tokenizer, settings
        self.prompts, self.ids = list(rows["prompt"]), list(rows["prompt_id"])

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        samples = generate(pl_module.model, self.tokenizer, self.prompts, greedy=True, settings=self.settings)
        ids = [self.ids[i] for i in samples.prompt_index]
        gold = float(self.world.gold(ids, samples.texts).mean())
        pl_module.log(SFT_GOLD, gold, sync_dist=True)


class KeepBest(pl.Callback):
    """Record every validation reading, keep the trained tensors of the best one in memory and put them
    back when training ends (the last weights stay when no validation ran).

    Hand-written rather than Lightning's ModelCheckpoint: that one writes the whole module's state to
    disk at each improvement (all 7B weights under LoRA), where only the trained tensors (the adapters,
    under LoRA) need keeping, and a model is saved with save_pretrained afterwards anyway."""

    def __init__(self, monitor: str):
        self.monitor, self.higher = monitor, HIGHER_IS_BETTER[monitor]
        self.curve: list[dict] = []
        self.best_value, self.best_step, self.best_state = None, None, None

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        reading = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
        self.curve.append({"step": trainer.global_step, **reading})
        value = reading.get(self.monitor)
        if value is None or math.isnan(value):
            return
        if self.best_value is None or (value > self.best_value if self.higher else value < self.best_value):
            self.best_value, self.best_step = value, trainer.global_step
            self.best_state = {
                n: p.detach().clone() for n, p in pl_module.named_parameters() if p.requires_grad
            }

    def on_train_end(self, trainer, pl_module) -> None:
        if self.best_state is None:
            return
        with torch.no_grad():
            for name, param in pl_module.named_parameters():
                if name in self.best_state:
                    param.copy_(self.best_state[name])

    def summary(self) -> dict:
        """What metrics.json records: the monitor, the kept step and its readings, and the whole curve."""
        kept = next((r for r in self.curve if r["step"] == self.best_step), {})
        return {
            "monitor": self.monitor,
            "kept_step": self.best_step,
            **{k.replace("/", "_"): v for k, v in kept.items() if k != "step"},
            "curve": self.curve,
        }
