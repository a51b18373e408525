"""The LLM judge (MT-Bench-style 1-10 grading) against a fake OpenAI-compatible server."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest
from omegaconf import OmegaConf

from seam_exp.paper_data.config import NoJudgeConfig, OpenAIJudgeConfig
from seam_exp.paper_data.judge import LLMJudge, make_judge, parse_rating
from seam_exp.utils.chat_client import (
    ChatClient,
    MissingAPIKeyError,
    MissingOpenAIPackageError,
    OpenAIBackendError,
)
from tests.fake_openai import FakeServer, completion


def rating_of(answer: str) -> int:
    return len(answer) % 10 + 1


def grade(body: dict) -> str:
    """A judge that rates an answer by its length, so the test knows every rating in advance."""
    answer = re.search(
        r"\[The assistant's answer\]\n(.*)\n\[End of the answer\]", body["messages"][1]["content"], re.S
    )
    return f"The answer is fine. Rating: [[{rating_of(answer.group(1))}]]"


@pytest.fixture
def judge_server(no_proxy):
    s = FakeServer(reply=grade)
    yield s
    s.close()


def judge(server, **kw) -> LLMJudge:
    client = ChatClient(server.base_url, "judge-test", api_key="sk-test", max_retries=1, timeout=5)
    return LLMJudge(client, **({"concurrency": 3} | kw))


@pytest.mark.parametrize(
    ("reply", "rating"),
    [
        ("Good. [[7]]", 7.0),
        ("Rating: [[ 8.5 ]]", 8.5),
        ("first [[2]] then, on reflection, [[4]]", 4.0),
        ("[[10]]", 10.0),
        ("[[11]]", None),
        ("[[0]]", None),
        ("Rating: 7", None),
    ],
)
def test_the_rating_is_the_last_double_bracketed_number_from_1_to_10(reply, rating):
    assert parse_rating(reply) == rating


def test_scores_are_the_judges_ratings_asked_once_per_distinct_answer(judge_server):
    questions = ["How do I sort a list?", "Why is the sky blue?", "How do I sort a list?"]
    answers = ["Use sorted(xs).", "Rayleigh scattering of sunlight.", "Use sorted(xs)."]
    j = judge(judge_server)
    scores = j.scores(questions, answers)
    np.testing.assert_array_equal(scores, [rating_of(a) for a in answers])
    assert len(judge_server.requests) == 2  # the repeated (question, answer) is judged once
    body = judge_server.requests[0]["body"]
    assert body["model"] == "judge-test" and body["temperature"] == 0.0
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "[[" in body["messages"][0]["content"]
    asked = {r["body"]["messages"][1]["content"] for r in judge_server.requests}
    assert any("Why is the sky blue?" in u and "Rayleigh" in u for u in asked)
    j.scores(questions[:1], answers[:1])  # memoised: no new request
    assert len(judge_server.requests) == 2


def test_a_reply_without_a_rating_is_asked_again_then_fails_in_one_line(judge_server):
    judge_server.script = [(200, completion("I would rather not say."))] + [(200, completion("[[6]]"))]
    assert judge(judge_server, parse_retries=1).scores(["q"], ["a"]).tolist() == [6.0]
    judge_server.script = [(200, completion("No rating here."))] * 3
    with pytest.raises(
        OpenAIBackendError, match=r"no \[\[1-10\]\] rating in 3 replies; last: 'No rating here.'"
    ):
        judge(judge_server, parse_retries=2).scores(["q2"], ["a2"])


def test_a_judge_server_that_is_down_is_one_line():
    client = ChatClient("http://127.0.0.1:9/v1", "m", api_key="k", max_retries=1, timeout=2)
    with pytest.raises(OpenAIBackendError, match="2 attempts; last: connection error"):
        LLMJudge(client).scores(["q"], ["a"])


JUDGE_SETTINGS = OmegaConf.structured(
    OpenAIJudgeConfig(
        base_url="http://127.0.0.1:9/v1",
        model="gpt-4",
        api_key_env="SEAM_TEST_JUDGE_KEY",
        timeout=5.0,
        max_retries=0,
        parse_retries=0,
        concurrency=1,
    )
)
NO_JUDGE = OmegaConf.structured(NoJudgeConfig())


def test_make_judge_checks_the_key_before_any_request(monkeypatch):
    settings = JUDGE_SETTINGS
    monkeypatch.delenv("SEAM_TEST_JUDGE_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="set the SEAM_TEST_JUDGE_KEY environment variable"):
        make_judge(settings)
    assert make_judge(NO_JUDGE) is None
    monkeypatch.setenv("SEAM_TEST_JUDGE_KEY", "sk-x")
    assert make_judge(settings).label == "judge[openai:gpt-4]"


def test_make_judge_without_the_openai_package_is_one_line_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "openai", None)  # as if not installed: find_spec finds nothing
    monkeypatch.setenv("SEAM_TEST_JUDGE_KEY", "sk-x")
    with pytest.raises(MissingOpenAIPackageError) as err:
        make_judge(JUDGE_SETTINGS)
    assert str(err.value) == (
        "data/judge=openai needs the package openai, which is not installed (pip install -e .[openai])"
    )
    assert make_judge(NO_JUDGE) is None  # the default path needs no openai
