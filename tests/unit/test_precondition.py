"""The precondition where it is used: a table that reads a PM or RM axis says when the models' measured
quality (SFT gold, RM held-out accuracy) is not ordered along it, in one wording, under the table and
printed; each experiment's aggregation does so on synthetic rows (no model runs)."""

from __future__ import annotations

import copy
import dataclasses
import math

import pandas as pd
import pytest
from omegaconf import OmegaConf

from seam_exp import experiments
from seam_exp.experiments import (
    augmentation_report,
    mismatch_paper_report,
    saturation_report,
    selection_report,
)
from seam_exp.reporting.precondition import grid_warnings, unordered_axis_warning
from seam_exp.reporting.results import write_results
from seam_exp.reporting.tables import write_table
from tests.unit.test_experiments import _cfg, _synthetic_row

NAN = math.nan


@pytest.mark.parametrize(
    "quality",
    [
        {"xs": 0.1, "s": 0.2, "m": 0.3, "l": 0.4},
        {"l": 0.4, "xs": 0.1, "m": 0.3, "s": 0.2},  # the order of the mapping does not matter
        {"m": 0.5},
        {},
    ],
)
def test_readings_that_grow_along_the_axis_give_no_warning(quality):
    assert unordered_axis_warning(quality, "PM", "SFT gold") is None


def test_an_unordered_pair_is_named_with_its_values():
    warning = unordered_axis_warning({"xs": 1.0, "s": 1.2, "m": 1.770, "l": 1.599}, "PM", "SFT gold")
    assert warning == (
        "WARNING: the PM axis is not ordered by SFT gold: l (1.599) <= m (1.770); "
        "read this axis as model quality, not size."
    )


def test_every_unordered_pair_is_named_and_a_tie_is_not_an_order():
    warning = unordered_axis_warning({"xs": 0.7, "s": 0.7, "m": 0.9, "l": 0.8}, "RM", "RM held-out accuracy")
    assert "by RM held-out accuracy: s (0.700) <= xs (0.700), l (0.800) <= m (0.900);" in warning
    assert "m (0.900) <= s" not in warning


def test_levels_without_a_reading_are_skipped_and_their_neighbours_compared():
    assert unordered_axis_warning({"xs": 0.5, "s": NAN, "m": 0.6}, "PM", "SFT gold") is None
    warning = unordered_axis_warning({"xs": 0.5, "s": NAN, "m": 0.4, "l": None}, "PM", "SFT gold")
    assert ": m (0.400) <= xs (0.500);" in warning
    assert " s (" not in warning and " l (" not in warning


def test_unknown_size_names_sort_after_the_known_ones():
    # by size xs < l < xl(unknown): growing; alphabetically (l, xl, xs) it would not be
    assert unordered_axis_warning({"xl": 0.9, "xs": 0.2, "l": 0.3}, "PM", "SFT gold") is None
    warning = unordered_axis_warning({"xl": 0.1, "xs": 0.2, "l": 0.3}, "PM", "SFT gold")
    assert ": xl (0.100) <= l (0.300);" in warning


def test_numbered_labels_follow_their_numbers_and_an_explicit_order_wins():
    steps = {"SFT 200": 0.5, "SFT 1000": 0.9}  # "SFT 1000" < "SFT 200" as text
    assert unordered_axis_warning(steps, "PM", "SFT gold", named_by="SFT steps") is None
    warning = unordered_axis_warning({**steps, "SFT 0": 0.6}, "PM", "SFT gold", named_by="SFT steps")
    assert warning.endswith(
        ": SFT 200 (0.500) <= SFT 0 (0.600); read this axis as model quality, not SFT steps."
    )
    assert unordered_axis_warning({"l": 1.0, "s": 2.0}, "PM", "SFT gold", order=["l", "s"]) is None


def test_a_table_of_cells_reads_each_axis_by_its_mean_and_each_grid_apart():
    cells = pd.DataFrame(
        {
            "grid": ["size", "size", "size", "paper"],
            "pm_label": ["m", "m", "l", "SFT 800"],
            "rm_label": ["m", "l", "l", "16000 pairs"],
            "sft_gold": [1.0, 1.2, 1.05, 0.1],  # PM m: 1.1 on average, l: 1.05
            "rm_acc_heldout": [0.7, 0.6, 0.8, 0.9],  # RM m: 0.7, l: 0.7
        }
    )
    warnings = grid_warnings(cells)
    assert warnings == [
        "WARNING: the PM (size grid) axis is not ordered by SFT gold: l (1.050) <= m (1.100); "
        "read this axis as model quality, not size.",
        "WARNING: the RM (size grid) axis is not ordered by RM held-out accuracy: l (0.700) <= m (0.700); "
        "read this axis as model quality, not size.",
    ]


def test_notes_go_under_the_markdown_table_not_into_the_csv(tmp_path):
    md = write_table(pd.DataFrame({"PM": ["m"]}), tmp_path, "t", "title", notes=["WARNING: one", "two"])
    written = (tmp_path / "t.md").read_text()
    assert md.endswith("\n\nWARNING: one\n\ntwo") and written.endswith("\n\nWARNING: one\n\ntwo\n")
    assert written.index("| m ") < written.index("WARNING: one")
    assert "WARNING" not in (tmp_path / "t.csv").read_text()


# ---------------------------------------------------------------- each experiment's aggregation


def _sweep(root, name: str, cell: dict[str, str], rows: list[dict]) -> None:
    """A finished sweep of experiment `name` as its jobs leave it: per row, a job folder whose config sets
    the row's cell keys (`cell`: column -> config path) and whose results.csv is a synthetic row with
    those values."""
    base = _cfg(name)
    row_type = experiments.get(name).row
    for i, values in enumerate(rows):
        job = root / name / "scale=smoke" / "multirun_x" / f"job{i}"
        (job / ".hydra").mkdir(parents=True)
        cfg = copy.deepcopy(base)
        for column, path in cell.items():
            if column in values:
                OmegaConf.update(cfg, path, values[column])
        OmegaConf.save(cfg, job / ".hydra" / "config.yaml")
        write_results([dataclasses.replace(_synthetic_row(row_type, base, str(job)), **values)], job)


def test_saturation_table_warns_when_the_pm_axis_is_not_ordered_by_sft_gold(tmp_path, capsys):
    gold, accuracy = {"xs": 1.0, "s": 0.8}, {"xs": 0.6, "s": 0.7}
    rows = [
        {"pm": pm, "rm": rm, "sft_gold": gold[pm], "rm_acc_heldout": accuracy[rm]}
        for pm in gold
        for rm in accuracy
    ]
    _sweep(tmp_path, "saturation", saturation_report.CELL, rows)
    saturation_report.aggregate(tmp_path)
    table = (tmp_path / "figures" / "saturation" / "saturation_smoke_size_ppo.md").read_text()
    warning = (
        "WARNING: the PM axis is not ordered by SFT gold: s (0.800) <= xs (1.000); "
        "read this axis as model quality, not size."
    )
    assert warning in table and "the RM axis" not in table
    assert f"saturation_smoke_size_ppo: {warning}" in capsys.readouterr().out


def test_mismatch_paper_table_states_the_pms_gold_and_warns_on_both_axes(tmp_path, capsys):
    rows = [
        {
            "pm_best": "l",
            "pm_mid": "s",
            "pm_best_gold": 1.599,
            "pm_mid_gold": 1.770,
            "rm": rm,
            "rm_acc_heldout": acc,
        }
        for rm, acc in (("xs", 0.70), ("s", 0.65))
    ]
    _sweep(tmp_path, "mismatch_paper", {}, rows)
    mismatch_paper_report.aggregate(tmp_path)
    table = (tmp_path / "figures" / "mismatch_paper" / "mismatch_paper_smoke.md").read_text()
    assert "PM SFT gold (best / mid)" in table and "1.599 / 1.770" in table
    assert "the PM (mid -> best) axis is not ordered by SFT gold: l (1.599) <= s (1.770);" in table
    assert "the RM axis is not ordered by RM held-out accuracy: s (0.650) <= xs (0.700);" in table
    assert capsys.readouterr().out.count("mismatch_paper_smoke: WARNING") == 2


def test_selection_table_states_each_cells_models_and_warns_on_the_rm_axis(tmp_path, capsys):
    cells = [("m", "m", 1.0, 0.70), ("l", "m", 1.5, 0.70), ("m", "l", 1.0, 0.65), ("l", "l", 1.5, 0.65)]
    rows = [
        {"pm": pm, "rm": rm, "method": "full", "sft_gold": gold, "rm_acc_heldout": acc}
        for pm, rm, gold, acc in cells
    ]
    _sweep(tmp_path, "selection", selection_report.CELL, rows)
    selection_report.aggregate(tmp_path)
    table = (tmp_path / "figures" / "selection" / "selection_smoke_ppo.md").read_text()
    header, *lines = (
        [c.strip() for c in line.split("|")[1:-1]] for line in table.splitlines() if line.startswith("|")
    )
    cell = next(dict(zip(header, line, strict=True)) for line in lines if line[0] == "PM l / RM m")
    assert (cell["PM SFT gold"], cell["RM held-out acc"]) == ("1.500", "0.700")
    assert "the RM axis is not ordered by RM held-out accuracy: l (0.650) <= m (0.700);" in table
    assert "the PM axis" not in table
    assert "selection_smoke_ppo: WARNING: the RM axis" in capsys.readouterr().out


def test_augmentation_warns_on_the_cells_own_pm_not_an_augmented_one(tmp_path):
    rows = [
        {"pm": "m", "rm": "l", "arm": "original", "sft_gold": 1.0},
        {"pm": "l", "rm": "l", "arm": "original", "sft_gold": 0.9},
        # an augmented PM of the (l, l) cell: another model, not the cell's (another seed: nothing pairs)
        {"pm": "l", "rm": "l", "arm": "seam:pm", "kind": "seam", "side": "pm", "seed": 1, "sft_gold": 2.0},
    ]
    _sweep(tmp_path, "augmentation", augmentation_report.CELL, rows)
    augmentation_report.aggregate(tmp_path)
    table = (tmp_path / "figures" / "augmentation" / "augmentation_smoke_ppo.md").read_text()
    assert "the PM axis is not ordered by SFT gold: l (0.900) <= m (1.000);" in table


def test_mismatch_paper_table_pools_each_rm_over_its_trained_models(tmp_path):
    # two trainings of RM l read 0.30 and 0.40 (each narrow over prompts): the pooled line is their mean, its
    # interval over the two trainings, so it spans both; the per-training lines stay in a table of their own
    rows = [
        {
            "pm_best": "l",
            "pm_mid": "s",
            "rm": "l",
            "pm_seed": t,
            "rm_seed": t,
            "mismatch_vs_labeler": value,
            "mismatch_vs_labeler_lo": value - 0.01,
            "mismatch_vs_labeler_hi": value + 0.01,
        }
        for t, value in ((0, 0.30), (1, 0.40))
    ]
    _sweep(tmp_path, "mismatch_paper", {}, rows)
    mismatch_paper_report.aggregate(tmp_path)
    summary = mismatch_paper_report.pooled_over_trainings(mismatch_paper_report.newest_runs(tmp_path))
    line = summary.iloc[0]
    assert len(summary) == 1 and line["models"] == 2 and line["mismatch_vs_labeler"] == pytest.approx(0.35)
    assert line["mismatch_vs_labeler_lo"] < 0.29 and line["mismatch_vs_labeler_hi"] > 0.41
    assert line["interval"] == "trained models and prompts"
    folder = tmp_path / "figures" / "mismatch_paper"
    assert "| 2 / 2 " in (folder / "mismatch_paper_smoke.md").read_text()
    per_training = (folder / "mismatch_paper_smoke_per_training.md").read_text()
    assert "0.300 [0.290, 0.310]" in per_training and "0.400 [0.390, 0.410]" in per_training
