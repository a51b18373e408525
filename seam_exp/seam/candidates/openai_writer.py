"""The "GPT" worse-answer writer for any OpenAI-compatible chat completions endpoint (OpenAI, vLLM,
llama.cpp server, ...), through the project's one chat client (seam_exp/utils/chat_client.py)."""

from __future__ import annotations

from seam_exp.utils.chat_client import (  # noqa: F401 - the errors are re-exported
    ChatClient,
    MissingAPIKeyError,
    MissingOpenAIPackageError,
    OpenAIBackendError,
    OpenAIHTTPError,
)

ERROR_KINDS = {
    "factual": "contains a factual error (a wrong fact, number, or name) while still looking plausible",
    "misunderstanding": "misunderstands the question and answers a subtly different question",
    "irrelevant": "drifts into irrelevant content that does not address the question",
    "grammar": "has the right content but contains several grammatical errors",
}

SYSTEM_PROMPT = (
    "You write deliberately flawed answers, used to test reward models. "
    "Reply with the flawed answer only, without any comment or label."
)


def worse_answer_messages(question: str, reference: str, kind: str) -> list[dict[str, str]]:
    """The chat asking for a worse answer of one error kind; shared by the remote and local writers."""
    if kind not in ERROR_KINDS:
        raise ValueError(f"unknown error kind {kind!r}; choose from {sorted(ERROR_KINDS)}")
    user = (
        f"Question:\n{question}\n\nCorrect reference answer:\n{reference}\n\n"
        f"Write a worse answer to the question: one that {ERROR_KINDS[kind]}. "
        "Keep roughly the length and style of the reference."
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


class OpenAIWriter:
    """Asks a chat model for a worse answer of a given error kind (see ERROR_KINDS); retries and errors are
    the chat client's."""

    def __init__(self, client: ChatClient, temperature: float = 0.7, max_tokens: int | None = None):
        self.client = client
        self.temperature, self.max_tokens = temperature, max_tokens

    @property
    def url(self) -> str:
        return self.client.url

    @property
    def model(self) -> str:
        return self.client.model

    def __repr__(self) -> str:  # never print the key
        return f"OpenAIWriter(url={self.url!r}, model={self.model!r})"

    def rewrite_worse(self, question: str, reference: str, kind: str) -> str:
        messages = worse_answer_messages(question, reference, kind)
        return self.client.complete(messages, self.temperature, self.max_tokens)
