"""`+experiment=augmentation`: does augmenting the PM and the RM on the least seamless RL instructions
beat no, random and full augmentation? (docs/augmentation.md)

One job = one RL run: a cell (PM, RM), an arm (original, or <kind>:<pm|rm|both>, augmentation.arms) and
an RL seed. An arm picks RL instructions, writes 5 SFT samples and 5 preference pairs for each with
Contrast Instructions (augmentation.data), retrains the augmented side(s) on the original plus the
augmented rows for epoch-matched steps (the `longer` control: the original rows alone for as long;
models.train, cached per arm) and reruns RLHF on every RL prompt. Its tables and
figures, every arm paired with `original` (and with `random`) by seed: augmentation_report.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from seam_exp.augmentation.arms import Arm, epoch_matched_steps, parse_arm, selected_instructions
from seam_exp.augmentation.data import neighbour_pairs, retrieved_questions, sft_rows
from seam_exp.experiments import Experiment, prepare, report_aggregate, report_claims, rl_outcome
from seam_exp.models.evaluate import heldout_pair_accuracy
from seam_exp.models.train import load_reward, metrics_of, sft_policy, trained_reward
from seam_exp.reporting.results import RunRow, run_columns, write_results
from seam_exp.reporting.tables import row_as_markdown
from seam_exp.rl.config import rl_config
from seam_exp.rl.run import rl_finetune
from seam_exp.seam.candidates import make_builder
from seam_exp.seam.candidates.base import build_candidates
from seam_exp.seam.scoring import rm_scores
from seam_exp.selection.filters import parse_method
from seam_exp.selection.prompt_scores import selection_table
from seam_exp.utils.runtime import output_dir

log = logging.getLogger(__name__)
# What an arm added, in its run folder: the instructions, and the rows of the side(s) it augmented.
INSTRUCTIONS_FILE, SFT_FILE, PAIRS_FILE = (
    "augmented_instructions.csv",
    "augmented_sft.parquet",
    "augmented_pairs.parquet",
)


@dataclass
class AugmentationRow(RunRow):
    grid: str
    sft_steps: int  # the arm's PM's and RM's training steps (epoch-matched where rows were added)
    rm_steps: int
    rm_pairs: int  # the original RM's pairs, before augmentation
    algorithm: str
    reward_source: str
    arm: str  # original | <kind>:<side>
    kind: str  # original | seam | random | full
    side: str  # none | pm | rm | both
    method: str  # the SEAM method whose least seamless instructions the seam arm augments
    rate: float  # the share of RL instructions seam and random augment
    n_instructions: int
    sft_added: int  # rows added to the PM's SFT data (0 unless the PM is augmented)
    pairs_added: int  # pairs added to the RM's data (0 unless the RM is augmented)
    pairs_misjudged: float  # share of the augmented pairs whose worse answer the original RM ranked >= gold
    sft_gold: float  # the (augmented) SFT policy's gold on the eval prompts: where RL starts
    rm_acc_heldout: float  # the (augmented) RM's accuracy on the held-out pairs (labeler's choice)
    rm_acc_heldout_gold: float
    rl_gold: float
    gain: float  # over the arm's own SFT start
    gain_lo: float
    gain_hi: float
    kl: float
    sft_mismatch: float
    mismatch: float
    hacking: float
    train_seconds: float  # training the augmented models now (0 when found in the cache)
    rl_seconds: float


def augmented_rows(cfg: DictConfig, world, cache, ids: np.ndarray, rm_dir: Path):
    """(SFT rows, preference pairs) for the instructions `ids`, all on questions Contrast Instructions
    retrieves for them from the augmentation pool (never an RL or eval prompt): SFT samples of the
    questions, and a pair on each question from its own retrieved answers, ranked by the original RM in
    rm_dir (augmentation.data)."""
    seam = OmegaConf.merge(cfg.seam, {"contrast": {"pool_splits": list(cfg.augmentation.pool_splits)}})
    builder = make_builder("contrast", seam, world, cache)
    k, n, seed = cfg.augmentation.retrieved, cfg.augmentation.per_instruction, cfg.augmentation.seed
    candidates, _ = build_candidates(builder, world, ids, k, cfg.seam.seed, cache)
    around, _ = build_candidates(builder, world, retrieved_questions(candidates), k, cfg.seam.seed, cache)
    rm, rm_tok = load_reward(rm_dir)
    pairs = neighbour_pairs(world, candidates, around, rm_scores(around, world, rm, rm_tok), n, seed)
    return sft_rows(world, candidates, n, seed), pairs


def retrained(cfg: DictConfig, world, cache, arm: Arm, steps_key: str, original: Path, rows, file: Path):
    """(folder, seconds spent training it now) of the arm's model of one side: trained from the same start
    and seed on the original rows plus `rows` (none for `longer`) for epoch-matched steps, so its original
    rows keep their passes; `longer` trains the original rows alone for those steps (docs/augmentation.md)."""
    done = metrics_of(original)
    steps = epoch_matched_steps(done["steps"], done["rows"], len(rows))
    at_steps = OmegaConf.merge(cfg, OmegaConf.from_dotlist([f"{steps_key}={steps}"]))
    added = rows if arm.adds_rows else None
    if added is not None:
        added.to_parquet(file)
    train = sft_policy if steps_key.startswith("pm.") else trained_reward
    folder, trained = train(at_steps, world, cache, augmented=added, arm=arm.kind if arm.adds_rows else None)
    return folder, metrics_of(folder)["seconds"] if trained else 0.0


def run(cfg: DictConfig) -> AugmentationRow:
    arm = parse_arm(cfg.augmentation.arm)
    method = parse_method(cfg.augmentation.method)
    rl = rl_config(cfg.rl)
    world, cache = prepare(cfg)
    pm_dir, _ = sft_policy(cfg, world, cache)
    rm_dir, _ = trained_reward(cfg, world, cache)
    original_pairs = metrics_of(rm_dir)["rows"]
    out = output_dir()
    out.mkdir(parents=True, exist_ok=True)
    ids = np.array([], dtype=int)
    sft, pairs, train_seconds = [], [], 0.0
    if arm.kind != "original":
        table = selection_table(cfg, world, cache)
        ids = selected_instructions(arm, table, method, cfg.augmentation.rate, cfg.augmentation.seed)
        sft, pairs = augmented_rows(cfg, world, cache, ids, rm_dir)
        if arm.augments_pm:
            pm_dir, seconds = retrained(
                cfg, world, cache, arm, "pm.sft.max_steps", pm_dir, sft, out / SFT_FILE
            )
            train_seconds += seconds
        if arm.augments_rm:
            rm_dir, seconds = retrained(
                cfg, world, cache, arm, "rm.train.max_steps", rm_dir, pairs, out / PAIRS_FILE
            )
            train_seconds += seconds
    pd.DataFrame({"prompt_id": ids}).to_csv(out / INSTRUCTIONS_FILE, index=False)
    log.info("augmentation %s: %d RL instructions augmented", arm.name, len(ids))
    result = rl_finetune(cfg, world, pm_dir, rm_dir, out, rl)
    accuracy = heldout_pair_accuracy(result.module.rm, result.module.tokenizer, world)
    row = AugmentationRow(
        **run_columns(cfg, out),
        grid=cfg.get("grid", "size"),
        sft_steps=metrics_of(pm_dir)["steps"],
        rm_steps=metrics_of(rm_dir)["steps"],
        rm_pairs=original_pairs,
        algorithm=rl.algorithm,
        reward_source=rl.reward.source,
        arm=arm.name,
        kind=arm.kind,
        side=arm.side or "none",
        method=method.name,
        rate=float(cfg.augmentation.rate),
        n_instructions=len(ids),
        sft_added=len(sft) if arm.augments_pm and arm.adds_rows else 0,
        pairs_added=len(pairs) if arm.augments_rm and arm.adds_rows else 0,
        pairs_misjudged=float(np.mean(np.asarray(pairs["rm_margin"]) >= 0))
        if arm.augments_rm and arm.adds_rows
        else float("nan"),
        rm_acc_heldout=accuracy["rm_acc_heldout"],
        rm_acc_heldout_gold=accuracy["rm_acc_heldout_gold"],
        train_seconds=train_seconds,
        **rl_outcome(result, AugmentationRow),
    )
    df = write_results([row], out)
    print(row_as_markdown(df))
    return row


EXPERIMENT = Experiment(
    run=run,
    row=AugmentationRow,
    aggregate=report_aggregate(__name__),
    claims=report_claims(__name__),
    runs_rl=True,
)
