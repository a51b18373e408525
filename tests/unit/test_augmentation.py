"""Augmentation arms, the augmented rows and the cache keys of augmented models (docs/augmentation.md)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from datasets import Dataset
from hydra import compose, initialize_config_dir

from seam_exp.augmentation.arms import parse_arm, selected_instructions
from seam_exp.augmentation.data import preference_rows, sft_rows
from seam_exp.cli import check_config
from seam_exp.models.datamodule import TrainingDataModule
from seam_exp.models.train import sft_policy
from seam_exp.selection.filters import parse_method
from seam_exp.utils.cache import ArtifactCache
from seam_exp.utils.checks import BadValue
from seam_exp.utils.config import CONF_DIR

SEAM = parse_method("seam:contrast:paper")


def test_arm_names_round_trip_and_say_what_they_augment():
    for name in ("original", "seam:pm", "random:rm", "full:both"):
        assert parse_arm(name).name == name
    assert (parse_arm("seam:pm").augments_pm, parse_arm("seam:pm").augments_rm) == (True, False)
    assert (parse_arm("full:both").augments_pm, parse_arm("full:both").augments_rm) == (True, True)
    assert not parse_arm("original").augments_pm and not parse_arm("original").augments_rm
    for bad in ("seam", "seam:policy", "oracle:pm", "original:pm"):
        with pytest.raises(ValueError, match="unknown augmentation arm"):
            parse_arm(bad)


def test_each_arm_augments_exactly_its_instructions():
    # The paper formula is <= 0 and its lowest are the least seamless: ids 0..9 here, 20% of 50.
    ids = np.arange(100, 150)
    table = pd.DataFrame(
        {"prompt_id": ids, "seam:contrast:paper": np.r_[-np.arange(10, 0, -1), np.zeros(40)]}
    )
    seam = selected_instructions(parse_arm("seam:rm"), table, SEAM, 0.2, seed=0)
    assert seam.tolist() == list(range(100, 110))
    random = selected_instructions(parse_arm("random:rm"), table, SEAM, 0.2, seed=0)
    assert len(random) == 10 and len(set(random)) == 10 and set(random) <= set(ids)
    assert random.tolist() == selected_instructions(parse_arm("random:pm"), table, SEAM, 0.2, seed=0).tolist()
    assert random.tolist() != selected_instructions(parse_arm("random:pm"), table, SEAM, 0.2, seed=1).tolist()
    assert selected_instructions(parse_arm("full:both"), table, SEAM, 0.2, seed=0).tolist() == ids.tolist()
    assert len(selected_instructions(parse_arm("original"), table, SEAM, 0.2, seed=0)) == 0


def _candidates(world, pid: int, sources: list[int], extra: list[str] = ()) -> pd.DataFrame:
    """A contrast candidate table of one instruction by hand: its reference, then the references of
    `sources` in retrieval order, then `extra` texts."""
    texts = [world.problems[pid].reference] + [world.problems[s].reference for s in sources] + list(extra)
    provenance = [{"source": "reference"}] + [{"source_prompt_id": s} for s in sources] + [{}] * len(extra)
    return pd.DataFrame(
        {
            "prompt_id": pid,
            "candidate_index": range(len(texts)),
            "is_reference": [True] + [False] * (len(texts) - 1),
            "text": texts,
            "provenance": [json.dumps(p) for p in provenance],
            "gold": world.gold([pid] * len(texts), texts),
        }
    )


def _distinct_sources(world, pid: int, n: int) -> list[int]:
    """n training prompts whose references differ from pid's and from each other."""
    seen, out = {world.problems[pid].reference}, []
    for other in world.data["sft"]["prompt_id"]:
        text = world.problems[int(other)].reference
        if text not in seen:
            seen.add(text)
            out.append(int(other))
        if len(out) == n:
            return out
    raise AssertionError("the tiny world has too few distinct answers")


def test_sft_rows_are_the_first_retrieved_questions_with_their_gold_answers(tiny_world):
    pids = [int(p) for p in tiny_world.data["rl"]["prompt_id"][:3]]
    frames, sources = [], {}
    for pid in pids:
        sources[pid] = _distinct_sources(tiny_world, pid, 8)
        frames.append(_candidates(tiny_world, pid, sources[pid]))
    rows = sft_rows(tiny_world, pd.concat(frames, ignore_index=True), n=5).to_pandas()
    assert len(rows) == 15
    for pid in pids:
        mine = rows[rows["augmented_for"] == pid]
        assert mine["prompt_id"].tolist() == sources[pid][:5]
        assert mine["response"].tolist() == [tiny_world.problems[s].reference for s in sources[pid][:5]]
        assert mine["prompt"].tolist() == [tiny_world.data["prompts"]["prompt"][s] for s in sources[pid][:5]]


def test_pairs_take_the_answers_the_rm_misjudges_most_and_skip_ties(tiny_world):
    pid = int(tiny_world.data["rl"]["prompt_id"][0])
    reference = tiny_world.problems[pid].reference
    sources = _distinct_sources(tiny_world, pid, 7)
    # The last candidate is the reference itself: same gold, a tie the labeler drops, even though the
    # RM ranks it highest of all.
    cands = _candidates(tiny_world, pid, sources, extra=[reference])
    rewards = np.r_[0.0, [-3, 2, -1, 5, 1, -2, 3], 9.0]  # worse answers' margins over the reference
    pairs = preference_rows(tiny_world, cands, rewards, n=5, seed=0).to_pandas()
    assert len(pairs) == 5 and (pairs["augmented_for"] == pid).all()
    worse = [c if c != reference else r for c, r in zip(pairs["chosen"], pairs["rejected"], strict=True)]
    expected_order = [sources[i] for i in (3, 6, 1, 4, 2)]  # margins 5, 3, 2, 1, -1
    assert worse == [tiny_world.problems[s].reference for s in expected_order]
    assert pairs["rm_margin"].tolist() == [5, 3, 2, 1, -1]
    assert ((pairs["chosen"] == reference) | (pairs["rejected"] == reference)).all()
    # The labeler judges by gold: with tau 0.3 a wrong answer loses to the reference almost always.
    assert (pairs["gold_chosen"] >= pairs["gold_rejected"]).mean() >= 0.8


def _smoke_cfg(tmp_path, *overrides):
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose(
            "config",
            overrides=[
                "+experiment=augmentation",
                "scale=smoke",
                f"paths.cache_dir={tmp_path}",
                "pm.sft.max_steps=0",
                *overrides,
            ],
        )


def test_an_augmented_policy_is_keyed_by_its_rows(tiny_world, tmp_path):
    cfg = _smoke_cfg(tmp_path)
    cache = ArtifactCache(tmp_path)
    pid = int(tiny_world.data["rl"]["prompt_id"][0])
    cands = _candidates(tiny_world, pid, _distinct_sources(tiny_world, pid, 6))
    five, three = sft_rows(tiny_world, cands, n=5), sft_rows(tiny_world, cands, n=3)
    first, built = sft_policy(cfg, tiny_world, cache, augmented=five, arm="seam")
    again, built_again = sft_policy(cfg, tiny_world, cache, augmented=five, arm="seam")
    assert built and not built_again and again == first
    assert sft_policy(cfg, tiny_world, cache, augmented=three, arm="seam")[0] != first  # another selection
    assert sft_policy(cfg, tiny_world, cache, augmented=five, arm="random")[0] != first  # another arm


@pytest.mark.parametrize(
    "override, message",
    [
        ("augmentation.arm=seam:policy", "augmentation.arm: unknown augmentation arm"),
        ("augmentation.method=perplexity", "augmentation.method: must be a seam:<variant>:<formula>"),
        ("augmentation.rate=0", "augmentation.rate: must be in (0,1)"),
        ("augmentation.retrieved=3", "augmentation.retrieved: must be >= per_instruction"),
        ("augmentation.pool_splits=[sft,eval]", "augmentation.pool_splits: unknown 'eval'"),
    ],
)
def test_bad_augmentation_values_are_named(tmp_path, override, message):
    with pytest.raises(BadValue, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_config(_smoke_cfg(tmp_path, override))


def test_the_data_module_serves_every_original_and_augmented_row_once_per_epoch_in_a_seeded_order():
    rows = Dataset.from_list([{"prompt": f"q{i}", "response": "a"} for i in range(10)])
    extra = Dataset.from_list([{"prompt": f"x{i}", "response": "b", "augmented_for": i} for i in range(5)])

    def epoch(module):
        return [p for batch in module.train_dataloader() for p in batch]

    augmented = TrainingDataModule(
        rows, lambda b: [r["prompt"] for r in b], batch_size=4, seed=0, augmented=extra
    )
    order = epoch(augmented)
    assert sorted(order) == sorted([f"q{i}" for i in range(10)] + [f"x{i}" for i in range(5)])
    assert order == epoch(augmented)  # seeded: the same order every time
    plain = TrainingDataModule(rows, lambda b: [r["prompt"] for r in b], batch_size=4, seed=0)
    assert sorted(epoch(plain)) == sorted(f"q{i}" for i in range(10))
