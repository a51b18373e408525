"""AdamW with linear warm-up and cosine decay to 10% of the peak (transformers' schedule): what every
model trained here (SFT, RM) uses, and the LightningModule base that wires it."""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from transformers import get_cosine_with_min_lr_schedule_with_warmup

MIN_LR_RATE = 0.1  # the cosine ends at this share of the peak learning rate, not at 0


def adamw_with_schedule(params, lr: float, weight_decay: float, warmup_steps: int, max_steps: int):
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    scheduler = get_cosine_with_min_lr_schedule_with_warmup(
        optimizer, num_warmup_steps=warmup_steps, num_training_steps=max_steps, min_lr_rate=MIN_LR_RATE
    )
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
