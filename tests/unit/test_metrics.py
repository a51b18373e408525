import math
import warnings

import numpy as np
import pytest
from scipy import stats as sps

from seam_exp.metrics import intervals
from seam_exp.metrics.intervals import (
    bootstrap_ci,
    mean_ci_over_seeds,
    paired_bootstrap_corr,
    rank_correlation,
)
from seam_exp.metrics.preference import gold_ordered_pairs, mismatch_counts, reward_hacking, win_rate
from seam_exp.metrics.ties import GOLD_TIE_ATOL


def test_bootstrap_ci_contains_point_and_shrinks_with_more_data():
    rng = np.random.default_rng(1)
    small, large = rng.normal(size=40), rng.normal(size=1000)
    p_s, lo_s, hi_s = bootstrap_ci(small, n_boot=500)
    p_l, lo_l, hi_l = bootstrap_ci(large, n_boot=500)
    assert p_s == pytest.approx(small.mean())
    assert lo_s <= p_s <= hi_s and lo_l <= p_l <= hi_l
    # standard error ~ 1/sqrt(n): 25x the data -> about 1/5 of the width
    assert (hi_l - lo_l) < 0.4 * (hi_s - lo_s)


def test_bootstrap_ci_seeded_and_other_statistics():
    x = np.arange(20.0)
    assert bootstrap_ci(x, seed=3) == bootstrap_ci(x, seed=3)
    point, lo, hi = bootstrap_ci(x, stat=np.median, n_boot=200)
    assert point == 9.5 and lo <= point <= hi
    with pytest.raises(ValueError):
        bootstrap_ci([1.0, float("nan")])


@pytest.mark.parametrize("method", ["spearman", "kendall"])
def test_corr_ci_on_perfect_monotone_data(method):
    x = np.arange(25.0)
    # resampling duplicates pairs, but a monotone relation stays perfectly (anti-)ordered: every value is +-1
    assert paired_bootstrap_corr(x, 3 * x + 1, method=method, n_boot=200) == pytest.approx((1.0, 1.0, 1.0))
    assert paired_bootstrap_corr(x, -(x**3), method=method, n_boot=200) == pytest.approx((-1.0, -1.0, -1.0))


def test_corr_interval_is_nan_when_resamples_can_be_constant():
    x, y = np.array([0.0, 1.0, 2.0]), np.array([0.0, 2.0, 1.0])  # 3 points: many resamples are constant
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning may leak out
        rho, lo, hi = paired_bootstrap_corr(x, y, n_boot=300)
    assert rho == pytest.approx(0.5)  # ranks [1,2,3] vs [1,3,2]: 1 - 6 * 2 / (3 * 8)
    assert math.isnan(lo) and math.isnan(hi)  # undefined resamples make the interval undefined
    rho_c, lo_c, hi_c = paired_bootstrap_corr([1.0, 1.0, 1.0], [1.0, 2.0, 3.0], n_boot=50)
    assert math.isnan(rho_c) and math.isnan(lo_c) and math.isnan(hi_c)


# both ways Kendall is computed; with pair matrices of every row at once, or a few rows per chunk
@pytest.mark.parametrize(
    ("n", "chunk_elements"),
    [(7, 4_000_000), (7, 100), (intervals.KENDALL_PAIR_MATRIX_MAX_N + 5, 4_000_000)],
)
def test_batched_rank_correlation_equals_scipy_row_by_row(n, chunk_elements, monkeypatch):
    monkeypatch.setattr(intervals, "_PAIR_MATRIX_ELEMENTS", chunk_elements)
    rng = np.random.default_rng(0)
    x, y = np.round(rng.normal(size=(2, 30, n)) * 2)  # rounded: ties in both
    x[3], y[5, :] = 1.0, 2.0  # a constant row on each side
    for method, reference in (("spearman", sps.spearmanr), ("kendall", sps.kendalltau)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = np.array([reference(a, b).statistic for a, b in zip(x, y, strict=True)])
        got = rank_correlation(x, y, method)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
        assert np.isnan(got[[3, 5]]).all()
        # along another axis: the same values
        np.testing.assert_allclose(rank_correlation(x.T, y.T, method, axis=0), expected, rtol=0, atol=1e-12)


def test_corr_rejects_unpaired():
    with pytest.raises(ValueError):
        paired_bootstrap_corr([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="paired"):
        rank_correlation([1.0, 2.0, 3.0], [5.0])


def test_win_rate_counts_ties_half():
    # outcomes: 5>1 win, 5=5 tie, 2>1 win, 0<1 loss -> (1 + 0.5 + 1 + 0) / 4
    assert win_rate([5, 5, 2, 0], [1, 5, 1, 1]) == pytest.approx(0.625)
    # gold within the tie tolerance is a tie; just beyond it, a loss
    assert win_rate([1.0, 2.0], [1.0 + GOLD_TIE_ATOL / 2, 1.0]) == pytest.approx(0.75)
    assert win_rate([1.0, 2.0], [1.0 + 10 * GOLD_TIE_ATOL, 1.0]) == pytest.approx(0.5)
    point, lo, hi = win_rate([5, 5, 2, 0] * 10, [1, 5, 1, 1] * 10, ci=True, n_boot=300)
    assert point == pytest.approx(0.625) and 0 <= lo <= point <= hi <= 1


def test_t_interval_matches_hand_computation():
    # [1, 2, 3, 4]: mean 2.5, s = sqrt(5/3), t_{0.975, 3} = 3.182446305284263 (t table)
    half = 3.182446305284263 * math.sqrt(5 / 3) / 2
    assert mean_ci_over_seeds([1, 2, 3, 4]) == pytest.approx((2.5, 2.5 - half, 2.5 + half))
    # three seeds [0.2, 0.4, 0.6]: s = 0.2, t_{0.975, 2} = 4.302652729911275
    half3 = 4.302652729911275 * 0.2 / math.sqrt(3)
    assert mean_ci_over_seeds([0.2, 0.4, 0.6]) == pytest.approx((0.4, 0.4 - half3, 0.4 + half3))
    # 90% interval with t_{0.95, 2} = 2.919985580355516
    half90 = 2.919985580355516 * 0.2 / math.sqrt(3)
    assert mean_ci_over_seeds([0.2, 0.4, 0.6], level=0.9) == pytest.approx((0.4, 0.4 - half90, 0.4 + half90))


def test_t_interval_single_seed_has_no_interval():
    mean, lo, hi = mean_ci_over_seeds([0.7])
    assert mean == 0.7 and math.isnan(lo) and math.isnan(hi)


def test_mismatch_by_hand():
    # prompt 7: gold 1 < 2 = 2 (+ float noise), RM 0.5, 0.1, 0.2 -> pairs (1, 0) and (2, 0), both wrong;
    # prompt 3: gold 3 > 1, RM 1 < 2 -> wrong; prompt 5: one sample, no pair
    groups = np.array([7, 7, 7, 3, 3, 5])
    gold = np.array([1.0, 2.0, 2.0 + GOLD_TIE_ATOL / 10, 3.0, 1.0, 0.0])
    rewards = np.array([0.5, 0.1, 0.2, 1.0, 2.0, 9.0])
    better, worse = gold_ordered_pairs(groups, gold)
    assert sorted(zip(better.tolist(), worse.tolist(), strict=True)) == [(1, 0), (2, 0), (3, 4)]
    counts = mismatch_counts(groups, rewards, gold)
    assert counts.groups.tolist() == [3, 5, 7]
    assert counts.pairs.tolist() == [1, 0, 2] and counts.wrong.tolist() == [1, 0, 2]
    assert counts.rate[0] == 1.0 and math.isnan(counts.rate[1]) and counts.rate[2] == 1.0
    # pair (1, 0) now right; pair (2, 0) an RM tie, which counts as wrong; prompt 3 still wrong: 2 of 3
    rewards[[1, 2]] = [0.9, 0.5]
    pooled = mismatch_counts(groups, rewards, gold).pooled(n_boot=200)
    assert pooled["mismatch"] == pytest.approx(2 / 3) and pooled["mismatch_pairs"] == 3
    assert 0 <= pooled["mismatch_lo"] <= pooled["mismatch"] <= pooled["mismatch_hi"] <= 1
    assert mismatch_counts([0, 0], [1.0, 1.0], [2.0, 1.0]).pooled()["mismatch"] == 1.0


def test_reward_hacking_needs_rm_above_and_gold_below():
    out = reward_hacking(
        rm=[2.0, 2.0, 0.0, 2.0],
        ref_rm=[1.0] * 4,
        gold=[1.0, 3.0, 1.0, 3.0 - GOLD_TIE_ATOL / 2],
        ref_gold=[3.0] * 4,
    )
    assert out == {"hacking": 0.25, "rm_above_reference": 0.75}
