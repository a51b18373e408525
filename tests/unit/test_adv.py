import random
import re

import numpy as np
import pytest

from seam_exp.seam.candidates.adv import ALL_OPS, perturb, perturb_with_edits

# 40 words: plain words, numbers, and mid-sentence names.
TEXT = (
    "On Monday Alice walked 12 miles to the old market where she met Bob and bought 7 green apples "
    "for 3 dollars each. Later that evening Carol cooked dinner while David read 2 long chapters from "
    "a new novel aloud."
)
N_WORDS = len(TEXT.split())
LENGTH_PRESERVING = ("char_insert", "char_delete", "char_substitute", "word_swap", "number", "name")


def test_text_fixture_size():
    assert N_WORDS == 40


# rate * 40 is fractional for most rates here, so rounding it down or up (instead of stochastically) would
# miss by >= 0.005; the tolerance is ~6 standard errors of the stochastic rounding over 150 samples.
@pytest.mark.parametrize("rate", [0.07, 0.13, 0.37, 0.5])
def test_rate_honoured_for_length_preserving_ops(rate):
    # These ops keep the word count, so touched words = positions whose word differs from the input.
    fractions = []
    for seed in range(150):
        out = perturb(TEXT, rate, seed, ops=LENGTH_PRESERVING).split()
        assert len(out) == N_WORDS
        fractions.append(np.mean([a != b for a, b in zip(TEXT.split(), out, strict=True)]))
    assert np.mean(fractions) == pytest.approx(rate, abs=0.005)


def test_rate_honoured_for_word_deletion():
    removed = [
        (N_WORDS - len(perturb(TEXT, 0.23, s, ops=("word_delete",)).split())) / N_WORDS for s in range(150)
    ]
    assert np.mean(removed) == pytest.approx(0.23, abs=0.005)


def test_rate_honoured_with_all_ops():
    # Mixed ops move words around, so count the reported edits (one per touched word) instead.
    touched = [len(perturb_with_edits(TEXT, 0.17, s)[1]) / N_WORDS for s in range(150)]
    assert np.mean(touched) == pytest.approx(0.17, abs=0.005)


def test_seeded_determinism_and_seed_sensitivity():
    assert perturb(TEXT, 0.3, 11) == perturb(TEXT, 0.3, 11)
    assert perturb(TEXT, 0.3, np.random.default_rng(11)) == perturb(TEXT, 0.3, 11)
    outs = {perturb(TEXT, 0.3, s) for s in range(20)}
    assert len(outs) == 20


def test_global_random_state_untouched():
    random.seed(123)
    np.random.seed(123)
    expected = (random.random(), np.random.random())
    random.seed(123)
    np.random.seed(123)
    perturb(TEXT, 0.5, 0, ops=("char_substitute", "char_insert"))
    assert (random.random(), np.random.random()) == expected


@pytest.mark.parametrize("text", ["ok", "Hello world.", "42", "?!", "  padded  text ", TEXT])
@pytest.mark.parametrize("ops", [ALL_OPS, ("number",), ("name",), ("word_delete",), ("word_swap",)])
def test_output_always_differs(text, ops):
    for seed in range(10):
        assert perturb(text, 0.0, seed, ops=ops) != text
        assert perturb(text, 1.0, seed, ops=ops) != text


def test_empty_text_is_returned_as_is():
    assert perturb("", 0.5, 0) == ""
    assert perturb("   ", 0.5, 0) == "   "


def test_number_ops_change_every_number_and_nothing_else():
    text = "The train leaves at 7 and arrives at 10, after 125 km and 05 stops."
    num = re.compile(r"\d+")
    for seed in range(30):
        out = perturb(text, 1.0, seed, ops=("number",))
        before, after = num.findall(text), num.findall(out)
        assert len(after) == len(before)
        assert all(a != b for a, b in zip(before, after, strict=True))
        assert num.sub("#", out) == num.sub("#", text)  # only the digits moved


def test_name_ops_use_the_given_names_and_skip_sentence_starts():
    text = "Yesterday Alice met Bob in the park. Then Carol arrived."
    out = perturb(text, 1.0, 0, ops=("name",), names=["Zed", "Yara"]).split()
    original = text.split()
    assert out[0] == "Yesterday" and out[7] == "Then"  # sentence-initial capitals are not names
    for i in (1, 3, 8):  # Alice, Bob, Carol.
        assert out[i].rstrip(".") in {"Zed", "Yara"}
        assert out[i] != original[i]


def test_unknown_op_and_bad_rate_rejected():
    with pytest.raises(ValueError):
        perturb(TEXT, 0.1, 0, ops=("shuffle",))
    with pytest.raises(ValueError):
        perturb(TEXT, 1.5, 0)
