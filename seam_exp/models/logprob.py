"""Exact, batched log pi(response | prompt): the quantity SEAM weights and PPO ratios are built on."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seam_exp.models.batching import TokenBatch


@dataclass
class ResponseLogProbs:
    sequence: torch.Tensor  # [B] float64 sum of log-probs of the response tokens (EOS included)
    tokens: torch.Tensor  # [B, L-1] log-prob of token t+1 given tokens <= t, zero off the response
    mask: torch.Tensor  # [B, L-1] True where `tokens` is a response token
    lengths: torch.Tensor  # [B] number of response tokens


def token_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """`log_softmax(logits)[..., labels]`, the one token log-prob of the project (SFT, PPO, SEAM).

    gather - logsumexp avoids materialising a second `[..., V]` tensor; computed in float32 because
    logsumexp over a large vocabulary loses too many bits in fp16/bf16.
    """
    logits = logits.float()
    return logits.gather(-1, labels.long().unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)


def response_logprobs(model, batch: TokenBatch, temperature: float = 1.0) -> ResponseLogProbs:
    """Log-probabilities of the response tokens in `batch` under `model` (a causal LM)."""
    out = model(
        input_ids=batch.input_ids, attention_mask=batch.attention_mask, position_ids=batch.position_ids
    )
    logits = out.logits[:, :-1] / temperature
    per_token = token_logprobs(logits, batch.input_ids[:, 1:])
    mask = batch.response_mask[:, 1:]
    per_token = torch.where(mask, per_token, torch.zeros_like(per_token))
    # Summed in float64: long responses otherwise drift by ~1e-5 from the exact value.
    return ResponseLogProbs(per_token.double().sum(-1), per_token, mask, mask.sum(-1))
