"""The claims ledger: one row per claim of the paper, this project's reading of it from the outputs tree,
and a verdict by one stated rule (docs/claims.md says what each row reads).

Each experiment's report declares the claims it reads (`CLAIMS`, a list of Claim) and a `claims(outputs)`
that returns a Reading per claim and scale it has runs for; `make figures` gathers them into
`outputs/figures/claims.md`, so the ledger can never drift from the runs, and a claim without runs says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from seam_exp.reporting.grid import axis_order
from seam_exp.reporting.plots import plt, save_figure
from seam_exp.reporting.seeds import REPLICATE, summary_over_seeds
from seam_exp.reporting.sweep import SweepGroup
from seam_exp.reporting.tables import format_ci, to_markdown

DEFAULT_SCALE = "default"

RULE = (
    "Verdict rule. Each reading is a mean with a 95% interval over trained models (RL seeds and prompts "
    "inside them; docs/metrics.md, 'Intervals over trained models'). A claim with a direction (the paper's "
    "side of a bound) is **reproduced** when the interval lies on the paper's side, **not reproduced** when "
    "it lies on the other side, and **inconclusive** when it spans the bound. A claim of a level (a range "
    "the paper reports) is reproduced when the point lies in the range, not reproduced when the whole "
    "interval lies outside it, inconclusive otherwise. A claim of no change ('flat') is reproduced when "
    "the interval contains 0 and not reproduced when it excludes 0 (absence of a trend, not a proof of "
    "none). A reading over fewer than two trained models is inconclusive whatever it shows: its interval "
    "says nothing about another training."
)


@dataclass(frozen=True)
class Claim:
    """A claim of the paper and how this project reads it."""

    key: str  # stable id, e.g. "selection_gain"
    statement: str  # the paper's claim in a few words
    paper: str  # the paper's number, as it reports it
    reading: str  # what this project measures for it
    side: str  # "above", "below" (a bound), "within" (a range), "flat" (no change)
    bound: tuple[float, float]  # the bound (both ends equal) or the range
    command: str  # the sweep that produces its runs


@dataclass(frozen=True)
class Reading:
    """One claim read at one scale: a mean, its interval, and what the interval spans."""

    claim: Claim
    scale: str
    value: float
    lo: float
    hi: float
    models: int  # trained models the runs read
    runs: int
    spans: str  # what the interval is over (reporting/seeds.py)
    detail: str = ""  # which cell, method or rate was read

    def verdict(self) -> str:
        if self.models < 2:
            return "inconclusive (one trained model)"
        if np.isnan(self.lo):
            return "inconclusive (no interval)"
        low, high = self.claim.bound
        if self.claim.side == "above":
            return "reproduced" if self.lo > low else ("not reproduced" if self.hi <= low else "inconclusive")
        if self.claim.side == "below":
            return "reproduced" if self.hi < low else ("not reproduced" if self.lo >= low else "inconclusive")
        if self.claim.side == "within":
            if low <= self.value <= high:
                return "reproduced"
            return "not reproduced" if self.hi < low or self.lo > high else "inconclusive"
        if self.claim.side == "flat":
            return "reproduced" if self.lo <= 0 <= self.hi else "not reproduced"
        raise ValueError(f"unknown side of claim {self.claim.key}: {self.claim.side!r}")


def reading_of(claim: Claim, scale: str, summary: pd.DataFrame, column: str, detail: str = "") -> Reading:
    """The Reading of a one-line summary_over_seeds frame's `column` (and its _lo, _hi)."""
    line = summary.iloc[0]
    return Reading(
        claim,
        scale,
        float(line[column]),
        float(line[f"{column}_lo"]),
        float(line[f"{column}_hi"]),
        int(line["models"]),
        int(line["seeds"]),
        str(line["interval"]),
        detail,
    )


def pooled(rows: pd.DataFrame, column: str) -> pd.DataFrame:
    """One line: `column` over every run of `rows`, pooled over its trained models (summary_over_seeds);
    where each run has its own interval over prompts (`<column>_lo`, `_hi`), that term is in it too."""
    has_own = f"{column}_lo" in rows
    return summary_over_seeds(rows.assign(_all=0), ["_all"], intervals=[column], own_interval=has_own)


def paired_difference(rows: pd.DataFrame, arm: str, a, b, value: str) -> pd.DataFrame:
    """One line per replicate (trained models and RL seed) that ran both arm `a` and arm `b` of column
    `arm`: `value` of a minus `value` of b, with the replicate's columns, so that pooled() reads the
    difference over trained models. Runs of one arm and replicate beyond the first are ignored (the
    newest is kept by the sweep already)."""
    wide = (
        rows[rows[arm].isin([a, b])]
        .drop_duplicates([arm, *REPLICATE], keep="last")
        .pivot(index=REPLICATE, columns=arm, values=value)
    )
    if a not in wide or b not in wide:
        return pd.DataFrame(columns=[*REPLICATE, value])
    return (wide[a] - wide[b]).dropna().rename(value).reset_index()


def is_plain(group: SweepGroup) -> bool:
    """Whether a sweep group is the configuration the ledger reads: PPO against the RM, no extra override
    (a variant is another experiment, never a claim's reading)."""
    values = group.values
    return values["algorithm"] == "ppo" and values["reward_source"] == "rm" and not values["variant"]


def top_two(labels) -> list[str]:
    """The two highest rungs of an axis, best first (reporting.grid.axis_order), or fewer if it has fewer."""
    return axis_order(labels)[::-1][:2]


def top_cell_rows(rows: pd.DataFrame, pm: str, rm: str) -> pd.DataFrame:
    """The rows of the top cell: the largest PM of column `pm` and, with it, the largest RM of column `rm`
    (by reporting.grid.axis_order), the cell every ledger row reads, chosen by size before any result."""
    rows = rows[rows[pm] == top_two(rows[pm])[0]]
    return rows[rows[rm] == top_two(rows[rm])[0]]


def ledger_table(readings: Sequence[Reading], claims: Sequence[Claim]) -> dict[str, pd.DataFrame]:
    """scale -> the ledger at that scale: one row per claim, in the order given, 'no runs' where none."""
    scales = sorted({r.scale for r in readings} | {DEFAULT_SCALE}, key=lambda s: (s != DEFAULT_SCALE, s))
    by_key = {(r.scale, r.claim.key): r for r in readings}
    out = {}
    for scale in scales:
        lines = []
        for claim in claims:
            r = by_key.get((scale, claim.key))
            lines.append(
                {
                    "claim": claim.statement,
                    "paper": claim.paper,
                    "reading": claim.reading + (f" ({r.detail})" if r is not None and r.detail else ""),
                    "this project (95% CI)": "-" if r is None else format_ci(r.value, r.lo, r.hi),
                    "trained models / runs": "-" if r is None else f"{r.models} / {r.runs}",
                    "CI over": "-" if r is None else r.spans,
                    "verdict": "no runs" if r is None else r.verdict(),
                    "command": f"`{claim.command}`",
                }
            )
        out[scale] = pd.DataFrame(lines)
    return out


VERDICT_COLORS = {"reproduced": "tab:green", "not reproduced": "tab:red", "inconclusive": "tab:gray"}


def ledger_figure(readings: Sequence[Reading], claims: Sequence[Claim], scale: str, path: Path) -> Path:
    """One row per claim: the reading's point and interval against the paper's bound (a line) or range (a
    band), coloured by verdict. Each row has its own x axis, since the claims are read in different units
    (gold differences, shares, correlations); a claim without runs says so where its interval would be."""
    by_key = {r.claim.key: r for r in readings if r.scale == scale}
    fig, axes = plt.subplots(len(claims), 1, figsize=(9, 0.62 * len(claims) + 0.8), squeeze=False)
    for ax, claim in zip(axes[:, 0], claims, strict=True):
        low, high = claim.bound
        if low == high:
            ax.axvline(low, color="black", lw=0.8)
        else:
            ax.axvspan(low, high, color="tab:blue", alpha=0.15, lw=0)
        r = by_key.get(claim.key)
        if r is None:
            ax.text(0.5, 0.5, "no runs", transform=ax.transAxes, ha="center", va="center", fontsize=8)
            ax.set_xticks([])
        else:
            verdict = r.verdict()
            color = VERDICT_COLORS.get(verdict, "tab:gray")
            if np.isfinite([r.lo, r.hi]).all():
                xerr = [[r.value - r.lo], [r.hi - r.value]]
                ax.errorbar(r.value, 0, xerr=xerr, fmt="o", color=color, capsize=3)
            else:  # a reading over one run has a point but no interval (NaN ends)
                ax.plot(r.value, 0, "o", color=color)
            ax.text(1.01, 0.5, verdict, transform=ax.transAxes, va="center", fontsize=7, color=color)
            drawn = [x for x in (r.value, r.lo, r.hi, low, high) if np.isfinite(x)]
            left, right = min(drawn), max(drawn)
            span = right - left
            ax.set_xlim(left - 0.15 * span - 1e-3, right + 0.15 * span + 1e-3)
        ax.set_yticks([])
        ax.set_ylabel(claim.statement, rotation=0, ha="right", va="center", fontsize=7, wrap=True)
        ax.tick_params(axis="x", labelsize=7)
    return save_figure(
        fig, path, f"Claims ledger (scale={scale}): 95% CI over trained models against the paper"
    )


def write_ledger(outputs: Path, readings: Sequence[Reading], claims: Sequence[Claim]) -> Path:
    """outputs/figures/claims.md, the ledger of every scale under the rule, claims/claims_<scale>.csv and its
    figure claims/claims_<scale>.png."""
    folder = outputs / "figures"
    (folder / "claims").mkdir(parents=True, exist_ok=True)
    parts = [f"# Claims ledger\n\n{RULE}\n"]
    for scale, table in ledger_table(readings, claims).items():
        table.to_csv(folder / "claims" / f"claims_{scale}.csv", index=False)
        figure = ledger_figure(readings, claims, scale, folder / "claims" / f"claims_{scale}.png")
        parts.append(
            f"## scale={scale}\n\n![the ledger's intervals](claims/{figure.name})\n\n{to_markdown(table)}\n"
        )
    path = folder / "claims.md"
    tmp = folder / ".claims.md.tmp"
    tmp.write_text("\n".join(parts))
    tmp.replace(path)  # readers never see half a ledger
    return path
