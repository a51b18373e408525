"""`+experiment=augmentation`: does augmenting the PM and the RM on the least seamless RL instructions
beat no, random and full augmentation? (docs/augmentation.md)

One job = one RL run: a cell (PM, RM), an arm (original, or <seam|random|full>:<pm|rm|both>) and an RL
seed. An arm picks RL instructions (augmentation.arms), writes 5 SFT samples and 5 preference pairs for
each with Contrast Instructions (augmentation.data), retrains the augmented side(s) on the original plus
the augmented rows (models.train, cached per arm) and reruns RLHF on every RL prompt. Aggregation
pairs every arm with `original` (and seam/full with `random` of the same side) by seed, on the same eval
samples, and traces a gain to its model: the arm's SFT gold and its RM's held-out accuracy; a table of
several cells warns when their PM or RM axis is not ordered by those of the cells' own models.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from seam_exp.augmentation.arms import Arm, parse_arm, selected_instructions
from seam_exp.augmentation.data import preference_rows, sft_rows
from seam_exp.errors import UserError
from seam_exp.experiments import Experiment, prepare
from seam_exp.experiments.saturation import run_history
from seam_exp.metrics.intervals import mean_ci_over_seeds
from seam_exp.models.evaluate import heldout_pair_accuracy
from seam_exp.models.train import load_reward, metrics_of, sft_policy, trained_reward
from seam_exp.reporting.grid import with_cell_names
from seam_exp.reporting.plots import plt, save_figure
from seam_exp.reporting.precondition import grid_warnings, printed
from seam_exp.reporting.results import RunRow, run_columns, write_results
from seam_exp.reporting.sweep import RL_CELL, group_name, sweep_groups, sweep_results
from seam_exp.reporting.tables import format_ci, row_as_markdown, verdict, write_table_and_figures
from seam_exp.rl.config import rl_config
from seam_exp.rl.paired import paired_gain
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
    sft_steps: int
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
    """(SFT rows, preference pairs) for the instructions `ids`: Contrast Instructions retrieved from the
    augmentation pool, the pairs ranked by the original RM in rm_dir."""
    seam = OmegaConf.merge(cfg.seam, {"contrast": {"pool_splits": list(cfg.augmentation.pool_splits)}})
    builder = make_builder("contrast", seam, world, cache)
    candidates, _ = build_candidates(builder, world, ids, cfg.augmentation.retrieved, cfg.seam.seed, cache)
    rm, rm_tok = load_reward(rm_dir)
    n, seed = cfg.augmentation.per_instruction, cfg.augmentation.seed
    return sft_rows(world, candidates, n), preference_rows(
        world, candidates, rm_scores(candidates, world, rm, rm_tok), n, seed
    )


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
            sft.to_parquet(out / SFT_FILE)
            pm_dir, trained = sft_policy(cfg, world, cache, augmented=sft, arm=arm.kind)
            train_seconds += metrics_of(pm_dir)["seconds"] if trained else 0.0
        if arm.augments_rm:
            pairs.to_parquet(out / PAIRS_FILE)
            if cfg.rm.get("init", "scratch") != "scratch":
                raise UserError(
                    "augmentation: only reward models trained from scratch (rm.init=scratch) can be augmented"
                )
            rm_dir, trained = trained_reward(cfg, world, cache, augmented=pairs, arm=arm.kind)
            train_seconds += metrics_of(rm_dir)["seconds"] if trained else 0.0
    pd.DataFrame({"prompt_id": ids}).to_csv(out / INSTRUCTIONS_FILE, index=False)
    log.info("augmentation %s: %d RL instructions augmented", arm.name, len(ids))
    result = rl_finetune(cfg, world, pm_dir, rm_dir, out, rl)
    start, final = result.history[0], result.history[-1]
    accuracy = heldout_pair_accuracy(result.module.rm, result.module.tokenizer, world)
    row = AugmentationRow(
        **run_columns(cfg, out),
        grid=cfg.get("grid", "size"),
        sft_steps=metrics_of(pm_dir)["steps"],
        rm_pairs=original_pairs,
        algorithm=rl.algorithm,
        reward_source=rl.reward.source,
        arm=arm.name,
        kind=arm.kind,
        side=arm.side or "none",
        method=method.name,
        rate=float(cfg.augmentation.rate),
        n_instructions=len(ids),
        sft_added=len(sft) if arm.augments_pm else 0,
        pairs_added=len(pairs) if arm.augments_rm else 0,
        pairs_misjudged=float(np.mean(np.asarray(pairs["rm_margin"]) >= 0))
        if arm.augments_rm
        else float("nan"),
        sft_gold=start["gold"],
        rm_acc_heldout=accuracy["rm_acc_heldout"],
        rm_acc_heldout_gold=accuracy["rm_acc_heldout_gold"],
        rl_gold=final["gold"],
        gain=final["gain"],
        gain_lo=final["gain_lo"],
        gain_hi=final["gain_hi"],
        kl=final["kl"],
        sft_mismatch=start["mismatch"],
        mismatch=final["mismatch"],
        hacking=final["hacking"],
        train_seconds=train_seconds,
        rl_seconds=result.seconds,
    )
    df = write_results([row], out)
    print(row_as_markdown(df))
    return row


# ----------------------------------------------------------------------------------------- aggregation

CELL = {
    **RL_CELL,
    "arm": "augmentation.arm",
    "seed": "seed",
}
GROUP = ["scale", "algorithm", "reward_source", "variant"]
KIND_COLORS = {"seam": "tab:green", "random": "tab:grey", "full": "tab:blue", "original": "black"}


def paired_against(rows: pd.DataFrame, base_of) -> pd.DataFrame:
    """Per run whose arm has a base arm (`base_of(Arm)`, or None) run with the same cell and seed: the
    gain in gold over that run and the win rate against it, sample j against sample j."""
    runs = rows.drop_duplicates(["cell", "arm", "seed"], keep="last").set_index(["cell", "arm", "seed"])
    out = []
    for (cell, arm, seed), r in runs.iterrows():
        base = base_of(parse_arm(arm))
        if base is None or (cell, base, seed) not in runs.index:
            continue
        paired = paired_gain(r["run_dir"], runs.loc[(cell, base, seed), "run_dir"])
        out.append({"cell": cell, "arm": arm, "seed": seed, **paired})
    return pd.DataFrame(out, columns=["cell", "arm", "seed", "gold_base", "gain", "win_rate"])


def over_original(arm: Arm) -> str | None:
    return None if arm.kind == "original" else "original"


def over_random(arm: Arm) -> str | None:
    return f"random:{arm.side}" if arm.kind in ("seam", "full") else None


def _ci(values: pd.Series) -> tuple[float, float, float]:
    return mean_ci_over_seeds(values) if len(values) else (float("nan"),) * 3


def summary_over_seeds(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per (cell, arm): the arm's own numbers averaged over seeds, and its paired gains over
    original and over random with t-intervals over seeds."""
    vs_original, vs_random = paired_against(rows, over_original), paired_against(rows, over_random)
    out = []
    for (cell, arm), g in rows.groupby(["cell", "arm"], sort=False):
        line = {
            "cell": cell,
            "arm": arm,
            "kind": g["kind"].iloc[0],
            "side": g["side"].iloc[0],
            "seeds": len(g),
        }
        for column in (
            "n_instructions",
            "sft_added",
            "pairs_added",
            "pairs_misjudged",
            "sft_gold",
            "rm_acc_heldout",
            "rm_acc_heldout_gold",
            "rl_gold",
            "gain",
            "kl",
            "sft_mismatch",
            "mismatch",
        ):
            line[column] = g[column].mean()
        for name, paired in (("over_original", vs_original), ("over_random", vs_random)):
            mine = paired[(paired["cell"] == cell) & (paired["arm"] == arm)]
            for metric in ("gain", "win_rate"):
                point, lo, hi = _ci(mine[metric])
                line |= {f"{metric}_{name}": point, f"{metric}_{name}_lo": lo, f"{metric}_{name}_hi": hi}
            line[f"gold_{name}"] = mine["gold_base"].mean() if len(mine) else float("nan")
        out.append(line)
    return pd.DataFrame(out)


def augmentation_table(summary: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, r in summary.iterrows():
        ci = {m: (r[m], r[f"{m}_lo"], r[f"{m}_hi"]) for m in ("gain_over_original", "gain_over_random")}
        rows.append(
            {
                "cell": r["cell"],
                "arm": r["arm"],
                "seeds": r["seeds"],
                # the same in every seed: the models are trained once per arm
                "instructions": int(r["n_instructions"]),
                "SFT rows added": int(r["sft_added"]),
                "pairs added": int(r["pairs_added"]),
                "pairs the RM misjudged": r["pairs_misjudged"],
                "PM SFT gold": r["sft_gold"],
                "RM held-out acc": r["rm_acc_heldout"],
                "final gold": r["rl_gold"],
                "gain over original (95% CI)": "-"
                if r["arm"] == "original"
                else format_ci(*ci["gain_over_original"]),
                "vs original": "-"
                if r["arm"] == "original"
                else verdict(r["gain_over_original_lo"], r["gain_over_original_hi"]),
                # the paper's +4.1% is relative to original's judge score; gold's zero is arbitrary, so read loosely
                "% of original's gold": 100 * r["gain_over_original"] / r["gold_over_original"],
                "gain over random (95% CI)": "-"
                if r["gain_over_random"] != r["gain_over_random"]
                else format_ci(*ci["gain_over_random"]),
                "win rate vs original": format_ci(
                    r["win_rate_over_original"],
                    r["win_rate_over_original_lo"],
                    r["win_rate_over_original_hi"],
                    signed=False,
                ),
                "KL": r["kl"],
                "mismatch SFT -> final": f"{r['sft_mismatch']:.3f} -> {r['mismatch']:.3f}",
            }
        )
    return pd.DataFrame(rows)


def arm_order(summary: pd.DataFrame) -> pd.DataFrame:
    """original first, then by side (pm, rm, both) and kind (random, seam, full)."""
    side = {"none": 0, "pm": 1, "rm": 2, "both": 3}
    kind = {"original": 0, "random": 1, "seam": 2, "full": 3}
    key = summary["side"].map(side) * 10 + summary["kind"].map(kind)
    return summary.assign(_order=key).sort_values(["cell", "_order"]).drop(columns="_order")


def bar_figure(summary: pd.DataFrame, title: str, path: Path) -> None:
    """Gain over original per augmented arm with its CI over seeds, one panel per cell."""
    arms = summary[summary["kind"] != "original"]
    cells = sorted(arms["cell"].unique())
    fig, axes = plt.subplots(
        1, len(cells), figsize=(max(8.0, 5.5 * len(cells)), 0.4 * arms["arm"].nunique() + 1.8), squeeze=False
    )
    for ax, cell in zip(axes[0], cells, strict=True):
        part = arms[arms["cell"] == cell].iloc[::-1]
        y = np.arange(len(part))
        low = part["gain_over_original"] - part["gain_over_original_lo"]
        high = part["gain_over_original_hi"] - part["gain_over_original"]
        ax.barh(
            y,
            part["gain_over_original"],
            xerr=np.nan_to_num(np.vstack([low, high])),
            capsize=3,
            color=[KIND_COLORS[k] for k in part["kind"]],
        )
        ax.set_yticks(y, part["arm"], fontsize=8)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_title(cell, fontsize=9)
        ax.set_xlabel("gold gain over original (95% CI over seeds)")
        ax.grid(axis="x", alpha=0.3)
    save_figure(fig, path, title)


def mismatch_figure(rows: pd.DataFrame, title: str, path: Path) -> None:
    """The RM's mismatch with gold on the policy's own eval samples along RL, mean over seeds, one panel
    per augmented side (original drawn in each)."""
    curves = []
    for _, r in rows.iterrows():
        history = run_history(r["run_dir"])
        if history is not None:
            curves.append(history[["step", "mismatch"]].assign(arm=r["arm"], kind=r["kind"], side=r["side"]))
    if not curves:
        return
    curves = pd.concat(curves).groupby(["arm", "kind", "side", "step"], as_index=False)["mismatch"].mean()
    sides = [s for s in ("pm", "rm", "both") if s in set(curves["side"])]
    fig, axes = plt.subplots(
        1, max(1, len(sides)), figsize=(4.5 * max(1, len(sides)), 3.4), squeeze=False, sharey=True
    )
    for ax, side in zip(axes[0], sides or ["none"], strict=True):
        for (arm, kind), line in curves[curves["side"].isin([side, "none"])].groupby(["arm", "kind"]):
            ax.plot(line["step"], line["mismatch"], marker="o", ms=3, color=KIND_COLORS[kind], label=arm)
        ax.set_title(f"augmented: {side}", fontsize=9)
        ax.set_xlabel("RL step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("mismatch (RM vs gold, own samples)")
    save_figure(fig, path, title)


def cell_axis_warnings(rows: pd.DataFrame) -> list[str]:
    """Warnings under a table of several cells when their PM axis is not ordered by SFT gold or their RM
    axis by held-out accuracy, each read on the cell's own model: from the runs that did not augment it."""
    return grid_warnings(
        rows,
        pm_rows=rows[~rows["side"].isin(["pm", "both"])],
        rm_rows=rows[~rows["side"].isin(["rm", "both"])],
    )


def aggregate(outputs: Path) -> list[Path]:
    results, missing = sweep_results(outputs, "augmentation", CELL, AugmentationRow)
    if not len(results):
        return []
    results = with_cell_names(results)
    folder = outputs / "figures" / "augmentation"
    written = []
    for (scale, algorithm, source, variant), rows, _ in sweep_groups(results, missing.iloc[0:0], GROUP):
        name, extra = group_name(f"augmentation_{scale}_{algorithm}", source, variant)
        title = f"RLHF after augmenting the PM and the RM, judged by gold ({algorithm}{extra}, scale={scale})"
        summary = arm_order(summary_over_seeds(rows))
        figures = {
            "_bars": lambda path, s=summary, t=title: bar_figure(s, t, path),
            "_mismatch": lambda path, r=rows, t=title: mismatch_figure(r, t, path),
        }
        if (summary["kind"] == "original").all():
            figures.pop("_bars")
        notes = printed(cell_axis_warnings(rows), name)
        written += write_table_and_figures(folder, name, title, augmentation_table(summary), figures, notes)
    return written


EXPERIMENT = Experiment(run=run, row=AugmentationRow, aggregate=aggregate, runs_rl=True)
