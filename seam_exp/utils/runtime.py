"""Per-run setup shared by every experiment: offline mode, seeds, threads, output folder, cache."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from seam_exp.utils.cache import ArtifactCache
from seam_exp.utils.machine import usable_cores

log = logging.getLogger(__name__)
OFFLINE_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")


def force_offline() -> None:
    """The default path never downloads: hub-backed presets must find their files locally or fail."""
    for var in OFFLINE_ENV:
        os.environ.setdefault(var, "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def quiet_known_warnings() -> None:
    """Silence warnings that repeat for every artifact and say nothing about this project's runs."""
    for pattern in (
        ".*LeafSpec.*",  # a deprecation inside Lightning itself
        ".*smaller than the logging interval.*",
        ".*does not have many workers.*",  # the world's batches are built in microseconds
    ):
        warnings.filterwarnings("ignore", message=pattern)


def progress_bars_only_on_a_terminal() -> None:
    """Library progress bars (transformers' weight loading, datasets, the sentence encoder) draw on a
    terminal only: in a sweep job's log file they are lines of noise. Lightning's own bar is
    `trainer.enable_progress_bar`."""
    if sys.stderr.isatty():
        return
    from datasets.utils.logging import disable_progress_bar as datasets_quiet
    from transformers.utils.logging import disable_progress_bar as transformers_quiet

    datasets_quiet()
    transformers_quiet()
    # sentence-transformers has no switch: `encode` draws its bar when its logger is at INFO or below
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)


def in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def output_dir() -> Path:
    """The Hydra run folder, or the current directory outside Hydra (tests, notebooks)."""
    return Path(HydraConfig.get().runtime.output_dir) if HydraConfig.initialized() else Path.cwd()


# What an RL run leaves in its folder (seam_exp/rl/run.py writes them; the reports read them).
HISTORY_FILE = "history.csv"  # every evaluation of the run: step, eval metrics, val_gold, val_kl
EVAL_SAMPLES_FILE = "eval_samples.parquet"  # the start's and the final policy's eval samples, judged

# Where a job keeps its RL checkpoint while the run is under way (seam_exp/rl/resume.py writes it, a
# resumed job finds an interrupted twin's through seam_exp/reporting/sweep.py).
RL_CHECKPOINT = Path("checkpoints") / "last.ckpt"


def last_checkpoint(job_dir: Path) -> Path | None:
    path = Path(job_dir) / RL_CHECKPOINT
    return path if path.is_file() else None


def set_threads(requested: int) -> int:
    """`requested` threads, or (0) what the launcher gives a job: its `cpus_per_task` (submitit), else the
    cores divided among the sweep's parallel jobs (joblib's `n_jobs`)."""
    if requested <= 0:
        launcher = HydraConfig.get().launcher if in_multirun() else {}
        if launcher.get("cpus_per_task"):
            requested = int(launcher.cpus_per_task)
        else:
            jobs, cores = int(launcher.get("n_jobs", 1) or 1), usable_cores()
            requested = max(1, cores // max(1, jobs))
            log.info("%d parallel jobs on %d cores: %d torch threads each", jobs, cores, requested)
    torch.set_num_threads(requested)
    return requested


def cache_from(cfg: DictConfig) -> ArtifactCache:
    return ArtifactCache(Path(cfg.paths.cache_dir))
