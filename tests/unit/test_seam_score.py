"""SEAM math against values worked out by hand from the formula in docs/seam.md."""

import math

import numpy as np
import pandas as pd
import pytest

from seam_exp.seam.formula import (
    SeamConfig,
    hinge_excess,
    least_seamless,
    length_normalized_logp,
    pm_weights,
    rank_discordance,
    rm_misjudgement,
    seam_score,
    seam_table,
    unseamlessness,
)

# One prompt, k = 3. With alpha = 1: l = logp / length = [-2, -2, -3].
LOGP = [-10.0, -20.0, -6.0]
LENGTHS = [5, 10, 2]
R_WORSE = [0.5, 1.0, 2.0]
R_REF = 1.0  # hard misjudgements: 0.5 < 1 -> 0; 1.0 >= 1 (tie) -> 1; 2.0 >= 1 -> 1
E = math.exp


def test_length_normalisation_alpha_one_and_zero():
    assert length_normalized_logp(LOGP, LENGTHS, 1.0) == pytest.approx([-2, -2, -3])
    assert length_normalized_logp(LOGP, LENGTHS, 0.0) == pytest.approx(LOGP)
    assert length_normalized_logp([-8.0], [4], 0.5) == pytest.approx([-4.0])  # 4 ** 0.5 = 2


def test_hard_seam_alpha_one():
    # w = [e^-2, e^-2, e^-3] / Z; SEAM = w_2 + w_3 = (e^-2 + e^-3) / (2 e^-2 + e^-3)
    expected = (E(-2) + E(-3)) / (2 * E(-2) + E(-3))
    assert seam_score(LOGP, LENGTHS, R_WORSE, R_REF) == pytest.approx(expected)


def test_hard_seam_alpha_zero_uses_raw_logp():
    expected = (E(-20) + E(-6)) / (E(-10) + E(-20) + E(-6))
    assert seam_score(LOGP, LENGTHS, R_WORSE, R_REF, alpha=0.0) == pytest.approx(expected)


def test_temperature_flattens_weights():
    # l / T = [-1, -1, -1.5]
    expected = (E(-1) + E(-1.5)) / (2 * E(-1) + E(-1.5))
    assert seam_score(LOGP, LENGTHS, R_WORSE, R_REF, temperature=2.0) == pytest.approx(expected)


def test_soft_misjudgement_and_seam():
    # m_i = sigmoid((r_i - r_ref) / 0.5) = sigmoid([-1, 0, 2])
    m = [1 / (1 + E(1)), 0.5, 1 / (1 + E(-2))]
    assert rm_misjudgement(R_WORSE, R_REF, mode="soft", tau=0.5) == pytest.approx(m)
    z = 2 * E(-2) + E(-3)
    w = [E(-2) / z, E(-2) / z, E(-3) / z]
    expected = sum(wi * mi for wi, mi in zip(w, m, strict=True))
    assert seam_score(LOGP, LENGTHS, R_WORSE, R_REF, mode="soft", tau=0.5) == pytest.approx(expected)


def test_hard_misjudgement_counts_ties():
    assert rm_misjudgement(R_WORSE, R_REF).tolist() == [0.0, 1.0, 1.0]


def test_uniform_ablation_is_mean_misjudgement():
    assert seam_score(LOGP, LENGTHS, R_WORSE, R_REF, weighting="uniform") == pytest.approx(2 / 3)
    assert pm_weights([5.0, -3.0, 0.0, 1.0], uniform=True) == pytest.approx([0.25] * 4)


def test_weights_are_stable_for_large_logp():
    w = pm_weights([-1000.0, -1001.0])
    assert w == pytest.approx([1 / (1 + E(-1)), E(-1) / (1 + E(-1))])


def test_batched_equals_per_prompt():
    logp = np.array([LOGP, [-3.0, -1.0, -2.0]])
    lengths = np.array([LENGTHS, [1, 1, 1]])
    r_worse = np.array([R_WORSE, [0.0, 0.0, 5.0]])
    r_ref = np.array([R_REF, 1.0])
    batched = seam_score(logp, lengths, r_worse, r_ref)
    assert batched.shape == (2,)
    for p in range(2):
        assert batched[p] == pytest.approx(seam_score(logp[p], lengths[p], r_worse[p], r_ref[p]))
    # second prompt: only the third answer (l = -2) is misjudged
    assert batched[1] == pytest.approx(E(-2) / (E(-3) + E(-1) + E(-2)))


def test_rank_discordance_hand_case():
    # Candidates 0..3 (0 = reference). l = [-1, -2, -2, -3], r = [3, 1, 2, 2].
    # (0,1) (0,2) (0,3): both orderings put 0 first -> concordant. (1,2): l tie -> excluded.
    # (1,3): l says 1 > 3, r says 1 < 3 -> discordant. (2,3): r tie -> excluded.  => 1 / 4.
    assert rank_discordance([-1, -2, -2, -3], [3, 1, 2, 2]) == pytest.approx(0.25)
    assert rank_discordance([1, 2, 3], [3, 2, 1]) == pytest.approx(1.0)
    assert rank_discordance([1, 2, 3], [10, 20, 30]) == pytest.approx(0.0)
    assert rank_discordance([1, 1, 1], [1, 2, 3]) == 0.0  # no comparable pair
    batched = rank_discordance([[-1, -2, -2, -3], [1, 2, 3, 4]], [[3, 1, 2, 2], [4, 3, 2, 1]])
    assert batched == pytest.approx([0.25, 1.0])


def _long_table() -> pd.DataFrame:
    rows = [
        # prompt "a": the module-level example, reference logp -4 over 2 tokens
        ("a", 0, True, -4.0, 2, 1.0),
        ("a", 1, False, LOGP[0], LENGTHS[0], R_WORSE[0]),
        ("a", 2, False, LOGP[1], LENGTHS[1], R_WORSE[1]),
        ("a", 3, False, LOGP[2], LENGTHS[2], R_WORSE[2]),
        # prompt "b": k = 2
        ("b", 0, True, -1.0, 1, 0.0),
        ("b", 1, False, -2.0, 1, 1.0),
        ("b", 2, False, -3.0, 1, -1.0),
    ]
    df = pd.DataFrame(
        rows, columns=["prompt_id", "candidate_index", "is_reference", "logp", "length", "reward"]
    )
    return df.sample(frac=1.0, random_state=0)  # row order must not matter


def test_table_matches_array_functions():
    cfg = SeamConfig(alpha=1.0, temperature=2.0, mode="soft", tau=0.5)
    out = seam_table(_long_table(), cfg)
    assert out["prompt_id"].tolist() == ["a", "b"]
    assert out["k"].tolist() == [3, 2]
    a = out.iloc[0]
    kw = dict(alpha=1.0, temperature=2.0, mode="soft", tau=0.5)
    assert a["seam"] == pytest.approx(seam_score(LOGP, LENGTHS, R_WORSE, R_REF, **kw))
    assert a["seam_uniform"] == pytest.approx(
        seam_score(LOGP, LENGTHS, R_WORSE, R_REF, **kw, weighting="uniform")
    )
    # over reference + worse answers, with the same length penalty: l = [-2, -2, -2, -3]
    l_all = length_normalized_logp([-4.0, *LOGP], [2, *LENGTHS], alpha=1.0)
    assert a["rank_discordance"] == pytest.approx(rank_discordance(l_all, [R_REF, *R_WORSE]))
    assert a["l"] == pytest.approx([-2, -2, -3])
    assert a["ref_l"] == pytest.approx(-2.0)
    assert a["candidate_index"] == [1, 2, 3]
    for _, row in out.iterrows():  # the list columns recompute the scores by hand
        assert row["seam"] == pytest.approx(np.dot(row["weight"], row["misjudgement"]))
        assert row["seam_uniform"] == pytest.approx(np.mean(row["misjudgement"]))
        assert sum(row["weight"]) == pytest.approx(1.0)
    # prompt b by hand: l = [-2, -3], /T -> [-1, -1.5]; m = sigmoid([1, -1] / 0.5)
    w = [E(-1) / (E(-1) + E(-1.5)), E(-1.5) / (E(-1) + E(-1.5))]
    m = [1 / (1 + E(-2)), 1 / (1 + E(2))]
    assert out.iloc[1]["seam"] == pytest.approx(w[0] * m[0] + w[1] * m[1])
    # b: l_all = [-1, -2, -3], r_all = [0, 1, -1]: pairs (0,1) disc, (0,2) conc, (1,2) conc -> 1/3
    assert out.iloc[1]["rank_discordance"] == pytest.approx(1 / 3)


def test_table_uniform_weighting_and_config_recorded():
    out = seam_table(_long_table(), SeamConfig(weighting="uniform"))
    assert out["seam"].tolist() == pytest.approx(out["seam_uniform"].tolist())
    assert out.attrs["seam_config"]["weighting"] == "uniform"


def test_table_rejects_missing_column():
    with pytest.raises(ValueError, match="reward"):
        seam_table(_long_table().drop(columns="reward"))


def test_table_rejects_prompt_without_single_reference():
    df = _long_table()
    two_refs = pd.concat([df, pd.DataFrame([("b", 7, True, -1.0, 1, 0.0)], columns=df.columns)])
    with pytest.raises(ValueError, match="'b'"):
        seam_table(two_refs)
    no_ref = df[~((df.prompt_id == "a") & df.is_reference)]
    with pytest.raises(ValueError, match="'a'"):
        seam_table(no_ref)


def test_bad_arguments():
    with pytest.raises(ValueError):
        seam_score(LOGP, LENGTHS, R_WORSE, R_REF, mode="medium")
    with pytest.raises(ValueError):
        seam_score(LOGP, LENGTHS, R_WORSE, R_REF, temperature=0.0)
    with pytest.raises(ValueError):
        seam_score(LOGP, [5, 0, 2], R_WORSE, R_REF)  # zero length with alpha = 1
    with pytest.raises(ValueError):
        seam_score([-1.0, float("nan"), -2.0], LENGTHS, R_WORSE, R_REF)
    with pytest.raises(ValueError):
        SeamConfig(weighting="rm")


# ------------------------------------------------------------------------ the paper's formula (Eq. 2-3)


def test_paper_formula_by_hand():
    # eps = max(r - r_ref, 0) = [0, 0, 1]: the tie earns no hinge, unlike the hard misjudgement.
    assert hinge_excess(R_WORSE, R_REF).tolist() == [0.0, 0.0, 1.0]
    # paper: sum l_i eps_i = -3 * 1; paper_prob: sum exp(l_i) eps_i = e^-3
    assert seam_score(LOGP, LENGTHS, R_WORSE, R_REF, formula="paper") == pytest.approx(-3.0)
    assert seam_score(LOGP, LENGTHS, R_WORSE, R_REF, formula="paper_prob") == pytest.approx(E(-3))
    # without the length penalty l = log P: -6 * 1 and e^-6
    assert seam_score(LOGP, LENGTHS, R_WORSE, R_REF, formula="paper", alpha=0.0) == pytest.approx(-6.0)
    assert seam_score(LOGP, LENGTHS, R_WORSE, R_REF, formula="paper_prob", alpha=0.0) == pytest.approx(E(-6))
    # uniform keeps each formula's sign: -(sum eps) and +(sum eps)
    assert seam_score(LOGP, LENGTHS, R_WORSE, R_REF, formula="paper", weighting="uniform") == -1.0
    assert seam_score(LOGP, LENGTHS, R_WORSE, R_REF, formula="paper_prob", weighting="uniform") == 1.0


def test_paper_formula_signs_and_hinge_at_zero():
    # An RM that ranks every worse answer at or below the reference scores exactly 0 under both.
    for formula in ("paper", "paper_prob"):
        assert seam_score(LOGP, LENGTHS, [0.5, 1.0, 0.9], R_REF, formula=formula) == 0.0
    rng = np.random.default_rng(0)
    logp, r_worse = -rng.uniform(1, 30, size=(50, 4)), rng.normal(size=(50, 4))
    lengths, r_ref = rng.integers(1, 10, size=(50, 4)), rng.normal(size=50)
    assert (seam_score(logp, lengths, r_worse, r_ref, formula="paper") <= 0).all()
    assert (seam_score(logp, lengths, r_worse, r_ref, formula="paper_prob") >= 0).all()
    # the further the RM ranks a worse answer above the reference, the less seamless under both
    worse, better = [0.5, 1.0, 3.0], [0.5, 1.0, 2.0]
    for formula in ("paper", "paper_prob"):
        a, b = (seam_score(LOGP, LENGTHS, r, R_REF, formula=formula) for r in (worse, better))
        assert unseamlessness(a, formula) > unseamlessness(b, formula)


def test_least_seamless_picks_the_same_prompts_whichever_sign():
    ids = np.arange(100, 120)
    scores = np.random.default_rng(1).uniform(size=20)
    high = least_seamless(ids, scores, "normalized", 0.25)
    assert len(high) == 5 and set(high) == set(ids[np.argsort(scores)[-5:]])
    assert set(least_seamless(ids, -scores, "paper", 0.25)) == set(high)
    assert set(least_seamless(ids, scores, "paper_prob", 0.25)) == set(high)
    assert len(least_seamless(ids, scores, "paper", 0.0)) == 0
    assert set(least_seamless(ids, scores, "paper", 1.0)) == set(ids)


def test_least_seamless_breaks_ties_by_seed_not_by_id():
    ids, scores = np.arange(40), np.zeros(40)  # all tied
    picks = [set(least_seamless(ids, scores, "normalized", 0.25, seed=s)) for s in range(3)]
    assert picks[0] != picks[1] and len(picks[0]) == 10
    assert picks[0] != set(range(10)) and picks[0] != set(range(30, 40))
    assert set(least_seamless(ids, scores, "normalized", 0.25, seed=0)) == picks[0]
    with pytest.raises(ValueError, match="unknown seam formula"):
        least_seamless(ids, scores, "gpt", 0.2)


def test_table_of_the_paper_formula_matches_its_terms():
    out = seam_table(_long_table(), SeamConfig(formula="paper"))
    a = out.iloc[0]
    assert a["misjudgement"] == [0.0, 0.0, 1.0] and a["weight"] == pytest.approx([-2, -2, -3])
    assert a["seam"] == pytest.approx(-3.0) and a["seam_uniform"] == pytest.approx(-1.0)
