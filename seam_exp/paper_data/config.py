"""The schemas of `data=stack_exchange` and of its judge (`data/judge`), with their value rules.

StackExchangeConfig (paper_data/stack_exchange.py) declares the data's keys and defaults; the subclass
adds the judge and the rules checked when a run's config is composed (seam_exp/schemas.py). A subclass,
not an edit: the code of stack_exchange.py keys the cached data and every SEAM artifact built on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import MISSING

from seam_exp.paper_data.judge import JUDGE_BACKENDS
from seam_exp.paper_data.stack_exchange import SOURCES, StackExchangeConfig
from seam_exp.utils.checks import at_least, at_least_each, one_of, within


@dataclass
class JudgeConfig:
    """The gold of data=stack_exchange: a backend group (conf/data/judge/), e.g. data/judge=none."""

    backend: str = MISSING

    def __post_init__(self):
        one_of("data.judge.backend", self.backend, JUDGE_BACKENDS)


@dataclass
class NoJudgeConfig(JudgeConfig):
    """No judge: enough for SEAM scoring and model training, not for judged RL."""

    backend: str = "none"


@dataclass
class OpenAIJudgeConfig(JudgeConfig):
    """An LLM grading each answer 1-10 (MT-Bench single-answer grading, the paper's GPT-4 judge) through any
    OpenAI-compatible endpoint; the key is read from the environment variable api_key_env."""

    backend: str = "openai"
    base_url: str = "https://api.openai.com/v1"
    model: str = "gpt-4"
    api_key: str | None = None  # None: read from the environment variable api_key_env
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = 0.0
    max_tokens: int = 512
    timeout: float = 60.0
    max_retries: int = 5
    parse_retries: int = 2  # replies without a [[1-10]] rating asked again
    concurrency: int = 8

    def __post_init__(self):
        super().__post_init__()
        at_least_each("data.judge", self, temperature=0, max_retries=0, parse_retries=0, concurrency=1)


@dataclass
class StackExchangeSchema(StackExchangeConfig):
    judge: Any = MISSING  # a JudgeConfig of the backend chosen in conf/data/stack_exchange.yaml

    def __post_init__(self):
        super().__post_init__()  # validation fractions
        one_of("data.source", self.source, SOURCES)
        at_least("data.max_questions", self.max_questions, 1)
        within("data.rm_test_fraction", self.rm_test_fraction, 0, 1, open_low=True, open_high=True)
        at_least("data.vocab_size", self.vocab_size, 50)


SCHEMAS = {
    "data/_stack_exchange": StackExchangeSchema,
    "data/judge/_none": NoJudgeConfig,
    "data/judge/_openai": OpenAIJudgeConfig,
}
