"""OpenAIWriter against a fake OpenAI-compatible server on 127.0.0.1."""

import socket
import sys

import pytest
from omegaconf import OmegaConf

from seam_exp.seam.candidates.gpt import RemoteWriter
from seam_exp.seam.candidates.openai_writer import (
    MissingAPIKeyError,
    MissingOpenAIPackageError,
    OpenAIBackendError,
    OpenAIHTTPError,
    OpenAIWriter,
)
from seam_exp.seam.config import OpenAIWriterConfig
from seam_exp.utils.chat_client import ChatClient
from tests.fake_openai import completion


@pytest.fixture(autouse=True)
def _no_proxy(no_proxy):
    pass


def writer(server, **kw) -> OpenAIWriter:
    kw = {"api_key": "sk-test", "max_retries": 3, "timeout": 5.0} | kw
    return OpenAIWriter(ChatClient(server.base_url, "gpt-test", **kw))


def test_request_shape_and_answer(server):
    server.script = [(200, completion("  Paris is in Spain.\n"))]
    out = writer(server).rewrite_worse("Where is Paris?", "Paris is in France.", "factual")
    assert out == "Paris is in Spain."
    (req,) = server.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["authorization"] == "Bearer sk-test"
    assert req["headers"]["content-type"] == "application/json"
    body = req["body"]
    assert body["model"] == "gpt-test"
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    user = body["messages"][1]["content"]
    assert "Where is Paris?" in user and "Paris is in France." in user and "factual error" in user


def test_key_from_environment(server, monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-env")
    OpenAIWriter(ChatClient(server.base_url, "m", api_key_env="MY_KEY")).rewrite_worse("q", "a", "grammar")
    assert server.requests[0]["headers"]["authorization"] == "Bearer sk-env"


def test_retries_on_500_then_succeeds(server):
    server.script = [
        (500, {"error": "boom"}),
        (503, {"error": "busy"}),
        (429, {"error": "slow down"}),
        (200, completion("worse")),
    ]
    assert writer(server).rewrite_worse("q", "a", "irrelevant") == "worse"
    assert len(server.requests) == 4


def test_gives_up_after_max_retries(server):
    server.script = [(500, {"error": "boom"})] * 5
    with pytest.raises(
        OpenAIBackendError, match="/chat/completions failed after 3 attempts; last: 500 Internal"
    ):
        writer(server, max_retries=2).rewrite_worse("q", "a", "misunderstanding")
    assert len(server.requests) == 3


def test_401_fails_at_once_with_clear_message(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    server.script = [(401, {"error": {"message": "invalid key"}})]
    with pytest.raises(OpenAIHTTPError) as err:
        writer(server, api_key=None).rewrite_worse("q", "a", "factual")
    assert str(err.value) == (
        f"{server.base_url}/chat/completions returned 401 Unauthorized: check the API key in OPENAI_API_KEY"
    )
    assert err.value.status == 401
    assert len(server.requests) == 1


def test_400_is_not_retried(server):
    server.script = [(400, {"error": {"message": "bad model"}})]
    with pytest.raises(OpenAIHTTPError, match="400 Bad Request"):
        writer(server).rewrite_worse("q", "a", "factual")
    assert len(server.requests) == 1


def test_connection_error_is_retried_then_reported():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    w = OpenAIWriter(ChatClient(f"http://127.0.0.1:{port}/v1", "m", api_key="k", max_retries=1, timeout=2))
    with pytest.raises(OpenAIBackendError, match="2 attempts; last: connection error"):
        w.rewrite_worse("q", "a", "factual")


def test_missing_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="set the OPENAI_API_KEY environment variable"):
        ChatClient("http://127.0.0.1:1/v1", "m")


def test_without_the_openai_package_the_writer_fails_in_one_line_before_any_request(server, monkeypatch):
    monkeypatch.setitem(sys.modules, "openai", None)  # as if not installed: find_spec finds nothing
    with pytest.raises(MissingOpenAIPackageError, match=r"^seam/gpt=openai needs the package openai"):
        RemoteWriter(OmegaConf.structured(OpenAIWriterConfig(base_url=server.base_url, api_key="sk-test")))
    with pytest.raises(MissingOpenAIPackageError, match=r"not installed \(pip install -e \.\[openai\]\)$"):
        writer(server)
    assert server.requests == []


def test_a_reply_that_is_no_chat_completion_is_one_line(server):
    server.script = [(200, {"choices": []})]
    with pytest.raises(
        OpenAIBackendError, match=r"unexpected response from .*/chat/completions: \{\"choices\":\[\]\}"
    ):
        writer(server).rewrite_worse("q", "a", "factual")


def test_unknown_kind_and_key_not_in_repr(server):
    w = writer(server)
    with pytest.raises(ValueError, match="factual"):
        w.rewrite_worse("q", "a", "sarcasm")
    assert "sk-test" not in repr(w)
    assert server.requests == []
