"""Score a candidate table: the PM's exact log pi(y | x) and the RM's reward r(x, y) of every candidate.

Each model reads the text through its own tokenizer and its own prompt format: a world PM/RM sees the
world template ("Question: ...\\nAnswer: "), a pretrained chat PM (SmolLM2-Instruct) sees its chat
template with the question as the user turn, and the answer is the assistant turn closed by the
tokenizer's EOS (<|im_end|> for SmolLM2), exactly how such a model ends an answer. The response length
|y| that SEAM's length penalty divides by is the PM's token count (EOS included).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from seam_exp.data.layout import format_prompt
from seam_exp.models.batching import encode_pairs, length_sorted_batches
from seam_exp.models.logprob import response_logprobs
from seam_exp.models.scoring import score_texts
from seam_exp.seam.candidates import make_builder
from seam_exp.seam.candidates.base import build_candidates
from seam_exp.utils.cache import ArtifactCache, cached_frame, code_version
from seam_exp.world.build import World

PROMPT_FORMATS = ("world", "chat")


@dataclass(frozen=True)
class PM:
    """The policy SEAM weights with, as everything that scores or samples with it needs it."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    fmt: str  # the prompt format it reads: world | chat (prompt_format_of)
    ident: dict  # what identifies its weights in cache keys (seam.policy.load_pm)
    label: str  # where it comes from: sft | rl | pretrained (the results' `policy` column)


@dataclass(frozen=True)
class RM:
    """A reward model and its tokenizer; it reads the world prompt template it was trained on."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase


def prompt_format_of(pm_cfg, tokenizer) -> str:
    """`pm.prompt_format` if set; otherwise the world template for models trained here, chat for others."""
    fmt = pm_cfg.get("prompt_format") if hasattr(pm_cfg, "get") else None
    if fmt is None:
        fmt = "chat" if pm_cfg.source != "scratch" and getattr(tokenizer, "chat_template", None) else "world"
    if fmt not in PROMPT_FORMATS:
        raise ValueError(f"unknown pm.prompt_format '{fmt}'; valid: {', '.join(PROMPT_FORMATS)}")
    return fmt


def format_prompts(questions: Sequence[str], tokenizer, fmt: str) -> list[str]:
    if fmt == "world":
        return [format_prompt(q) for q in questions]
    if fmt == "chat":
        return [
            tokenizer.apply_chat_template(
                [{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True
            )
            for q in questions
        ]
    raise ValueError(f"unknown prompt format '{fmt}'; valid: {', '.join(PROMPT_FORMATS)}")


@torch.no_grad()
def sequence_logprobs(
    model, tokenizer, prompts: Sequence[str], responses: Sequence[str], batch_size: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """(log pi(response | prompt) summed over response tokens incl. EOS, response token count) per row."""
    model.eval()
    n = len(prompts)
    logp, lengths = np.zeros(n, dtype=np.float64), np.zeros(n, dtype=np.int64)
    limit = getattr(model.config, "max_position_embeddings", None)
    for rows in length_sorted_batches(prompts, responses, batch_size):
        batch = encode_pairs(
            tokenizer, [prompts[i] for i in rows], [responses[i] for i in rows], max_length=limit
        )
        out = response_logprobs(model, batch.to(next(model.parameters()).device))
        logp[rows] = out.sequence.cpu().numpy()
        lengths[rows] = out.lengths.cpu().numpy()
    return logp, lengths


def pm_scores(
    candidates: pd.DataFrame, world: World, model, tokenizer, fmt: str, batch_size: int = 64
) -> pd.DataFrame:
    """prompt_id, candidate_index, logp, length for every candidate, under the PM."""
    questions = [world.problems[int(p)].question for p in candidates["prompt_id"]]
    logp, length = sequence_logprobs(
        model, tokenizer, format_prompts(questions, tokenizer, fmt), candidates["text"].tolist(), batch_size
    )
    return pd.DataFrame(
        {
            "prompt_id": candidates["prompt_id"].to_numpy(),
            "candidate_index": candidates["candidate_index"].to_numpy(),
            "logp": logp,
            "length": length,
        }
    )


def rm_scores(candidates: pd.DataFrame, world: World, rm, tokenizer, batch_size: int = 128) -> np.ndarray:
    """The RM's reward of every candidate (world prompt template: the RM was trained on it)."""
    prompts = [format_prompt(world.problems[int(p)].question) for p in candidates["prompt_id"]]
    return score_texts(rm, tokenizer, prompts, candidates["text"].tolist(), batch_size)


def cached_pm_scores(
    cache: ArtifactCache, pm: PM, candidates: pd.DataFrame, candidates_key: str, world: World, batch_size: int
) -> tuple[pd.DataFrame, float]:
    """pm_scores cached under the policy's identity: PM-side work does not depend on the RM, so every RM
    of a sweep shares it. Returns the frame and the seconds it took when computed."""
    key = {"policy": pm.ident, "format": pm.fmt, "candidates": candidates_key}
    return cached_frame(
        cache,
        "seam_pm_scores",
        key,
        code_version(sys.modules[__name__]),
        "pm_scores.parquet",
        partial(pm_scores, candidates, world, pm.model, pm.tokenizer, pm.fmt, batch_size),
    )


def score_variant(
    cfg, variant: str, world: World, cache: ArtifactCache, pm: PM, rm: RM, ids: Sequence[int]
) -> tuple[pd.DataFrame, str, float, float]:
    """The scored candidate table of one variant (reference + k worse answers per prompt, with the PM's
    log-prob and length and the RM's reward), its label, and the seconds the PM and the RM spent on it."""
    builder = make_builder(variant, cfg.seam, world, cache)
    cands, folder = build_candidates(builder, world, ids, cfg.seam.k, cfg.seam.seed, cache)
    pm_part, pm_seconds = cached_pm_scores(cache, pm, cands, folder.name, world, cfg.seam.batch_size)
    start = time.perf_counter()
    reward = rm_scores(cands, world, rm.model, rm.tokenizer)
    rm_seconds = time.perf_counter() - start
    scored = cands.merge(pm_part, on=["prompt_id", "candidate_index"], validate="one_to_one")
    scored["reward"] = reward
    return scored, builder.label, pm_seconds, rm_seconds


def variant_diagnostics(scored: pd.DataFrame, pm_seconds: float, rm_seconds: float, n_prompts: int) -> dict:
    """Per-variant columns of the results row. pm_seconds is the time the PM scores took when they were
    computed (they are cached, so a rerun reports the first run's time); rm_seconds is this run's."""
    worse = scored[~scored["is_reference"]]
    ref_gold = scored.loc[scored["is_reference"]].set_index("prompt_id")["gold"]
    return {
        "k": float(worse.groupby("prompt_id").size().mean()),
        # How often a "worse" answer is not worse by gold: the builder's own error rate.
        "worse_gold_ge_ref": float(
            (worse["gold"].to_numpy() >= ref_gold.loc[worse["prompt_id"]].to_numpy()).mean()
        ),
        "pm_seconds": pm_seconds,
        "rm_seconds": rm_seconds,
        "prompts_per_s": n_prompts / (pm_seconds + rm_seconds),
    }
