"""AdamW with linear warm-up and cosine decay: the schedule every model trained here (SFT, RM) uses, and
the LightningModule base that wires it."""

from __future__ import annotations

import math

import lightning.pytorch as pl
import torch


def adamw_with_schedule(params, lr: float, weight_decay: float, warmup_steps: int, max_steps: int):
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / max(1, warmup_steps)
        progress = (step - warmup_steps) / max(1, max_steps - warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


class ScheduledModule(pl.LightningModule):
    """A LightningModule around `model` that trains with AdamW and the schedule above."""

    def __init__(self, model, lr: float, weight_decay: float, warmup_steps: int, max_steps: int):
        super().__init__()
        self.model = model
        self.lr, self.weight_decay = lr, weight_decay
        self.warmup_steps, self.max_steps = warmup_steps, max_steps

    def configure_optimizers(self):
        return adamw_with_schedule(
            self.parameters(), self.lr, self.weight_decay, self.warmup_steps, self.max_steps
        )
