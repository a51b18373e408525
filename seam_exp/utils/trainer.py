"""The Lightning Trainer of every training run (SFT, RM, RL), built from the `trainer` and `logger` configs.

`conf/trainer/*.yaml` hold Trainer arguments (plus `num_threads`, which is not one and is left out here);
`conf/logger/*.yaml` hold one Lightning logger each. Both are instantiated with `hydra.utils.instantiate`,
and the caller adds what is specific to its run (step budget, callbacks, gradient clipping) as overrides.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import lightning.pytorch as pl
from hydra.utils import instantiate
from omegaconf import DictConfig

from seam_exp.errors import UserError
from seam_exp.utils.config import to_container

# Keys of the `trainer` config that are the project's own knobs, not Trainer arguments.
NOT_TRAINER_ARGUMENTS = ("num_threads",)

# Loggers whose package is an optional install: (class name, importable packages, pip package).
OPTIONAL_LOGGER_PACKAGES = {
    "TensorBoardLogger": (("tensorboard", "tensorboardX"), "tensorboard"),
    "WandbLogger": (("wandb",), "wandb"),
    "MLFlowLogger": (("mlflow",), "mlflow"),
}


class MissingLoggerPackageError(UserError, ModuleNotFoundError):
    """The chosen logger's package is not installed."""


def _logger_class(logger_cfg: DictConfig) -> str:
    return str(logger_cfg["_target_"]).rsplit(".", 1)[-1]


def require_logger_package(logger_cfg: DictConfig) -> None:
    """Fail in one line, before any work, when the chosen logger's package is not installed."""
    name = _logger_class(logger_cfg)
    if name not in OPTIONAL_LOGGER_PACKAGES:
        return
    modules, pip_name = OPTIONAL_LOGGER_PACKAGES[name]
    # find_spec, not an import: importing wandb or mlflow takes seconds and has side effects.
    if not any(importlib.util.find_spec(m) is not None for m in modules):
        raise MissingLoggerPackageError(
            f"logger {name} needs the package {pip_name}, which is not installed (pip install {pip_name})"
        )


# Why RL refuses a DDP trainer (checked at compose time, seam_exp/schemas.py, and when RL starts).
RL_IS_ONE_PROCESS = (
    "RL does not run under DDP (rollouts, critic and evaluation are one process); DDP trains SFT and RM "
    "models (+experiment=models), RL needs trainer=cpu or trainer=gpu"
)


def distributed(trainer_cfg: DictConfig) -> dict | None:
    """The `trainer` settings that split training over processes (devices or nodes), or None for one
    process: the part of the trainer a trained model's weights depend on."""
    spec = {k: trainer_cfg.get(k, d) for k, d in (("strategy", "auto"), ("devices", 1), ("num_nodes", 1))}
    several = str(spec["devices"]) not in ("1", "auto") or int(spec["num_nodes"]) > 1
    return spec if several or "ddp" in str(spec["strategy"]) else None


def run_arguments(logger_cfg: DictConfig, folder: Path, name: str) -> dict:
    """Where this run's logs go and what the run is called: each logger names these arguments its own way."""
    logger = _logger_class(logger_cfg)
    if logger == "MLFlowLogger":
        # With tracking_uri null, MLflow tracks to the local file store `file:<save_dir>`.
        return {"save_dir": str(folder / "mlruns"), "run_name": name}
    if logger == "WandbLogger":
        return {"save_dir": str(folder), "name": name}
    return {"save_dir": str(folder), "version": name}


def build_logger(logger_cfg: DictConfig, folder: Path, name: str):
    require_logger_package(logger_cfg)
    return instantiate(logger_cfg, **run_arguments(logger_cfg, Path(folder), name))


def build_trainer(cfg: DictConfig, folder: Path, name: str, **overrides) -> pl.Trainer:
    """The Trainer of `cfg.trainer`, logging with `cfg.logger` under `folder` as run `name`.

    `overrides` are the caller's run-specific Trainer arguments (max_steps, callbacks, ...); they win over
    the config's.
    """
    logger = build_logger(cfg.logger, folder, name)
    arguments = {k: v for k, v in to_container(cfg.trainer).items() if k not in NOT_TRAINER_ARGUMENTS}
    return instantiate(arguments, logger=logger, **overrides)
