"""Typed view of the `rl` config group (conf/rl/*.yaml); every knob is documented there."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import DictConfig

from seam_exp.errors import UserError
from seam_exp.utils.config import to_container, to_dataclass

ALGORITHMS = ("ppo", "rloo")
KL_ESTIMATORS = ("k1", "k3", "abs", "mse")
REWARD_NORMS = ("none", "start", "running")
REWARD_SOURCES = ("rm", "gold")


class RLConfigError(UserError, ValueError):
    """An invalid `rl` setting, reported as one line."""


@dataclass
class RolloutConfig:
    prompts_per_step: int
    samples_per_prompt: int
    max_new_tokens: int
    temperature: float


@dataclass
class PPOConfig:
    epochs: int
    minibatch_size: int
    clip_range: float
    clip_range_value: float
    vf_coef: float
    gamma: float
    lam: float
    whiten_advantages: bool
    entropy_coef: float
    target_kl: float | None


@dataclass
class KLConfig:
    estimator: str
    coef: float
    adaptive: bool
    target: float
    horizon: int


@dataclass
class RewardConfig:
    source: str
    normalize: str
    clip: float | None
    no_eos_penalty: float | None


@dataclass
class OptimConfig:
    lr: float
    critic_lr: float
    weight_decay: float
    eps: float
    max_grad_norm: float


@dataclass
class EvalConfig:
    every: int
    prompts: int
    samples_per_prompt: int
    seed: int
    val_prompts: int


@dataclass
class RLConfig:
    name: str
    algorithm: str
    steps: int
    critic_init: str
    max_loss: float
    save_policy: bool
    checkpoint_every: int
    rollout: RolloutConfig
    ppo: PPOConfig
    kl: KLConfig
    reward: RewardConfig
    optim: OptimConfig
    eval: EvalConfig

    def __post_init__(self):
        checks = [
            ("algorithm", self.algorithm, ALGORITHMS),
            ("kl.estimator", self.kl.estimator, KL_ESTIMATORS),
            ("reward.normalize", self.reward.normalize, REWARD_NORMS),
            ("reward.source", self.reward.source, REWARD_SOURCES),
        ]
        for key, value, valid in checks:
            if value not in valid:
                raise RLConfigError(f"unknown rl.{key} '{value}'; valid: {', '.join(valid)}")
        if self.algorithm == "rloo" and self.rollout.samples_per_prompt < 2:
            raise RLConfigError("rl.algorithm=rloo needs rl.rollout.samples_per_prompt >= 2 (leave-one-out)")
        batch = self.rollout.prompts_per_step * self.rollout.samples_per_prompt
        if not 0 < self.ppo.minibatch_size <= batch:
            raise RLConfigError(f"rl.ppo.minibatch_size must be in [1, {batch}] (the rollout size)")


SECTIONS = {
    "rollout": RolloutConfig,
    "ppo": PPOConfig,
    "kl": KLConfig,
    "reward": RewardConfig,
    "optim": OptimConfig,
    "eval": EvalConfig,
}


def rl_config(cfg: DictConfig | dict) -> RLConfig:
    values = to_container(cfg)
    sections = {name: to_dataclass(cls, values.pop(name, {}), f"rl.{name}") for name, cls in SECTIONS.items()}
    return to_dataclass(RLConfig, {**values, **sections}, "rl")
