"""`+experiment=seam`: does SEAM (each variant, each ablation) track the true PM/RM mismatch?

One job = one (PM, RM) pair. On the world's RL prompts: k worse answers per prompt from each variant,
the PM's log-probs and the RM's rewards of reference and worse answers, SEAM per prompt under every
configured ablation; the ground truth per prompt from n PM samples judged by RM and gold; Spearman and
Kendall correlations with bootstrap CIs. The run folder gets results.csv (one row per variant x ablation),
seam_prompts.csv (per-prompt scores and ground truth: the scatter plots), seam_candidates.parquet (every
candidate with text, provenance, gold, log-prob, length, reward) and seam_tables.parquet (seam_table of
the base setting: weights and misjudgements per candidate).
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pandas as pd
from omegaconf import DictConfig
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

from seam_exp.experiments.world import world_from
from seam_exp.models.factory import build_policy, pretrained_tokenizer
from seam_exp.models.train import load_policy, load_reward, policy_key, sft_policy, trained_reward
from seam_exp.reporting.results import write_results
from seam_exp.reporting.tables import to_markdown
from seam_exp.seam.ablations import ablation_scores, seam_config
from seam_exp.seam.builders import make_builder
from seam_exp.seam.candidates import build_candidates
from seam_exp.seam.ground_truth import split_half_reliability, true_mismatch
from seam_exp.seam.pipeline import cached_pm_scores, cached_samples, validation_rows
from seam_exp.seam.score import seam_table
from seam_exp.seam.scorer import prompt_format_of, rm_scores
from seam_exp.utils.config import to_container
from seam_exp.utils.runtime import cache_from, output_dir, set_threads

log = logging.getLogger(__name__)
PROMPTS_FILE, CANDIDATES_FILE, TABLES_FILE = (
    "seam_prompts.csv",
    "seam_candidates.parquet",
    "seam_tables.parquet",
)


def _weights_file(folder: Path) -> Path:
    return (
        folder / "model" / "model.safetensors"
        if (folder / "model").is_dir()
        else folder / "model.safetensors"
    )


def _checkpoint_id(folder: Path) -> dict:
    # Content, not path, identifies a checkpoint: a retrained policy at the same path is a new policy.
    weights = _weights_file(folder)
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16] if weights.is_file() else "unknown"
    return {"checkpoint": str(folder.resolve()), "content": digest}


def load_checkpoint(folder: Path):
    """A policy checkpoint in either layout: <folder>/{model,tokenizer}/ (cached SFT artifacts) or one
    folder holding both (what rl_finetune writes to <run dir>/policy with rl.save_policy=true)."""
    if not folder.is_dir():
        raise FileNotFoundError(f"seam.policy.checkpoint: no folder at {folder}")
    if (folder / "model").is_dir():
        return load_policy(folder)
    model = AutoModelForCausalLM.from_pretrained(str(folder))
    return model.eval(), PreTrainedTokenizerFast.from_pretrained(str(folder))


def load_pm(cfg: DictConfig, world, cache):
    """(model, tokenizer, policy label, identity for cache keys) of the PM that SEAM weights with."""
    if cfg.seam.policy.source == "rl":
        if not cfg.seam.policy.checkpoint:
            raise ValueError("seam.policy.source=rl needs seam.policy.checkpoint=<folder of an RL policy>")
        folder = Path(cfg.seam.policy.checkpoint)
        model, tok = load_checkpoint(folder)
        return model, tok, "rl", _checkpoint_id(folder)
    if cfg.seam.policy.source != "sft":
        raise ValueError(f"unknown seam.policy.source '{cfg.seam.policy.source}'; valid: sft, rl")
    if cfg.pm.source == "scratch":
        folder, _ = sft_policy(cfg, world, cache)
        model, tok = load_policy(folder)
        return model, tok, "sft", {"sft": policy_key(cfg, world), "artifact": folder.name}
    # A pretrained PM (gguf/hub) is used as shipped: its "SFT policy" is the instruct model itself.
    tok = pretrained_tokenizer(cfg.pm)
    model = build_policy(cfg.pm, tok).eval()
    ident = {k: v for k, v in to_container(cfg.pm).items() if k in ("name", "source", "gguf", "hub_id")}
    return model, tok, "pretrained", ident


def prompt_ids_of(cfg: DictConfig, world) -> list[int]:
    ids = [int(i) for i in world.data[cfg.seam.split]["prompt_id"]]
    if cfg.seam.max_prompts is None or cfg.seam.max_prompts >= len(ids):
        return ids
    # A seeded random subset in split order, not the first n: whatever order the split has.
    pick = np.random.default_rng(cfg.seam.seed).choice(len(ids), cfg.seam.max_prompts, replace=False)
    return [ids[i] for i in sorted(pick)]


def ground_truth_table(cfg, world, cache, pm, pm_tok, fmt, policy_id, rm, rm_tok, ids):
    n = cfg.seam.ground_truth.n_samples
    samples = cached_samples(cache, policy_id, world, pm, pm_tok, fmt, ids, n, cfg.pm.generation, cfg.seed)
    rewards = rm_scores(samples, world, rm, rm_tok)
    gold = world.gold(samples["prompt_id"].tolist(), samples["text"].tolist())
    ids_of = samples["prompt_id"].to_numpy()
    reliability = split_half_reliability(ids_of, samples["sample_index"].to_numpy(), rewards, gold)
    return true_mismatch(ids_of, rewards, gold), reliability


def score_variant(cfg, variant, world, cache, pm, pm_tok, fmt, policy_id, rm, rm_tok, ids):
    """The scored candidate table of one variant and the seconds spent by the PM and the RM on it."""
    builder = make_builder(variant, cfg.seam, world, cache)
    cands, folder = build_candidates(builder, world, ids, cfg.seam.k, cfg.seam.seed, cache)
    pm_part, pm_seconds = cached_pm_scores(
        cache, policy_id, cands, folder.name, world, pm, pm_tok, fmt, cfg.seam.batch_size
    )
    start = time.perf_counter()
    reward = rm_scores(cands, world, rm, rm_tok)
    rm_seconds = time.perf_counter() - start
    scored = cands.merge(pm_part, on=["prompt_id", "candidate_index"], validate="one_to_one")
    scored["reward"] = reward
    return scored, pm_seconds, rm_seconds


def variant_diagnostics(scored: pd.DataFrame, pm_seconds: float, rm_seconds: float, n_prompts: int) -> dict:
    """Per-variant columns of the results row. pm_seconds is the time the PM scores took when they were
    computed (they are cached, so a rerun reports the first run's time); rm_seconds is this run's."""
    worse = scored[~scored["is_reference"]]
    ref_gold = scored.loc[scored["is_reference"]].set_index("prompt_id")["gold"]
    return {
        "k": float(worse.groupby("prompt_id").size().mean()),
        # How often a "worse" answer is not worse by gold: the builder's own error rate.
        "worse_gold_ge_ref": float(
            (worse["gold"].to_numpy() >= ref_gold.loc[worse["prompt_id"]].to_numpy()).mean()
        ),
        "pm_seconds": pm_seconds,
        "rm_seconds": rm_seconds,
        "prompts_per_s": n_prompts / (pm_seconds + rm_seconds),
    }


def run(cfg: DictConfig) -> list[dict]:
    set_threads(cfg.trainer.num_threads)
    world, cache = world_from(cfg), cache_from(cfg)
    pl.seed_everything(cfg.seed)
    ids = prompt_ids_of(cfg, world)
    pm, pm_tok, policy, policy_id = load_pm(cfg, world, cache)
    fmt = prompt_format_of(cfg.pm, pm_tok)
    rm_dir, _ = trained_reward(cfg, world, cache)
    rm, rm_tok = load_reward(rm_dir)
    log.info(
        "SEAM of pm=%s (%s, %s prompts) rm=%s on %d %s prompts",
        cfg.pm.name,
        policy,
        fmt,
        cfg.rm.name,
        len(ids),
        cfg.seam.split,
    )

    per_prompt, reliability = ground_truth_table(
        cfg, world, cache, pm, pm_tok, fmt, policy_id, rm, rm_tok, ids
    )
    per_prompt.insert(1, "family", [world.problems[int(p)].family for p in per_prompt["prompt_id"]])
    ablations = to_container(cfg.seam.ablations)
    base = to_container(cfg.seam)
    columns, extra, scored_all, tables = {}, {}, [], []
    for variant in cfg.seam.variants:
        scored, pm_s, rm_s = score_variant(
            cfg, variant, world, cache, pm, pm_tok, fmt, policy_id, rm, rm_tok, ids
        )
        scores = ablation_scores(scored, base, ablations)
        scores.columns = ["prompt_id", *(f"{variant}:{a}" for a in scores.columns[1:])]
        per_prompt = per_prompt.merge(scores, on="prompt_id", validate="one_to_one")
        columns |= {f"{variant}:{a}": (variant, a) for a in ablations}
        extra[variant] = variant_diagnostics(scored, pm_s, rm_s, len(ids))
        scored_all.append(scored)
        tables.append(seam_table(scored, seam_config(base)[0]).assign(variant=variant))

    out = output_dir()
    out.mkdir(parents=True, exist_ok=True)
    per_prompt.to_csv(out / PROMPTS_FILE, index=False)
    pd.concat(scored_all, ignore_index=True).to_parquet(out / CANDIDATES_FILE)
    pd.concat(tables, ignore_index=True).to_parquet(out / TABLES_FILE)
    bootstrap = cfg.seam.bootstrap
    run_info = {
        "experiment": "seam",
        "scale": cfg.scale.name,
        "pm": cfg.pm.name,
        "rm": cfg.rm.name,
        "seed": cfg.seed,
        "run_dir": str(out),
        "policy": policy,
        "gt_reliability": reliability,
    }
    rows = [
        {**run_info, **r, **extra[r["variant"]]}
        for r in validation_rows(per_prompt, columns, bootstrap.n_boot, bootstrap.level, cfg.seed)
    ]
    df = write_results(rows, out, "seam")
    shown = [
        "variant",
        "ablation",
        "n_gt_prompts",
        "seam_mean",
        "spearman",
        "spearman_lo",
        "spearman_hi",
        "kendall",
        "kendall_lo",
        "kendall_hi",
    ]
    print(f"SEAM vs true mismatch: pm={cfg.pm.name} ({policy}), rm={cfg.rm.name}, scale={cfg.scale.name}")
    print(to_markdown(df[shown]))
    return rows
