"""`+experiment=mismatch`: how often does the RM disagree with gold on the policy's own samples, as RL goes?

One job = one (PM, RM) cell, RL-trained with an evaluation every `rl.eval.every` steps. Each evaluation
draws n samples per eval prompt from the current policy and measures the share of their gold-ordered
pairs the RM orders the other way (the paper's mismatch, measured exactly instead of sampled), and the
share of samples the RM prefers to the gold reference answer although gold does not (reward hacking).
One results row per evaluation.
"""

from __future__ import annotations

import logging

from omegaconf import DictConfig

from seam_exp.experiments.world import world_from
from seam_exp.models.train import metrics_of, sft_policy, trained_reward
from seam_exp.reporting.results import SCHEMAS, write_results
from seam_exp.reporting.tables import to_markdown
from seam_exp.rl.config import rl_config
from seam_exp.rl.train import rl_finetune
from seam_exp.utils.runtime import cache_from, output_dir, set_threads

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> list[dict]:
    set_threads(cfg.trainer.num_threads)
    rl = rl_config(cfg.rl)
    world, cache = world_from(cfg), cache_from(cfg)
    pm_dir, _ = sft_policy(cfg, world, cache)
    rm_dir, _ = trained_reward(cfg, world, cache)
    out = output_dir()
    result = rl_finetune(cfg, world, pm_dir, rm_dir, out, rl)
    cell = {
        "experiment": "mismatch",
        "scale": cfg.scale.name,
        "pm": cfg.pm.name,
        "rm": cfg.rm.name,
        "seed": cfg.seed,
        "run_dir": str(out),
        "pm_params": metrics_of(pm_dir)["params"],
        "rm_params": metrics_of(rm_dir)["params"],
        "algorithm": rl.algorithm,
        "reward_source": rl.reward.source,
    }
    measured = [c for c in SCHEMAS["mismatch"] if c not in cell]
    rows = [{**cell, **{k: h[k] for k in measured}} for h in result.history]
    df = write_results(rows, out, "mismatch")
    print(to_markdown(df[["step", "gold", "gain", "kl", "proxy", "mismatch", "hacking"]]))
    return rows
