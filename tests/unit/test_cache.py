"""The artifact cache: one build per key, reuse on hit, rebuild on corruption, one build under concurrency."""

from __future__ import annotations

import errno
import multiprocessing as mp
import time
from pathlib import Path

import pytest

from seam_exp.errors import UserError
from seam_exp.utils.cache import ArtifactCache, artifact_digest, is_complete


def _writer(calls: list):
    def build(folder: Path):
        calls.append(folder)
        (folder / "weights.bin").write_bytes(b"\x01" * 1000)
        (folder / "sub").mkdir()
        (folder / "sub" / "config.json").write_text("{}")

    return build


def test_build_once_then_hit(tmp_path):
    cache, calls = ArtifactCache(tmp_path), []
    path1, built1 = cache.get_or_build("pm", {"size": "s"}, "v1", _writer(calls))
    path2, built2 = cache.get_or_build("pm", {"size": "s"}, "v1", _writer(calls))
    assert (built1, built2) == (True, False)
    assert path1 == path2 and len(calls) == 1
    assert is_complete(path1)
    assert not [p for p in path1.parent.iterdir() if ".tmp-" in p.name]


def test_key_depends_on_config_and_code_version(tmp_path):
    cache = ArtifactCache(tmp_path)
    a = cache.path("pm", {"size": "s"}, "v1")
    assert a != cache.path("pm", {"size": "m"}, "v1")
    assert a != cache.path("pm", {"size": "s"}, "v2")
    assert a == cache.path("pm", {"size": "s"}, "v1")


def test_corrupt_or_partial_artifact_is_rebuilt(tmp_path):
    cache, calls = ArtifactCache(tmp_path), []
    path, _ = cache.get_or_build("rm", {"x": 1}, "v", _writer(calls))
    (path / "weights.bin").write_bytes(b"\x02" * 1000)  # same size, different content
    assert not is_complete(path)
    _, built = cache.get_or_build("rm", {"x": 1}, "v", _writer(calls))
    assert built and len(calls) == 2
    (path / "sub" / "config.json").unlink()  # a missing file
    _, built = cache.get_or_build("rm", {"x": 1}, "v", _writer(calls))
    assert built and len(calls) == 3
    assert (path / "weights.bin").read_bytes() == b"\x01" * 1000


def test_failed_build_leaves_nothing_behind(tmp_path):
    cache = ArtifactCache(tmp_path)

    def broken(folder: Path):
        (folder / "half.bin").write_bytes(b"x")
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        cache.get_or_build("pm", {"a": 1}, "v", broken)
    kind_dir = tmp_path / "pm"
    assert [p.name for p in kind_dir.iterdir() if not p.name.endswith(".lock")] == []


def test_disk_full_is_one_line_and_leaves_nothing_behind(tmp_path):
    cache = ArtifactCache(tmp_path)

    def fills_the_disk(folder: Path):
        (folder / "half.bin").write_bytes(b"x")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(UserError, match="disk full while writing the pm artifact .*nothing was written"):
        cache.get_or_build("pm", {"a": 1}, "v", fills_the_disk)
    assert [p.name for p in (tmp_path / "pm").iterdir() if not p.name.endswith(".lock")] == []
    path, built = cache.get_or_build("pm", {"a": 1}, "v", lambda f: (f / "w.bin").write_bytes(b"ok"))
    assert built and (path / "w.bin").read_bytes() == b"ok"  # the next run builds it cleanly


def _concurrent_build(root: str, counter: str):
    def build(folder: Path):
        with open(counter, "a") as f:
            f.write("built\n")
        time.sleep(0.5)
        (folder / "w.bin").write_bytes(b"abc")

    ArtifactCache(root).get_or_build("pm", {"same": True}, "v", build)


def test_concurrent_jobs_build_once(tmp_path):
    counter = tmp_path / "count.txt"
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(target=_concurrent_build, args=(str(tmp_path / "c"), str(counter))) for _ in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert counter.read_text().count("built") == 1


def test_code_version_ignores_comments_and_formatting_but_not_code(tmp_path, monkeypatch):
    import importlib
    import sys

    from seam_exp.utils.cache import code_version

    def version_of(source: str) -> str:
        (tmp_path / "probe_mod.py").write_text(source)
        sys.modules.pop("probe_mod", None)
        importlib.invalidate_caches()
        return code_version(importlib.import_module("probe_mod"))

    monkeypatch.syspath_prepend(str(tmp_path))
    base = version_of("def f(x):\n    return x + 1\n")
    assert version_of("def f(x):  # a comment\n\n    return (x +  1)\n") == base
    assert version_of("def f(x):\n    return x + 2\n") != base


def test_artifact_digest_is_the_bytes_not_the_place_or_the_key(tmp_path):
    def weights(content: bytes, seconds: float = 1.0):
        def build(folder: Path):
            (folder / "weights.bin").write_bytes(content)
            # a training's own records: its wall time and log lines differ between equal trainings
            (folder / "metrics.json").write_text(f'{{"seconds": {seconds}}}')
            (folder / "logs").mkdir()
            (folder / "logs" / "train.log").write_text(f"took {seconds} s")

        return build

    same_a, _ = ArtifactCache(tmp_path / "a").get_or_build("pm", {"size": "s"}, "v1", weights(b"\x01" * 8))
    same_b, _ = ArtifactCache(tmp_path / "b").get_or_build(
        "pm", {"size": "m"}, "v2", weights(b"\x01" * 8, seconds=2.5)
    )
    other, _ = ArtifactCache(tmp_path / "c").get_or_build(
        "pm", {"size": "s"}, "v1", weights(b"\x01" * 7 + b"\x02")
    )
    assert artifact_digest(same_a) == artifact_digest(same_b) != artifact_digest(other)
