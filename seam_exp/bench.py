"""`make bench`: measured speed and memory, printed as tables and written to benchmarks/latest.md with the
machine they were measured on (never asserted: targets live here, not in tests).

Sections (`--sections`): `sizes`, per model size the SFT step time and the throughput of exact log-probs,
sampling and RM scoring; `seam`, SEAM scoring side by side with the authors' scoring style and the
forward-pass bound (seam_exp/bench_seam.py); `rl`, this project's PPO and RLOO against TRL's RLOOTrainer
at equal settings (seam_exp/bench_rl.py); `grid`, `make run` cold and warm with each job's peak memory
(seam_exp/bench_grid.py; `make bench-grid`, an hour or more on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

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
from seam_exp.utils.memory import peak_mib
from seam_exp.utils.runtime import progress_bars_only_on_a_terminal
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


def seam_rows(
    sizes: list[str], scale: str, n_prompts: int, smollm2_prompts: int, k: int, repeats: int
) -> list[dict]:
    """SEAM scoring side by side (seam_exp/bench_seam.py) for each size's SFT PM and RM, and SmolLM2 as PM
    (on fewer prompts by default: the authors' style, one SmolLM2 forward per answer, costs ~0.3 s each)."""
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
        n = smollm2_prompts if pm_name == "smollm2_135m" else n_prompts
        row = bench_seam_scoring(world, pm, pm_tok, fmt, rm, rm_tok, n, k, repeats)
        rows.append({"PM": pm_name, "RM": rm_name, "prompts": n, **row})
    return rows


def machine() -> str:
    """What the numbers were measured on: a benchmark figure means nothing without it."""
    import platform

    import transformers

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} threads, "
        f"transformers {transformers.__version__}, Python {platform.python_version()}"
    )


def with_ratios(rows: list[dict]) -> pd.DataFrame:
    """The RL arms, with this project's samples per second over TRL's (same settings)."""
    df = pd.DataFrame(rows)
    if "samples/s" in df and (df["arm"] == "trl_rloo").any():
        trl = df.loc[df["arm"] == "trl_rloo", "samples/s"].iloc[0]
        df["samples/s over TRL RLOO"] = df["samples/s"] / trl
    return df


SECTIONS = ("sizes", "seam", "rl", "grid")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sections", default="sizes,seam,rl", help=f"any of {', '.join(SECTIONS)}")
    parser.add_argument("--sizes", default="xs,s,m,l")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scale", default="default")
    parser.add_argument("--seam-prompts", type=int, default=200)
    parser.add_argument("--smollm2-prompts", type=int, default=40)
    parser.add_argument("--seam-k", type=int, default=8)
    parser.add_argument("--rl-cell", default="xs")
    parser.add_argument("--rl-steps", type=int, default=None, help="RL steps (default: the scale's)")
    parser.add_argument("--out", default="benchmarks/latest.md")
    args = parser.parse_args()
    progress_bars_only_on_a_terminal()
    sections = args.sections.split(",")
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {unknown[0]!r}; valid: {', '.join(SECTIONS)}")
    sizes = args.sizes.split(",")
    report = [f"# Benchmarks\n\nMeasured {time.strftime('%Y-%m-%d')} on {machine()}.\n"]
    out = Path(args.out)

    def show(title: str, df: pd.DataFrame, floatfmt: str) -> None:
        """Print a section and rewrite the report with it: an hour-long run that fails later keeps it."""
        text = f"## {title}\n\n{to_markdown(df, floatfmt=floatfmt)}\n"
        print(text)
        report.append(text)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(report))

    if "sizes" in sections:
        rows = []
        for size in sizes:
            with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
                cfg = compose(
                    "config",
                    overrides=["+experiment=world", f"scale={args.scale}", f"pm={size}", f"rm={size}"],
                )
            rows.append(bench_size(cfg, world_from(cfg), args.batch_size, args.repeats))
        show(
            f"Hot paths per model size (batch {args.batch_size}, mean of {args.repeats})",
            pd.DataFrame(rows),
            ".1f",
        )
    if "seam" in sections:
        seam = seam_rows(
            sizes, args.scale, args.seam_prompts, args.smollm2_prompts, args.seam_k, args.repeats
        )
        title = f"SEAM scoring of RL prompts x (1 + k={args.seam_k}) answers, median of {args.repeats}"
        show(title, pd.DataFrame(seam), ".2f")
    if "rl" in sections:
        from seam_exp.bench_rl import rl_rows

        rl = with_ratios(rl_rows(args.scale, args.rl_cell, args.rl_steps, torch.get_num_threads()))
        show(
            f"RL on the {args.rl_cell} cell, this project against TRL RLOOTrainer (seam_exp/bench_rl.py)",
            rl,
            ".3f",
        )
    if "grid" in sections:
        from seam_exp.bench_grid import grid_rows

        show(
            "The grid of `make run`, cold and warm (seam_exp/bench_grid.py)",
            pd.DataFrame(grid_rows(args.scale)),
            ".0f",
        )
    print(f"peak resident memory of this process: {peak_mib():.0f} MiB")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
