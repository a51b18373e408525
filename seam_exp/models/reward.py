"""The reward model (RM): a scalar head read at the last real token, trained with the pairwise
Bradley-Terry loss on the labeler's preferences."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from seam_exp.models.batching import TokenBatch, encode_pairs, pair_lengths
from seam_exp.models.optim import ScheduledModule


def last_token_index(attention_mask: torch.Tensor) -> torch.Tensor:
    """Index of the rightmost real token per row; right or left padding alike."""
    positions = torch.arange(attention_mask.shape[-1], device=attention_mask.device)
    return (positions * attention_mask.long()).argmax(-1)


def reward_scores(model, batch: TokenBatch) -> torch.Tensor:
    """Scalar reward per row. Read from the attention mask, not from pad ids, so it stays right when a
    tokenizer pads with its EOS token (HF's own pooling would then skip the EOS)."""
    # under LoRA, peft wraps the classifier: its trunk and head are those of the wrapped model
    model = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = model.base_model(
        input_ids=batch.input_ids, attention_mask=batch.attention_mask, position_ids=batch.position_ids
    ).last_hidden_state
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    last = hidden[rows, last_token_index(batch.attention_mask)]
    return model.score(last).squeeze(-1).float()


def bradley_terry_loss(chosen: torch.Tensor, rejected: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """-[t log s(rc - rr) + (1 - t) log s(rr - rc)]: t = 1 for a preference, 0.5 for a labeled tie."""
    margin = chosen - rejected
    return -(target * F.logsigmoid(margin) + (1 - target) * F.logsigmoid(-margin)).mean()


def pair_metrics(chosen: torch.Tensor, rejected: torch.Tensor) -> dict[str, torch.Tensor]:
    rewards = torch.cat([chosen, rejected])
    return {
        "accuracy": (chosen > rejected).float().mean(),  # strict: a tie counts as wrong
        "margin": (chosen - rejected).mean(),
        "reward_mean": rewards.mean(),
        "reward_std": rewards.std(),
    }


class PairCollator:
    """Chosen and rejected of each pair in one batch of 2B rows (first B chosen), plus the targets."""

    def __init__(self, tokenizer, add_bos: bool = False, max_length: int | None = None):
        self.tokenizer, self.add_bos, self.max_length = tokenizer, add_bos, max_length

    def __call__(self, rows: list[dict]) -> tuple[TokenBatch, torch.Tensor]:
        prompts = [r["prompt"] for r in rows] * 2
        responses = [r["chosen"] for r in rows] + [r["rejected"] for r in rows]
        batch = encode_pairs(self.tokenizer, prompts, responses, self.add_bos, max_length=self.max_length)
        return batch, torch.tensor([r.get("target", 1.0) for r in rows], dtype=torch.float32)

    def lengths(self, rows) -> list[int]:
        """Each pair's longer side in tokens (`rows` a datasets.Dataset): the width its batch pads to."""
        sides = [
            pair_lengths(self.tokenizer, rows["prompt"], rows[side], self.add_bos, self.max_length)
            for side in ("chosen", "rejected")
        ]
        return [max(c, r) for c, r in zip(*sides, strict=True)]


class RewardModule(ScheduledModule):
    def forward(self, batch: TokenBatch) -> torch.Tensor:
        return reward_scores(self.model, batch)

    def _step(self, batch, stage: str) -> torch.Tensor:
        tokens, target = batch
        chosen, rejected = self(tokens).chunk(2)
        loss = bradley_terry_loss(chosen, rejected, target)
        n, validating = target.shape[0], stage == "val"
        self.log(f"{stage}/loss", loss, prog_bar=not validating, batch_size=n, sync_dist=validating)
        for name, value in pair_metrics(chosen, rejected).items():
            show = name == "accuracy" and not validating
            self.log(f"{stage}/{name}", value, prog_bar=show, batch_size=n, sync_dist=validating)
        return loss

    def training_step(self, batch, batch_idx: int):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "val")
