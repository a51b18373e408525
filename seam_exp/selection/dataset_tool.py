"""SEAM on a researcher's own preference data (docs/selection.md, "Your own data").

Reads a table of (prompt, chosen answer) rows from a Parquet file, a JSONL file or a `datasets` folder,
scores SEAM per row with any causal LM as PM and any one-label sequence-classification RM (local folders),
and writes the scored table (every input column, plus seam, least_seamless and ref_perplexity) and the
kept rows (the least seamless `rate` dropped), in the input's format. Everything that can be wrong with
the inputs is checked before a model is loaded, and both outputs appear together or not at all.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from datasets import Dataset

from seam_exp.errors import UserError
from seam_exp.seam.formula import formula_scores, least_seamless
from seam_exp.seam.prompt_table import PromptTable
from seam_exp.seam.scoring import pm_scores, rm_scores
from seam_exp.selection.prompt_scores import reference_perplexity

OUTPUT_COLUMNS = ("seam", "least_seamless", "ref_perplexity")


def check_table(data: Dataset, path, prompt_column: str, chosen_column: str) -> None:
    for key, column in (("prompt_column", prompt_column), ("chosen_column", chosen_column)):
        if column not in data.column_names:
            raise UserError(
                f"dataset_tool.{key}: no column '{column}' in {path}; columns: {', '.join(data.column_names)}"
            )
    if len(data) == 0:
        raise UserError(f"{path}: the dataset has no rows")
    taken = [c for c in OUTPUT_COLUMNS if c in data.column_names]
    if taken:
        raise UserError(f"{path}: already has a column '{taken[0]}' that the scores would overwrite")


def _model_config(path: str | Path, key: str) -> dict:
    file = Path(path) / "config.json"
    if not file.is_file():
        raise UserError(f"dataset_tool.{key}: {path} is not a model folder (no config.json)")
    return json.loads(file.read_text())


def check_models(pm_path: str | None, rm_path: str | None) -> None:
    if pm_path is not None:
        _model_config(pm_path, "pm_path")
    if rm_path is not None:
        labels = _model_config(rm_path, "rm_path")
        n = labels.get("num_labels", len(labels.get("id2label", {})) or 2)
        if n != 1:
            raise UserError(f"dataset_tool.rm_path: a reward model has one output label; {rm_path} has {n}")


def load_causal_lm(path: str | Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    return AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True).eval(), tokenizer


def load_sequence_rm(path: str | Path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(str(path), local_files_only=True).eval()
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return model, tokenizer


def score_table(
    table: PromptTable, candidates: pd.DataFrame, pm, pm_tok, fmt: str, rm, rm_tok, seam: dict, rate: float
) -> pd.DataFrame:
    """Per prompt of `table`: SEAM (seam["formula"]), whether it is among the `rate` least seamless, and
    the PM's perplexity of the chosen answer."""
    scored = candidates.merge(
        pm_scores(candidates, table, pm, pm_tok, fmt),
        on=["prompt_id", "candidate_index"],
        validate="one_to_one",
    )
    scored["reward"] = rm_scores(candidates, table, rm, rm_tok)
    formula = seam["formula"]
    scores = formula_scores(scored, seam, [formula]).rename(columns={formula: "seam"})
    dropped = set(least_seamless(scores["prompt_id"], scores["seam"].to_numpy(), formula, rate, seam["seed"]))
    scores["least_seamless"] = scores["prompt_id"].isin(dropped)
    return scores.merge(reference_perplexity(scored), on="prompt_id", validate="one_to_one")


def _write(data: Dataset, path: Path, fmt: str) -> None:
    if fmt == "datasets":
        data.save_to_disk(str(path))
    elif fmt == "parquet":
        data.to_parquet(str(path))
    else:
        data.to_json(str(path), lines=True)


def write_outputs(
    data: Dataset, scores: pd.DataFrame, out_dir: Path, fmt: str, suffix: str
) -> tuple[Path, Path]:
    """scored<suffix> (every row, with the scores) and kept<suffix> (rows not least seamless) in out_dir,
    written in a scratch folder beside it and moved in together: an interrupted run leaves neither."""
    scores = scores.sort_values("prompt_id")  # prompt ids are row numbers of `data`
    scored = data
    for column in OUTPUT_COLUMNS:
        values = scores[column].to_numpy()
        scored = scored.add_column(
            column, values.tolist() if values.dtype != np.bool_ else [bool(v) for v in values]
        )
    kept = scored.filter(lambda row: not row["least_seamless"])
    out_dir.mkdir(parents=True, exist_ok=True)
    targets = (out_dir / f"scored{suffix}", out_dir / f"kept{suffix}")
    for target in targets:
        if target.exists():
            raise UserError(f"{target} exists; choose another dataset_tool.output")
    scratch, moved = Path(tempfile.mkdtemp(prefix=".scoring-", dir=out_dir)), []
    try:
        for data_part, target in zip((scored, kept), targets, strict=True):
            _write(data_part, scratch / target.name, fmt)
        for target in targets:
            (scratch / target.name).rename(target)
            moved.append(target)
    except BaseException:
        for target in moved:  # both or neither
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return targets
