"""`+experiment=mismatch_paper`: the paper's own mismatch protocol (its section 4.2 and appendix B).

Two PMs of the grid, the best and a mid-grid one (`mismatch_paper.pms`), each answer the same RL
prompts once. Per prompt the pair of answers is judged three ways: the world's human labeler picks one
(as the paper's annotators did; its ties are handled by `data.labeler.tie_policy`), gold picks the one
with the higher gold reward (pairs gold ties are left out), and the RM picks the one it scores higher.
Mismatch = share of pairs where the RM's pick differs from the judge's, with a bootstrap CI over prompts,
against the labeler (the paper's number: 35% in its abstract, about 40% in 4.2 and appendix B) and
against gold (exact). One job per RM; the answers are sampled once per PM and cached.
Its tables and figures: mismatch_paper_report.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from seam_exp.experiments import Experiment, config_with, prepare, report_aggregate, report_claims
from seam_exp.metrics.preference import pick_disagreement
from seam_exp.metrics.ties import gold_order
from seam_exp.models.evaluate import heldout_pair_accuracy
from seam_exp.models.factory import count_parameters
from seam_exp.models.train import load_reward, trained_reward
from seam_exp.reporting.results import RunRow, run_columns, write_results
from seam_exp.reporting.tables import row_as_markdown
from seam_exp.seam.policy import load_pm
from seam_exp.seam.scoring import rm_scores
from seam_exp.seam.validation import cached_samples
from seam_exp.utils.runtime import output_dir

log = logging.getLogger(__name__)


@dataclass
class MismatchPaperRow(RunRow):
    pm_best: str
    pm_mid: str
    n_prompts: int
    # mean gold of each PM's answers here: its SFT policy's gold on these prompts, one sample each
    pm_best_gold: float
    pm_mid_gold: float
    rm_params: int
    rm_acc_heldout: float
    best_wins_by_gold: float  # share of gold-decided pairs the best PM's answer wins
    labeled_pairs: int  # pairs the labeler judged (its ties left out)
    gold_pairs: int  # pairs whose gold differs
    labeler_gold_agreement: float  # how often the "human" agrees with gold on gold-decided labeled pairs
    mismatch_vs_labeler: float
    mismatch_vs_labeler_lo: float
    mismatch_vs_labeler_hi: float
    mismatch_vs_gold: float
    mismatch_vs_gold_lo: float
    mismatch_vs_gold_hi: float


def answers(cfg: DictConfig, world, cache, pm_name: str, prompt_ids: list[int]) -> pd.DataFrame:
    """One sampled answer per prompt from the SFT policy of preset `pm_name` (cached per PM)."""
    pm_cfg = config_with(pm=pm_name)
    # two PMs of the grid: the world template, as this protocol always sampled them
    pm = replace(load_pm(pm_cfg, world, cache), fmt="world")
    samples = cached_samples(cache, world, pm, prompt_ids, 1, pm_cfg.pm.generation, cfg.seed)
    return samples.set_index("prompt_id").loc[prompt_ids, "text"].reset_index()


def run(cfg: DictConfig) -> MismatchPaperRow:
    world, cache = prepare(cfg)
    protocol = cfg.mismatch_paper
    ids = [int(i) for i in world.data["rl"]["prompt_id"]][: protocol.prompts]
    best, mid = (answers(cfg, world, cache, name, ids) for name in (protocol.pms.best, protocol.pms.mid))
    rm_dir, _ = trained_reward(cfg, world, cache)
    rm, rm_tok = load_reward(rm_dir)
    r_best, r_mid = (rm_scores(a, world, rm, rm_tok) for a in (best, mid))
    g_best, g_mid = world.gold(ids, best["text"].tolist()), world.gold(ids, mid["text"].tolist())

    rng = np.random.default_rng(cfg.seed)
    labels = [world.labeler.label(a, b, rng) for a, b in zip(g_best, g_mid, strict=True)]
    # A labeler tie (dropped, or kept as a half label) picks neither answer: left out, as gold ties are.
    labeled = np.array([lab is not None and not lab.is_tie for lab in labels])
    human_prefers_best = np.array(
        [lab.a_preferred for lab, ok in zip(labels, labeled, strict=True) if ok], dtype=bool
    )
    by_gold = gold_order(g_best, g_mid)
    decided = by_gold != 0
    boot = {"n_boot": protocol.n_boot, "seed": cfg.seed}
    vs_labeler = pick_disagreement(r_best[labeled], r_mid[labeled], human_prefers_best, **boot)
    vs_gold = pick_disagreement(r_best[decided], r_mid[decided], by_gold[decided] > 0, **boot)
    both = labeled & decided
    human_on_both = np.array([lab.a_preferred for lab, b in zip(labels, both, strict=True) if b], dtype=bool)
    row = MismatchPaperRow(
        **run_columns(cfg, output_dir()),
        pm_best=protocol.pms.best,
        pm_mid=protocol.pms.mid,
        n_prompts=len(ids),
        pm_best_gold=float(np.mean(g_best)),
        pm_mid_gold=float(np.mean(g_mid)),
        rm_params=count_parameters(rm),
        rm_acc_heldout=heldout_pair_accuracy(rm, rm_tok, world)["rm_acc_heldout"],
        best_wins_by_gold=float(np.mean(by_gold[decided] > 0)),
        labeled_pairs=int(labeled.sum()),
        gold_pairs=int(decided.sum()),
        labeler_gold_agreement=float(np.mean(human_on_both == (by_gold[both] > 0))),
        mismatch_vs_labeler=vs_labeler[0],
        mismatch_vs_labeler_lo=vs_labeler[1],
        mismatch_vs_labeler_hi=vs_labeler[2],
        mismatch_vs_gold=vs_gold[0],
        mismatch_vs_gold_lo=vs_gold[1],
        mismatch_vs_gold_hi=vs_gold[2],
    )
    df = write_results([row], output_dir())
    print(row_as_markdown(df))
    return row


EXPERIMENT = Experiment(
    run=run, row=MismatchPaperRow, aggregate=report_aggregate(__name__), claims=report_claims(__name__)
)
