"""The `rl` config group's schema (conf/rl/*.yaml select and override it; docs/rl.md).

RL fine-tuning of the PM against the frozen RM (seam_exp/rl/module.py); the reference policy of the KL
penalty is the frozen SFT policy the run starts from. Each default is declared here once; the keys the
YAML wires to other groups (`steps`, `rollout.max_new_tokens`, `eval.*`, and `optim.lr` and `kl.coef`,
which follow the PM's RL recipe) are MISSING until it does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING, DictConfig, OmegaConf

from seam_exp.utils.checks import BadValue, above, at_least, at_least_each, one_of, within
from seam_exp.utils.config import to_container, to_dataclass

ALGORITHMS = ("ppo", "rloo")
KL_ESTIMATORS = ("k1", "k3", "abs", "mse")
REWARD_NORMS = ("none", "start", "running")
REWARD_SOURCES = ("rm", "gold")
CRITIC_INITS = ("policy", "reward")


@dataclass
class RolloutConfig:
    prompts_per_step: int = 32
    samples_per_prompt: int = 1  # > 1 samples the same prompt several times (RLOO needs >= 2)
    max_new_tokens: int = MISSING
    temperature: float = 1.0  # pure sampling (no top-k/top-p) so that PPO's log-probs are the sampling ones

    def __post_init__(self):
        at_least_each("rl.rollout", self, prompts_per_step=1, samples_per_prompt=1, max_new_tokens=1)
        above("rl.rollout.temperature", self.temperature, 0)


@dataclass
class PPOConfig:
    epochs: int = 2  # passes over each rollout
    minibatch_size: int = 16
    clip_range: float = 0.2  # policy ratio clip
    clip_range_value: float = 0.2  # value clip around the rollout's values
    vf_coef: float = 0.5
    gamma: float = 1.0
    lam: float = 0.95
    whiten_advantages: bool = True
    entropy_coef: float = 0.0
    target_kl: float | None = None  # stop a rollout's epochs early once the mean approx-KL exceeds this

    def __post_init__(self):
        at_least("rl.ppo.epochs", self.epochs, 1)
        at_least("rl.ppo.minibatch_size", self.minibatch_size, 1)
        above("rl.ppo.clip_range", self.clip_range, 0)
        within("rl.ppo.gamma", self.gamma, 0, 1)
        within("rl.ppo.lam", self.lam, 0, 1)


@dataclass
class KLConfig:
    estimator: str = "k1"  # k1 (classic, unbiased) | k3 (unbiased, >= 0) | abs | mse
    coef: float = MISSING  # beta: fixed, or the initial value when adaptive; the PM's pm.rl.kl_coef
    adaptive: bool = False  # Ziegler et al. 2019 controller towards `target` nats
    target: float = 6.0
    horizon: int = 10000

    def __post_init__(self):
        one_of("rl.kl.estimator", self.estimator, KL_ESTIMATORS)
        at_least("rl.kl.coef", self.coef, 0)


@dataclass
class RewardConfig:
    source: str = "rm"  # rm | gold: train on the gold reward itself (an oracle ceiling for the RM's runs)
    normalize: str = "start"  # none | start (mean/std of the first rollout's scores) | running
    clip: float | None = None  # clip the normalized score to [-clip, clip]
    no_eos_penalty: float | None = None  # score given instead of the RM's to responses that never emitted EOS

    def __post_init__(self):
        one_of("rl.reward.source", self.source, REWARD_SOURCES)
        one_of("rl.reward.normalize", self.normalize, REWARD_NORMS)


@dataclass
class OptimConfig:
    lr: float = MISSING  # the policy's: the PM's pm.rl.lr (seam_exp/model_presets.py, RLRecipe)
    critic_lr: float = 3.0e-4
    weight_decay: float = 0.0
    eps: float = 1.0e-5
    max_grad_norm: float = 1.0  # clipped separately for the policy and the critic

    def __post_init__(self):
        above("rl.optim.lr", self.lr, 0)
        above("rl.optim.critic_lr", self.critic_lr, 0)
        above("rl.optim.max_grad_norm", self.max_grad_norm, 0)


@dataclass
class EvalConfig:
    """Gold-judged evaluation on held-out eval prompts (seam_exp/rl/evaluation.py)."""

    every: int = 0  # evaluate every N steps as well (0: only at the start and at the end)
    # ... and after each of these RL steps: early ones (e.g. [2, 4, 8]) give the KL-budget reading points
    # below the KL a fast-moving PM reaches by the first `every` (docs/rl.md, "Gold evaluation")
    at: list[int] = field(default_factory=list)
    prompts: int = MISSING
    samples_per_prompt: int = MISSING
    seed: int = 2024  # the same samples' randomness for the SFT start and every later policy
    # Validation prompts (held-out RM-test prompts, disjoint from RL and eval prompts) judged alongside at
    # every evaluation: checkpoints are chosen on them (e.g. the best one within a KL budget), never on eval.
    val_prompts: int = MISSING

    def __post_init__(self):
        at_least_each("rl.eval", self, every=0, prompts=1, samples_per_prompt=1, val_prompts=0)
        for step in self.at:
            at_least("rl.eval.at", step, 1)


@dataclass
class RLConfig:
    name: str = MISSING
    algorithm: str = "ppo"  # ppo | rloo (conf/rl/rloo.yaml)
    steps: int = MISSING  # rollouts (each followed by ppo.epochs passes of minibatch updates)
    # policy: SFT trunk + zero head | reward: the RM's trunk and head (InstructGPT)
    critic_init: str = "policy"
    # |loss| above this counts as exploding: stop, restore and save the last good weights
    max_loss: float = 1.0e3
    save_policy: bool = False  # write the final policy to <run dir>/policy
    # Checkpoint every N RL steps (0: never) to <run dir>/checkpoints, removed once the run finishes; a run
    # stopped on the way continues from it with resume=true (docs/rl.md, "Resuming a run").
    checkpoint_every: int = 10
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    kl: KLConfig = field(default_factory=KLConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self):
        one_of("rl.algorithm", self.algorithm, ALGORITHMS)
        one_of("rl.critic_init", self.critic_init, CRITIC_INITS)
        at_least("rl.steps", self.steps, 1)
        above("rl.max_loss", self.max_loss, 0)
        at_least("rl.checkpoint_every", self.checkpoint_every, 0)
        if self.algorithm == "rloo" and self.rollout.samples_per_prompt < 2:
            raise BadValue("rl.algorithm=rloo needs rl.rollout.samples_per_prompt >= 2 (leave-one-out)")
        batch = self.rollout.prompts_per_step * self.rollout.samples_per_prompt
        if not 0 < self.ppo.minibatch_size <= batch:
            raise BadValue(f"rl.ppo.minibatch_size: must be in [1, {batch}] (the rollout size)")


SECTIONS = {
    "rollout": RolloutConfig,
    "ppo": PPOConfig,
    "kl": KLConfig,
    "reward": RewardConfig,
    "optim": OptimConfig,
    "eval": EvalConfig,
}


def rl_config(cfg: DictConfig | dict) -> RLConfig:
    """The `rl` group as its dataclass; every value rule checked (a bad value raises BadValue)."""
    if isinstance(cfg, DictConfig) and OmegaConf.get_type(cfg) is RLConfig:
        return OmegaConf.to_object(cfg)
    values = to_container(cfg)
    sections = {name: to_dataclass(cls, values.pop(name, {}), f"rl.{name}") for name, cls in SECTIONS.items()}
    return to_dataclass(RLConfig, {**values, **sections}, "rl")
