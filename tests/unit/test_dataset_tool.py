"""SEAM on a researcher's own data: any causal LM folder as PM, any one-label RM folder, a Parquet file or a
datasets folder in and the same format out, every column kept; bad inputs are one-line errors that write
nothing (docs/selection.md)."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest
from datasets import Dataset, load_from_disk
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from transformers import LlamaConfig, LlamaForCausalLM, LlamaForSequenceClassification

from seam_exp.errors import UserError
from seam_exp.experiments.score_dataset import run
from seam_exp.utils.config import CONF_DIR

QUESTIONS = [
    "What is the capital of Avaria?",
    "What is the capital of Bolnia?",
    "How many letters are in the word plum?",
    "How many letters are in the word apple?",
    "Sort 3, 1, 2 in increasing order.",
    "Sort 9, 7, 8 in increasing order.",
]
ANSWERS = [
    "The capital is Ravel.",
    "The capital is Tenro.",
    "4 letters.",
    "5 letters.",
    "1, 2, 3.",
    "7, 8, 9.",
]


def _llama(tokenizer, **extra) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id,
        **extra,
    )


@pytest.fixture(scope="module")
def models(tiny_world, tmp_path_factory):
    """A tiny random Llama PM and a one-label Llama RM in Hugging Face format, and a two-label one."""
    root, tok = tmp_path_factory.mktemp("models"), tiny_world.tokenizer
    folders = {}
    for name, model in (
        ("pm", LlamaForCausalLM(_llama(tok))),
        ("rm", LlamaForSequenceClassification(_llama(tok, num_labels=1))),
        ("rm2", LlamaForSequenceClassification(_llama(tok, num_labels=2))),
    ):
        model.save_pretrained(root / name)
        tok.save_pretrained(root / name)
        folders[name] = root / name
    return folders


def _cfg(tmp_path, **tool):
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=[
                "+experiment=score_dataset",
                "scale=smoke",
                f"paths.cache_dir={tmp_path / 'cache'}",
                "seam.k=3",
                *(f"dataset_tool.{k}={v}" for k, v in tool.items()),
            ],
        )
    OmegaConf.resolve(cfg)
    return cfg


def _tool_cfg(tmp_path, models, data_path, **changes):
    """The tool's config for `data_path` with the test table's columns and the tiny PM and RM; `changes`
    replace single settings."""
    tool = {
        "input": data_path,
        "prompt_column": "question",
        "chosen_column": "answer",
        "pm_path": models["pm"],
        "rm_path": models["rm"],
        "variant": "adv",
        "output": tmp_path / "out",
        **changes,
    }
    return _cfg(tmp_path, **tool)


def _table() -> Dataset:
    return Dataset.from_dict(
        {"question": QUESTIONS, "answer": ANSWERS, "source": [f"s{i}" for i in range(6)]}
    )


def _check_outputs(scored: pd.DataFrame, kept: pd.DataFrame) -> None:
    assert list(scored.columns) == [
        "question",
        "answer",
        "source",
        "seam",
        "least_seamless",
        "ref_perplexity",
    ]
    assert scored["question"].tolist() == QUESTIONS and scored["source"].tolist() == [
        f"s{i}" for i in range(6)
    ]
    assert scored["least_seamless"].sum() == round(0.2 * 6)
    assert kept.to_dict("list") == scored[~scored["least_seamless"]].reset_index(drop=True).to_dict("list")
    assert scored["ref_perplexity"].gt(0).all()


@pytest.mark.parametrize("variant", ["adv", "contrast"])
def test_parquet_round_trip_keeps_every_column(models, tmp_path, variant):
    _table().to_parquet(tmp_path / "mine.parquet")
    run(_tool_cfg(tmp_path, models, tmp_path / "mine.parquet", variant=variant))
    _check_outputs(
        pd.read_parquet(tmp_path / "out" / "scored.parquet"),
        pd.read_parquet(tmp_path / "out" / "kept.parquet"),
    )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["kept.parquet", "scored.parquet"]


def test_datasets_folder_round_trip(models, tmp_path):
    _table().save_to_disk(str(tmp_path / "mine"))
    run(_tool_cfg(tmp_path, models, tmp_path / "mine"))
    scored, kept = (load_from_disk(str(tmp_path / "out" / name)).to_pandas() for name in ("scored", "kept"))
    _check_outputs(scored, kept)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing column", "dataset_tool.chosen_column: no column 'chosen' in"),
        ("empty", "the dataset has no rows"),
        ("pm not a model", "dataset_tool.pm_path: .* is not a model folder"),
        ("rm with two labels", "a reward model has one output label; .* has 2"),
        ("unreadable", "cannot be read as parquet"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(models, tmp_path, case, message):
    data = _table() if case != "empty" else _table().select([])
    data.to_parquet(tmp_path / "mine.parquet")
    if case == "unreadable":
        (tmp_path / "mine.parquet").write_bytes(b"not parquet")
    (tmp_path / "empty_folder").mkdir()
    changes = {
        "missing column": {"chosen_column": "chosen"},
        "pm not a model": {"pm_path": tmp_path / "empty_folder"},
        "rm with two labels": {"rm_path": models["rm2"]},
    }.get(case, {})
    with pytest.raises(UserError, match=message):
        run(_tool_cfg(tmp_path, models, tmp_path / "mine.parquet", **changes))
    assert not (tmp_path / "out").exists()


def test_the_command_line_reports_a_bad_input_in_one_line(tmp_path):
    _table().to_parquet(tmp_path / "mine.parquet")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "seam_exp",
            "+experiment=score_dataset",
            "scale=smoke",
            f"dataset_tool.input={tmp_path / 'mine.parquet'}",
            f"paths.outputs={tmp_path / 'outputs'}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "no column 'prompt' in " + str(tmp_path / "mine.parquet") + "; columns: question, answer, source"
        )
    )
