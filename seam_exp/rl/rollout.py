"""Rollout batches: sampled responses laid out so that every response starts at the same column.

Prompts are left-padded to a common width P and responses right-padded to a common width T, so
response token t of every row sits at column P + t and is predicted by the logits at column P + t - 1.
Slicing `[:, P - 1 : -1]` then gives response-aligned `[B, T]` tensors whose real tokens form a prefix
of each row: the layout `seam_exp.rl.advantages` describes. Position ids come from the attention mask, so
the left padding does not shift positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from seam_exp.models.batching import TokenBatch, encode_prompts, positions_from_mask
from seam_exp.models.generation import GenerationSettings, generate
from seam_exp.models.logprob import token_logprobs


@dataclass
class RolloutBatch:
    tokens: TokenBatch  # [B, P + T]: the whole sequences, for the policy, the reference, critic and RM
    prompt_width: int  # P
    response_ids: torch.Tensor  # [B, T] long, pad after the response
    response_mask: torch.Tensor  # [B, T] bool, True on real response tokens (EOS included)
    has_eos: torch.Tensor  # [B] bool

    def __len__(self) -> int:
        return self.response_ids.shape[0]

    def select(self, idx: torch.Tensor) -> RolloutBatch:
        t = self.tokens
        return RolloutBatch(
            TokenBatch(t.input_ids[idx], t.attention_mask[idx], t.response_mask[idx], t.position_ids[idx]),
            self.prompt_width,
            self.response_ids[idx],
            self.response_mask[idx],
            self.has_eos[idx],
        )

    def to(self, device) -> RolloutBatch:
        return RolloutBatch(
            self.tokens.to(device),
            self.prompt_width,
            self.response_ids.to(device),
            self.response_mask.to(device),
            self.has_eos.to(device),
        )

    @property
    def lengths(self) -> torch.Tensor:
        return self.response_mask.long().sum(-1)


def build_rollout_batch(
    prompt_ids: Sequence[Sequence[int]],
    response_ids: Sequence[Sequence[int]],
    has_eos: Sequence[bool],
    pad_id: int,
) -> RolloutBatch:
    """Left-pad prompts and right-pad responses (exact token ids, never re-tokenized text)."""
    if any(len(r) == 0 for r in response_ids):
        raise ValueError("every response needs at least one token (generation always emits one)")
    P = max(len(p) for p in prompt_ids)
    T = max(len(r) for r in response_ids)
    B = len(prompt_ids)
    input_ids = torch.full((B, P + T), pad_id, dtype=torch.long)
    attention = torch.zeros((B, P + T), dtype=torch.long)
    for i, (p, r) in enumerate(zip(prompt_ids, response_ids, strict=True)):
        input_ids[i, P - len(p) : P] = torch.tensor(p, dtype=torch.long)
        input_ids[i, P : P + len(r)] = torch.tensor(r, dtype=torch.long)
        attention[i, P - len(p) : P + len(r)] = 1
    response_mask = attention[:, P:].bool()
    full_response_mask = torch.zeros_like(attention, dtype=torch.bool)
    full_response_mask[:, P:] = response_mask
    tokens = TokenBatch(input_ids, attention, full_response_mask, positions_from_mask(attention))
    return RolloutBatch(
        tokens, P, input_ids[:, P:].clone(), response_mask, torch.tensor(list(has_eos), dtype=torch.bool)
    )


def sample_rollout(
    policy,
    tokenizer,
    prompts: Sequence[str],
    n: int,
    max_new_tokens: int,
    temperature: float,
    seed: int | None = None,
) -> tuple[RolloutBatch, list[int], list[str]]:
    """n pure samples per prompt (no top-k/top-p, so log-probs at `temperature` are the sampling ones).

    Returns the batch, the index of each sample's prompt (n contiguous samples per prompt) and the texts.
    """
    # Encoded exactly as `generate` encodes them, so the batch holds the very tokens that were sampled.
    prompt_ids = encode_prompts(tokenizer, prompts, add_bos=False)
    settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=temperature)
    samples = generate(policy, tokenizer, prompts, n=n, settings=settings, seed=seed)
    batch = build_rollout_batch(
        [prompt_ids[i] for i in samples.prompt_index],
        samples.response_ids,
        samples.has_eos,
        tokenizer.pad_token_id,
    )
    return batch, samples.prompt_index, samples.texts


def response_logits(model, batch: RolloutBatch, temperature: float = 1.0) -> torch.Tensor:
    """Logits predicting each response token, `[B, T, V]`, scaled by the sampling temperature."""
    t = batch.tokens
    logits = model(input_ids=t.input_ids, attention_mask=t.attention_mask, position_ids=t.position_ids).logits
    return logits[:, batch.prompt_width - 1 : -1] / temperature


def response_token_logprobs(model, batch: RolloutBatch, temperature: float = 1.0) -> torch.Tensor:
    """`[B, T]` log-probs of the response tokens (values on padding are meaningless: mask them)."""
    return token_logprobs(response_logits(model, batch, temperature), batch.response_ids)
