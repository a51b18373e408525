"""SEAM scoring, side by side (`--sections seam`): this project, the authors' scoring style, and the
forward-pass bound.

The work is the same in all three: the PM's exact log-prob and the RM's reward of every candidate (a
reference and k worse answers per prompt) of `n` RL prompts. This project scores with length-sorted
batches (`seam.scoring`). The authors' style, re-implemented from how their scripts work: one forward per
answer, token log-probs summed in a Python loop, and the RM through a transformers `pipeline` with batch
size 1 (its model forward, one answer per call). The bound: the same padded batches as this project,
pre-encoded, timing only the models' forward calls.

That both styles give the same numbers is measured and reported with the timings: the largest difference
of the PM's log-prob per answer token and of the RM's reward, over every candidate. Above TOLERANCE the
timings compare different work, and the bench stops with one line (UnequalWork) once the table is written.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch

from seam_exp.data.layout import format_prompt
from seam_exp.experiments import config_with, prepare
from seam_exp.models.batching import encode_pairs, length_sorted_batches
from seam_exp.models.reward import reward_scores
from seam_exp.models.train import load_reward, trained_reward
from seam_exp.seam.candidates.adv import AdvBuilder
from seam_exp.seam.candidates.base import build_candidates
from seam_exp.seam.policy import load_pm
from seam_exp.seam.scoring import format_prompts, pm_scores, rm_scores
from seam_exp.selection.prompt_scores import rl_prompt_ids

# Per token: a batched float32 forward differs from an unbatched one in the last bits, and a sum over
# ~40 tokens of SmolLM2 adds that up to 1.7e-4 (measured, 2026-12-02); per answer token it is far below
# 1e-4. The RM's reward is one number per answer, held to the same bound.
TOLERANCE = 1e-4
PM_DIFF = "PM max diff per token"
RM_DIFF = "RM max diff"


class UnequalWork(RuntimeError):
    """The two scoring styles gave different numbers: their timings would compare different work."""


def _median_seconds(fn, repeats: int) -> tuple[float, object]:
    out, times = None, []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


@torch.no_grad()
def authors_logprobs(model, tokenizer, prompts, responses) -> np.ndarray:
    """One forward per answer; the response's token log-probs summed one by one in Python."""
    out = np.zeros(len(prompts))
    for i, (p, r) in enumerate(zip(prompts, responses, strict=True)):
        batch = encode_pairs(tokenizer, [p], [r])
        logits = model(input_ids=batch.input_ids).logits[0]
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        ids, is_response = batch.input_ids[0].tolist(), batch.response_mask[0].tolist()
        total = 0.0
        for t in range(1, len(ids)):
            if is_response[t]:
                total += logprobs[t - 1, ids[t]].item()
        out[i] = total
    return out


@torch.no_grad()
def authors_rewards(rm, tokenizer, prompts, responses) -> np.ndarray:
    """The RM one answer at a time through the model's own forward and pooling: what a text-classification
    `pipeline` with batch size 1 runs. (A pipeline itself tokenizes the joined text, which splits the
    prompt/answer boundary differently on a few percent of texts: not the same work.)"""
    out = np.zeros(len(prompts))
    for i, (p, r) in enumerate(zip(prompts, responses, strict=True)):
        batch = encode_pairs(tokenizer, [p], [r])
        out[i] = rm(input_ids=batch.input_ids).logits[0, 0].item()
    return out


@torch.no_grad()
def forward_bound(pm, pm_tok, prompts, rm, rm_tok, rm_prompts, responses, batch_size: int) -> float:
    """Seconds of the models' forward calls alone on this project's batches (encoded beforehand)."""

    def batches(tok, ps):
        return [
            encode_pairs(tok, [ps[i] for i in rows], [responses[i] for i in rows])
            for rows in length_sorted_batches(ps, responses, batch_size)
        ]

    pm_batches, rm_batches = batches(pm_tok, prompts), batches(rm_tok, rm_prompts)
    start = time.perf_counter()
    for b in pm_batches:
        pm(input_ids=b.input_ids, attention_mask=b.attention_mask, position_ids=b.position_ids)
    for b in rm_batches:
        reward_scores(rm, b)
    return time.perf_counter() - start


def bench_seam_scoring(world, pm, pm_tok, fmt: str, rm, rm_tok, n_prompts: int, k: int, repeats: int) -> dict:
    ids = rl_prompt_ids(world)[:n_prompts]
    cands, _ = build_candidates(AdvBuilder(0.15), world, ids, k, seed=0)
    questions = [world.problems[int(p)].question for p in cands["prompt_id"]]
    prompts, texts = format_prompts(questions, pm_tok, fmt), cands["text"].tolist()
    rm_prompts = [format_prompt(q) for q in questions]
    pm.eval()
    rm.eval()

    def ours():
        return pm_scores(cands, world, pm, pm_tok, fmt)[["logp", "length"]].to_numpy().T, rm_scores(
            cands, world, rm, rm_tok
        )

    def authors():
        return authors_logprobs(pm, pm_tok, prompts, texts), authors_rewards(rm, rm_tok, rm_prompts, texts)

    t_ours, ((lp_ours, lengths), r_ours) = _median_seconds(ours, repeats)
    t_authors, (lp_authors, r_authors) = _median_seconds(authors, repeats)
    t_bound = statistics.median(
        forward_bound(pm, pm_tok, prompts, rm, rm_tok, rm_prompts, texts, 64) for _ in range(repeats)
    )
    return {
        "candidates": len(cands),
        "this project s": t_ours,
        "authors' style s": t_authors,
        "forward bound s": t_bound,
        "speed-up over authors": t_authors / t_ours,
        "share of bound": t_bound / t_ours,
        PM_DIFF: float(np.max(np.abs(lp_ours - lp_authors) / lengths)),
        RM_DIFF: float(np.max(np.abs(np.asarray(r_ours) - r_authors))),
    }


def seam_rows(
    sizes: list[str], scale: str, n_prompts: int, smollm2_prompts: int, k: int, repeats: int
) -> list[dict]:
    """SEAM scoring side by side for each size's SFT PM and RM, and SmolLM2 as PM (on fewer prompts by
    default: the authors' style, one SmolLM2 forward per answer, costs ~0.3 s each)."""
    rows = []
    for pm_name, rm_name in [*((s, s) for s in sizes), ("smollm2_135m", sizes[0])]:
        cfg = config_with([f"scale={scale}"], pm=pm_name, rm=rm_name)
        world, cache = prepare(cfg)
        pm = load_pm(cfg, world, cache)
        rm, rm_tok = load_reward(trained_reward(cfg, world, cache)[0])
        n = smollm2_prompts if pm_name == "smollm2_135m" else n_prompts
        row = bench_seam_scoring(world, pm.model, pm.tokenizer, pm.fmt, rm, rm_tok, n, k, repeats)
        rows.append({"PM": pm_name, "RM": rm_name, "prompts": n, **row})
    return rows


def floatfmt(columns) -> tuple[str, ...]:
    """Seconds and ratios to 2 decimals, the two styles' differences in scientific notation."""
    return tuple(".1e" if c in (PM_DIFF, RM_DIFF) else ".2f" for c in columns)


def check_equal_work(rows: list[dict]) -> None:
    """UnequalWork, in one line, for the first row whose two styles differ beyond TOLERANCE (a NaN
    difference counts as beyond)."""
    for row in rows:
        for column, what in ((PM_DIFF, "PM log-probs per answer token"), (RM_DIFF, "RM rewards")):
            if not row[column] <= TOLERANCE:
                raise UnequalWork(
                    f"PM {row['PM']} / RM {row['RM']}: {what} of this project and the authors' style differ "
                    f"by up to {row[column]:.1e} (tolerance {TOLERANCE:.0e}): the timings compare unequal work"
                )
