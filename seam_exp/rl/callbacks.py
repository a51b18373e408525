"""Lightning callback: gold-judged evaluation at the start, every `every` RL steps, and at the end."""

from __future__ import annotations

import logging

import lightning.pytorch as pl

from seam_exp.rl.evaluate import GoldEvaluator, PolicySamples

log = logging.getLogger(__name__)


class GoldEvaluation(pl.Callback):
    def __init__(self, evaluator: GoldEvaluator, every: int = 0):
        self.evaluator, self.every = evaluator, every
        self.history: list[dict] = []  # one row per evaluation: step, seconds, metrics
        self.start: PolicySamples | None = None
        self.last: PolicySamples | None = None
        self.steps_done = 0

    def _evaluate(self, trainer: pl.Trainer, module, step: int) -> None:
        samples = self.evaluator.sample(module.policy, module.ref, module.rm)
        if self.start is None:
            self.start = samples
        self.last = samples
        metrics = {"step": step, **self.evaluator.metrics(samples, self.start)}
        self.history.append(metrics)
        if trainer.logger is not None:
            trainer.logger.log_metrics({f"eval/{k}": v for k, v in metrics.items() if k != "step"}, step=step)
        log.info(
            "eval @ step %d: gold %.3f (gain %+.3f), win rate %.3f, KL %.2f, proxy %.3f, mismatch %.3f",
            step,
            metrics["gold"],
            metrics["gain"],
            metrics["win_rate"],
            metrics["kl"],
            metrics["proxy"],
            metrics["mismatch"],
        )

    def on_train_start(self, trainer, pl_module) -> None:
        self._evaluate(trainer, pl_module, 0)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.steps_done = batch_idx + 1
        if (
            self.every > 0
            and self.steps_done % self.every == 0
            and self.steps_done < trainer.num_training_batches
        ):
            self._evaluate(trainer, pl_module, self.steps_done)

    def on_train_end(self, trainer, pl_module) -> None:
        if not self.history or self.history[-1]["step"] != self.steps_done:
            self._evaluate(trainer, pl_module, self.steps_done)
