"""The augmented rows of a set of RL instructions, built with Contrast Instructions (docs/augmentation.md).

For each instruction, the contrast builder retrieves the most similar questions of the training splits the
augmentation pool allows (never an RL or evaluation prompt). From them:
- SFT samples: the first `n` retrieved questions, each with a demonstration drawn in the SFT split's own
  mix of response kinds (mostly correct, some terse, some verbose: the world's `sft_mix`), added to the
  PM's data, so that an added row looks like an original one;
- preference pairs: one on each of the first `n` retrieved questions (skipping one that yields none): that
  question's gold answer against the answer of its own retrieved neighbour the original RM misjudges most
  (highest r(worse) - r(gold)), labeled by the world's labeler as the RM's own pairs were (a noisy human
  may prefer the worse answer; a tie it would drop is skipped for the next answer).
No row holds the text of an RL or eval prompt, the instruction's own included: the retrieval pool is the
training splits the augmentation config allows. Every row names the instruction it was made for
(`augmented_for`).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from datasets import Dataset

from seam_exp.data.layout import format_prompt
from seam_exp.world.build import World
from seam_exp.world.responses import make_response

SFT_STREAM = 1  # the kinds' draw uses its own stream of `seed`, apart from the pairs' labeler coins


def _worse(candidates: pd.DataFrame) -> pd.DataFrame:
    return candidates[~candidates["is_reference"]].sort_values(["prompt_id", "candidate_index"])


def sft_rows(world: World, candidates: pd.DataFrame, n: int, seed: int) -> Dataset:
    """n SFT samples per instruction: the retrieved questions (in retrieval order), each with a response of
    a kind drawn from the world's SFT mix (seeded), as the SFT split's demonstrations are made."""
    kinds, weights = list(world.cfg.sft_mix), np.array(list(world.cfg.sft_mix.values()), dtype=float)
    rng = np.random.default_rng([seed, SFT_STREAM])
    rows = []
    for pid, group in _worse(candidates).groupby("prompt_id", sort=True):
        for provenance in group["provenance"].head(n):
            source = int(json.loads(provenance)["source_prompt_id"])
            problem = world.problems[source]
            kind = str(rng.choice(kinds, p=weights / weights.sum()))
            rows.append(
                {
                    "prompt_id": source,
                    "prompt": format_prompt(problem.question),
                    "family": problem.family,
                    "response": make_response(kind, problem, world.families[problem.family], rng),
                    "kind": kind,
                    "augmented_for": int(pid),
                }
            )
    return Dataset.from_list(rows)


def preference_rows(
    world: World, candidates: pd.DataFrame, rewards: np.ndarray, n: int, seed: int
) -> Dataset:
    """n labeled pairs per instruction: its gold answer against the retrieved answers the RM (whose
    `rewards` of the candidates are given, row-aligned) ranks highest relative to the gold answer."""
    scored = candidates.assign(reward=np.asarray(rewards, dtype=float))
    reference = scored[scored["is_reference"]].set_index("prompt_id")
    rng = np.random.default_rng(seed)
    rows = []
    for pid, group in _worse(scored).groupby("prompt_id", sort=True):
        ref = reference.loc[pid]
        group = group.assign(margin=group["reward"] - ref["reward"])
        taken = 0
        for _, worse in group.sort_values(["margin", "candidate_index"], ascending=[False, True]).iterrows():
            if taken == n:
                break
            label = world.labeler.label(float(ref["gold"]), float(worse["gold"]), rng)
            if label is None:  # a tie the labeler does not label
                continue
            pair = [(ref["text"], "reference", ref["gold"]), (worse["text"], "contrast", worse["gold"])]
            (chosen, chosen_kind, gold_chosen), (rejected, rejected_kind, gold_rejected) = (
                pair if label.a_preferred else pair[::-1]
            )
            rows.append(
                {
                    "prompt_id": int(pid),
                    "prompt": format_prompt(world.problems[int(pid)].question),
                    "family": world.problems[int(pid)].family,
                    "chosen": chosen,
                    "rejected": rejected,
                    "chosen_kind": chosen_kind,
                    "rejected_kind": rejected_kind,
                    "gold_chosen": float(gold_chosen),
                    "gold_rejected": float(gold_rejected),
                    "target": label.target,
                    "is_tie": label.is_tie,
                    "augmented_for": int(pid),
                    "rm_margin": float(worse["margin"]),
                    # the retrieved question whose gold answer is the worse answer (-1: not retrieved)
                    "worse_source_prompt_id": int(
                        json.loads(worse["provenance"]).get("source_prompt_id", -1)
                    ),
                }
            )
            taken += 1
    return Dataset.from_list(rows)


def neighbour_pairs(
    world: World,
    candidates: pd.DataFrame,
    neighbour_candidates: pd.DataFrame,
    neighbour_rewards: np.ndarray,
    n: int,
    seed: int,
) -> Dataset:
    """n labeled pairs per instruction of `candidates`, each on one of its retrieved questions in retrieval
    order: preference_rows' single pair of that question, from its own candidate table
    (`neighbour_candidates`, with the RM's rewards row-aligned), named after the instruction it was made for.
    A question retrieved for several instructions gives each the same pair."""
    per_question = preference_rows(world, neighbour_candidates, neighbour_rewards, 1, seed).to_pandas()
    per_question = per_question.set_index("prompt_id", drop=False)
    rows = []
    for pid, group in _worse(candidates).groupby("prompt_id", sort=True):
        sources = [int(json.loads(p)["source_prompt_id"]) for p in group["provenance"]]
        taken = [s for s in sources if s in per_question.index][:n]
        rows += [{**per_question.loc[s].to_dict(), "augmented_for": int(pid)} for s in taken]
    return Dataset.from_list(rows)


def retrieved_questions(candidates: pd.DataFrame) -> list[int]:
    """Every question the contrast builder retrieved for the instructions of `candidates`, sorted."""
    return sorted({int(json.loads(p)["source_prompt_id"]) for p in _worse(candidates)["provenance"]})
