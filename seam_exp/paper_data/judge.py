"""The LLM judge: a chat model grades one answer to one question on a 1-10 scale (single-answer grading,
as in MT-Bench, the paper's GPT-4 judge). On data with no gold oracle (data=stack_exchange) the judge is
the gold: every "gold" number of such a run is a judge score (docs/data.md, "The judge").

The judge is asked to reason briefly and end with its rating in double brackets, `[[7]]`; a reply with no
rating in 1..10 is asked again (up to `parse_retries` times), then the run stops with a one-line error
rather than scoring a reply it could not read. Scores are memoised per (question, answer): the start
policy's samples and the reference answers are judged once per run.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from seam_exp.utils.chat_client import ChatClient, OpenAIBackendError, require_openai_package
from seam_exp.utils.config import to_container

log = logging.getLogger(__name__)
JUDGE_BACKENDS = ("openai", "none")

SYSTEM_PROMPT = (
    "You are a fair and careful judge of answers written by an AI assistant. Judge how helpful, relevant, "
    "correct, deep and detailed the answer is for the user's question; its length alone earns nothing. "
    "Explain your judgement in a few sentences, then give a rating from 1 (worst) to 10 (best) in exactly "
    "this form: [[rating]], for example [[6]]."
)
RATING = re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]")


def judge_messages(question: str, answer: str) -> list[dict[str, str]]:
    user = f"[Question]\n{question}\n\n[The assistant's answer]\n{answer}\n[End of the answer]"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def parse_rating(reply: str) -> float | None:
    """The last `[[n]]` of the reply, if it is a rating from 1 to 10."""
    found = RATING.findall(reply)
    if not found:
        return None
    value = float(found[-1])
    return value if 1.0 <= value <= 10.0 else None


class LLMJudge:
    def __init__(
        self,
        client: ChatClient,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        concurrency: int = 8,
        parse_retries: int = 2,
    ):
        self.client, self.temperature, self.max_tokens = client, temperature, max_tokens
        self.concurrency, self.parse_retries = concurrency, parse_retries
        self._memo: dict[tuple[str, str], float] = {}

    @property
    def label(self) -> str:
        return f"judge[openai:{self.client.model}]"

    def rate(self, question: str, answer: str) -> float:
        messages = judge_messages(question, answer)
        reply = ""
        for _ in range(self.parse_retries + 1):
            reply = self.client.complete(messages, self.temperature, self.max_tokens)
            rating = parse_rating(reply)
            if rating is not None:
                return rating
        excerpt = " ".join(reply.split())[:120]
        raise OpenAIBackendError(
            f"the judge at {self.client.url} gave no [[1-10]] rating in {self.parse_retries + 1} replies; "
            f"last: {excerpt!r}"
        )

    def scores(self, questions: Sequence[str], answers: Sequence[str]) -> np.ndarray:
        """The judge's rating of each (question, answer), asked `concurrency` at a time."""
        pairs = list(zip(questions, answers, strict=True))
        todo = sorted({p for p in pairs if p not in self._memo})
        if todo:
            log.info("%s: rating %d answers", self.label, len(todo))
            with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
                for pair, rating in zip(todo, pool.map(lambda p: self.rate(*p), todo), strict=True):
                    self._memo[pair] = rating
        return np.array([self._memo[p] for p in pairs], dtype=np.float64)


def make_judge(cfg) -> LLMJudge | None:
    """The judge of a `data.judge` block (None for backend none); the package openai and the API key are
    checked here, so a run without them stops before any work."""
    cfg = to_container(cfg)
    if cfg["backend"] == "none":
        return None
    if cfg["backend"] != "openai":
        raise ValueError(f"unknown judge backend '{cfg['backend']}'; valid: {', '.join(JUDGE_BACKENDS)}")
    require_openai_package("data/judge=openai")
    client = ChatClient.from_config(cfg)
    return LLMJudge(client, cfg["temperature"], cfg["max_tokens"], cfg["concurrency"], cfg["parse_retries"])
