"""Augmentation arms, the augmented rows and the cache keys of augmented models (docs/augmentation.md)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from datasets import Dataset
from hydra import compose, initialize_config_dir

from seam_exp.augmentation.arms import compute_control, epoch_matched_steps, parse_arm, selected_instructions
from seam_exp.augmentation.data import neighbour_pairs, preference_rows, retrieved_questions, sft_rows
from seam_exp.cli import check_config
from seam_exp.experiments.augmentation import retrained
from seam_exp.experiments.augmentation_report import (
    did_over_original,
    over_full,
    over_random,
    over_random_families,
)
from seam_exp.models.datamodule import TrainingDataModule
from seam_exp.models.train import metrics_of, sft_policy
from seam_exp.selection.filters import parse_method
from seam_exp.utils.cache import ArtifactCache
from seam_exp.utils.checks import BadValue
from seam_exp.utils.config import CONF_DIR

SEAM = parse_method("seam:contrast:paper")


def test_arm_names_round_trip_and_say_what_they_augment():
    for name in (
        "original",
        "seam:pm",
        "random:rm",
        "full:both",
        "random_families:both",
        "longer:rm",
        "longer_full:pm",
    ):
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
    # longer counts seam's instructions (to train as long as seam does) but adds none of their rows
    assert selected_instructions(parse_arm("longer:pm"), table, SEAM, 0.2, seed=0).tolist() == seam.tolist()
    assert not parse_arm("longer:pm").adds_rows and parse_arm("random_families:pm").adds_rows
    # longer_full counts full's (every instruction), to train as long as full does
    longer_full = selected_instructions(parse_arm("longer_full:both"), table, SEAM, 0.2, seed=0)
    assert longer_full.tolist() == ids.tolist() and not parse_arm("longer_full:both").adds_rows


def test_random_families_draws_in_the_family_mix_seam_picks_but_not_seams_prompts():
    ids = np.arange(100, 160)
    families = np.repeat(["a", "b", "c"], 20)
    # the least seamless (most negative) 12: ten of family a, two of family b
    score = np.zeros(60)
    score[np.r_[0:10, 20:22]] = -np.arange(12, 0, -1)
    table = pd.DataFrame({"prompt_id": ids, "family": families, "seam:contrast:paper": score})
    seam = selected_instructions(parse_arm("seam:both"), table, SEAM, 0.2, seed=0)
    drawn = selected_instructions(parse_arm("random_families:both"), table, SEAM, 0.2, seed=0)
    family_of = dict(zip(ids, families, strict=True))
    assert sorted(family_of[i] for i in drawn) == sorted(family_of[i] for i in seam) == ["a"] * 10 + ["b"] * 2
    assert set(drawn) != set(seam)


def test_epoch_matched_steps_keep_every_original_pass():
    assert epoch_matched_steps(1600, 6378, 0) == 1600
    assert epoch_matched_steps(1600, 6378, 3357) == 2443  # ceil(1600 x 9735 / 6378)
    steps = epoch_matched_steps(1000, 15340, 3300)
    assert steps * 15340 / (15340 + 3300) >= 1000 > (steps - 1) * 15340 / (15340 + 3300)
    with pytest.raises(ValueError, match="cannot be epoch-matched"):
        epoch_matched_steps(100, 0, 5)


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


def test_sft_rows_are_the_first_retrieved_questions_answered_in_the_sft_splits_mix_of_kinds(tiny_world):
    pids = [int(p) for p in tiny_world.data["rl"]["prompt_id"][:20]]
    frames, sources = [], {}
    for pid in pids:
        sources[pid] = _distinct_sources(tiny_world, pid, 8)
        frames.append(_candidates(tiny_world, pid, sources[pid]))
    candidates = pd.concat(frames, ignore_index=True)
    rows = sft_rows(tiny_world, candidates, n=5, seed=0).to_pandas()
    assert len(rows) == 100
    for pid in pids:
        mine = rows[rows["augmented_for"] == pid]
        assert mine["prompt_id"].tolist() == sources[pid][:5]
        assert mine["prompt"].tolist() == [tiny_world.data["prompts"]["prompt"][s] for s in sources[pid][:5]]
    # the SFT split's mix (correct 0.7, terse 0.15, verbose 0.15), not the reference every time
    assert set(rows["kind"]) == set(tiny_world.cfg.sft_mix)
    assert 0.55 <= (rows["kind"] == "correct").mean() <= 0.85
    the_sft_split = tiny_world.data["sft"].to_pandas()
    assert set(rows["kind"]) == set(the_sft_split["kind"])
    terse = rows[rows["kind"] == "terse"]
    references = [tiny_world.problems[int(s)].reference for s in terse["prompt_id"]]
    assert (terse["response"] != pd.Series(references, index=terse.index)).all()  # not the reference
    again = sft_rows(tiny_world, candidates, n=5, seed=0).to_pandas()
    assert again.equals(rows)  # seeded


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
    five, three = sft_rows(tiny_world, cands, n=5, seed=0), sft_rows(tiny_world, cands, n=3, seed=0)
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
        ("augmentation.pool_splits=[sft,rl]", "augmentation.pool_splits: unknown 'rl'"),
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


def test_an_arm_retrains_for_epoch_matched_steps_and_longer_trains_the_original_rows_as_long(
    tiny_world, tmp_path
):
    cfg = _smoke_cfg(tmp_path, "pm.sft.max_steps=2")
    cache = ArtifactCache(tmp_path)
    original, _ = sft_policy(cfg, tiny_world, cache)
    rows_before = metrics_of(original)["rows"]
    pid = int(tiny_world.data["rl"]["prompt_id"][0])
    added = sft_rows(
        tiny_world, _candidates(tiny_world, pid, _distinct_sources(tiny_world, pid, 6)), n=5, seed=0
    )
    steps = epoch_matched_steps(2, rows_before, len(added))
    assert steps > 2

    seam, _ = retrained(
        cfg,
        tiny_world,
        cache,
        parse_arm("seam:pm"),
        "pm.sft.max_steps",
        original,
        added,
        tmp_path / "a.parquet",
    )
    assert metrics_of(seam)["steps"] == steps and metrics_of(seam)["rows"] == rows_before + len(added)
    assert (tmp_path / "a.parquet").is_file()

    longer, _ = retrained(
        cfg,
        tiny_world,
        cache,
        parse_arm("longer:pm"),
        "pm.sft.max_steps",
        original,
        added,
        tmp_path / "b.parquet",
    )
    assert metrics_of(longer)["steps"] == steps and metrics_of(longer)["rows"] == rows_before
    assert longer not in (original, seam) and not (tmp_path / "b.parquet").exists()


def test_the_difference_in_differences_takes_each_arms_gain_over_its_own_start_against_originals():
    lines = []
    for model in range(2):
        for seed in range(2):
            start = 0.2 * model + 0.05 * seed  # what each training and seed gives original's RL
            for arm, kind, own in (
                ("original", "original", 0.0),
                ("seam:pm", "seam", 0.1),
                ("longer:pm", "longer", -0.2),
            ):
                lines.append(
                    {
                        "cell": "c",
                        "arm": arm,
                        "kind": kind,
                        "pm_seed": model,
                        "rm_seed": model,
                        "seed": seed,
                        "gain": start + own,
                    }
                )
    lines.append(
        {"cell": "c", "arm": "seam:pm", "kind": "seam", "pm_seed": 9, "rm_seed": 9, "seed": 0, "gain": 5.0}
    )
    did = did_over_original(pd.DataFrame(lines))
    assert len(did) == 8  # the replicate without an original run has nothing to difference against
    assert np.allclose(did[did["arm"] == "seam:pm"]["did_over_original"], 0.1)
    assert np.allclose(did[did["arm"] == "longer:pm"]["did_over_original"], -0.2)


def test_each_arm_is_read_against_its_own_sides_controls():
    # every arm that adds rows against the original rows trained as long on its side; SEAM and full also against
    # random on its side, SEAM against random_families; the controls themselves against neither
    assert (
        compute_control(parse_arm("seam:both")) == "longer:both"
        and compute_control(parse_arm("random:pm")) == "longer:pm"
    )
    assert compute_control(parse_arm("random_families:both")) == "longer:both"
    assert compute_control(parse_arm("full:rm")) == "longer_full:rm"  # full trains far longer than seam
    assert (
        compute_control(parse_arm("longer:both")) is None and compute_control(parse_arm("original")) is None
    )
    assert compute_control(parse_arm("longer_full:pm")) is None
    assert over_random(parse_arm("seam:rm")) == "random:rm" and over_random(parse_arm("random:rm")) is None
    # SEAM alone against random instructions in its own family mix
    assert over_random_families(parse_arm("seam:pm")) == "random_families:pm"
    assert over_random_families(parse_arm("full:both")) is None
    assert over_random_families(parse_arm("random:both")) is None
    # SEAM alone against every RL instruction augmented, on its side
    assert over_full(parse_arm("seam:rm")) == "full:rm" and over_full(parse_arm("random:both")) is None


def test_pairs_sit_on_the_retrieved_questions_and_never_hold_the_instructions_text(tiny_world):
    pid = int(tiny_world.data["rl"]["prompt_id"][0])
    sources = _distinct_sources(tiny_world, pid, 6)
    candidates = _candidates(tiny_world, pid, sources)
    around = pd.concat(
        [_candidates(tiny_world, s, [o for o in sources if o != s][:4]) for s in sources], ignore_index=True
    )
    rewards = np.random.default_rng(0).normal(size=len(around))
    pairs = neighbour_pairs(tiny_world, candidates, around, rewards, n=5, seed=0).to_pandas()
    assert len(pairs) == 5 and (pairs["augmented_for"] == pid).all()
    assert pairs["prompt_id"].tolist() == sources[:5]  # one pair per retrieved question, in retrieval order
    instruction = tiny_world.problems[pid]
    assert instruction.reference not in set(pairs["chosen"]) | set(pairs["rejected"])
    assert not pairs["prompt"].str.contains(instruction.question, regex=False).any()
    # each pair is its question's own: the question's gold answer against another retrieved question's
    for _, pair in pairs.iterrows():
        assert tiny_world.problems[int(pair["prompt_id"])].reference in (pair["chosen"], pair["rejected"])
    assert retrieved_questions(candidates) == sorted(sources)
