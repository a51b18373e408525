"""Shared fixtures: a tiny world (built once per session) and composed real configs."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

import seam_exp.schemas  # noqa: E402, F401 - tests that compose the config need every group's schema registered
from seam_exp.utils.cache import ArtifactCache  # noqa: E402
from tests.fake_openai import FakeServer  # noqa: E402

# `make test` runs two pytest-xdist workers on two cores: one torch thread each, or they oversubscribe.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)
from seam_exp.world.build import WorldConfig, load_world  # noqa: E402


def tiny_world_config(**overrides) -> WorldConfig:
    values = {"prompts_per_family": 40, "num_entities": 12, "vocab_size": 400, **overrides}
    return WorldConfig(**values)


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory):
    return load_world(tiny_world_config(), ArtifactCache(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def no_proxy(monkeypatch):
    # A proxy from the environment would send our 127.0.0.1 requests elsewhere.
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def server(no_proxy):
    s = FakeServer()
    yield s
    s.close()
