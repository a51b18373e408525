"""`+experiment=saturation`: does RLHF gain plateau as the PM and the RM get better?

One job = one grid cell: the SFT policy of cfg.pm fine-tuned with RL (rl=ppo or rloo) against the RM of
cfg.rm, judged by gold on held-out eval prompts against its own SFT start. The row records the gain,
the win rate and the KL to the start (with bootstrap CIs over prompts), and the RM's mismatch and
reward hacking on the final policy's samples. Its tables and figures: saturation_report.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from omegaconf import DictConfig

from seam_exp.experiments import Experiment, prepare, report_aggregate, report_claims, rl_outcome
from seam_exp.models.evaluate import heldout_pair_accuracy
from seam_exp.models.train import metrics_of, sft_policy, trained_reward
from seam_exp.online.refresh import reward_refresh_callbacks
from seam_exp.online.tracking import online_seam_callbacks
from seam_exp.reporting.results import RunRow, run_columns, write_results
from seam_exp.reporting.tables import row_as_markdown
from seam_exp.rl.config import rl_config
from seam_exp.rl.run import rl_finetune
from seam_exp.utils.runtime import output_dir

log = logging.getLogger(__name__)


@dataclass
class SaturationRow(RunRow):
    grid: str
    pm_budget: float
    rm_budget: float
    sft_steps: int  # what the PM and the RM were trained with (the paper grid's axes)
    rm_pairs: int
    pm_params: int
    rm_params: int
    rm_acc_heldout: float
    algorithm: str
    reward_source: str
    rl_steps: int
    eval_prompts: int
    sft_gold: float
    sft_gold_lo: float
    sft_gold_hi: float
    rl_gold: float
    rl_gold_lo: float
    rl_gold_hi: float
    # the final gold evaluation of the RL run (rl/evaluation.py), copied as it is
    gain: float
    gain_lo: float
    gain_hi: float
    win_rate: float
    win_rate_lo: float
    win_rate_hi: float
    kl: float
    kl_lo: float
    kl_hi: float
    mismatch: float
    mismatch_lo: float
    mismatch_hi: float
    mismatch_pairs: int
    hacking: float
    eos_rate: float
    response_tokens: float
    sft_proxy: float
    rl_proxy: float
    sft_correct: float
    rl_correct: float
    sft_mismatch: float
    sft_hacking: float
    rl_seconds: float


def run(cfg: DictConfig) -> SaturationRow:
    rl = rl_config(cfg.rl)  # a bad rl config fails here, before any training
    world, cache = prepare(cfg)
    pm_dir, _ = sft_policy(cfg, world, cache)
    rm_dir, _ = trained_reward(cfg, world, cache)
    out = output_dir()
    online = [
        *online_seam_callbacks(cfg, world, cache, world.data["rl"], out),
        *reward_refresh_callbacks(cfg, world, cache, world.data["rl"], out),
    ]
    result = rl_finetune(cfg, world, pm_dir, rm_dir, out, rl, callbacks=online)
    module = result.module
    row = SaturationRow(
        **run_columns(cfg, out),
        grid=cfg.get("grid", "size"),
        pm_budget=cfg.pm.sft.budget,
        rm_budget=cfg.rm.train.budget,
        sft_steps=metrics_of(pm_dir)["steps"],
        rm_pairs=metrics_of(rm_dir)["rows"],
        pm_params=metrics_of(pm_dir)["params"],
        rm_params=metrics_of(rm_dir)["params"],
        rm_acc_heldout=heldout_pair_accuracy(module.rm, module.tokenizer, world)["rm_acc_heldout"],
        algorithm=rl.algorithm,
        reward_source=rl.reward.source,
        **rl_outcome(result, SaturationRow),
    )
    df = write_results([row], out)
    print(row_as_markdown(df))
    return row


EXPERIMENT = Experiment(
    run=run,
    row=SaturationRow,
    aggregate=report_aggregate(__name__),
    claims=report_claims(__name__),
    runs_rl=True,
    data=("world", "stack_exchange"),
)
