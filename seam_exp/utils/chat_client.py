"""One chat completion from any OpenAI-compatible endpoint (OpenAI, vLLM, llama.cpp server, ...): what the
"GPT" worse-answer writer and the LLM judge both send.

Standard library only (urllib): all we need is one JSON POST, and the official SDK would add a heavy
dependency tree (httpx, pydantic, ...) to a package whose default path never calls it.
"""

from __future__ import annotations

import http
import json
import os
import time
import urllib.error
import urllib.request

from seam_exp.errors import UserError


class OpenAIBackendError(UserError, RuntimeError):
    """The endpoint could not produce a completion (down, refusing, out of retries): the user's to fix, so
    the entry point reports it in one line."""


class MissingAPIKeyError(OpenAIBackendError):
    """No API key was passed and the environment variable holding it is unset."""


class OpenAIHTTPError(OpenAIBackendError):
    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def _status_line(code: int) -> str:
    try:
        return f"{code} {http.HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


def _is_retryable(code: int) -> bool:
    return code == 429 or code >= 500


class ChatClient:
    """POSTs chat requests to `<base_url>/chat/completions` and returns the first choice's text.

    Retries 429, 5xx and connection errors with exponential backoff (backoff * 2**attempt seconds, or the
    server's Retry-After if longer), up to max_retries retries; any other HTTP error is raised at once.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
        max_retries: int = 5,
        backoff: float = 1.0,
    ):
        key = api_key or os.environ.get(api_key_env)
        if not key:
            # Fail at construction: offline runs must stop before any work, with one clear line.
            raise MissingAPIKeyError(f"no API key for {base_url}: set the {api_key_env} environment variable")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model, self.api_key_env = model, api_key_env
        self.timeout, self.max_retries, self.backoff = timeout, max_retries, backoff
        self._key = key

    def __repr__(self) -> str:  # never print the key
        return f"ChatClient(url={self.url!r}, model={self.model!r})"

    def complete(
        self, messages: list[dict[str, str]], temperature: float, max_tokens: int | None = None
    ) -> str:
        body = {"model": self.model, "messages": messages, "temperature": temperature}
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        data = self._post(body)
        try:
            return data["choices"][0]["message"]["content"].strip()
        except (KeyError, IndexError, TypeError, AttributeError) as e:
            raise OpenAIBackendError(f"unexpected response from {self.url}: {str(data)[:200]}") from e

    def _post(self, body: dict) -> dict:
        payload = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self._key}"}
        last = ""
        for attempt in range(self.max_retries + 1):
            wait = self.backoff * 2**attempt
            req = urllib.request.Request(self.url, data=payload, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return json.loads(resp.read())
            except urllib.error.HTTPError as e:  # before URLError: HTTPError is a subclass
                detail = e.read()[:300].decode(errors="replace")
                e.close()
                msg = f"OpenAI endpoint returned {_status_line(e.code)}"
                if e.code in (401, 403):
                    raise OpenAIHTTPError(f"{msg}: check the API key in {self.api_key_env}", e.code) from None
                if not _is_retryable(e.code):
                    raise OpenAIHTTPError(f"{msg}: {detail}", e.code) from None
                last = msg
                retry_after = e.headers.get("Retry-After", "") if e.headers else ""
                if retry_after.isdigit():
                    wait = max(wait, float(retry_after))
            except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
                last = f"connection error: {getattr(e, 'reason', e)}"
            except json.JSONDecodeError as e:
                raise OpenAIBackendError(f"{self.url} returned a non-JSON body") from e
            if attempt < self.max_retries:
                time.sleep(wait)
        raise OpenAIBackendError(f"{self.url} failed after {self.max_retries + 1} attempts; last: {last}")
