"""Checkpointing an RL run and continuing it after an interruption (docs/rl.md, "Resuming a run").

A run stopped at any point, `kill -9` included, continues from its last checkpoint to the same final
numbers as a run that was never stopped. Lightning's checkpoint holds the weights, the optimizer and the
loop counters; this module adds what Lightning does not keep: where the run is in its prompt order
(PromptSchedule), and, through the module's own hooks (RLHFModule.on_save_checkpoint), the random
states, the KL coefficient and the reward normalizer. The evaluations so far are GoldEvaluation's state.
"""

from __future__ import annotations

import random
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Checkpoint
from torch.utils.data import RandomSampler

from seam_exp.utils.runtime import RL_CHECKPOINT


class PromptSchedule(pl.Callback):
    """The RL prompt batches: exactly `steps` batches of `prompts_per_step` rows in a seeded order,
    reshuffled on every pass over the rows. Iterated as the Trainer's train data; as a callback it counts
    the finished steps and keeps that count (and the order) in checkpoints, so a resumed run starts at the
    next batch.

    Why not a stateful DataLoader: Lightning fetches one batch ahead, so a loader's own count is one
    batch ahead of training when a checkpoint is written, and a DataLoader draws from the global random
    state each time it is iterated, which a resumed run would do at a different point than an
    uninterrupted one. Counting finished steps here has neither problem.

    `pool` (default: the rows) is what `restrict` may later draw from: an online filter (docs/online.md)
    narrows the rows of the steps still to come to another subset of the pool.
    """

    def __init__(self, rows, prompts_per_step: int, steps: int, seed: int, pool=None):
        self.pool = (rows if pool is None else pool).select_columns(["prompt_id", "prompt"])
        self.prompts_per_step, self.steps, self.seed = prompts_per_step, steps, seed
        positions = range(len(rows)) if pool is None else self._positions(rows["prompt_id"])
        self.order = self._draw(positions, steps * prompts_per_step, seed)
        self.steps_done = 0

    def _positions(self, prompt_ids) -> list[int]:
        where = {int(p): i for i, p in enumerate(self.pool["prompt_id"])}
        return [where[int(p)] for p in prompt_ids]

    @staticmethod
    def _draw(positions, count: int, seed: int) -> list[int]:
        """`count` seeded draws of the given pool positions, reshuffled on every pass over them."""
        generator = torch.Generator().manual_seed(seed)
        return [positions[i] for i in RandomSampler(positions, num_samples=count, generator=generator)]

    def restrict(self, prompt_ids, from_step: int) -> None:
        """Draw the batches of step `from_step` on (0-based) from these prompts of the pool only, in a
        seeded order of their own. The batch Lightning has already fetched (the one after the step just
        finished) is never changed: pass from_step = steps done + 1."""
        start = from_step * self.prompts_per_step
        if start < len(self.order):
            seed = self.seed * 100_003 + from_step
            self.order[start:] = self._draw(self._positions(prompt_ids), len(self.order) - start, seed)

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        size = self.prompts_per_step
        for step in range(self.steps_done, self.steps):
            yield [self.pool[i] for i in self.order[step * size : (step + 1) * size]]

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.steps_done = batch_idx + 1

    def state_dict(self) -> dict:
        return {"steps_done": self.steps_done, "order": self.order}

    def load_state_dict(self, state_dict: dict) -> None:
        self.steps_done = int(state_dict["steps_done"])
        self.order = list(state_dict.get("order", self.order))  # checkpoints older than `restrict` lack it


class RLCheckpoint(Checkpoint):
    """Write the run's checkpoint every `every` RL steps (one RL step is a rollout and its updates, so
    Lightning's ModelCheckpoint, which counts optimizer steps, does not fit). One file, replaced each
    time by a rename, so a kill while writing leaves the previous one intact (Lightning's own write goes
    through a temporary file in /tmp, whose move onto another file system is a copy). As a Checkpoint it
    runs after every other callback, once their state for the step is final."""

    def __init__(self, run_dir: Path, every: int):
        self.path, self.every = Path(run_dir) / RL_CHECKPOINT, every

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = batch_idx + 1
        if self.every > 0 and step % self.every == 0 and step < trainer.num_training_batches:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            trainer.save_checkpoint(tmp)
            if trainer.is_global_zero:
                tmp.replace(self.path)


def random_states() -> dict:
    """Every random state RL draws from: sampling and minibatch order use torch's, on CPU and GPU."""
    states = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_random_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
