"""`+experiment=sanity`: do PM quality and RM accuracy grow with size and training budget?

One job = one (PM, RM) pair. The PM is judged by gold on held-out eval prompts (sampled and greedy);
the RM by pair accuracy on held-out preference pairs and on pairs of this PM's own samples ordered by
gold: the gap between the two is the distribution shift the paper's mismatch is about.
"""

from __future__ import annotations

import logging

import lightning.pytorch as pl
from omegaconf import DictConfig

from seam_exp.experiments.world import world_from
from seam_exp.models.evaluate import (
    heldout_pair_accuracy,
    mismatch_on_samples,
    policy_quality,
    score_responses,
)
from seam_exp.models.train import load_policy, load_reward, metrics_of, sft_policy, trained_reward
from seam_exp.reporting.results import write_results
from seam_exp.reporting.tables import to_markdown
from seam_exp.utils.runtime import cache_from, output_dir, set_threads

log = logging.getLogger(__name__)


def eval_rows(world, cfg: DictConfig):
    rows = world.data["eval"]
    return rows.select(range(min(cfg.scale.eval_prompts, len(rows))))


def run(cfg: DictConfig) -> dict:
    set_threads(cfg.trainer.num_threads)
    world, cache = world_from(cfg), cache_from(cfg)
    pm_dir, _ = sft_policy(cfg, world, cache)
    rm_dir, _ = trained_reward(cfg, world, cache)
    policy, tokenizer = load_policy(pm_dir)
    rm, _ = load_reward(rm_dir)
    pl.seed_everything(cfg.seed)

    rows = eval_rows(world, cfg)
    pm_metrics, (samples, ids, gold) = policy_quality(
        policy, tokenizer, world, rows, cfg.pm.generation, cfg.scale.samples_per_prompt, cfg.seed
    )
    prompts = [rows["prompt"][i] for i in samples.prompt_index]
    on_samples = mismatch_on_samples(score_responses(rm, tokenizer, prompts, samples.texts), gold, ids)
    pm_info, rm_info = metrics_of(pm_dir), metrics_of(rm_dir)
    row = {
        "experiment": "sanity",
        "scale": cfg.scale.name,
        "pm": cfg.pm.name,
        "rm": cfg.rm.name,
        "seed": cfg.seed,
        "run_dir": str(output_dir()),
        "budget": cfg.pm.sft.budget,
        "pm_params": pm_info["params"],
        "rm_params": rm_info["params"],
        "sft_steps": pm_info["steps"],
        "rm_steps": rm_info["steps"],
        "rm_pairs": rm_info["pairs"],
        **pm_metrics,
        **heldout_pair_accuracy(rm, tokenizer, world),
        "rm_acc_pm_samples": 1.0 - on_samples["mismatch"],
        "rm_pm_sample_pairs": on_samples["n_pairs"],
        "sft_seconds": pm_info["seconds"],
        "rm_seconds": rm_info["seconds"],
    }
    df = write_results([row], output_dir(), "sanity")
    print(
        to_markdown(
            df.drop(columns=["run_dir"]).T.reset_index().rename(columns={"index": "metric", 0: "value"})
        )
    )
    return row
