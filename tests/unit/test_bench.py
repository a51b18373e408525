"""The bench's own machinery, without measuring anything: its command line, its report, and the check that
the two SEAM scoring styles did equal work."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from seam_exp.bench.__main__ import SECTIONS, parse_args
from seam_exp.bench.jobs import shapes
from seam_exp.bench.report import Report
from seam_exp.bench.rl import with_ratios
from seam_exp.bench.seam import PM_DIFF, RM_DIFF, TOLERANCE, UnequalWork, check_equal_work, floatfmt


def test_command_line_defaults_and_flags():
    args = parse_args([])
    assert args.sections == ["sizes", "batching", "seam", "intervals", "rl"]
    assert args.sizes == ["xs", "s", "m", "l"]
    assert (args.repeats, args.out, args.smollm2_prompts, args.rl_steps) == (
        5,
        "benchmarks/latest.md",
        40,
        None,
    )
    args = parse_args(["--sections", "grid", "--repeats", "3", "--smollm2-prompts", "12", "--out", "x.md"])
    assert (args.sections, args.repeats, args.smollm2_prompts, args.out) == (["grid"], 3, 12, "x.md")


def test_a_bad_section_is_one_line_and_exit_code_2(capsys):
    with pytest.raises(SystemExit) as stop:
        parse_args(["--sections", "sizes,sead"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err == f"error: unknown section 'sead'; valid: {', '.join(SECTIONS)}\n"


def test_the_report_is_rewritten_after_each_section(tmp_path, capsys):
    out = tmp_path / "benchmarks" / "latest.md"
    report = Report(out, on="a test machine", day="2026-01-02")
    assert not out.exists()  # nothing before the first section
    report.add("First", pd.DataFrame({"size": ["xs"], "ms": [1.234]}), ".1f")
    first = out.read_text()
    assert first.startswith("# Benchmarks\n\nMeasured 2026-01-02 on a test machine.\n")
    assert "## First" in first and "1.2 |" in first
    report.add(
        "Second", pd.DataFrame({"PM": ["xs"], "s": [0.5], PM_DIFF: [3.2e-6]}), floatfmt(["PM", "s", PM_DIFF])
    )
    second = out.read_text()
    assert second.startswith(first) and second.index("## First") < second.index("## Second")
    assert "0.50 |" in second and "3.2e-06 |" in second  # a difference stays readable, not 0.00
    assert "## Second" in capsys.readouterr().out  # printed as well


def _row(pm_diff: float, rm_diff: float) -> dict:
    return {"PM": "smollm2_135m", "RM": "xs", PM_DIFF: pm_diff, RM_DIFF: rm_diff}


def test_equal_work_within_the_tolerance_passes():
    check_equal_work([_row(0.0, 0.0), _row(TOLERANCE, TOLERANCE / 2)])


@pytest.mark.parametrize(
    ("pm_diff", "rm_diff", "what"),
    [
        (2e-4, 0.0, "PM log-probs per answer token"),
        (0.0, 1e-3, "RM rewards"),
        (math.nan, 0.0, "PM log-probs"),
    ],
)
def test_unequal_work_stops_with_one_line(pm_diff, rm_diff, what):
    with pytest.raises(UnequalWork) as failure:
        check_equal_work([_row(0.0, 0.0), _row(pm_diff, rm_diff)])
    message = str(failure.value)
    assert "\n" not in message and message.startswith("PM smollm2_135m / RM xs: ") and what in message


def test_rl_rows_get_their_speed_over_trl():
    df = with_ratios([{"arm": "rloo", "samples/s": 300.0}, {"arm": "trl_rloo", "samples/s": 200.0}])
    assert df["samples/s over TRL RLOO"].tolist() == [1.5, 1.0]
    failed = with_ratios([{"arm": "rloo", "error": "boom"}, {"arm": "trl_rloo", "error": "boom"}])
    assert "samples/s over TRL RLOO" not in failed


def test_the_jobs_section_compares_the_launchers_shape_with_one_job_on_every_core():
    assert shapes(2) == [(2, 1), (1, 2)] and shapes(16) == [(16, 1), (1, 16)]
    assert shapes(1) == [(1, 1)]  # one core: nothing to compare
    assert parse_args(["--sections", "jobs", "--jobs-sizes", "xs,s"]).jobs_sizes == ["xs", "s"]
