"""Hydra callback: aggregate an experiment's figures and tables when its sweep ends."""

from __future__ import annotations

import logging
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from seam_exp.reporting.figures import aggregate_experiment

log = logging.getLogger(__name__)


class AggregateOnMultirunEnd(Callback):
    def __init__(self, experiment: str, outputs: str = "outputs"):
        self.experiment, self.outputs = experiment, Path(outputs)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        for path in aggregate_experiment(self.experiment, self.outputs):
            log.info("wrote %s", path)
            print(f"wrote {path}")
