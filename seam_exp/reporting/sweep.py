"""Which cells of a sweep produced a result, which failed and why, and which never reported.

Every Hydra job folder holds `.hydra/config.yaml`; a finished job adds its results.csv, a failed one
FAILED.txt (seam_exp.utils.task_wrapper), a killed one neither. A cell that ran several times is
judged by its newest job, so a cell that failed after an earlier success is reported missing.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from seam_exp.reporting.results import RESULTS_FILE, collect_results, columns_of
from seam_exp.utils.runtime import RL_CHECKPOINT, last_checkpoint
from seam_exp.utils.task_wrapper import FAILED_MARKER


def _reason(job: Path) -> str:
    failed = job / FAILED_MARKER
    if failed.is_file():
        return failed.read_text().splitlines()[0] if failed.read_text() else "failed"
    return "no result (killed or still running)"


# The config keys that name an RL run's cell in every RL experiment's sweep (each adds its own axes).
RL_CELL = {
    "scale": "scale.name",
    "grid": "grid",
    "algorithm": "rl.algorithm",
    "reward_source": "rl.reward.source",
    "pm": "pm.name",
    "rm": "rm.name",
    # trained models are replicates of a cell, pooled by its summaries (reporting/seeds.py), not variants
    "pm_seed": "pm.sft.seed",
    "rm_seed": "rm.train.seed",
}

# Command-line overrides that say where or how a job ran, not what it computed (a trailing dot: a prefix).
NOT_A_VARIANT = (
    "experiment",
    "scale",
    "scale.sizes",
    "scale.budgets",
    "scale.seeds",
    "sweep.",  # an experiment's own axes (conf/experiment/<name>.yaml): which jobs, not what each computes
    "seed",
    "train_seed",  # sets pm.sft.seed and rm.train.seed, the cell's replicate keys (RL_CELL): never a variant
    "paths.",
    "hydra.",
    "trainer",
    "trainer.",
    "logger",
    "logger.",
    "rerun",
    "resume",
    "rl.checkpoint_every",
)


def _not_a_variant(key: str) -> bool:
    return any(key == k or (k.endswith(".") and key.startswith(k)) for k in NOT_A_VARIANT)


def job_variant(job: Path, keys: dict[str, str]) -> str:
    """The job's command-line overrides other than the cell's own keys, e.g. 'rl.kl.coef=0.2': runs that
    differ in a knob someone swept must not be merged into one cell (nor their seeds pooled)."""
    path = job / ".hydra" / "overrides.yaml"
    overrides = OmegaConf.load(path) if path.is_file() else []
    # A group choice (pm=m, rl=rloo) is the cell key it sets (pm.name, rl.algorithm), not a variant.
    axes = {*keys.values(), *(p.split(".")[0] for p in keys.values() if "." in p)}
    kept = []
    for override in overrides:
        key = str(override).split("=", 1)[0].lstrip("+~")
        if key in axes or _not_a_variant(key):
            continue
        kept.append(str(override))
    return ",".join(sorted(kept))


@functools.cache
def _job_config(path: Path, mtime_ns: int, size: int) -> DictConfig:
    """A job's saved config, parsed once per process (and again only if the file is rewritten): the reports
    and the ledger walk the same tree once per experiment, and parsing every job's config is most of their
    time."""
    return OmegaConf.load(path)


def job_config(path: Path) -> DictConfig:
    stat = path.stat()
    return _job_config(path, stat.st_mtime_ns, stat.st_size)


def sweep_jobs(root: Path, task: str, keys: dict[str, str]) -> pd.DataFrame:
    """The newest job of each cell of `task` under root: its key values (column -> config path),
    variant (see job_variant), job_dir, mtime, ok and reason (empty when ok)."""
    rows = []
    for cfg_path in Path(root).rglob(".hydra/config.yaml"):
        job = cfg_path.parent.parent
        cfg = job_config(cfg_path)
        if cfg.get("task") != task:
            continue
        ok = (job / RESULTS_FILE).is_file() and not (job / FAILED_MARKER).is_file()
        rows.append(
            {
                **{col: OmegaConf.select(cfg, path, default=None) for col, path in keys.items()},
                "variant": job_variant(job, keys),
                "job_dir": job,
                "mtime": cfg_path.stat().st_mtime,
                "ok": ok,
                "reason": "" if ok else _reason(job),
            }
        )
    if not rows:
        return pd.DataFrame(columns=[*keys, "variant", "job_dir", "mtime", "ok", "reason"])
    df = pd.DataFrame(rows).sort_values("mtime")
    return df.groupby([*keys, "variant"], dropna=False, as_index=False).last()


def sweep_results(
    root: Path, task: str, keys: dict[str, str], row_type: type
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(results rows of the newest successful job of each cell, with its variant; the cells whose newest
    job is missing)."""
    jobs = sweep_jobs(root, task, keys)
    done = jobs["ok"].astype(bool)  # an empty object column would index columns, not rows
    ok = jobs[done]
    pairs = zip(ok["job_dir"], ok["variant"], strict=True)
    frames = [collect_results(job, task, row_type).assign(variant=variant) for job, variant in pairs]
    frames = [f for f in frames if len(f)]
    empty = pd.DataFrame(columns=[*columns_of(row_type), "variant"])
    results = pd.concat(frames, ignore_index=True) if frames else empty
    return results, jobs[~done].drop(columns=["ok"])


def sweep_groups(results: pd.DataFrame, missing: pd.DataFrame, columns: list[str]):
    """Yield (values of `columns`, its result rows, its missing cells) for every group of a sweep that
    has either, in a stable order: one table and figure set is written per group."""
    groups = set(map(tuple, results[columns].to_numpy())) | set(map(tuple, missing[columns].to_numpy()))
    for group in sorted(groups, key=str):
        key = pd.Series(group, index=columns)
        yield (
            group,
            results[(results[columns] == key).all(axis=1)],
            missing[(missing[columns] == key).all(axis=1)],
        )


def group_name(base: str, source: str, variant: str) -> tuple[str, str]:
    """(file name, title suffix) of one group of a sweep's figures: runs trained on gold and runs with
    extra overrides are told apart from the plain RM-trained runs."""
    safe = variant.replace("/", "_").replace(" ", "")  # a path in an override must not become folders
    name = base + ("" if source == "rm" else f"_{source}") + (f"_{safe}" if variant else "")
    suffix = ("" if source == "rm" else f", trained on {source}") + (f", {variant}" if variant else "")
    return name, suffix


@dataclass(frozen=True)
class SweepGroup:
    """One table-and-figure set of a sweep's aggregation."""

    values: dict[str, str]  # the group's value in each group column
    name: str  # file name (group_name)
    extra: str  # title suffix (group_name)
    rows: pd.DataFrame  # its result rows
    lost: pd.DataFrame  # its cells whose newest job has no result

    def title(self, what: str) -> str:
        """Every aggregation's figure title: `what (algorithm[, source][, variant][, grid], scale)`."""
        grid = f", {self.values['grid']} grid" if "grid" in self.values else ""
        return f"{what} ({self.values['algorithm']}{self.extra}{grid}, scale={self.values['scale']})"


def report_groups(
    root: Path,
    task: str,
    keys: dict[str, str],
    row_type: type,
    columns: list[str],
    *,
    relabel: Callable[[pd.DataFrame], pd.DataFrame] = lambda df: df,
    with_missing: bool = True,
) -> Iterator[SweepGroup]:
    """Every group of a sweep's results (sweep_results, sweep_groups), named `<task>_<value>_..._` by its
    columns, which end with the reward source and the variant (group_name). `relabel` adds the columns
    the tables read (e.g. axis labels); without `with_missing`, groups of failed cells alone are skipped."""
    results, missing = sweep_results(root, task, keys, row_type)
    missing = missing if with_missing else missing.iloc[0:0]
    for values, rows, lost in sweep_groups(relabel(results), relabel(missing), columns):
        *named, source, variant = values
        name, extra = group_name("_".join([task, *map(str, named)]), source, variant)
        yield SweepGroup(dict(zip(columns, values, strict=True)), name, extra, rows, lost)


# A sweep over (PM, RM) cells is reported per scale, algorithm, reward source and variant.
CELL_GROUP = ["scale", "algorithm", "reward_source", "variant"]


# ------------------------------------------------------------------ resuming a sweep: finished cells

CODE_STAMP = "code_version.txt"  # the source version a job ran with (seam_exp.utils.cache.source_version)
REUSED_MARKER = "REUSED_FROM.txt"
# Config keys that say where a job ran, how it reported or whether to rerun or resume it, not what it
# computed (a dotted key is one key of a group): `sweep`, `scale.sizes` and `scale.seeds` hold the lists the
# sweep was launched over (the job's own point is in its own keys, `pm`, `rm` and `seed` among them), so a
# sweep run in stages, widened or over fewer seeds finds the cells an earlier one finished.
NOT_WHAT = (
    "paths",
    "hydra",
    "rerun",
    "resume",
    "sweep",
    "scale.sizes",
    "scale.seeds",
    "trainer.enable_progress_bar",
)


def _what(cfg: DictConfig) -> dict | None:
    """What a job computes: its config resolved (a key derived from a list, like mismatch_paper's
    `best: ${last_of:${scale.sizes}}`, is compared by its value), less NOT_WHAT; None when it no longer
    resolves (an old job whose keys this code cannot read: never a twin)."""
    try:
        container = OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException:
        return None
    for path in NOT_WHAT:
        group, _, key = path.rpartition(".")
        node = container.get(group) if group else container
        if isinstance(node, dict):
            node.pop(key, None)
    return container


def twins(root: Path, cfg: DictConfig, code: str, here: Path) -> list[Path]:
    """Jobs under root, other than `here`, that computed exactly what `cfg` asks for with the same code:
    same config (but for where it ran), the same code stamp."""
    want, found = _what(cfg), []
    if want is None:  # a config that does not resolve has no twin: nothing to read
        return found
    for cfg_path in Path(root).rglob(".hydra/config.yaml"):
        job = cfg_path.parent.parent
        stamp = job / CODE_STAMP
        if job.resolve() == Path(here).resolve() or not stamp.is_file() or stamp.read_text() != code:
            continue
        if _what(job_config(cfg_path)) == want:
            found.append(job)
    return found


def finished_twin(root: Path, cfg: DictConfig, code: str, here: Path) -> Path | None:
    """The newest twin (same config and code) that finished: a results.csv and no FAILED.txt."""
    found = [j for j in twins(root, cfg, code, here) if (j / RESULTS_FILE).is_file()]
    found = [j for j in found if not (j / FAILED_MARKER).is_file()]
    return max(found, key=lambda j: (j / RESULTS_FILE).stat().st_mtime) if found else None


def interrupted_twin(root: Path, cfg: DictConfig, code: str, here: Path) -> Path | None:
    """The twin (same config and code) with the newest RL checkpoint and no results: a run stopped on the
    way that a resumed run can continue."""
    found = [
        j for j in twins(root, cfg, code, here) if not (j / RESULTS_FILE).is_file() and last_checkpoint(j)
    ]
    return max(found, key=lambda j: last_checkpoint(j).stat().st_mtime) if found else None


def adopt_checkpoint(twin: Path, here: Path) -> None:
    """Move the interrupted twin's last RL checkpoint into `here`, to continue from: should this run be
    stopped too, the checkpoint is found in its folder next time, and none is left behind in the twin's."""
    target = here / RL_CHECKPOINT
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(last_checkpoint(twin), target)


def reuse(twin: Path, here: Path) -> None:
    """Make `here` a finished job with `twin`'s results (whose run_dir still points to twin's files)."""
    here.mkdir(parents=True, exist_ok=True)
    tmp = here / f".{RESULTS_FILE}.tmp"
    shutil.copyfile(twin / RESULTS_FILE, tmp)
    (here / CODE_STAMP).write_text((twin / CODE_STAMP).read_text())
    (here / REUSED_MARKER).write_text(f"{twin}\n")
    tmp.replace(here / RESULTS_FILE)  # last: the job counts as finished only once everything is there
