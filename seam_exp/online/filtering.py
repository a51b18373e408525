"""The online SEAM filter (docs/online.md, "The online filter"): a selection method that drops the least
seamless prompts at the start, as its static twin does, and again every `online.refilter_every` RL steps
under the current policy, so that the prompts RL draws follow what the policy has become.

At each re-filtering the fixed worse answers of every pool prompt (the variant's, the same texts as the
start's table; the RM's rewards of them computed once, since the RM is frozen) are weighted by the current
policy's log-probabilities, scored by the method's formula, and the least seamless `selection.rate` share is
dropped by the static method's own rule (selection/filters.py). The prompt schedule then draws every later
batch from the prompts kept now (rl/resume.py: PromptSchedule.restrict).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import torch

from seam_exp.models.scoring import score_texts
from seam_exp.online.meter import fixed_candidates, seam_under
from seam_exp.rl.resume import PromptSchedule
from seam_exp.selection.filters import Method, dropped_prompts, seam_column
from seam_exp.utils.cache import ArtifactCache
from seam_exp.utils.config import to_container
from seam_exp.world.build import World

log = logging.getLogger(__name__)
# one row per (re-filtering, dropped prompt): step, prompt_id, score; and the summary per step in the log
ONLINE_DROPPED_FILE = "online_dropped.csv"


class OnlineFilter(pl.Callback):
    """Lightning callback: every `every` RL steps, re-drop the least seamless prompts of the pool under the
    current policy and restrict the run's PromptSchedule to the rest."""

    def __init__(
        self,
        method: Method,
        pool: dict,
        candidates: pd.DataFrame,
        seam: dict,
        rate: float,
        every: int,
        seed: int,
        start_dropped: np.ndarray,
        out_file: Path,
    ):
        if method.kind != "online":
            raise ValueError(f"OnlineFilter filters with an online method, got {method.name}")
        self.method, self.seam, self.rate, self.every, self.seed = method, seam, rate, every, seed
        self.prompt_text = dict(zip(pool["prompt_id"], pool["prompt"], strict=True))
        self.candidates = candidates[candidates["prompt_id"].isin(self.prompt_text)].reset_index(drop=True)
        self.start_dropped = np.asarray(start_dropped)
        self.out_file = out_file
        self.history: list[dict] = []  # one row per dropped prompt per re-filtering
        self.dropped = self.start_dropped

    def setup(self, trainer, pl_module, stage: str) -> None:
        self.tokenizer = pl_module.tokenizer
        self.prompts = [self.prompt_text[int(p)] for p in self.candidates["prompt_id"]]
        texts = self.candidates["text"].tolist()
        self.candidates["reward"] = score_texts(pl_module.rm, self.tokenizer, self.prompts, texts)

    def _schedule(self, trainer) -> PromptSchedule:
        (schedule,) = [c for c in trainer.callbacks if isinstance(c, PromptSchedule)]
        return schedule

    @torch.no_grad()
    def refilter(self, policy, step: int) -> np.ndarray:
        """The prompts of the pool the method drops under `policy`."""
        was_training, formula = policy.training, self.method.formula
        scores = seam_under(policy, self.tokenizer, self.prompts, self.candidates, self.seam, formula)
        policy.train(was_training)
        column = seam_column(self.method.variant, formula)
        table = scores.rename(columns={formula: column})[["prompt_id", column]]
        dropped = dropped_prompts(self.method, table, self.rate, self.seed)
        by_id = table.set_index("prompt_id")[column]
        self.history += [{"step": step, "prompt_id": int(p), "score": float(by_id[p])} for p in dropped]
        return dropped

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        done = batch_idx + 1
        # a re-filtering governs the batches from done + 1 on (0-based; Lightning has fetched batch `done`)
        if self.every <= 0 or done % self.every or done + 1 >= trainer.num_training_batches:
            return
        start = time.perf_counter()
        before = self.dropped
        self.dropped = self.refilter(pl_module.policy, done)
        dropped = set(self.dropped.tolist())
        kept = [p for p in self.prompt_text if p not in dropped]
        self._schedule(trainer).restrict(kept, done + 1)  # the batch already fetched stays as it was
        log.info(
            "online filter @ step %d: %d dropped, %d of them dropped before, %.1f s",
            done,
            len(self.dropped),
            len(np.intersect1d(before, self.dropped)),
            time.perf_counter() - start,
        )

    def on_train_end(self, trainer, pl_module) -> None:
        start = [{"step": 0, "prompt_id": int(p), "score": float("nan")} for p in self.start_dropped]
        pd.DataFrame(start + self.history, columns=["step", "prompt_id", "score"]).to_csv(
            self.out_file, index=False
        )

    # a resumed run continues with the prompts it had dropped and the re-filterings so far
    def state_dict(self) -> dict:
        return {"history": self.history, "dropped": self.dropped}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history, self.dropped = state_dict["history"], np.asarray(state_dict["dropped"])


def online_filter_callbacks(
    cfg, method: Method, world: World, cache: ArtifactCache, pool, start_dropped, out_dir: Path
) -> list[OnlineFilter]:
    """The run's OnlineFilter over its pool of RL rows, for an online method; none for any other."""
    if method.kind != "online":
        return []
    ids = [int(p) for p in pool["prompt_id"]]
    candidates = fixed_candidates(cfg, method.variant, world, cache, ids)
    return [
        OnlineFilter(
            method,
            {"prompt_id": ids, "prompt": list(pool["prompt"])},
            candidates,
            to_container(cfg.seam),
            float(cfg.selection.rate),
            int(cfg.online.refilter_every),
            int(cfg.seed),
            start_dropped,
            out_dir / ONLINE_DROPPED_FILE,
        )
    ]
