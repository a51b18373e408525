"""The policy model (PM): supervised fine-tuning on demonstrations, loss on answer tokens only."""

from __future__ import annotations

import torch

from seam_exp.models.batching import TokenBatch, encode_pairs, pair_lengths
from seam_exp.models.logprob import response_logprobs
from seam_exp.models.optim import ScheduledModule


class SFTCollator:
    def __init__(self, tokenizer, add_bos: bool = False, max_length: int | None = None):
        self.tokenizer, self.add_bos, self.max_length = tokenizer, add_bos, max_length

    def __call__(self, rows: list[dict]) -> TokenBatch:
        return encode_pairs(
            self.tokenizer,
            [r["prompt"] for r in rows],
            [r["response"] for r in rows],
            add_bos=self.add_bos,
            max_length=self.max_length,
        )

    def lengths(self, rows) -> list[int]:
        """Each row's unpadded token count (`rows` a datasets.Dataset): what length grouping reads."""
        return pair_lengths(self.tokenizer, rows["prompt"], rows["response"], self.add_bos, self.max_length)


class SFTModule(ScheduledModule):
    def loss(self, batch: TokenBatch) -> torch.Tensor:
        """Mean negative log-likelihood per response token (prompt tokens carry no loss)."""
        lp = response_logprobs(self.model, batch)
        return -lp.tokens.sum() / lp.mask.sum().clamp(min=1)

    def training_step(self, batch: TokenBatch, batch_idx: int):
        loss = self.loss(batch)
        self.log("train/nll", loss, prog_bar=True, batch_size=batch.input_ids.shape[0])
        return loss

    def validation_step(self, batch: TokenBatch, batch_idx: int) -> None:
        # per-token NLL averaged over batches: the last, smaller batch weighs by its rows, as Lightning does
        self.log("val/nll", self.loss(batch), batch_size=batch.input_ids.shape[0], sync_dist=True)
