"""RL side by side (`--sections rl`): this project's PPO and RLOO against TRL's `RLOOTrainer` (TRL dropped PPO)
on the same SFT policy, reward model, RL prompts, batch, k, response length and number of steps.

Each arm runs in its own process, so its peak resident memory is its own. Aligned with TRL: learning rate
constant 1e-4 (TRL's default decays linearly), AdamW eps 1e-5, no weight decay, gradient norm clipped at 1,
k = 4 samples of 8 prompts per rollout, two optimizer steps of 16 samples per rollout, one pass, clip 0.2,
KL penalty 0.05 x the summed per-token log-ratio to the SFT policy subtracted from the reward (TRL's RLOO
does the same), advantages normalised over the batch, pure sampling at temperature 1 up to 48 new tokens,
the RM scoring the exact sampled tokens (TRL calls the project's own scorer through a reward function),
raw RM scores (`rl.reward.normalize=none`: TRL has no running normaliser). Not aligned: TRL clips a
sequence-level ratio, this project a per-token one; TRL draws prompts with its own sampler; this project's
PPO has a critic and GAE by design. Both are judged by the same gold evaluation of the final policy on the
same eval prompts and samples' randomness (docs/rl.md, "Gold evaluation").
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lightning.pytorch as pl
import pandas as pd
import torch

from seam_exp.experiments import config_with
from seam_exp.utils.memory import peak_mib  # not ru_maxrss: Linux keeps it across exec from the bench

ARMS = ("ppo", "rloo", "trl_rloo")
COMMON = [
    "rl.reward.normalize=none",
    "rl.eval.every=0",
    "rl.eval.val_prompts=0",
    "rl.checkpoint_every=0",
    "rl.optim.weight_decay=0.0",
]


class StepClock(pl.Callback):
    """Seconds spent inside training steps (rollout + updates), evaluations excluded."""

    def __init__(self):
        self.seconds, self._start = 0.0, 0.0

    def on_train_batch_start(self, *args):
        self._start = time.perf_counter()

    def on_train_batch_end(self, *args):
        self.seconds += time.perf_counter() - self._start


def _config(scale: str, cell: str, algorithm: str, steps: int | None):
    overrides = ["+experiment=saturation", f"scale={scale}", *COMMON]
    if steps is not None:
        overrides.append(f"rl.steps={steps}")
    return config_with(overrides, pm=cell, rm=cell, rl=algorithm)


def _gold(cfg, world, tokenizer, start_policy, policy, rm) -> dict:
    """The final policy against its SFT start on the eval prompts, as every RL run is judged."""
    from seam_exp.rl.evaluation import GoldEvaluator

    rl = cfg.rl
    rows = world.data["eval"].select(range(min(rl.eval.prompts, len(world.data["eval"]))))
    evaluator = GoldEvaluator(
        world,
        rows,
        tokenizer,
        rl.eval.samples_per_prompt,
        rl.rollout.max_new_tokens,
        rl.rollout.temperature,
        rl.eval.seed,
    )
    start = evaluator.sample(start_policy, start_policy, rm)
    metrics = evaluator.metrics(evaluator.sample(policy, start_policy, rm), start, rm)
    return {k: metrics[k] for k in ("gain", "gain_lo", "gain_hi", "kl")}


def _ours(cfg, world, pm_dir, rm_dir, out: Path) -> tuple[float, object, object]:
    from seam_exp.rl.run import rl_finetune

    clock = StepClock()
    run = rl_finetune(cfg, world, pm_dir, rm_dir, out, callbacks=[clock])
    return (
        clock.seconds,
        run.module.policy,
        run.steps * cfg.rl.rollout.prompts_per_step * cfg.rl.rollout.samples_per_prompt,
    )


def trl_rloo_trainer(cfg, world, pm_dir, rm_dir, out: Path, callbacks=()):
    """TRL's RLOOTrainer on the SFT policy in pm_dir against the RM in rm_dir, with this project's RL
    settings (`cfg.rl`, aligned as the module's docstring says), not yet trained."""
    from datasets import Dataset
    from trl import RLOOConfig, RLOOTrainer

    from seam_exp.models.batching import encode_prompts
    from seam_exp.models.reward import reward_scores
    from seam_exp.models.train import load_policy, load_reward
    from seam_exp.rl.rollout import build_rollout_batch

    rl = cfg.rl.rollout
    policy, tokenizer = load_policy(pm_dir)
    rm, _ = load_reward(rm_dir)

    def rm_reward(prompts, completions, completion_ids, **_):
        # the project's own scoring of the exact sampled tokens, as its RL does
        batch = build_rollout_batch(
            encode_prompts(tokenizer, prompts, False),
            completion_ids,
            [True] * len(prompts),
            tokenizer.pad_token_id,
        )
        with torch.no_grad():
            return reward_scores(rm, batch.tokens).tolist()

    per_rollout = rl.prompts_per_step * rl.samples_per_prompt
    minibatch = int(cfg.rl.ppo.minibatch_size)
    args = RLOOConfig(
        output_dir=str(out),
        per_device_train_batch_size=minibatch,
        steps_per_generation=per_rollout // minibatch,
        num_generations=rl.samples_per_prompt,
        max_completion_length=rl.max_new_tokens,
        temperature=rl.temperature,
        top_p=1.0,
        top_k=0,
        learning_rate=cfg.rl.optim.lr,
        lr_scheduler_type="constant",
        adam_epsilon=cfg.rl.optim.eps,
        weight_decay=0.0,
        max_grad_norm=cfg.rl.optim.max_grad_norm,
        beta=cfg.rl.kl.coef,
        epsilon=cfg.rl.ppo.clip_range,
        num_iterations=cfg.rl.ppo.epochs,
        normalize_advantages=True,
        max_steps=cfg.rl.steps * (per_rollout // minibatch),
        logging_steps=10,
        report_to="none",
        save_strategy="no",
        bf16=False,
        use_cpu=True,
        gradient_checkpointing=False,
        seed=cfg.seed,
        disable_tqdm=True,
    )
    prompts = Dataset.from_dict({"prompt": list(world.data["rl"]["prompt"])})
    return RLOOTrainer(
        model=policy,
        reward_funcs=rm_reward,
        args=args,
        train_dataset=prompts,
        processing_class=tokenizer,
        callbacks=list(callbacks),
    )


def _trl(cfg, world, pm_dir, rm_dir, out: Path):
    from transformers import TrainerCallback

    class Clock(TrainerCallback):
        seconds, start = 0.0, 0.0

        def on_step_begin(self, *args, **kwargs):
            Clock.start = time.perf_counter()

        def on_step_end(self, *args, **kwargs):
            Clock.seconds += time.perf_counter() - Clock.start

    trainer = trl_rloo_trainer(cfg, world, pm_dir, rm_dir, out, [Clock()])
    trainer.train()
    rl = cfg.rl.rollout
    return Clock.seconds, trainer.model, cfg.rl.steps * rl.prompts_per_step * rl.samples_per_prompt


def run_arm(arm: str, scale: str, cell: str, steps: int | None) -> dict:
    """One arm in this process: train, time the training steps, judge by gold."""
    from seam_exp.experiments import prepare
    from seam_exp.models.train import load_policy, load_reward, sft_policy, trained_reward

    cfg = _config(scale, cell, "ppo" if arm == "ppo" else "rloo", steps)
    world, cache = prepare(cfg)
    pm_dir, _ = sft_policy(cfg, world, cache)
    rm_dir, _ = trained_reward(cfg, world, cache)
    loaded = peak_mib()
    with tempfile.TemporaryDirectory() as tmp:
        seconds, policy, samples = (_trl if arm == "trl_rloo" else _ours)(
            cfg, world, pm_dir, rm_dir, Path(tmp)
        )
    peak = peak_mib()
    start, tokenizer = load_policy(pm_dir)
    rm, _ = load_reward(rm_dir)
    gold = _gold(cfg, world, tokenizer, start, policy.eval(), rm)
    return {
        "arm": arm,
        "steps": int(cfg.rl.steps),
        "samples": samples,
        "train s": seconds,
        "samples/s": samples / seconds,
        "peak MiB": peak,
        "peak over loaded MiB": peak - loaded,
        **gold,
    }


def rl_rows(scale: str, cell: str, steps: int | None, threads: int) -> list[dict]:
    """Every arm in its own process (own peak memory, own torch threads)."""
    rows = []
    for arm in ARMS:
        cmd = [sys.executable, "-m", "seam_exp.bench.rl", "--arm", arm, "--scale", scale, "--cell", cell]
        cmd += ["--threads", str(threads)] + (["--steps", str(steps)] if steps else [])
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
            rows.append({"arm": arm, "error": tail[0][:200]})
            continue
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return rows


def with_ratios(rows: list[dict]) -> pd.DataFrame:
    """The RL arms, with this project's samples per second over TRL's (same settings)."""
    df = pd.DataFrame(rows)
    if "samples/s" in df and (df["arm"] == "trl_rloo").any():
        trl = df.loc[df["arm"] == "trl_rloo", "samples/s"].iloc[0]
        df["samples/s over TRL RLOO"] = df["samples/s"] / trl
    return df


def main() -> None:
    """One arm (`python -m seam_exp.bench.rl --arm ...`): what rl_rows runs in a process of its own."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--arm", choices=ARMS, required=True)
    parser.add_argument("--scale", default="default")
    parser.add_argument("--cell", default="xs")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(json.dumps(run_arm(args.arm, args.scale, args.cell, args.steps)))


if __name__ == "__main__":
    main()
