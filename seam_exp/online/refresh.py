"""The SEAM-guided RM refresh (docs/online.md, "The RM refresh"), on when `online.refresh.chooser` names who
picks its prompts (a selection run's `refresh:<chooser>` method sets it): every `online.refresh.every` RL steps, the
labeler (the paper's human) labels pairs of the policy's own answers on a few prompts, the RM is trained on
them for a few steps, and RL goes on against the refreshed RM. Which prompts get the labels is the arm:

- `seam`: the currently least seamless prompts of the pool (SEAM of their fixed worse answers of
  `online.variant`, weighted by the current policy, judged by the current RM, `seam.formula`);
- `random`: the same number of prompts drawn at random (the control: same labels, same RM steps);
- `oracle`: the prompts where the RM's errors on the policy's own answers are largest, measured exactly with
  gold (`online.refresh.oracle_samples` answers per pool prompt): the bound no user can reach.

The labels spent are counted (a run's cost in human labels) and every refresh is a row of
`<run>/rm_refresh.csv`: its step, labels, and the RM's accuracy on the new pairs before and after training on
them (before: how often the RM still agreed with the labeler on what the policy writes now).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import torch

from seam_exp.metrics.preference import mismatch_counts
from seam_exp.models.reward import PairCollator, bradley_terry_loss, reward_scores
from seam_exp.models.scoring import score_texts
from seam_exp.models.train import reward_pairs
from seam_exp.online.config import NO_REFRESH
from seam_exp.online.meter import fixed_candidates, seam_under
from seam_exp.rl.evaluation import GoldEvaluator
from seam_exp.seam.formula import highest_ids, least_seamless
from seam_exp.selection.filters import REFRESH_CHOOSERS
from seam_exp.utils.cache import ArtifactCache
from seam_exp.utils.config import to_container
from seam_exp.world.build import World

log = logging.getLogger(__name__)
REFRESH_FILE = "rm_refresh.csv"


class RewardRefresh(pl.Callback):
    """Lightning callback: label the policy's own answer pairs on the chosen prompts and train the run's RM
    on them, every `every` RL steps (never after the last: no step would read it)."""

    def __init__(
        self,
        world: World,
        pool: dict,
        candidates: pd.DataFrame,
        seam: dict,
        refresh: dict,
        max_new_tokens: int,
        temperature: float,
        seed: int,
        out_file: Path,
        trained_on=None,
    ):
        if refresh["chooser"] not in REFRESH_CHOOSERS:
            raise ValueError(
                f"unknown refresh chooser {refresh['chooser']!r}; valid: {', '.join(REFRESH_CHOOSERS)}"
            )
        self.world, self.seam, self.refresh, self.seed, self.out_file = world, seam, refresh, seed, out_file
        self.trained_on = trained_on  # the RM's own training pairs, which `replay` mixes back in
        self.sampling = (max_new_tokens, temperature)
        self.prompt_text = dict(zip(pool["prompt_id"], pool["prompt"], strict=True))
        self.candidates = candidates[candidates["prompt_id"].isin(self.prompt_text)].reset_index(drop=True)
        self.history: list[dict] = []

    def setup(self, trainer, pl_module, stage: str) -> None:
        self.module, self.tokenizer = pl_module, pl_module.tokenizer
        self.candidate_prompts = [self.prompt_text[int(p)] for p in self.candidates["prompt_id"]]
        self.resumed_rm: dict | None = None

    def on_train_start(self, trainer, pl_module) -> None:
        # the module's checkpoint leaves out its RM (an input, when frozen): a refreshed one is kept here
        if self.resumed_rm is not None:
            pl_module.rm.load_state_dict(self.resumed_rm)

    def choose(self, policy, reward_model, step: int) -> list[int]:
        """The prompts that get labels at this refresh."""
        n = min(int(self.refresh["prompts"]), len(self.prompt_text))
        ids = np.asarray(list(self.prompt_text))
        if self.refresh["chooser"] == "random":
            return sorted(np.random.default_rng([self.seed, step]).choice(ids, n, replace=False).tolist())
        if self.refresh["chooser"] == "oracle":
            mismatch = self.exact_mismatch(policy, reward_model, step)
            return sorted(int(p) for p in highest_ids(mismatch.index, mismatch.fillna(-np.inf), n, step))
        # judged by the RM as it is now: earlier refreshes have moved it
        texts = self.candidates["text"].tolist()
        rewards = score_texts(reward_model, self.tokenizer, self.candidate_prompts, texts)
        scored = self.candidates.assign(reward=rewards)
        formula = self.seam["formula"]
        per_prompt = seam_under(policy, self.tokenizer, self.candidate_prompts, scored, self.seam, formula)
        chosen = least_seamless(
            per_prompt["prompt_id"].to_numpy(),
            per_prompt[formula].to_numpy(),
            formula,
            n / len(per_prompt),
            step,
        )
        return sorted(int(p) for p in chosen)

    def exact_mismatch(self, policy, reward_model, step: int) -> pd.Series:
        """Per pool prompt, the share of gold-ordered pairs of the policy's answers the RM orders wrongly
        (NaN where no pair has different gold): what the oracle chooser reads, with gold no user has."""
        rows = {"prompt_id": list(self.prompt_text), "prompt": list(self.prompt_text.values())}
        max_new_tokens, temperature = self.sampling
        n = int(self.refresh["oracle_samples"])
        evaluator = GoldEvaluator(
            self.world, rows, self.tokenizer, n, max_new_tokens, temperature, self.seed + step
        )
        samples = evaluator.sample(policy, policy, reward_model)
        ids = np.asarray(rows["prompt_id"])[samples.prompt_index]
        counts = mismatch_counts(ids, samples.rm, samples.gold)
        return pd.Series(counts.rate, index=counts.groups)

    def labelled_pairs(self, policy, reward_model, chosen: list[int], step: int) -> list[dict]:
        """Two answers of the policy per chosen prompt, labelled by the world's labeler (ties dropped)."""
        rows = {"prompt_id": chosen, "prompt": [self.prompt_text[p] for p in chosen]}
        max_new_tokens, temperature = self.sampling
        sampler = GoldEvaluator(
            self.world, rows, self.tokenizer, 2, max_new_tokens, temperature, self.seed + step
        )
        samples = sampler.sample(policy, policy, reward_model)  # private RNG stream: the run is not disturbed
        rng, pairs = np.random.default_rng([self.seed, step, 1]), []
        for i in range(len(chosen)):
            (a, b), (ga, gb) = samples.texts[2 * i : 2 * i + 2], samples.gold[2 * i : 2 * i + 2]
            label = self.world.labeler.label(float(ga), float(gb), rng)
            if label is None:
                continue
            chosen_text, rejected_text = (a, b) if label.a_preferred else (b, a)
            pairs.append(
                {
                    "prompt": rows["prompt"][i],
                    "chosen": chosen_text,
                    "rejected": rejected_text,
                    "target": label.target,
                }
            )
        return pairs

    def _accuracy(self, reward_model, batch) -> float:
        with torch.no_grad():
            tokens, _ = batch
            chosen, rejected = reward_scores(reward_model, tokens).chunk(2)
        return float((chosen > rejected).float().mean())

    def train_reward(self, reward_model, pairs: list[dict], step: int) -> tuple[float, float]:
        """`online.refresh.rm_steps` AdamW steps of the Bradley-Terry loss on the pairs (seeded minibatches,
        `online.refresh.replay` of each one drawn from the RM's own training pairs); the RM's accuracy on the
        new pairs before and after."""
        collate = PairCollator(self.tokenizer)
        everything = collate(pairs)
        before = self._accuracy(reward_model, everything)
        reward_model.requires_grad_(True).train()
        optimizer = torch.optim.AdamW(
            reward_model.parameters(), lr=float(self.refresh["lr"]), weight_decay=0.0
        )
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        replayed = np.random.default_rng([self.seed, step, 2])  # a stream of its own (the labeler's is 1)
        batch_size = int(self.refresh["batch_size"])
        old = round(float(self.refresh["replay"]) * batch_size)
        new = min(batch_size - old, len(pairs))
        with torch.enable_grad():
            for _ in range(int(self.refresh["rm_steps"])):
                rows = [pairs[i] for i in torch.randperm(len(pairs), generator=generator)[:new].tolist()]
                if old:
                    rows += [
                        self.trained_on[int(i)] for i in replayed.integers(len(self.trained_on), size=old)
                    ]
                tokens, target = collate(rows)
                chosen, rejected = reward_scores(reward_model, tokens).chunk(2)
                loss = bradley_terry_loss(chosen, rejected, target)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        reward_model.requires_grad_(False).eval()
        return before, self._accuracy(reward_model, everything)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        done, every = batch_idx + 1, int(self.refresh["every"])
        if every <= 0 or done % every or done >= trainer.num_training_batches:
            return
        start = time.perf_counter()
        policy, reward_model = pl_module.policy, pl_module.rm
        was_training = policy.training
        chosen = self.choose(policy, reward_model, done)
        pairs = self.labelled_pairs(policy, reward_model, chosen, done)
        policy.train(was_training)
        before = after = float("nan")
        if pairs:
            before, after = self.train_reward(reward_model, pairs, done)
        row = {
            "step": done,
            "chooser": self.refresh["chooser"],
            "prompts": len(chosen),
            "labels": len(pairs),
            "labels_total": len(pairs) + (self.history[-1]["labels_total"] if self.history else 0),
            "rm_acc_before": before,
            "rm_acc_after": after,
            "seconds": time.perf_counter() - start,
        }
        self.history.append(row)
        log.info(
            "RM refresh @ step %d (%s): %d labels, RM accuracy on them %.2f -> %.2f, %.1f s",
            done,
            row["chooser"],
            row["labels"],
            before,
            after,
            row["seconds"],
        )

    def on_train_end(self, trainer, pl_module) -> None:
        pd.DataFrame(self.history).to_csv(self.out_file, index=False)

    # A resumed run goes on with the refreshes so far and the RM they made (the module's own checkpoint keeps
    # no RM, since an RM is otherwise a frozen input of the run).
    def state_dict(self) -> dict:
        rm = {k: v.detach().clone() for k, v in self.module.rm.state_dict().items()} if self.history else None
        return {"history": self.history, "rm": rm}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history, self.resumed_rm = state_dict["history"], state_dict["rm"]


def labels_bought(run_dir) -> int:
    """The labeler labels a run's RM refresh bought in all (0 for a run without one)."""
    path = Path(run_dir) / REFRESH_FILE
    return int(pd.read_csv(path)["labels_total"].iloc[-1]) if path.is_file() else 0


def reward_refresh_callbacks(
    cfg, world: World, cache: ArtifactCache, pool, out_dir: Path
) -> list[RewardRefresh]:
    """The run's RewardRefresh over its RL rows `pool`; none when online.refresh.chooser is none."""
    refresh = to_container(cfg.online.refresh)
    if refresh["chooser"] == NO_REFRESH:
        return []
    ids = [int(p) for p in pool["prompt_id"]]
    candidates = pd.DataFrame(columns=["prompt_id", "candidate_index", "is_reference", "text"])
    if refresh["chooser"] == "seam":
        candidates = fixed_candidates(cfg, cfg.online.variant, world, cache, ids)
    return [
        RewardRefresh(
            world,
            {"prompt_id": ids, "prompt": list(pool["prompt"])},
            candidates,
            to_container(cfg.seam),
            refresh,
            cfg.rl.rollout.max_new_tokens,
            cfg.rl.rollout.temperature,
            int(cfg.online.seed),
            out_dir / REFRESH_FILE,
            reward_pairs(cfg, world) if refresh["replay"] > 0 else None,
        )
    ]
