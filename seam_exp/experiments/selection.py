"""`+experiment=selection`: does RL on the prompts SEAM keeps beat RL on every prompt? (docs/selection.md)

One job = one RL run: a cell (PM, RM), a selection method (full, oracle, random, perplexity,
seam:<variant>:<formula>, ...), a drop rate and an RL seed. Steps and batch are the same for every method,
so a filter changes which prompts RL sees, not how often (docs/selection.md). The run folder gets the dropped
prompt ids (dropped_prompts.csv) besides the RL outputs. Its tables and figures, each method paired with
the `full` run of the same cell and seed: selection_report.py.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from omegaconf import DictConfig, open_dict

from seam_exp.errors import UserError
from seam_exp.experiments import Experiment, prepare, report_aggregate, report_claims, rl_outcome
from seam_exp.models.evaluate import heldout_pair_accuracy
from seam_exp.models.train import metrics_of, sft_policy, trained_reward
from seam_exp.online.config import NO_REFRESH
from seam_exp.online.filtering import online_filter_callbacks
from seam_exp.online.refresh import reward_refresh_callbacks
from seam_exp.online.tracking import online_seam_callbacks
from seam_exp.reporting.results import RunRow, run_columns, write_results
from seam_exp.reporting.tables import row_as_markdown
from seam_exp.rl.config import rl_config
from seam_exp.rl.run import rl_finetune
from seam_exp.seam.candidates import make_builder
from seam_exp.selection.filters import SCORED_KINDS, Method, dropped_prompts, parse_method
from seam_exp.selection.prompt_scores import rl_prompt_ids, selection_table
from seam_exp.utils.runtime import output_dir

log = logging.getLogger(__name__)
DROPPED_FILE = "dropped_prompts.csv"


@dataclass
class SelectionRow(RunRow):
    grid: str  # size | paper: how the cell's PM and RM are named (reporting.grid.axis_label)
    sft_steps: int
    rm_pairs: int
    algorithm: str
    reward_source: str
    method: str  # as configured, e.g. seam:gpt:paper
    method_label: str  # with what wrote the worse answers, e.g. seam:gpt[scripted]:paper
    primary: str  # the pre-registered primary method of the sweep (selection.primary)
    rate: float  # the configured drop rate (NaN for full and oracle, which do not use it)
    n_rl_prompts: int
    n_dropped: int
    dropped_share: float
    rl_steps: int
    sft_gold: float
    rm_acc_heldout: float  # the cell's RM on the held-out pairs (labeler's choice), as in saturation
    rl_gold: float
    gain: float  # over the SFT start, the run's own final evaluation
    gain_lo: float
    gain_hi: float
    kl: float
    mismatch: float
    hacking: float
    rl_seconds: float


def method_label(method: Method, cfg: DictConfig, world, cache) -> str:
    if method.kind not in SCORED_KINDS:
        return method.name
    builder = make_builder(method.variant, cfg.seam, world, cache)
    return f"{method.kind}:{builder.label}:{method.formula}"


def with_refresh_chooser(cfg: DictConfig, chooser: str) -> DictConfig:
    """The run's config with the RM refresh on, its prompts picked by `chooser` (a refresh:<chooser> method);
    refused when online.refresh.chooser names another."""
    if cfg.online.refresh.chooser not in (NO_REFRESH, chooser):
        raise UserError(
            f"selection.method refresh:{chooser} with online.refresh.chooser={cfg.online.refresh.chooser}: "
            "set one of them"
        )
    cfg = copy.deepcopy(cfg)
    with open_dict(cfg):
        cfg.online.refresh.chooser = chooser
    return cfg


def kept_rl_rows(world, pool: list[int], dropped: np.ndarray):
    """The world's RL rows of the prompts in `pool` but not dropped (order kept)."""
    rl, kept = world.data["rl"], set(pool) - set(np.asarray(dropped).tolist())
    return rl.select([i for i, p in enumerate(rl["prompt_id"]) if int(p) in kept])


def run(cfg: DictConfig) -> SelectionRow:
    method = parse_method(cfg.selection.method)
    rl = rl_config(cfg.rl)
    world, cache = prepare(cfg)
    pm_dir, _ = sft_policy(cfg, world, cache)
    rm_dir, _ = trained_reward(cfg, world, cache)
    rate = float(cfg.selection.rate)
    if method.kind == "refresh":
        cfg = with_refresh_chooser(cfg, method.variant)
    if method.kind in ("full", "refresh"):
        dropped, scores = np.array([], dtype=int), None
    else:
        table = selection_table(cfg, world, cache)
        primary = parse_method(cfg.selection.primary)
        dropped = dropped_prompts(method, table, rate, cfg.seed, cfg.selection.oracle_threshold, primary)
        scores = table.set_index("prompt_id").loc[dropped, method.column] if method.column else None
    pool = rl_prompt_ids(world, cfg.selection.max_prompts)
    kept = kept_rl_rows(world, pool, dropped)
    out = output_dir()
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"prompt_id": dropped, "score": scores.to_numpy() if scores is not None else np.nan}).to_csv(
        out / DROPPED_FILE, index=False
    )
    label = method_label(method, cfg, world, cache)
    log.info("selection %s: %d of %d RL prompts dropped", label, len(dropped), len(pool))
    tracking = online_seam_callbacks(cfg, world, cache, kept, out)
    refreshing = reward_refresh_callbacks(cfg, world, cache, kept, out)
    # an online method re-drops along the run, from every prompt of the pool
    everything = kept_rl_rows(world, pool, [])
    refiltering = online_filter_callbacks(cfg, method, world, cache, everything, dropped, out)
    result = rl_finetune(
        cfg,
        world,
        pm_dir,
        rm_dir,
        out,
        rl,
        prompts=kept,
        callbacks=[*tracking, *refiltering, *refreshing],
        pool=everything if refiltering else None,
    )
    accuracy = heldout_pair_accuracy(result.module.rm, result.module.tokenizer, world)
    row = SelectionRow(
        **run_columns(cfg, out),
        grid=cfg.get("grid", "size"),
        sft_steps=metrics_of(pm_dir)["steps"],
        rm_pairs=metrics_of(rm_dir)["rows"],
        algorithm=rl.algorithm,
        reward_source=rl.reward.source,
        method=method.name,
        method_label=label,
        primary=cfg.selection.primary,
        rate=rate if method.uses_rate else float("nan"),
        n_rl_prompts=len(pool),
        n_dropped=len(dropped),
        dropped_share=len(dropped) / len(pool),
        rm_acc_heldout=accuracy["rm_acc_heldout"],
        **rl_outcome(result, SelectionRow),
    )
    df = write_results([row], out)
    print(row_as_markdown(df))
    return row


EXPERIMENT = Experiment(
    run=run,
    row=SelectionRow,
    aggregate=report_aggregate(__name__),
    claims=report_claims(__name__),
    runs_rl=True,
)
