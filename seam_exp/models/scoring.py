"""The reward model's score of (prompt, response) texts: the one text-level RM scoring helper."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from seam_exp.models.batching import encode_pairs, length_sorted_batches
from seam_exp.models.reward import reward_scores


@torch.no_grad()
def score_texts(
    rm, tokenizer, prompts: Sequence[str], responses: Sequence[str], batch_size: int = 128
) -> np.ndarray:
    """RM reward of each (prompt, response), float64, in input order."""
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
    was_training = rm.training
    rm.eval()
    device = next(rm.parameters()).device
    rewards = np.zeros(len(prompts), dtype=np.float64)
    for rows in length_sorted_batches(prompts, responses, batch_size):
        batch = encode_pairs(tokenizer, [prompts[i] for i in rows], [responses[i] for i in rows])
        rewards[rows] = reward_scores(rm, batch.to(device)).cpu().numpy()
    rm.train(was_training)
    return rewards
