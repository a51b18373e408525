"""data=stack_exchange: the paired schema read from a local file into the common splits, disjoint by
question, with the judge as gold."""

from __future__ import annotations

import pytest
from datasets import Dataset
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from seam_exp.data.layout import SPLITS
from seam_exp.errors import UserError
from seam_exp.paper_data.stack_exchange import load_stack_exchange
from seam_exp.utils.cache import ArtifactCache
from seam_exp.utils.config import CONF_DIR
from tests.stack_exchange_data import paired_table


def data_cfg(table_path, **overrides):
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["data=stack_exchange", "data/judge=none"]).data
    cfg.path = str(table_path)
    return OmegaConf.merge(cfg, overrides)


@pytest.fixture
def table_file(tmp_path):
    path = tmp_path / "se.parquet"
    paired_table().to_parquet(path)
    return path


def test_splits_are_disjoint_by_question_and_keep_every_pair(table_file, tmp_path):
    data = load_stack_exchange(data_cfg(table_file), ArtifactCache(tmp_path / "cache"))
    table = paired_table()
    prompts = data.data["prompts"].to_pandas()
    assert prompts["question"].is_unique and set(prompts["question"]) == set(table["question"])
    question_of = dict(zip(prompts["prompt_id"], prompts["question"], strict=True))
    seen = {s: {question_of[i] for i in data.data[s]["prompt_id"]} for s in SPLITS}
    for a in SPLITS:
        for b in SPLITS:
            assert a == b or not seen[a] & seen[b], (a, b)
    for split in ("rm", "rm_test"):  # every pair of its questions, the preferred answer chosen
        mine = table[table["question"].isin(seen[split])]
        got = data.data[split].to_pandas()
        assert sorted(zip(got["chosen"], got["rejected"], strict=True)) == sorted(
            zip(mine["response_j"], mine["response_k"], strict=True)
        )
        assert (got["gold_chosen"] > got["gold_rejected"]).all()
    sft = data.data["sft"].to_pandas()  # each distinct preferred answer of the SFT questions once
    expected = table[table["question"].isin(seen["sft"])].drop_duplicates(["question", "response_j"])
    assert sorted(sft["response"]) == sorted(expected["response_j"])
    eval_rows = data.data["eval"].to_pandas()
    first_answer = table.drop_duplicates("question").set_index("question")["response_j"]
    assert (eval_rows["reference"].to_numpy() == first_answer[eval_rows["question"]].to_numpy()).all()
    assert eval_rows["prompt"].str.startswith("Question: ").all()
    text = table["response_j"].iloc[0]
    assert data.tokenizer.decode(data.tokenizer(text)["input_ids"]) == text


def test_jsonl_and_a_datasets_folder_give_the_same_splits(table_file, tmp_path):
    table = paired_table()
    table.to_json(tmp_path / "se.jsonl", orient="records", lines=True)
    Dataset.from_pandas(table).save_to_disk(str(tmp_path / "se_folder"))
    loaded = [
        load_stack_exchange(data_cfg(p), ArtifactCache(tmp_path / "cache"))
        for p in (table_file, tmp_path / "se.jsonl", tmp_path / "se_folder")
    ]
    for other in loaded[1:]:
        for split in ("prompts", *SPLITS):
            assert other.data[split].to_list() == loaded[0].data[split].to_list()


def test_the_data_is_keyed_by_the_files_content(table_file, tmp_path):
    cache = ArtifactCache(tmp_path / "cache")
    first = load_stack_exchange(data_cfg(table_file), cache)
    assert load_stack_exchange(data_cfg(table_file), cache).path == first.path
    paired_table(seed=1).to_parquet(table_file)  # other rejected answers at the same path
    assert load_stack_exchange(data_cfg(table_file), cache).path != first.path


def test_max_questions_caps_every_split(table_file, tmp_path):
    data = load_stack_exchange(data_cfg(table_file, max_questions=3), ArtifactCache(tmp_path / "cache"))
    for split in ("rl", "eval"):
        assert len(data.data[split]) == 3
    assert len(set(data.data["rm"]["prompt_id"])) == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"columns": {"chosen": "best_answer"}}, "data.columns.chosen: no column 'best_answer'"),
        ({"path": "missing.parquet"}, "data.path: no such file or folder"),
        ({"path": None}, "data.path: data=stack_exchange with source=local needs a file or folder"),
        ({"source": "hub"}, "data.hub_id: cannot load lvwerra/stack-exchange-paired"),
    ],
)
def test_bad_data_is_one_line_and_builds_nothing(table_file, tmp_path, change, message):
    cache_dir = tmp_path / "cache"
    with pytest.raises(UserError, match=message):
        load_stack_exchange(data_cfg(table_file, **change), ArtifactCache(cache_dir))
    assert not list((cache_dir / "stack_exchange").glob("*/MANIFEST.json"))


def test_an_empty_table_is_one_line(tmp_path):
    path = tmp_path / "empty.parquet"
    paired_table().head(0).to_parquet(path)
    with pytest.raises(UserError, match="the dataset has no rows"):
        load_stack_exchange(data_cfg(path), ArtifactCache(tmp_path / "cache"))


def test_without_a_judge_gold_is_a_one_line_error(table_file, tmp_path):
    data = load_stack_exchange(data_cfg(table_file), ArtifactCache(tmp_path / "cache"))
    with pytest.raises(UserError, match="has no judge"):
        data.gold([0], ["an answer"])
