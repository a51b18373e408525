"""`+experiment=saturation`: does RLHF gain plateau as the PM and the RM get better?

One job = one grid cell: the SFT policy of cfg.pm fine-tuned with RL (rl=ppo or rloo) against the RM of
cfg.rm, judged by gold on held-out eval prompts against its own SFT start. The row records the gain,
the win rate and the KL to the start (with bootstrap CIs over prompts), and the RM's mismatch and
reward hacking on the final policy's samples. Aggregation: per scale, grid and RL algorithm, a heatmap
of the gain over the PM x RM grid, curves along each axis and a table (missing cells with the reason).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

from seam_exp.experiments import Experiment, prepare
from seam_exp.models.evaluate import heldout_pair_accuracy
from seam_exp.models.train import metrics_of, sft_policy, trained_reward
from seam_exp.reporting.grid import axis_order, cell_summary, curves, heatmap, with_axis_labels
from seam_exp.reporting.results import RunRow, run_columns, write_results
from seam_exp.reporting.sweep import group_name, sweep_groups, sweep_results
from seam_exp.reporting.tables import format_ci, to_markdown, write_table_and_figures
from seam_exp.rl.config import rl_config
from seam_exp.rl.run import rl_finetune
from seam_exp.utils.runtime import output_dir

log = logging.getLogger(__name__)


@dataclass
class SaturationRow(RunRow):
    grid: str
    pm_budget: float
    rm_budget: float
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


# Metrics of the run's final gold evaluation, copied into the row as they are.
FINAL_METRICS = [
    *(f"{m}{end}" for m in ("gain", "win_rate", "kl", "mismatch") for end in ("", "_lo", "_hi")),
    "mismatch_pairs",
    "hacking",
    "eos_rate",
    "response_tokens",
]


def run(cfg: DictConfig) -> SaturationRow:
    rl = rl_config(cfg.rl)  # a bad rl config fails here, before any training
    world, cache = prepare(cfg)
    pm_dir, _ = sft_policy(cfg, world, cache)
    rm_dir, _ = trained_reward(cfg, world, cache)
    out = output_dir()
    result = rl_finetune(cfg, world, pm_dir, rm_dir, out, rl)
    start, final = result.history[0], result.history[-1]
    module = result.module
    row = SaturationRow(
        **run_columns(cfg, out),
        grid=cfg.get("grid", "size"),
        pm_budget=cfg.pm.sft.budget,
        rm_budget=cfg.rm.train.budget,
        pm_params=metrics_of(pm_dir)["params"],
        rm_params=metrics_of(rm_dir)["params"],
        rm_acc_heldout=heldout_pair_accuracy(module.rm, module.tokenizer, world)["rm_acc_heldout"],
        algorithm=rl.algorithm,
        reward_source=rl.reward.source,
        rl_steps=result.steps,
        eval_prompts=len(result.evaluation.evaluator.prompts),
        **{
            f"{at}_{m}": h[m]
            for at, h in (("sft", start), ("rl", final))
            for m in ("gold", "gold_lo", "gold_hi")
        },
        **{k: final[k] for k in FINAL_METRICS},
        sft_proxy=start["proxy"],
        rl_proxy=final["proxy"],
        sft_correct=start["correct_rate"],
        rl_correct=final["correct_rate"],
        sft_mismatch=start["mismatch"],
        sft_hacking=start["hacking"],
        rl_seconds=result.seconds,
    )
    df = write_results([row], out)
    shown = df.drop(columns=["run_dir"]).T.reset_index()
    print(to_markdown(shown.rename(columns={"index": "metric", 0: "value"})))
    return row


# ----------------------------------------------------------------------------------------- aggregation

CELL = {
    "scale": "scale.name",
    "grid": "grid",
    "algorithm": "rl.algorithm",
    "reward_source": "rl.reward.source",
    "pm": "pm.name",
    "rm": "rm.name",
    "pm_budget": "pm.sft.budget",
    "rm_budget": "rm.train.budget",
    "seed": "seed",
}
GROUP = ["scale", "grid", "algorithm", "reward_source", "variant"]


def saturation_table(summary: pd.DataFrame, missing: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, r in summary.iterrows():
        rows.append(
            {
                "PM": r["pm_label"],
                "RM": r["rm_label"],
                "RM acc": r["rm_acc_heldout"],
                "seeds": int(r["seeds"]),
                "SFT gold": r["sft_gold"],
                "RL gold": r["rl_gold"],
                "gain (95% CI)": format_ci(r["gain"], r["gain_lo"], r["gain_hi"]),
                "win rate vs SFT (95% CI)": format_ci(
                    r["win_rate"], r["win_rate_lo"], r["win_rate_hi"], signed=False
                ),
                "KL": r["kl"],
                "proxy gain": r["rl_proxy"] - r["sft_proxy"],
                "mismatch SFT -> RL": f"{r['sft_mismatch']:.3f} -> {r['mismatch']:.3f}",
                "hacking": r["hacking"],
                "status": "ok",
            }
        )
    for _, r in missing.iterrows():
        rows.append({"PM": r["pm_label"], "RM": r["rm_label"], "status": f"missing: {r['reason']}"})
    table = pd.DataFrame(rows)
    pm_order, rm_order = axis_order(table["PM"]), axis_order(table["RM"])
    return table.sort_values(
        ["PM", "RM"],
        key=lambda c: c.map({v: i for i, v in enumerate(pm_order if c.name == "PM" else rm_order)}),
    ).reset_index(drop=True)


def aggregate(outputs: Path) -> list[Path]:
    results, missing = sweep_results(outputs, "saturation", CELL, SaturationRow)
    results, missing = with_axis_labels(results), with_axis_labels(missing)
    folder = outputs / "figures" / "saturation"
    written = []
    for (scale, grid, algorithm, source, variant), rows, lost in sweep_groups(results, missing, GROUP):
        summary = cell_summary(rows) if len(rows) else pd.DataFrame(columns=["pm_label", "rm_label"])
        name, extra = group_name(f"saturation_{scale}_{grid}_{algorithm}", source, variant)
        title = f"RLHF gain over SFT by gold ({algorithm}{extra}, {grid} grid, scale={scale})"
        figures = {"_heatmap": lambda path, s=summary, lost=lost, title=title: heatmap(s, lost, title, path)}
        if len(summary):
            figures["_curves"] = lambda path, s=summary, title=title: curves(s, title, path)
        written += write_table_and_figures(folder, name, title, saturation_table(summary, lost), figures)
    return written


EXPERIMENT = Experiment(run=run, row=SaturationRow, aggregate=aggregate)
