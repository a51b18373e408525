"""Fixed-schema result rows: each run writes results.csv in its Hydra folder; aggregation reads them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

RESULTS_FILE = "results.csv"

# Columns every experiment's row starts with: what ran.
RUN_COLUMNS = ["experiment", "scale", "pm", "rm", "seed", "run_dir"]

# Metrics of an RL run's final gold evaluation (rl/evaluate.py), copied into saturation rows as they are.
RL_FINAL_METRICS = [
    "gain",
    "gain_lo",
    "gain_hi",
    "win_rate",
    "win_rate_lo",
    "win_rate_hi",
    "kl",
    "kl_lo",
    "kl_hi",
    "mismatch",
    "mismatch_lo",
    "mismatch_hi",
    "mismatch_pairs",
    "hacking",
    "eos_rate",
    "response_tokens",
]

SCHEMAS: dict[str, list[str]] = {
    "sanity": [
        *RUN_COLUMNS,
        "budget",
        "pm_params",
        "rm_params",
        "sft_steps",
        "rm_steps",
        "rm_pairs",
        "pm_gold_mean",
        "pm_gold_lo",
        "pm_gold_hi",
        "pm_greedy_gold",
        "pm_greedy_correct",
        "pm_greedy_exact",
        "pm_eos_rate",
        "pm_response_tokens",
        "rm_acc_heldout",
        "rm_acc_heldout_gold",
        "rm_acc_pm_samples",
        "rm_pm_sample_pairs",
        "sft_seconds",
        "rm_seconds",
    ],
    # One row per (SEAM variant, ablation): dataset SEAM and its rank correlation with the true mismatch.
    "seam": [
        *RUN_COLUMNS,
        "policy",
        "variant",
        "ablation",
        "k",
        "n_prompts",
        "n_gt_prompts",
        "seam_mean",
        "gt_mismatch_mean",
        "gt_reliability",
        "spearman",
        "spearman_lo",
        "spearman_hi",
        "kendall",
        "kendall_lo",
        "kendall_hi",
        "worse_gold_ge_ref",
        "pm_seconds",
        "rm_seconds",
        "prompts_per_s",
    ],
    # One row per saturation cell: RLHF of the cell's PM against its RM, judged by gold vs the SFT start.
    "saturation": [
        *RUN_COLUMNS,
        "grid",
        "pm_budget",
        "rm_budget",
        "pm_params",
        "rm_params",
        "rm_acc_heldout",
        "algorithm",
        "reward_source",
        "rl_steps",
        "eval_prompts",
        "sft_gold",
        "sft_gold_lo",
        "sft_gold_hi",
        "rl_gold",
        "rl_gold_lo",
        "rl_gold_hi",
        *RL_FINAL_METRICS,
        "sft_proxy",
        "rl_proxy",
        "sft_correct",
        "rl_correct",
        "sft_mismatch",
        "sft_hacking",
        "rl_seconds",
    ],
    # One row per gold evaluation during RL (step 0 = the SFT start) of a mismatch cell.
    "mismatch": [
        *RUN_COLUMNS,
        "pm_params",
        "rm_params",
        "algorithm",
        "reward_source",
        "step",
        "gold",
        "gold_lo",
        "gold_hi",
        "gain",
        "gain_lo",
        "gain_hi",
        "win_rate",
        "kl",
        "proxy",
        "mismatch",
        "mismatch_lo",
        "mismatch_hi",
        "mismatch_pairs",
        "hacking",
        "rm_above_reference",
        "correct_rate",
        "eos_rate",
        "response_tokens",
    ],
}


def write_results(rows: list[dict], folder: Path, experiment: str) -> pd.DataFrame:
    """Write rows with exactly the experiment's declared columns, in order; a missing or extra column is a bug."""
    columns = SCHEMAS[experiment]
    df = pd.DataFrame(rows)
    missing, extra = set(columns) - set(df.columns), set(df.columns) - set(columns)
    if missing or extra:
        raise ValueError(
            f"{experiment} results do not match the schema: missing {sorted(missing)}, extra {sorted(extra)}"
        )
    df = df[columns]
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{RESULTS_FILE}.tmp"
    df.to_csv(tmp, index=False)
    tmp.replace(folder / RESULTS_FILE)  # atomic: readers never see half a table
    return df


def collect_results(root: Path, experiment: str) -> pd.DataFrame:
    """Every results.csv of `experiment` under root (newest run of a repeated cell wins)."""
    frames = []
    for path in sorted(Path(root).rglob(RESULTS_FILE)):
        df = pd.read_csv(path)
        if (
            "experiment" in df
            and (df["experiment"] == experiment).all()
            and list(df.columns) == SCHEMAS[experiment]
        ):
            frames.append(df.assign(_mtime=path.stat().st_mtime))
    if not frames:
        return pd.DataFrame(columns=SCHEMAS[experiment])
    return pd.concat(frames, ignore_index=True)
