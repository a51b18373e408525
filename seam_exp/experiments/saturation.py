"""`+experiment=saturation`: does RLHF gain plateau as the PM and the RM get better?

One job = one grid cell: the SFT policy of cfg.pm fine-tuned with RL (rl=ppo or rloo) against the RM of
cfg.rm, judged by gold on held-out eval prompts against its own SFT start. The row records the gain,
the win rate and the KL to the start (with bootstrap CIs over prompts), and the RM's mismatch and
reward hacking on the final policy's samples.
"""

from __future__ import annotations

import logging

from omegaconf import DictConfig

from seam_exp.experiments.world import world_from
from seam_exp.models.evaluate import heldout_pair_accuracy
from seam_exp.models.train import metrics_of, sft_policy, trained_reward
from seam_exp.reporting.results import RL_FINAL_METRICS, write_results
from seam_exp.reporting.tables import to_markdown
from seam_exp.rl.config import rl_config
from seam_exp.rl.train import rl_finetune
from seam_exp.utils.runtime import cache_from, output_dir, set_threads

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict:
    set_threads(cfg.trainer.num_threads)
    rl = rl_config(cfg.rl)  # a bad rl config fails here, before any training
    world, cache = world_from(cfg), cache_from(cfg)
    pm_dir, _ = sft_policy(cfg, world, cache)
    rm_dir, _ = trained_reward(cfg, world, cache)
    out = output_dir()
    result = rl_finetune(cfg, world, pm_dir, rm_dir, out, rl)
    start, final = result.history[0], result.history[-1]
    module = result.module
    row = {
        "experiment": "saturation",
        "scale": cfg.scale.name,
        "pm": cfg.pm.name,
        "rm": cfg.rm.name,
        "seed": cfg.seed,
        "run_dir": str(out),
        "grid": cfg.get("grid", "size"),
        "pm_budget": cfg.pm.sft.budget,
        "rm_budget": cfg.rm.train.budget,
        "pm_params": metrics_of(pm_dir)["params"],
        "rm_params": metrics_of(rm_dir)["params"],
        "rm_acc_heldout": heldout_pair_accuracy(module.rm, module.tokenizer, world)["rm_acc_heldout"],
        "algorithm": rl.algorithm,
        "reward_source": rl.reward.source,
        "rl_steps": result.steps,
        "eval_prompts": len(result.evaluation.evaluator.prompts),
        "sft_gold": start["gold"],
        "sft_gold_lo": start["gold_lo"],
        "sft_gold_hi": start["gold_hi"],
        "rl_gold": final["gold"],
        "rl_gold_lo": final["gold_lo"],
        "rl_gold_hi": final["gold_hi"],
        **{k: final[k] for k in RL_FINAL_METRICS},
        "sft_proxy": start["proxy"],
        "rl_proxy": final["proxy"],
        "sft_correct": start["correct_rate"],
        "rl_correct": final["correct_rate"],
        "sft_mismatch": start["mismatch"],
        "sft_hacking": start["hacking"],
        "rl_seconds": result.seconds,
    }
    df = write_results([row], out, "saturation")
    shown = df.drop(columns=["run_dir"]).T.reset_index()
    print(to_markdown(shown.rename(columns={"index": "metric", 0: "value"})))
    return row
