"""Content-keyed artifact cache: build once, share across jobs, never use a half-written artifact.

An artifact (the world, a tokenizer, an SFT policy, a reward model, SEAM scores) lives in
`<root>/<kind>/<key>/`, where key = sha256 of the exact config that determines it plus the version of
the code that builds it. Building happens in a temporary folder beside the final one, which gets a
MANIFEST.json (config, file sizes and sha256) last and is then renamed into place: rename is atomic on
one filesystem, so readers see either nothing or a complete artifact. A file lock serialises builders,
so two jobs asking for the same artifact build it once. An artifact whose files do not match its
manifest is treated as corrupt: removed and rebuilt, never used.
"""

from __future__ import annotations

import ast
import errno
import hashlib
import inspect
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from filelock import FileLock

from seam_exp.errors import UserError

log = logging.getLogger(__name__)
MANIFEST = "MANIFEST.json"


def stable_hash(obj: Any, length: int = 16) -> str:
    blob = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def code_version(*modules: ModuleType) -> str:
    """Hash of the code of the modules that build an artifact: editing them invalidates the cache.

    The syntax tree is hashed, not the text, so comments and formatting (ruff format) do not force a
    retrain; any change to what the code does, docstrings included, does.
    """
    return stable_hash([ast.dump(ast.parse(inspect.getsource(m))) for m in modules], length=12)


def source_version(package_dir: Path) -> str:
    """Hash of every module under a package folder (syntax trees, as code_version): what a run's results
    were computed with, so results of older code are never taken for this code's."""
    trees = [ast.dump(ast.parse(p.read_text())) for p in sorted(Path(package_dir).rglob("*.py"))]
    return stable_hash(trees, length=12)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


# What a training writes about itself beside what it trained (models/train.py): its config, its metrics (with
# its wall time) and its logs (with timestamps). They differ between two trainings that gave the same bytes.
RUN_RECORDS = ("config.yaml", "metrics.json", "logs/")


def artifact_digest(folder: Path) -> str:
    """One hash of the files a finished artifact is made of (from its manifest), its run records left out:
    two trainings of one config that gave the same bytes have the same digest, so a model retrained on
    another machine or day can be checked against the one earlier results were computed with
    (runs/README.md)."""
    files = json.loads((Path(folder) / MANIFEST).read_text())["files"]
    made_of = {name: f["sha256"] for name, f in files.items() if not name.startswith(RUN_RECORDS)}
    return stable_hash(made_of, length=16)


def write_manifest(folder: Path, config: Any) -> None:
    files = {
        str(p.relative_to(folder)): {"size": p.stat().st_size, "sha256": file_sha256(p)}
        for p in _files(folder)
    }
    (folder / MANIFEST).write_text(json.dumps({"config": config, "files": files}, indent=1, default=str))


def is_complete(folder: Path) -> bool:
    """True when the manifest exists and every file it lists is present with the recorded size and hash."""
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return False
    try:
        files = json.loads(manifest.read_text())["files"]
    except (json.JSONDecodeError, KeyError):
        return False
    for rel, meta in files.items():
        path = folder / rel
        if not path.is_file() or path.stat().st_size != meta["size"] or file_sha256(path) != meta["sha256"]:
            return False
    return True


class ArtifactCache:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).expanduser().resolve()

    def path(self, kind: str, config: Any, version: str) -> Path:
        return self.root / kind / stable_hash({"config": config, "version": version})

    def get_or_build(
        self, kind: str, config: Any, version: str, build: Callable[[Path], None]
    ) -> tuple[Path, bool]:
        """Return (folder, built_now). `build(tmp_dir)` writes the artifact's files into tmp_dir."""
        final = self.path(kind, config, version)
        if is_complete(final):
            return final, False
        final.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(final) + ".lock"):
            if is_complete(final):  # another job built it while we waited
                return final, False
            if final.exists():
                log.warning("artifact %s/%s is incomplete or corrupt: rebuilding", kind, final.name)
                shutil.rmtree(final)
            tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}.tmp-"))
            try:
                build(tmp)
                write_manifest(tmp, {"kind": kind, "version": version, "config": config})
                os.rename(tmp, final)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                raise UserError(
                    f"disk full while writing the {kind} artifact under {self.root}: free space and run again "
                    "(nothing was written)"
                ) from None
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
        return final, True


TIMING_FILE = "timing.json"


def cached_frame(
    cache: ArtifactCache, kind: str, key: Any, version: str, file: str, make: Callable[[], Any]
) -> tuple[Any, float]:
    """(a pandas frame built by `make` and cached as parquet, seconds it took when it was built): timings
    survive the cache, so a rerun can still report what the computation cost."""
    import pandas as pd  # only frame artifacts need it

    def build(tmp: Path) -> None:
        start = time.perf_counter()
        df = make()
        (tmp / TIMING_FILE).write_text(json.dumps({"seconds": time.perf_counter() - start}))
        df.to_parquet(tmp / file)

    folder, _ = cache.get_or_build(kind, key, version, build)
    return pd.read_parquet(folder / file), json.loads((folder / TIMING_FILE).read_text())["seconds"]
