"""One chat completion from any OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp server, ...): what the
"GPT" worse-answer writer and the LLM judge both send.

The official `openai` client sends it, retries and backs off; this module checks the key before any request
and turns the client's exceptions into one-line errors that name the endpoint. `openai` is an optional extra
(`pip install -e .[openai]`): the default path never calls an endpoint.
"""

from __future__ import annotations

import http
import importlib.util
import json
import os

from seam_exp.errors import UserError


class MissingOpenAIPackageError(UserError, ModuleNotFoundError):
    """A backend that calls an endpoint was chosen and the package openai is not installed."""


class OpenAIBackendError(UserError, RuntimeError):
    """The endpoint could not produce a completion (down, refusing, out of retries): the user's to fix, so
    the entry point reports it in one line."""


class MissingAPIKeyError(OpenAIBackendError):
    """No API key was passed and the environment variable holding it is unset."""


class OpenAIHTTPError(OpenAIBackendError):
    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def require_openai_package(backend: str) -> None:
    """Fail in one line, before any work, when `backend` is chosen and the package openai is not installed."""
    # find_spec, not an import: importing openai (pydantic, httpx) takes a second.
    if importlib.util.find_spec("openai") is None:
        raise MissingOpenAIPackageError(
            f"{backend} needs the package openai, which is not installed (pip install -e .[openai])"
        )


def _status_line(code: int) -> str:
    try:
        return f"{code} {http.HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


class ChatClient:
    """Sends chat requests to `<base_url>/chat/completions` and returns the first choice's text.

    The openai client retries 408, 409, 429, 5xx and connection errors up to max_retries times, with
    exponential back-off (or the server's Retry-After); any other HTTP error is raised at once.
    """

    @classmethod
    def from_config(cls, cfg) -> ChatClient:
        """The client of a config block naming an endpoint (seam/gpt=openai, data/judge=openai)."""
        return cls(
            cfg["base_url"],
            cfg["model"],
            api_key=cfg["api_key"],
            api_key_env=cfg["api_key_env"],
            timeout=cfg["timeout"],
            max_retries=cfg["max_retries"],
        )

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
        max_retries: int = 5,
    ):
        require_openai_package(f"the chat endpoint {base_url}")
        key = api_key or os.environ.get(api_key_env)
        if not key:
            # Fail at construction: offline runs must stop before any work, with one clear line.
            raise MissingAPIKeyError(f"no API key for {base_url}: set the {api_key_env} environment variable")
        import openai

        base_url = base_url.rstrip("/")
        self.url = base_url + "/chat/completions"
        self.model, self.max_retries = model, max_retries
        self._key_source = api_key_env if api_key is None else "the api_key setting"
        self._client = openai.OpenAI(api_key=key, base_url=base_url, timeout=timeout, max_retries=max_retries)

    def __repr__(self) -> str:  # never print the key
        return f"ChatClient(url={self.url!r}, model={self.model!r})"

    def complete(
        self, messages: list[dict[str, str]], temperature: float, max_tokens: int | None = None
    ) -> str:
        import openai

        limit = {} if max_tokens is None else {"max_tokens": max_tokens}
        try:
            reply = self._client.chat.completions.create(
                model=self.model, messages=messages, temperature=temperature, **limit
            )
        except openai.APIStatusError as e:
            raise self._status_error(e) from None
        except openai.APIConnectionError as e:  # timeouts too
            reason = str(e.__cause__ or "") or e.message
            raise OpenAIBackendError(self._gave_up(e.request, f"connection error: {reason}")) from None
        except json.JSONDecodeError as e:
            raise OpenAIBackendError(f"{self.url} returned a non-JSON body") from e
        try:
            return reply.choices[0].message.content.strip()
        except (IndexError, TypeError, AttributeError) as e:
            shown = reply.to_json(indent=None) if hasattr(reply, "to_json") else str(reply)
            raise OpenAIBackendError(f"unexpected response from {self.url}: {shown[:200]}") from e

    def _status_error(self, e) -> OpenAIBackendError:
        status = _status_line(e.status_code)
        if e.status_code in (401, 403):
            return OpenAIHTTPError(
                f"{self.url} returned {status}: check the API key in {self._key_source}", e.status_code
            )
        if e.status_code in (408, 409, 429) or e.status_code >= 500:  # the statuses the client retries
            return OpenAIBackendError(self._gave_up(e.response.request, status))
        detail = " ".join(e.response.text.split())[:300]
        return OpenAIHTTPError(f"{self.url} returned {status}: {detail}", e.status_code)

    def _gave_up(self, request, last: str) -> str:
        # The client sends its retry count with each request (older versions do not: assume all were used).
        retries = request.headers.get("x-stainless-retry-count")
        attempts = int(retries) + 1 if retries and retries.isdigit() else self.max_retries + 1
        return f"{self.url} failed after {attempts} attempt{'s' * (attempts > 1)}; last: {last}"
