"""`+experiment=mismatch`: how often does the RM disagree with gold on the policy's own samples, as RL goes?

One job = one (PM, RM) cell, RL-trained with an evaluation every `rl.eval.every` steps. Each evaluation
draws n samples per eval prompt from the current policy and measures the share of their gold-ordered
pairs the RM orders the other way (the paper's mismatch, measured exactly instead of sampled), and the
share of samples the RM prefers to the gold reference answer although gold does not (reward hacking).
One results row per evaluation. Its tables and figures: mismatch_report.py.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from omegaconf import DictConfig

from seam_exp.experiments import Experiment, prepare, report_aggregate
from seam_exp.models.train import metrics_of, sft_policy, trained_reward
from seam_exp.reporting.results import RunRow, run_columns, write_results
from seam_exp.reporting.tables import to_markdown
from seam_exp.rl.config import rl_config
from seam_exp.rl.run import rl_finetune
from seam_exp.utils.runtime import output_dir

log = logging.getLogger(__name__)


@dataclass
class MismatchRow(RunRow):
    pm_params: int
    rm_params: int
    algorithm: str
    reward_source: str
    # one gold evaluation during RL (step 0 = the SFT start), as rl/evaluation.py reports it
    step: int
    gold: float
    gold_lo: float
    gold_hi: float
    gain: float
    gain_lo: float
    gain_hi: float
    win_rate: float
    kl: float
    proxy: float
    mismatch: float
    mismatch_lo: float
    mismatch_hi: float
    mismatch_pairs: int
    hacking: float
    rm_above_reference: float
    correct_rate: float
    eos_rate: float
    response_tokens: float


def run(cfg: DictConfig) -> list[MismatchRow]:
    rl = rl_config(cfg.rl)
    world, cache = prepare(cfg)
    pm_dir, _ = sft_policy(cfg, world, cache)
    rm_dir, _ = trained_reward(cfg, world, cache)
    out = output_dir()
    result = rl_finetune(cfg, world, pm_dir, rm_dir, out, rl)
    cell = {
        **run_columns(cfg, out),
        "pm_params": metrics_of(pm_dir)["params"],
        "rm_params": metrics_of(rm_dir)["params"],
        "algorithm": rl.algorithm,
        "reward_source": rl.reward.source,
    }
    measured = [f.name for f in dataclasses.fields(MismatchRow) if f.name not in cell]
    rows = [MismatchRow(**cell, **{k: h[k] for k in measured}) for h in result.history]
    df = write_results(rows, out)
    print(to_markdown(df[["step", "gold", "gain", "kl", "proxy", "mismatch", "hacking"]]))
    return rows


EXPERIMENT = Experiment(run=run, row=MismatchRow, aggregate=report_aggregate(__name__), runs_rl=True)
