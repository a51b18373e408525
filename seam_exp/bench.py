"""`make bench`: measured speed and memory of the hot paths, printed as a table (never asserted).

For each model size: SFT training step time, exact log-prob throughput (the SEAM/PPO hot path),
sampling throughput and RM scoring throughput, on the default world, with the threads the machine has.
"""

from __future__ import annotations

import argparse
import resource
import time

import pandas as pd
import torch
from hydra import compose, initialize_config_dir

from seam_exp.cli import CONF_DIR
from seam_exp.models.batching import encode_pairs
from seam_exp.models.factory import build_policy, build_reward, count_parameters
from seam_exp.models.generation import GenerationSettings, generate
from seam_exp.models.logprob import response_logprobs
from seam_exp.models.policy import SFTCollator, SFTModule
from seam_exp.models.reward import reward_scores
from seam_exp.reporting.tables import to_markdown
from seam_exp.world.build import world_from


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


def seam_rows(sizes: list[str], scale: str, n_prompts: int, k: int, repeats: int) -> list[dict]:
    """SEAM scoring side by side (seam_exp/bench_seam.py) for each size's SFT PM and RM, and SmolLM2 as PM."""
    from seam_exp.bench_seam import bench_seam_scoring
    from seam_exp.experiments import prepare
    from seam_exp.models.train import load_reward, trained_reward
    from seam_exp.seam.policy import load_pm
    from seam_exp.seam.scoring import prompt_format_of

    rows = []
    for pm_name, rm_name in [*((s, s) for s in sizes), ("smollm2_135m", sizes[0])]:
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            cfg = compose("config", overrides=[f"scale={scale}", f"pm={pm_name}", f"rm={rm_name}"])
        world, cache = prepare(cfg)
        pm, pm_tok, _, _ = load_pm(cfg, world, cache)
        rm, rm_tok = load_reward(trained_reward(cfg, world, cache)[0])
        fmt = prompt_format_of(cfg.pm, pm_tok)
        row = bench_seam_scoring(world, pm, pm_tok, fmt, rm, rm_tok, n_prompts, k, repeats)
        rows.append({"PM": pm_name, "RM": rm_name, **row})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="xs,s,m,l")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scale", default="default")
    parser.add_argument("--seam-prompts", type=int, default=200)
    parser.add_argument("--seam-k", type=int, default=8)
    args = parser.parse_args()
    rows = []
    start = time.perf_counter()
    for size in args.sizes.split(","):
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            cfg = compose(
                "config", overrides=["+experiment=world", f"scale={args.scale}", f"pm={size}", f"rm={size}"]
            )
        world = world_from(cfg)
        if not rows:
            print(
                f"world ready in {time.perf_counter() - start:.1f} s; torch threads {torch.get_num_threads()}"
            )
        rows.append(bench_size(cfg, world, args.batch_size, args.repeats))
    print(to_markdown(pd.DataFrame(rows), floatfmt=".1f"))
    seam = seam_rows(args.sizes.split(","), args.scale, args.seam_prompts, args.seam_k, args.repeats)
    print(
        f"\nSEAM scoring of {args.seam_prompts} RL prompts x (1 + k={args.seam_k}) answers, median of {args.repeats}:"
    )
    print(to_markdown(pd.DataFrame(seam), floatfmt=".2f"))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak_mb:.0f} MiB")


if __name__ == "__main__":
    main()
