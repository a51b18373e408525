"""Online SEAM along a transformers Trainer's run, TRL's RL trainers (RLOOTrainer, GRPOTrainer) included
(docs/online.md, "Outside this project's trainer"): the same measurement as this project's RL runs
(meter.py), taken at the start, every `every` optimizer steps and at the end, on the process that logs.

The Trainer hands every callback its model and tokenizer (`processing_class`); the RM, whose judgements the
measurement reads, is given here, since TRL takes reward functions rather than a model. The rows go to
`<output_dir>/online_seam.csv` (rewritten after each measurement, so a stopped run keeps its rows) and to
the log."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from transformers import TrainerCallback

from seam_exp.online.meter import ONLINE_FILE, OnlineSeamMeter


class OnlineSeamTrainerCallback(TrainerCallback):
    def __init__(self, meter: OnlineSeamMeter, reward_model, every: int, out_file: Path | None = None):
        if every < 0:
            raise ValueError(f"every must be >= 0 optimizer steps (0: start and end only), got {every}")
        self.meter, self.reward_model, self.every, self.out_file = meter, reward_model, every, out_file
        self.history: list[dict] = []

    def _measure(self, args, state, model, step: int) -> None:
        if not state.is_world_process_zero:
            return
        row = self.meter.measure(model, self.reward_model, step, first=not self.history)
        self.history.append(row)
        out = self.out_file or Path(args.output_dir) / ONLINE_FILE
        out.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(self.history).to_csv(out, index=False)

    def on_train_begin(self, args, state, control, model=None, processing_class=None, **kwargs):
        if state.is_world_process_zero:
            self.meter.prepare(processing_class)
        self._measure(args, state, model, state.global_step)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        step = state.global_step
        if self.every > 0 and step % self.every == 0 and step < state.max_steps:
            self._measure(args, state, model, step)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        if not self.history or self.history[-1]["step"] != state.global_step:
            self._measure(args, state, model, state.global_step)
