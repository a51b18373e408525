"""`make bench`: measured speed and memory, printed as tables and written to benchmarks/latest.md with the
machine they were measured on (never asserted: targets live here, not in tests).

Sections (`--sections`), one module each: `sizes`, per model size the SFT step time and the throughput of
exact log-probs, sampling and RM scoring (seam_exp/bench/sizes.py); `batching`, SFT and RM steps per second
with shuffled against length-grouped batches (seam_exp/bench/batching.py); `seam`, SEAM scoring side by side with
the authors' scoring style and the forward-pass bound (seam_exp/bench/seam.py); `rl`, this project's PPO and
RLOO against TRL's RLOOTrainer at equal settings (seam_exp/bench/rl.py); `grid`, `make run` cold and warm
with each job's peak memory (seam_exp/bench/grid.py; `make bench-grid`, an hour or more on 2 cores). The
report they are written into: seam_exp/bench/report.py. The bench sits above every other package, the
experiments included; nothing imports it.
"""
