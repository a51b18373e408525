"""Hot paths per model size (`--sections sizes`): the SFT step time and the throughput of exact log-probs,
sampling and RM scoring, on one batch of SFT rows of the world."""

from __future__ import annotations

import time

import torch

from seam_exp.data_source import world_from
from seam_exp.experiments import config_with
from seam_exp.models.batching import encode_pairs
from seam_exp.models.factory import build_policy, build_reward, count_parameters
from seam_exp.models.generation import GenerationSettings, generate
from seam_exp.models.logprob import response_logprobs
from seam_exp.models.policy import SFTCollator, SFTModule
from seam_exp.models.reward import reward_scores


def _timed(fn, repeats: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def bench_size(cfg, world, batch_size: int, repeats: int) -> dict:
    tok = world.tokenizer
    rows = world.data["sft"].select(range(batch_size))
    policy = build_policy(cfg.pm, tok)
    module = SFTModule(policy, 1e-3, 0.0, 1, 10)
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-3)
    batch = SFTCollator(tok)(list(rows))

    def sft_step():
        loss = module.loss(batch)
        loss.backward()
        opt.step()
        opt.zero_grad()

    step = _timed(sft_step, repeats)
    policy.eval()
    with torch.no_grad():
        lp = _timed(lambda: response_logprobs(policy, batch), repeats)
    prompts = rows["prompt"]
    start = time.perf_counter()
    samples = generate(policy, tok, prompts, settings=GenerationSettings(max_new_tokens=32), seed=0)
    gen = time.perf_counter() - start
    new_tokens = sum(len(r) for r in samples.response_ids)
    rm = build_reward(cfg.rm, tok).eval()
    pair_batch = encode_pairs(tok, prompts, rows["response"])
    with torch.no_grad():
        rm_time = _timed(lambda: reward_scores(rm, pair_batch), repeats)
    return {
        "size": cfg.pm.name,
        "params": count_parameters(policy),
        "sft_step_ms": 1000 * step,
        "logprob_seq_per_s": batch_size / lp,
        "sample_tokens_per_s": new_tokens / gen,
        "rm_seq_per_s": batch_size / rm_time,
    }


def size_rows(sizes: list[str], scale: str, batch_size: int, repeats: int) -> list[dict]:
    """One row per size: a fresh (untrained) PM and RM of that preset on the scale's world."""
    rows = []
    for size in sizes:
        cfg = config_with(["+experiment=world", f"scale={scale}"], pm=size, rm=size)
        rows.append(bench_size(cfg, world_from(cfg), batch_size, repeats))
    return rows
