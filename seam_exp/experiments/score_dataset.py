"""`+experiment=score_dataset`: SEAM scores of a researcher's own (prompt, chosen answer) data, and the
subset that keeps all but the least seamless (docs/selection.md, "Your own data").

With no input it scores the world's RL prompts and their references; with no PM or RM path it uses the
`pm` and `rm` presets (the world's SFT policy and RM, or pm=smollm2_135m as shipped in its package).
"""

from __future__ import annotations

import logging
from pathlib import Path

from datasets import Dataset
from omegaconf import DictConfig

from seam_exp.experiments import Experiment, prepare
from seam_exp.models.train import load_reward, trained_reward
from seam_exp.reporting.tables import to_markdown
from seam_exp.seam.candidates import make_builder
from seam_exp.seam.candidates.base import build_candidates
from seam_exp.seam.policy import load_pm
from seam_exp.seam.prompt_table import TABLE_SPLIT, PromptTable
from seam_exp.selection.dataset_tool import (
    check_models,
    check_table,
    load_causal_lm,
    load_sequence_rm,
    score_table,
    write_outputs,
)
from seam_exp.selection.prompt_scores import rl_prompt_ids
from seam_exp.utils.config import to_container
from seam_exp.utils.runtime import cache_from, output_dir, set_threads
from seam_exp.utils.table_io import read_table

log = logging.getLogger(__name__)
SUFFIX = {"parquet": ".parquet", "jsonl": ".jsonl", "datasets": ""}


def world_rows(world) -> Dataset:
    """The world's RL prompts with their reference answers, as a table in the default column names."""
    ids = rl_prompt_ids(world)
    return Dataset.from_dict(
        {
            "prompt_id": ids,
            "prompt": [world.problems[i].question for i in ids],
            "chosen": [world.problems[i].reference for i in ids],
        }
    )


def run(cfg: DictConfig) -> Path:
    tool = cfg.dataset_tool
    if tool.input is not None:  # every input check before any model or world is loaded
        data, fmt = read_table(tool.input)
        check_table(data, tool.input, tool.prompt_column, tool.chosen_column)
    check_models(tool.pm_path, tool.rm_path)
    set_threads(cfg.trainer.num_threads)
    cache, world = cache_from(cfg), None
    if tool.input is None or tool.pm_path is None or tool.rm_path is None:
        world, cache = prepare(cfg)
    if tool.input is None:
        data, fmt = world_rows(world), "parquet"
        prompts, chosen = data["prompt"], data["chosen"]
    else:
        prompts, chosen = data[tool.prompt_column], data[tool.chosen_column]
    table = PromptTable(prompts, chosen)

    if tool.pm_path is not None:
        pm, pm_tok = load_causal_lm(tool.pm_path)
        fmt_pm = "chat" if getattr(pm_tok, "chat_template", None) else "world"
    else:
        loaded = load_pm(cfg, world, cache)
        pm, pm_tok, fmt_pm = loaded.model, loaded.tokenizer, loaded.fmt
    if tool.rm_path is not None:
        rm, rm_tok = load_sequence_rm(tool.rm_path)
    else:
        rm, rm_tok = load_reward(trained_reward(cfg, world, cache)[0])

    seam = {**to_container(cfg.seam), "formula": tool.formula}
    seam["contrast"] = {**seam["contrast"], "pool_splits": [TABLE_SPLIT]}  # retrieve from the table itself
    builder = make_builder(tool.variant, DictConfig(seam), table, cache)
    candidates, _ = build_candidates(builder, table, table.prompt_ids, cfg.seam.k, cfg.seam.seed, cache)
    scores = score_table(table, candidates, pm, pm_tok, fmt_pm, rm, rm_tok, seam, tool.rate)

    out = Path(tool.output) if tool.output is not None else output_dir()
    scored_path, kept_path = write_outputs(data, scores, out, fmt, SUFFIX[fmt])
    dropped = int(scores["least_seamless"].sum())
    print(
        f"SEAM ({builder.label}, {tool.formula}) of {len(scores)} prompts: {dropped} least seamless dropped"
    )
    summary = scores[["seam", "ref_perplexity"]].describe().T[["mean", "std", "min", "max"]]
    print(to_markdown(summary.reset_index().rename(columns={"index": "score"})))
    print(f"scored: {scored_path}\nkept:   {kept_path}")
    return out


EXPERIMENT = Experiment(run=run, data=("world", "stack_exchange"))
