"""The preference world: determinism, disjoint splits, gold reward properties, labeler, tokenizer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seam_exp.data.layout import SPLITS
from seam_exp.world.build import generate_world_data
from seam_exp.world.facts import FactTable
from seam_exp.world.families import make_families
from seam_exp.world.gold import gold_components, gold_reward
from seam_exp.world.labeler import HumanLabeler, agreement_with_gold
from seam_exp.world.responses import KINDS, make_response, parse_kind
from tests.conftest import tiny_world_config

# Every kind but the reference itself and its terse phrasing (which can tie it, e.g. a sorted list).
CORRUPTIONS = tuple(k for k in KINDS if k not in ("correct", "terse"))


def _as_lists(data):
    return {name: ds.to_list() for name, ds in data.items()}


def test_same_seed_same_world_different_seed_different_world():
    a, texts_a = generate_world_data(tiny_world_config(seed=7))
    b, texts_b = generate_world_data(tiny_world_config(seed=7))
    c, _ = generate_world_data(tiny_world_config(seed=8))
    assert _as_lists(a) == _as_lists(b)
    assert texts_a == texts_b
    assert _as_lists(a)["prompts"] != _as_lists(c)["prompts"]
    assert _as_lists(a)["rm"] != _as_lists(c)["rm"]


def test_splits_are_disjoint_by_prompt_and_pairs_stay_in_their_split(tiny_world):
    prompts = tiny_world.data["prompts"].to_pandas()
    assert prompts["question"].is_unique
    questions = {s: set(prompts.loc[prompts["split"] == s, "question"]) for s in SPLITS}
    for i, s in enumerate(SPLITS):
        assert questions[s], f"split {s} is empty"
        for t in SPLITS[i + 1 :]:
            assert not questions[s] & questions[t], f"{s} and {t} share prompts"
    split_of = dict(zip(prompts["prompt_id"], prompts["split"], strict=True))
    for name in ("sft", "rm", "rm_test", "rl", "eval"):
        assert {split_of[i] for i in tiny_world.data[name]["prompt_id"]} == {name}


def test_every_family_has_similar_questions(tiny_world):
    # Contrast retrieval needs near-misses: questions of a family share all but a few words.
    prompts = tiny_world.data["prompts"].to_pandas()
    for family, group in prompts.groupby("family"):
        words = [set(q.split()) for q in group["question"]]
        best = [
            max(len(w & v) / len(w | v) for j, v in enumerate(words) if j != i) for i, w in enumerate(words)
        ]
        assert np.median(best) >= 0.5, family


@pytest.mark.parametrize(
    "family_name", ["arithmetic", "comparison", "counting", "conversion", "lookup", "sorting"]
)
def test_reference_beats_every_corruption_of_it(family_name):
    facts = FactTable(20, seed=3)
    families = make_families(
        ["arithmetic", "comparison", "counting", "conversion", "lookup", "sorting"], facts
    )
    fam = families[family_name]
    other_fam = families["lookup" if family_name != "lookup" else "arithmetic"]
    rng = np.random.default_rng(0)
    for _ in range(40):
        p = fam.sample(rng, facts)
        other = other_fam.sample(rng, facts)
        g_ref = gold_reward(fam, p, p.reference)
        assert gold_components(fam, p, p.reference)["correct"] == 1.0
        for kind in CORRUPTIONS:
            y = make_response(kind, p, fam, rng, other=other)
            assert gold_reward(fam, p, y) < g_ref, (kind, p.question, y)
            content, _ = parse_kind(kind)
            if content != "correct":  # a wrong answer in any style scores below the same style's right one
                right = make_response(kind.replace(content, "correct").replace("correct/", ""), p, fam, rng)
                assert gold_components(fam, p, y)["correct"] < 1.0 or content == "off_topic"
                assert gold_reward(fam, p, y) < gold_reward(fam, p, right), (kind, y, right)


def test_verbosity_and_rambling_lower_gold_but_keep_correctness(tiny_world):
    rng = np.random.default_rng(1)
    for pid in list(tiny_world.problems)[:60]:
        p = tiny_world.problems[pid]
        fam = tiny_world.families[p.family]
        for kind in ("verbose", "rambling"):
            y = make_response(kind, p, fam, rng)
            comps = tiny_world.components(pid, y)
            assert comps["correct"] == 1.0
            assert comps["verbosity"] > 0
            assert tiny_world.gold([pid], [y])[0] < tiny_world.gold([pid], [p.reference])[0]
        # Saying the same thing twice is penalised even when length alone would not be.
        assert gold_components(fam, p, p.reference + " " + p.reference)["repetition"] > 0


def test_no_style_gives_away_correctness():
    # Styles are drawn independently of content, so an RM cannot learn "verbose means right".
    data, _ = generate_world_data(tiny_world_config(prompts_per_family=300))
    df = data["rm"].to_pandas()
    kinds = pd.concat([df["chosen_kind"], df["rejected_kind"]])
    parsed = pd.DataFrame([parse_kind(k) for k in kinds], columns=["content", "style"])
    share_correct = parsed.assign(ok=parsed["content"] == "correct").groupby("style")["ok"].mean()
    assert set(share_correct.index) == {"plain", "terse", "verbose", "malformed", "rambling"}
    assert share_correct.max() - share_correct.min() < 0.12, share_correct


def test_labeler_agreement_with_gold_rises_as_tau_falls(tiny_world):
    ga = np.array(tiny_world.data["rm"]["gold_chosen"])
    gb = np.array(tiny_world.data["rm"]["gold_rejected"])
    agreement = [agreement_with_gold(HumanLabeler(tau), ga, gb, seed=0) for tau in (3.0, 1.0, 0.3, 0.05)]
    assert all(x < y for x, y in zip(agreement, agreement[1:], strict=False)), agreement
    assert agreement[-1] > 0.95


def test_labeler_ties_and_noise():
    rng = np.random.default_rng(0)
    assert HumanLabeler(0.3, tie_policy="drop").label(1.0, 1.0, rng) is None
    half = HumanLabeler(0.3, tie_policy="half").label(1.0, 1.0, rng)
    assert half.is_tie and half.target == 0.5
    flips = [HumanLabeler(0.001, noise=0.3).label(2.0, 1.0, rng).a_preferred for _ in range(4000)]
    assert abs((1 - np.mean(flips)) - 0.3) < 0.03
    with pytest.raises(ValueError, match="tie_policy"):
        HumanLabeler(0.3, tie_policy="coin")


def test_tokenizer_round_trips_every_split(tiny_world):
    tok = tiny_world.tokenizer
    fields = {
        "prompts": ("prompt", "reference", "alt_reference"),
        "sft": ("prompt", "response"),
        "rm": ("chosen", "rejected"),
        "rm_test": ("chosen", "rejected"),
        "rl": ("prompt",),
        "eval": ("prompt",),
    }
    for split, cols in fields.items():
        for row in tiny_world.data[split]:
            for col in cols:
                ids = tok(row[col], add_special_tokens=False)["input_ids"]
                assert tok.decode(ids) == row[col], (split, col)
    assert tok.pad_token_id != tok.eos_token_id
    # Digits are single tokens, so numbers are spelt out.
    assert tok.tokenize("12345")[-5:] == list("12345")


def test_bad_world_config_is_a_clear_error():
    with pytest.raises(ValueError, match="sum to 1"):
        tiny_world_config(split_fractions={"sft": 0.5, "rm": 0.5, "rm_test": 0.5, "rl": 0.1, "eval": 0.1})
    with pytest.raises(ValueError, match="unknown task family 'poetry'"):
        make_families(["poetry"], FactTable(3, 0))
