"""Sampling from a policy: left-padded prompts, responses cut at the first EOS.

The samples are exactly those of HF `generate` (same seed, same tokens; tests/unit/test_models.py checks
it), drawn by a loop of our own that drops rows from the batch once they have emitted EOS. `generate` keeps
every row to the end, so a batch of 64 answers of about 13 tokens paid for 48 decoding steps of all 64 rows
whenever one answer ran long; on CPU that was most of the sampling time (benchmarks/latest.md). Two facts
make the loop exact: a model's output for a row does not depend on which other rows share its batch, and
`torch.multinomial` draws one sample per row as `argmax(p / q)` with `q` exponential noise over the whole
[batch, vocab] tensor, so drawing `q` for the full batch keeps the random stream of `generate` while only
the unfinished rows are computed. Models whose generation config asks for more than temperature, top-k and
top-p (a repetition penalty, forced tokens, ...) sample through `generate` itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import torch
from tqdm.auto import tqdm
from transformers import (
    DynamicCache,
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from seam_exp.models.batching import encode_prompts

# What a model's generation config may set for the loop below to sample as `generate` does: token ids and
# switches that change no distribution (temperature, top-k and top-p are the caller's, applied below).
PLAIN_GENERATION_KEYS = {
    "use_cache",
    "output_attentions",
    "output_hidden_states",
    "pad_token_id",
    "bos_token_id",
    "eos_token_id",
    "_from_model_config",
    "transformers_version",
    "do_sample",
    "temperature",
    "top_k",
    "top_p",
}


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


def samples_like_generate(model) -> bool:
    """Whether `sample_batch` gives exactly what `generate` would for this model."""
    config = getattr(model, "generation_config", None)
    return (
        config is not None
        and not model.config.is_encoder_decoder
        and set(config.to_diff_dict()) <= PLAIN_GENERATION_KEYS
    )


def _warpers(settings: GenerationSettings) -> LogitsProcessorList:
    """The processors `generate` applies when sampling with these settings, in its order."""
    warpers = LogitsProcessorList()
    if settings.temperature != 1.0:
        warpers.append(TemperatureLogitsWarper(settings.temperature))
    if settings.top_k != 0:
        warpers.append(TopKLogitsWarper(settings.top_k))
    if settings.top_p < 1.0:
        warpers.append(TopPLogitsWarper(settings.top_p))
    return warpers


@torch.no_grad()
def sample_batch(
    model,
    ids: torch.Tensor,
    attn: torch.Tensor,
    settings: GenerationSettings,
    greedy: bool,
    eos: int,
    pad: int,
) -> torch.Tensor:
    """[B, T] new tokens for left-padded prompts `ids` (pad after a row's EOS), as `generate` samples them
    (see the module docstring), computing only the rows still running at each step."""
    batch, device = ids.shape[0], ids.device
    warpers = _warpers(settings)
    # generate drops an all-ones mask (no padding), and keeps it growing otherwise
    mask = None if bool((attn == 1).all()) else attn
    positions = (attn.long().cumsum(-1) - 1).masked_fill(attn == 0, 0)
    cache = DynamicCache(config=model.config)
    forward = partial(model, cache=cache, use_cache=True, logits_to_keep=1)  # the prompt, then each token
    out = forward(input_ids=ids, attention_mask=mask, position_ids=positions)
    tokens = torch.full((batch, settings.max_new_tokens), pad, dtype=torch.long, device=device)
    running = torch.arange(batch, device=device)  # rows of the batch still in the model's inputs
    for step in range(settings.max_new_tokens):
        logits = out.logits[:, -1].to(copy=True, dtype=torch.float32)
        if greedy:
            chosen = logits.argmax(-1)
        else:
            probs = torch.softmax(warpers(ids[running], logits), dim=-1)
            # torch.multinomial(p, 1) of the whole batch is argmax(p / q), q ~ Exp(1) over [batch, vocab]
            noise = torch.empty((batch, probs.shape[-1]), dtype=probs.dtype, device=device).exponential_(1)
            chosen = (probs / noise[running]).argmax(-1)
        tokens[running, step] = chosen
        keep = chosen != eos
        if step + 1 == settings.max_new_tokens or not bool(keep.any()):
            break
        if not bool(keep.all()):
            cache.batch_select_indices(keep.nonzero().squeeze(-1))
            running, chosen, positions = running[keep], chosen[keep], positions[keep]
            mask = mask[keep] if mask is not None else None
        positions = positions[:, -1:] + 1
        if mask is not None:
            mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=-1)
        out = forward(input_ids=chosen[:, None], attention_mask=mask, position_ids=positions)
    return tokens


@torch.no_grad()
def generate(
    model,
    tokenizer,
    prompts: Sequence[str],
    *,
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
    exact_loop = samples_like_generate(model)
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
        if exact_loop:
            gen = sample_batch(model, ids.to(device), attn.to(device), settings, greedy, eos, pad).cpu()
        else:
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
