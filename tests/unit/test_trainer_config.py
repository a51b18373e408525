"""The `trainer` and `logger` config groups instantiate into the Trainer every training run uses."""

from __future__ import annotations

import importlib.util
import inspect

import lightning.pytorch as pl
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import get_class
from lightning.pytorch.demos.boring_classes import BoringModel

from seam_exp.cli import CONF_DIR, group_options
from seam_exp.errors import UserError
from seam_exp.utils.trainer import NOT_TRAINER_ARGUMENTS, build_trainer, run_arguments

CPU_PRESETS = ["cpu"]  # gpu and ddp need a GPU to instantiate
OPTIONAL_LOGGERS = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}


def _compose(*overrides: str):
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=["+experiment=world", *overrides])


class _LoggingModel(BoringModel):
    def training_step(self, batch, batch_idx):
        out = super().training_step(batch, batch_idx)
        self.log("train/loss", out["loss"])
        return out


def test_csv_is_the_default_logger():
    assert _compose().logger._target_ == "lightning.pytorch.loggers.CSVLogger"


@pytest.mark.parametrize("preset", group_options("trainer"))
def test_every_trainer_preset_holds_only_trainer_arguments(preset):
    cfg = _compose(f"trainer={preset}")
    accepted = set(inspect.signature(pl.Trainer.__init__).parameters)
    arguments = set(cfg.trainer) - {"_target_", *NOT_TRAINER_ARGUMENTS}
    assert arguments <= accepted, f"not Trainer arguments: {sorted(arguments - accepted)}"
    assert cfg.trainer.num_threads == 0


@pytest.mark.parametrize("logger", group_options("logger"))
def test_every_logger_preset_and_its_run_arguments_are_constructor_arguments(logger, tmp_path):
    # Checked on the signature: the optional loggers' packages need not be installed for this.
    cfg = _compose(f"logger={logger}").logger
    accepted = set(inspect.signature(get_class(cfg._target_).__init__).parameters)
    arguments = (set(cfg) - {"_target_"}) | set(run_arguments(cfg, tmp_path, "rl"))
    assert arguments <= accepted, f"not {cfg._target_} arguments: {sorted(arguments - accepted)}"


@pytest.mark.parametrize("preset", CPU_PRESETS)
def test_cpu_trainer_with_csv_logger_trains_and_logs_under_the_folder(preset, tmp_path):
    torch.set_num_threads(1)
    cfg = _compose(f"trainer={preset}", "logger=csv", "trainer.enable_progress_bar=false")
    trainer = build_trainer(cfg, tmp_path, "sft", max_steps=3, max_epochs=-1, log_every_n_steps=1)
    # The config's arguments and the caller's overrides both reach the Trainer.
    assert trainer.max_steps == 3 and trainer.log_every_n_steps == 1
    assert trainer.checkpoint_callback is None and trainer.num_sanity_val_steps == 0
    trainer.fit(_LoggingModel())
    assert trainer.global_step == 3
    metrics = (tmp_path / "logs" / "sft" / "metrics.csv").read_text().splitlines()
    assert "train/loss" in metrics[0] and len(metrics) == 4  # header + one row per step


@pytest.mark.parametrize("logger, package", OPTIONAL_LOGGERS.items())
def test_logger_without_its_package_is_one_line_before_any_work(logger, package, tmp_path):
    if importlib.util.find_spec(package) is not None:
        pytest.skip(f"{package} is installed here")
    cfg = _compose(f"logger={logger}")
    with pytest.raises(UserError) as info:
        build_trainer(cfg, tmp_path / "run", "rl")
    message = str(info.value)
    assert f"needs the package {package}" in message and f"pip install {package}" in message
    assert "\n" not in message
    assert not (tmp_path / "run").exists()
