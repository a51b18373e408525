"""One RLHF run: the cached SFT policy fine-tuned against a cached RM, judged by gold along the way."""

from __future__ import annotations

import logging
import shutil
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pandas as pd
from omegaconf import DictConfig

from seam_exp.errors import UserError
from seam_exp.models.lora import merged, with_lora
from seam_exp.models.train import load_policy, load_reward
from seam_exp.rl.config import RLConfig, rl_config
from seam_exp.rl.evaluation import GoldEvaluation, GoldEvaluator, StartCache
from seam_exp.rl.module import RLHFModule
from seam_exp.rl.resume import PromptSchedule, RLCheckpoint
from seam_exp.utils.runtime import EVAL_SAMPLES_FILE, HISTORY_FILE, RL_CHECKPOINT, cache_from, last_checkpoint
from seam_exp.utils.trainer import RL_IS_ONE_PROCESS, build_trainer, distributed, require_logger_package
from seam_exp.world.build import World

log = logging.getLogger(__name__)


@dataclass
class RLRun:
    history: list[dict]  # one row per evaluation (step 0 = the SFT start)
    steps: int
    seconds: float
    module: RLHFModule
    evaluation: GoldEvaluation


def rl_trainer(cfg: DictConfig, folder: Path, callbacks: list, checkpoint_every: int = 0) -> pl.Trainer:
    """One pass over the prompt schedule (it holds exactly rl.steps rollouts), every step logged; no
    gradient clipping here: the module clips its own gradients (manual optimization). Checkpoints every
    `checkpoint_every` steps (0: none) are RLCheckpoint's; Lightning wants checkpointing enabled for it,
    and adds no checkpoint of its own since one is there."""
    callbacks = [*callbacks, RLCheckpoint(folder, checkpoint_every)]
    return build_trainer(
        cfg, folder, "rl", max_epochs=1, log_every_n_steps=1, callbacks=callbacks, enable_checkpointing=True
    )


def fit(trainer: pl.Trainer, module: RLHFModule, schedule: PromptSchedule, resume_from: Path | None = None):
    """Train on the schedule's batches; from a checkpoint of this run (our own file, hence the full
    unpickling) if given."""
    with warnings.catch_warnings():
        # Lightning flags modules left in eval mode: the frozen reference and RM are meant to be.
        warnings.filterwarnings("ignore", message=r".*module\(s\) in eval mode.*")
        trainer.fit(module, schedule, ckpt_path=resume_from, weights_only=False)


def eval_samples_frame(evaluation: GoldEvaluation) -> pd.DataFrame:
    """One row per eval sample of the SFT start and of the final policy (prompt, sample j, gold, RM, KL):
    runs that share a seed share these samples' randomness, so two runs compare sample j with sample j."""
    frames = []
    for policy, s in (("start", evaluation.start), ("final", evaluation.last)):
        frames.append(
            pd.DataFrame(
                {
                    "policy": policy,
                    "prompt_id": [evaluation.evaluator.prompt_ids[i] for i in s.prompt_index],
                    "sample": np.arange(len(s.texts)) % s.n,
                    "text": s.texts,
                    "gold": s.gold,
                    "rm": s.rm,
                    "kl": s.kl,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def family_quotas(families: Sequence[str], n: int) -> dict[str, int]:
    """n split over families in the shares `families` (a list of prompt families) has, by largest
    remainders: the counts a draw of n prompts with that family mix takes from each family."""
    counts = pd.Series(list(families)).value_counts()
    exact = counts / counts.sum() * n
    quotas = exact.astype(int)
    short = n - int(quotas.sum())
    for family in (exact - quotas).sort_values(ascending=False, kind="stable").index[:short]:
        quotas[family] += 1
    return {str(f): int(q) for f, q in quotas.items() if q > 0}


def validation_prompts(world: World, n: int, like, seed: int):
    """n distinct prompts of the held-out RM-test split, drawn (seeded) in the family mix of the prompts
    `like` (the eval prompts): disjoint from the RL prompts (trained on) and the eval prompts (reported),
    so choosing a checkpoint on them biases no reported number, and judged on the same mix of tasks as
    the numbers they stand in for (docs/rl.md, "Validation prompts")."""
    rows = world.data["rm_test"].select_columns(["prompt_id", "prompt", "family"]).to_pandas()
    rows = rows.drop_duplicates("prompt_id").sort_values("prompt_id")
    rng = np.random.default_rng(seed)
    drawn = []
    for family, quota in family_quotas(like["family"], max(0, n)).items():
        pool = rows[rows["family"] == family]
        drawn.append(pool.iloc[rng.permutation(len(pool))[:quota]])
    chosen = pd.concat(drawn) if drawn else rows.head(0)
    chosen = chosen.iloc[rng.permutation(len(chosen))]  # families interleaved, as eval's are
    return {"prompt_id": chosen["prompt_id"].tolist(), "prompt": chosen["prompt"].tolist()}


def rl_finetune(
    cfg: DictConfig,
    world: World,
    pm_dir: Path,
    rm_dir: Path,
    out_dir: Path,
    rl: RLConfig | None = None,
    prompts=None,
    callbacks: list | None = None,
    pool=None,
) -> RLRun:
    """RL of the SFT policy in pm_dir against the RM in rm_dir on `prompts` (rows of the world's RL split,
    all of them by default; a selection passes its kept subset, with the same steps and batch); `callbacks`
    are extra Lightning callbacks (a profiler, the bench's step clock, an online filter, which narrows the
    prompt schedule to other subsets of `pool` along the run)."""
    rl = rl or rl_config(cfg.rl)
    if distributed(cfg.trainer):
        raise UserError(f"{RL_IS_ONE_PROCESS}: strategy {cfg.trainer.get('strategy')}")
    prompts = world.data["rl"] if prompts is None else prompts
    if len(prompts) == 0:
        raise UserError("the RL prompt set is empty: nothing to train on")
    require_logger_package(cfg.logger)
    pl.seed_everything(cfg.seed, workers=True)
    policy, tokenizer = load_policy(pm_dir)
    policy = with_lora(policy, cfg.pm.get("lora"), "policy")  # fresh adapters on the SFT policy, if set
    reference, _ = load_policy(pm_dir)
    reward_model, _ = load_reward(rm_dir)
    module = RLHFModule(
        policy.train(),
        reference,
        reward_model,
        tokenizer,
        rl,
        gold_fn=world.gold if world.gold_is_free else None,  # a judge is asked only about eval samples
        checkpoint_dir=out_dir,
    )

    cache = cache_from(cfg)
    # the SFT start's eval samples are the same in every run from it: drawn once where it is a cached artifact
    in_cache = cache.root.resolve() in Path(pm_dir).resolve().parents
    start_cache = StartCache(cache, Path(pm_dir).resolve()) if in_cache else None

    def evaluator_on(rows) -> GoldEvaluator:
        # eval and validation prompts are judged the same way, with the same sampling seed
        return GoldEvaluator(
            world,
            rows,
            tokenizer,
            n=rl.eval.samples_per_prompt,
            max_new_tokens=rl.rollout.max_new_tokens,
            temperature=rl.rollout.temperature,
            seed=rl.eval.seed,
            start_cache=start_cache,
        )

    eval_rows = world.data["eval"].select(range(min(rl.eval.prompts, len(world.data["eval"]))))
    evaluator = evaluator_on(eval_rows)
    val_rows = validation_prompts(world, rl.eval.val_prompts, eval_rows, rl.eval.seed)
    validator = evaluator_on(val_rows) if len(val_rows["prompt_id"]) else None
    evaluation = GoldEvaluation(evaluator, rl.eval.every, validator, rl.eval.at)
    schedule = PromptSchedule(prompts, rl.rollout.prompts_per_step, rl.steps, cfg.seed, pool)
    trainer = rl_trainer(cfg, out_dir, [schedule, evaluation, *(callbacks or [])], rl.checkpoint_every)
    resume_from = last_checkpoint(out_dir) if cfg.get("resume", False) else None
    log.info(
        "%s of pm=%s against rm=%s for %d steps%s",
        rl.algorithm.upper(),
        cfg.pm.name,
        cfg.rm.name,
        rl.steps,
        f", resumed from {resume_from}" if resume_from else "",
    )
    start = time.perf_counter()
    fit(trainer, module, schedule, resume_from)
    seconds = time.perf_counter() - start
    # finished: its outputs below are the record, the checkpoint is not needed any more
    shutil.rmtree((out_dir / RL_CHECKPOINT).parent, ignore_errors=True)
    pd.DataFrame(evaluation.history).to_csv(out_dir / HISTORY_FILE, index=False)
    eval_samples_frame(evaluation).to_parquet(out_dir / EVAL_SAMPLES_FILE)
    if rl.save_policy:
        merged(module.policy).save_pretrained(str(out_dir / "policy"))
        tokenizer.save_pretrained(str(out_dir / "policy"))
    return RLRun(evaluation.history, evaluation.steps_done, seconds, module, evaluation)
