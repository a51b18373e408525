"""The PPO critic: a transformer trunk with a scalar head giving a value at every position.

Kept separate from the policy (no shared trunk), so value-loss gradients never disturb the policy.
It starts either from the SFT policy's trunk with a zero head (values start at 0, the mean of the
normalized score) or, as in InstructGPT, from the reward model's trunk and head.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from seam_exp.rl.rollout import RolloutBatch


class ValueModel(nn.Module):
    def __init__(self, trunk: nn.Module, head: nn.Linear):
        super().__init__()
        self.trunk, self.head = trunk, head

    @classmethod
    def from_policy(cls, policy) -> ValueModel:
        trunk = copy.deepcopy(policy.get_decoder())
        head = nn.Linear(policy.config.hidden_size, 1)
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)
        return cls(trunk, head)

    @classmethod
    def from_reward(cls, reward_model) -> ValueModel:
        trunk = copy.deepcopy(reward_model.base_model)
        score = reward_model.score
        head = nn.Linear(score.in_features, 1)
        with torch.no_grad():
            head.weight.copy_(score.weight)
            head.bias.copy_(score.bias if score.bias is not None else torch.zeros(1))
        return cls(trunk, head)

    def forward(self, batch: RolloutBatch) -> torch.Tensor:
        """`[B, T]` values of the states that predict each response token (see seam_exp.rl.advantages)."""
        t = batch.tokens
        hidden = self.trunk(
            input_ids=t.input_ids, attention_mask=t.attention_mask, position_ids=t.position_ids
        ).last_hidden_state
        return self.head(hidden[:, batch.prompt_width - 1 : -1]).squeeze(-1).float()


def build_critic(init: str, policy, reward_model) -> ValueModel:
    if init == "policy":
        return ValueModel.from_policy(policy)
    if init == "reward":
        return ValueModel.from_reward(reward_model)
    raise ValueError(f"unknown rl.critic_init '{init}'; valid: policy, reward")
