"""Sampling from a policy with HF `generate`: left-padded prompts, responses cut at the first EOS."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from seam_exp.models.batching import encode_prompts


@dataclass(frozen=True)
class GenerationSettings:
    """How a policy samples: the `generation` block of a pm preset, or RL's pure sampling (no top-k/p)."""

    max_new_tokens: int = 48  # a response that has not ended by then is cut (and has no EOS)
    temperature: float = 1.0
    top_k: int = 0  # 0: no top-k filter
    top_p: float = 1.0  # 1.0: no nucleus filter

    @classmethod
    def of(cls, cfg) -> GenerationSettings:
        """From a config node with these four keys (e.g. `pm.generation`)."""
        return cls(int(cfg.max_new_tokens), float(cfg.temperature), int(cfg.top_k), float(cfg.top_p))


@dataclass
class Samples:
    prompt_index: list[int]  # which prompt each sample answers
    texts: list[str]
    response_ids: list[list[int]]  # generated ids up to and including the first EOS
    has_eos: list[bool]


@torch.no_grad()
def generate(
    model,
    tokenizer,
    prompts: Sequence[str],
    n: int = 1,
    settings: GenerationSettings | None = None,
    greedy: bool = False,
    batch_size: int = 64,
    add_bos: bool = False,
    seed: int | None = None,
    progress: bool = False,
) -> Samples:
    """n responses per prompt (grouped: the n samples of prompt i are contiguous); greedy ignores the
    sampling settings but keeps their max_new_tokens. The one sampling call of the project."""
    settings = settings or GenerationSettings()
    if seed is not None:
        torch.manual_seed(seed)
    was_training = model.training
    model.eval()
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    prompt_ids = encode_prompts(tokenizer, prompts, add_bos)
    order = [i for i in range(len(prompts)) for _ in range(n)]
    out = Samples([], [], [], [])
    device = next(model.parameters()).device
    starts = range(0, len(order), batch_size)
    # disable=None: tqdm draws only on a terminal, never into a sweep job's log file
    for start in tqdm(starts, desc="sampling", disable=None if progress else True, leave=False):
        rows = order[start : start + batch_size]
        width = max(len(prompt_ids[i]) for i in rows)
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        attn = torch.zeros_like(ids)
        for j, i in enumerate(rows):
            ids[j, width - len(prompt_ids[i]) :] = torch.tensor(prompt_ids[i])
            attn[j, width - len(prompt_ids[i]) :] = 1
        kwargs = (
            {"do_sample": False}
            if greedy
            else {
                "do_sample": True,
                "temperature": settings.temperature,
                "top_k": settings.top_k,
                "top_p": settings.top_p,
            }
        )
        gen = model.generate(
            input_ids=ids.to(device),
            attention_mask=attn.to(device),
            max_new_tokens=settings.max_new_tokens,
            eos_token_id=eos,
            pad_token_id=pad,
            **kwargs,
        )[:, width:].cpu()
        for j, i in enumerate(rows):
            seq = gen[j].tolist()
            has_eos = eos in seq
            seq = seq[: seq.index(eos) + 1] if has_eos else seq
            out.prompt_index.append(i)
            out.response_ids.append(seq)
            out.has_eos.append(has_eos)
            out.texts.append(tokenizer.decode([t for t in seq if t != eos], skip_special_tokens=True))
    model.train(was_training)
    return out
