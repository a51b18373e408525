"""`python -m seam_exp.bench [--sections sizes,batching,seam,intervals,rl,grid,jobs] ...`: run the chosen sections in order, each
printed and added to the report (--out) as soon as it is measured. A bad flag is one line and exit code 2;
SEAM scoring styles that disagree stop the bench with one line and exit code 1, after their table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seam_exp import bench

SECTIONS = ("sizes", "batching", "seam", "intervals", "rl", "grid", "jobs")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m seam_exp.bench", description=bench.__doc__)
    parser.add_argument(
        "--sections", default="sizes,batching,seam,intervals,rl", help=f"any of {', '.join(SECTIONS)}"
    )
    parser.add_argument("--sizes", default="xs,s,m,l")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batching-size", default="l", help="the model size `batching` trains")
    parser.add_argument("--batching-steps", type=int, default=100, help="timed steps per model and batching")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scale", default="default")
    parser.add_argument("--seam-prompts", type=int, default=200)
    parser.add_argument("--smollm2-prompts", type=int, default=40)
    parser.add_argument("--seam-k", type=int, default=8)
    parser.add_argument("--interval-prompts", default="24,300,3357", help="prompt counts of `intervals`")
    parser.add_argument("--rl-cell", default="xs")
    parser.add_argument("--rl-steps", type=int, default=None, help="RL steps (default: the scale's)")
    parser.add_argument("--jobs-sizes", default="s,l", help="the saturation grid the jobs section times")
    parser.add_argument("--out", default="benchmarks/latest.md")
    args = parser.parse_args(argv)
    args.sections, args.sizes = args.sections.split(","), args.sizes.split(",")
    args.jobs_sizes = args.jobs_sizes.split(",")
    args.interval_prompts = [int(n) for n in args.interval_prompts.split(",")]
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        parser.exit(2, f"error: unknown section {unknown[0]!r}; valid: {', '.join(SECTIONS)}\n")
    return args


def run(args: argparse.Namespace) -> None:
    import pandas as pd
    import torch

    from seam_exp.bench.report import Report, machine
    from seam_exp.utils.memory import peak_mib
    from seam_exp.utils.runtime import progress_bars_only_on_a_terminal

    progress_bars_only_on_a_terminal()
    report = Report(Path(args.out), machine())
    if "sizes" in args.sections:
        from seam_exp.bench.sizes import size_rows

        rows = size_rows(args.sizes, args.scale, args.batch_size, args.repeats)
        title = f"Hot paths per model size (batch {args.batch_size}, mean of {args.repeats})"
        report.add(title, pd.DataFrame(rows), ".1f")
    if "batching" in args.sections:
        from seam_exp.bench.batching import batching_rows

        rows = batching_rows(args.batching_size, args.scale, args.batching_steps)
        title = f"SFT and RM training: batches, arithmetic and compilation ({args.batching_steps} steps)"
        report.add(title, pd.DataFrame(rows), ".3f")
    if "seam" in args.sections:
        from seam_exp.bench.seam import UnequalWork, check_equal_work, floatfmt, seam_rows

        rows = seam_rows(
            args.sizes, args.scale, args.seam_prompts, args.smollm2_prompts, args.seam_k, args.repeats
        )
        seam = pd.DataFrame(rows)
        title = f"SEAM scoring of RL prompts x (1 + k={args.seam_k}) answers, median of {args.repeats}"
        report.add(title, seam, floatfmt(seam.columns))
        try:
            check_equal_work(rows)
        except UnequalWork as exc:
            sys.exit(f"error: {exc}")
    if "intervals" in args.sections:
        from seam_exp.bench.intervals import N_BOOT, interval_rows

        title = f"Rank-correlation bootstrap ({N_BOOT} resamples), batched against per resample, median"
        report.add(title, pd.DataFrame(interval_rows(args.interval_prompts, args.repeats)), ".3g")
    if "rl" in args.sections:
        from seam_exp.bench.rl import rl_rows, with_ratios

        rl = with_ratios(rl_rows(args.scale, args.rl_cell, args.rl_steps, torch.get_num_threads()))
        title = f"RL on the {args.rl_cell} cell, this project against TRL RLOOTrainer (seam_exp/bench/rl.py)"
        report.add(title, rl, ".3f")
    if "grid" in args.sections:
        from seam_exp.bench.grid import grid_rows

        title = "The grid of `make run`, cold and warm (seam_exp/bench/grid.py)"
        report.add(title, pd.DataFrame(grid_rows(args.scale)), ".0f")
    if "jobs" in args.sections:
        from seam_exp.bench.jobs import jobs_rows

        title = "Parallel jobs against threads per job, one saturation sweep (seam_exp/bench/jobs.py)"
        report.add(title, pd.DataFrame(jobs_rows(args.scale, args.jobs_sizes)), ".2f")
    print(f"peak resident memory of this process: {peak_mib():.0f} MiB")
    print(f"written to {args.out}")


def main(argv: list[str] | None = None) -> None:
    run(parse_args(argv))


if __name__ == "__main__":
    main()
