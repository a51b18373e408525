"""Holm's correction, the p-values of the replicate summaries, and how the selection report uses them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from seam_exp.experiments.selection_report import with_tests
from seam_exp.metrics.intervals import MeanEstimate, estimate_over_models, estimate_over_seeds
from seam_exp.metrics.multiple_comparisons import holm
from seam_exp.reporting.seeds import summary_over_seeds


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 of m = 3: x3, x2, x1 -> 0.03, 0.06, 0.04 -> monotone 0.03, 0.06, 0.06
    assert np.allclose(holm([0.04, 0.01, 0.03]), [0.06, 0.03, 0.06])
    assert np.allclose(holm([0.5, 0.6]), [1.0, 1.0])  # capped at 1
    out = holm([0.02, np.nan])  # a missing test neither counts nor gets a p
    assert out[0] == pytest.approx(0.02) and np.isnan(out[1])


def test_p_below_alpha_exactly_when_the_interval_excludes_zero():
    rng = np.random.default_rng(0)
    for _ in range(200):
        values = rng.normal(rng.normal(0, 0.5), 1, size=int(rng.integers(2, 8)))
        models = rng.integers(0, 3, size=values.size)
        for estimate in (estimate_over_seeds(values), estimate_over_models(values, models, 0.1)[0]):
            lo, hi = estimate.interval()
            if np.isnan(lo):
                continue
            assert (estimate.p_value() < 0.05) == (lo > 0 or hi < 0)


def test_no_standard_error_no_test():
    assert np.isnan(MeanEstimate(0.3, float("nan"), float("nan")).p_value())
    assert np.isnan(estimate_over_models([1.0, 2.0], [0, 0])[0].p_value())  # one trained model


def test_the_summary_reports_the_p_of_its_interval():
    runs = pd.DataFrame(
        {"arm": "a", "x": [0.1, 0.3, 0.2, 0.4], "pm_seed": [0, 1, 2, 3], "rm_seed": 0, "seed": 0}
    )
    line = summary_over_seeds(runs, ["arm"], intervals=["x"]).iloc[0]
    estimate, _ = estimate_over_models(runs["x"], list(zip(runs["pm_seed"], runs["rm_seed"], strict=True)))
    assert line["x_p"] == pytest.approx(estimate.p_value()) and line["x_p"] < 0.05


def test_the_primary_is_read_as_it_is_and_every_other_method_holm_corrected_within_its_cell():
    summary = pd.DataFrame(
        {
            "cell": ["A", "A", "A", "A", "B"],
            "method_name": [
                "seam:contrast:paper_prob",
                "random",
                "seam:adv:paper",
                "seam:contrast:paper_prob",
                "random",
            ],
            "rate": [0.2, 0.2, 0.2, 0.4, 0.2],
            "primary": "seam:contrast:paper_prob",
            "gain_over_full_p": [0.03, 0.01, 0.04, 0.02, 0.04],
        }
    )
    out = with_tests(summary)
    primary_at_the_main_rate_only = [True, False, False, False, False]
    assert out["is_primary"].tolist() == primary_at_the_main_rate_only
    # cell A's three others: 0.01, 0.02, 0.04 -> x3, x2, x1 = 0.03, 0.04, 0.04; cell B alone keeps its p
    assert np.allclose(out["p_adjusted"], [0.03, 0.03, 0.04, 0.04, 0.04])
    assert out["holm_over"].tolist() == [0, 3, 3, 3, 1]


def write_history(folder, val_kl, val_gold, gold):
    from seam_exp.rl.run import HISTORY_FILE

    folder.mkdir(parents=True)
    n = len(val_kl)
    pd.DataFrame(
        {
            "step": np.arange(n) * 12,
            "gold": gold,
            "gain": np.asarray(gold) - gold[0],
            "gain_lo": np.nan,
            "gain_hi": np.nan,
            "kl": val_kl,
            "kl_lo": np.nan,
            "kl_hi": np.nan,
            "val_kl": val_kl,
            "val_gold": val_gold,
        }
    ).to_csv(folder / HISTORY_FILE, index=False)
    return str(folder)


def test_kl_matched_gain_pairs_each_method_with_full_of_the_same_replicate_at_the_same_budget(tmp_path):
    from seam_exp.experiments.selection_report import kl_matched_against_full

    runs = []
    for pm_seed in (0, 1):
        # full drifts fast: only its start is within 0.5 nats; the filter stays close and gains
        full = write_history(tmp_path / f"full{pm_seed}", [0, 1.5, 3.0], [1.0, 1.2, 1.1], [2.0, 2.3, 2.1])
        seam = write_history(
            tmp_path / f"seam{pm_seed}", [0, 0.4, 0.9], [1.0, 1.1, 1.3], [2.0, 2.2, 2.4 + pm_seed]
        )
        for method, run_dir in (("full", full), ("seam:adv:paper", seam)):
            runs.append(
                {
                    "cell": "A",
                    "method": method,
                    "method_label": method,
                    "rate": 0.2,
                    "run_dir": run_dir,
                    "pm_seed": pm_seed,
                    "rm_seed": 0,
                    "seed": 0,
                }
            )
    paired = kl_matched_against_full(pd.DataFrame(runs)).set_index(["pm_seed", "budget"])
    # budget 0.5: the seam run's step 12 (val KL 0.4) against full's start; budget 2: its step 24 against
    # full's step 12 (higher validation gold than its start); budget 4: full's step 12 again
    assert paired.loc[(0, 0.5), "gain_over_full"] == pytest.approx(2.2 - 2.0)
    assert paired.loc[(1, 2.0), "gain_over_full"] == pytest.approx(3.4 - 2.3)
    assert paired.loc[(0, 4.0), "gain_over_full"] == pytest.approx(2.4 - 2.3)
    assert set(paired["method"]) == {"seam:adv:paper"}


def test_along_the_run_pools_each_methods_runs_per_step_and_leaves_out_other_drop_rates(tmp_path):
    from seam_exp.experiments.selection_report import trajectories, trajectory_figure, trajectory_table

    def run(name, cell, method, label, rate, mismatch, hacking):
        folder = write_history(tmp_path / name, [0, 0.1, 0.2], [1.0, 1.0, 1.0], [2.0, 2.1, 2.2])
        history = pd.read_csv(f"{folder}/history.csv").assign(mismatch=mismatch, hacking=hacking)
        history.to_csv(f"{folder}/history.csv", index=False)
        return {"cell": cell, "method": method, "method_label": label, "rate": rate, "run_dir": folder}

    gpt = "seam:gpt:paper"
    rows = pd.DataFrame(
        [
            run("full0", "A", "full", "full", np.nan, [0.2, 0.3, 0.4], [0.1, 0.1, 0.2]),
            run("full1", "A", "full", "full", np.nan, [0.2, 0.5, 0.6], [0.1, 0.3, 0.4]),
            run("gpt", "A", gpt, f"{gpt.replace('gpt', 'gpt[scripted]')}", 0.2, [0.1] * 3, [0.1] * 3),
            run("refresh", "B", "refresh:seam", "refresh:seam", np.nan, [0.2, 0.2, 0.2], [0.1, 0.1, 0.1]),
            run("other_rate", "A", "seam:adv:paper", "seam:adv:paper", 0.4, [0.9] * 3, [0.9] * 3),
        ]
        + [{"cell": "A", "method": "full", "method_label": "full", "rate": np.nan, "run_dir": str(tmp_path)}]
    )
    curves = trajectories(rows)
    table = trajectory_table(curves)
    # full first in its cell, methods by their label, the 0.4-rate run another comparison's, a run
    # without a history not counted
    assert list(zip(table["cell"], table["method"], table["runs"], strict=True)) == [
        ("A", "full", 2),
        ("A", "seam:gpt[scripted]:paper", 1),
        ("B", "refresh:seam", 1),
    ]
    full = table.set_index("method").loc["full"]
    assert full[["mismatch @0", "mismatch @12", "mismatch @24"]].tolist() == pytest.approx([0.2, 0.4, 0.5])
    assert full["hacking @24"] == pytest.approx(0.3)
    assert list(table.columns[3:6]) == ["mismatch @0", "mismatch @12", "mismatch @24"]  # mismatch first
    trajectory_figure(curves, "along the run", tmp_path / "along.png")
    assert (tmp_path / "along.png").stat().st_size > 10_000
