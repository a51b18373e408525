"""Reward-model score normalization for RL.

Bradley-Terry reward models are only defined up to an offset and a scale, which differ from one RM to
the next; without normalization the same KL coefficient would mean a different trade-off for each RM of
a grid. `start` fixes mean and std from the first rollout (samples of the SFT policy, as Stiennon et al.
2020 normalize against reference samples); `running` tracks them over all rollouts so far.
"""

from __future__ import annotations

import math

import torch


class RewardNormalizer:
    def __init__(self, mode: str = "start", clip: float | None = None, eps: float = 1e-6):
        if mode not in ("none", "start", "running"):
            raise ValueError(f"unknown rl.reward.normalize '{mode}'; valid: none, start, running")
        self.mode, self.clip, self.eps = mode, clip, eps
        self.count, self.mean, self.m2 = 0, 0.0, 0.0

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / (self.count - 1)) if self.count > 1 else 1.0

    def _update(self, scores: torch.Tensor) -> None:
        # Chan et al.'s parallel merge of (count, mean, M2): exact for any batch sizes.
        x = scores.detach().double()
        n, mean = x.numel(), float(x.mean())
        m2 = float(((x - mean) ** 2).sum())
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta**2 * self.count * n / total
        self.count = total

    def __call__(self, scores: torch.Tensor) -> torch.Tensor:
        if self.mode == "running" or (self.mode == "start" and self.count == 0):
            self._update(scores)
        out = scores if self.mode == "none" else (scores - self.mean) / (self.std + self.eps)
        return out.clamp(-self.clip, self.clip) if self.clip is not None else out
