"""Turn (prompt, response) text into padded token batches with exact prompt/response boundaries.

Prompt and response are tokenized separately and concatenated, so the boundary is a token index, never
a guess from re-tokenizing the joined string. The response ends with EOS so the model learns to stop.
Position ids are computed from the attention mask, which makes left padding exact (HF models otherwise
number positions from the first pad token).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase


@dataclass
class TokenBatch:
    input_ids: torch.Tensor  # [B, L]
    attention_mask: torch.Tensor  # [B, L] 1 on real tokens
    response_mask: torch.Tensor  # [B, L] True on response tokens (EOS included)
    position_ids: torch.Tensor  # [B, L]

    def to(self, device) -> TokenBatch:
        return TokenBatch(
            *(
                t.to(device)
                for t in (self.input_ids, self.attention_mask, self.response_mask, self.position_ids)
            )
        )

    @property
    def response_lengths(self) -> torch.Tensor:
        return self.response_mask.sum(-1)


def positions_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def encode_prompts(
    tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str], add_bos: bool
) -> list[list[int]]:
    ids = tokenizer(list(prompts), add_special_tokens=False)["input_ids"]
    if add_bos and tokenizer.bos_token_id is not None:
        ids = [[tokenizer.bos_token_id, *x] for x in ids]
    return ids


def encode_responses(
    tokenizer: PreTrainedTokenizerBase, responses: Sequence[str], add_eos: bool = True
) -> list[list[int]]:
    ids = tokenizer(list(responses), add_special_tokens=False)["input_ids"]
    return [[*x, tokenizer.eos_token_id] if add_eos else list(x) for x in ids]


def pad_pairs(
    prompt_ids: Sequence[Sequence[int]],
    response_ids: Sequence[Sequence[int]],
    pad_id: int,
    padding_side: str = "right",
    max_length: int | None = None,
) -> TokenBatch:
    """Concatenate prompt and response ids per row and pad; responses are truncated to fit max_length."""
    rows, masks = [], []
    for p, r in zip(prompt_ids, response_ids, strict=True):
        r = list(r)
        if max_length is not None:
            r = r[: max(0, max_length - len(p))]
        rows.append([*p, *r])
        masks.append([False] * len(p) + [True] * len(r))
    width = max(len(x) for x in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attn = torch.zeros((len(rows), width), dtype=torch.long)
    resp = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, (row, m) in enumerate(zip(rows, masks, strict=True)):
        sl = slice(width - len(row), width) if padding_side == "left" else slice(0, len(row))
        ids[i, sl] = torch.tensor(row, dtype=torch.long)
        attn[i, sl] = 1
        resp[i, sl] = torch.tensor(m, dtype=torch.bool)
    return TokenBatch(ids, attn, resp, positions_from_mask(attn))


def encode_pairs(
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    responses: Sequence[str],
    add_bos: bool = False,
    padding_side: str = "right",
    max_length: int | None = None,
) -> TokenBatch:
    return pad_pairs(
        encode_prompts(tokenizer, prompts, add_bos),
        encode_responses(tokenizer, responses),
        tokenizer.pad_token_id,
        padding_side,
        max_length,
    )


def pair_lengths(
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    responses: Sequence[str],
    add_bos: bool = False,
    max_length: int | None = None,
) -> list[int]:
    """The tokens each row of encode_pairs takes before padding (prompt, then the response with its end
    token, truncated as pad_pairs truncates it): what a length-grouped sampler groups rows by."""
    lengths = []
    for p, r in zip(
        encode_prompts(tokenizer, prompts, add_bos), encode_responses(tokenizer, responses), strict=True
    ):
        kept = len(r) if max_length is None else min(len(r), max(0, max_length - len(p)))
        lengths.append(len(p) + kept)
    return lengths


def length_sorted_batches(
    prompts: Sequence[str], responses: Sequence[str], batch_size: int
) -> Iterator[np.ndarray]:
    """Row indices in batches of similar text length: little compute is spent on padding, and callers
    write each batch's results back to these rows, so the output keeps the input order."""
    order = np.argsort([len(p) + len(r) for p, r in zip(prompts, responses, strict=True)], kind="stable")
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]
