"""Fixed-schema result rows: each run writes results.csv in its Hydra folder; aggregation reads them.

A schema is a dataclass (each experiment declares its own row in its module): its fields, in order, are
the columns, so a row that misses or adds a column fails where it is built, not in a later aggregation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig

RESULTS_FILE = "results.csv"


@dataclasses.dataclass
class RunRow:
    """The columns every experiment's row starts with: what ran, and where its files are."""

    experiment: str
    scale: str
    pm: str
    rm: str
    pm_seed: int  # the PM's and the RM's training seeds: which trained models the run read
    rm_seed: int
    seed: int  # the run's own seed (RL, sampling)
    run_dir: str


def run_columns(cfg: DictConfig, out: Path) -> dict:
    """The RunRow fields of the current run."""
    return {
        "experiment": str(cfg.task),
        "scale": str(cfg.scale.name),
        "pm": str(cfg.pm.name),
        "rm": str(cfg.rm.name),
        "pm_seed": int(cfg.pm.sft.seed),
        "rm_seed": int(cfg.rm.train.seed),
        "seed": int(cfg.seed),
        "run_dir": str(out),
    }


def columns_of(row_type: type) -> list[str]:
    return [f.name for f in dataclasses.fields(row_type)]


def write_results(rows: Sequence, folder: Path) -> pd.DataFrame:
    """Write rows (instances of one row dataclass) as results.csv, atomically: readers never see half a
    table."""
    if not rows:
        raise ValueError("no result rows to write")
    row_type = type(rows[0])
    if not dataclasses.is_dataclass(row_type) or any(type(r) is not row_type for r in rows):
        raise TypeError(f"result rows must all be instances of one dataclass, got {row_type.__name__}")
    df = pd.DataFrame([dataclasses.asdict(r) for r in rows], columns=columns_of(row_type))
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{RESULTS_FILE}.tmp"
    df.to_csv(tmp, index=False)
    tmp.replace(folder / RESULTS_FILE)
    return df


def _moved_roots(found: list[tuple[Path, pd.DataFrame]], root: Path) -> dict[Path, Path]:
    """{where the tree was: where it is} for a tree of runs that moved (a committed runs folder checked out
    elsewhere, runs/README.md): a job's own run_dir ends with its folder's path inside the tree."""
    moves = {}
    for path, df in found:
        own = path.parent.relative_to(root).parts
        for recorded in map(Path, df["run_dir"].astype(str)):
            if not recorded.exists() and own and recorded.parts[-len(own) :] == own:
                moves[Path(*recorded.parts[: -len(own)])] = root
    return moves


def _relocate(run_dir: str, moves: dict[Path, Path]) -> str:
    recorded = Path(run_dir)
    for old, new in moves.items():
        if recorded.is_relative_to(old):
            return str(new / recorded.relative_to(old))
    return run_dir


def collect_results(root: Path, experiment: str, row_type: type) -> pd.DataFrame:
    """Every results.csv of `experiment` under root whose columns are the row's (older schemas are
    skipped), with each file's modification time in `_mtime`. Where the tree was moved since its runs
    wrote it, each `run_dir` is read as where that folder is now."""
    columns = columns_of(row_type)
    root, found = Path(root).resolve(), []
    for path in sorted(root.rglob(RESULTS_FILE)):
        df = pd.read_csv(path)
        if "experiment" in df and (df["experiment"] == experiment).all() and list(df.columns) == columns:
            found.append((path, df.assign(_mtime=path.stat().st_mtime)))
    if not found:
        return pd.DataFrame(columns=columns)
    results = pd.concat([df for _, df in found], ignore_index=True)
    moves = _moved_roots(found, root)
    if moves:
        results["run_dir"] = [_relocate(d, moves) for d in results["run_dir"].astype(str)]
    return results
