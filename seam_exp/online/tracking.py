"""Online SEAM along this project's RL runs (docs/online.md): the Lightning callback that takes the online
SEAM measurement (meter.py) at the start, every `online.every` RL steps and at the end."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from seam_exp.online.meter import ONLINE_FILE, OnlineSeamMeter, online_seam_meter
from seam_exp.rl.evaluation import AlongTheRun
from seam_exp.utils.cache import ArtifactCache
from seam_exp.world.build import World


class OnlineSeam(AlongTheRun):
    """Lightning callback: SEAM under the current policy and its exact mismatch, along the run. The RM and
    tokenizer are the run's own (read from the RL module when training starts)."""

    def __init__(self, meter: OnlineSeamMeter, every: int, out_file: Path):
        super().__init__(every)
        self.meter, self.out_file = meter, out_file

    def setup(self, trainer, pl_module, stage: str) -> None:
        self.meter.prepare(pl_module.tokenizer)

    def measure(self, trainer, module, step: int) -> None:
        row = self.meter.measure(module.policy, module.rm, step, first=not self.history)
        self.history.append(row)
        if trainer.logger is not None:
            trainer.logger.log_metrics({f"online/{k}": v for k, v in row.items() if k != "step"}, step=step)

    def on_train_end(self, trainer, pl_module) -> None:
        super().on_train_end(trainer, pl_module)
        pd.DataFrame(self.history).to_csv(self.out_file, index=False)


def online_seam_callbacks(cfg, world: World, cache: ArtifactCache, rows, out_dir: Path) -> list[OnlineSeam]:
    """The run's OnlineSeam on its RL prompt rows (a selection passes its kept ones), writing
    <out_dir>/online_seam.csv; none when online.every is 0."""
    if cfg.online.every == 0:
        return []
    return [OnlineSeam(online_seam_meter(cfg, world, cache, rows), cfg.online.every, out_dir / ONLINE_FILE)]
