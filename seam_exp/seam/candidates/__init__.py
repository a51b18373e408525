"""Worse-answer builders, one module each (contrast, gpt, adv), behind one interface (base.py).

`make_builder` builds the builder of a variant from the `seam` config group."""

from __future__ import annotations

from omegaconf import DictConfig

from seam_exp.seam.candidates.base import WorseAnswerBuilder
from seam_exp.utils.cache import ArtifactCache
from seam_exp.world.build import World

VARIANTS = ("contrast", "gpt", "adv")


def make_builder(variant: str, seam: DictConfig, world: World, cache: ArtifactCache) -> WorseAnswerBuilder:
    # Imports are local: contrast pulls in sentence-transformers and faiss, gpt/local a 135M-parameter model.
    if variant == "contrast":
        from seam_exp.seam.candidates.contrast import ContrastBuilder, packaged_model_folder, question_index

        c = seam.contrast
        folder = packaged_model_folder(c.encoder.package, c.encoder.folder)
        index = question_index(world, cache, folder, list(c.pool_splits), c.batch_size)
        return ContrastBuilder(index, c.max_similarity, list(c.pool_splits))
    if variant == "gpt":
        from seam_exp.seam.candidates.gpt import GptBuilder, make_writer

        return GptBuilder(make_writer(seam.gpt), list(seam.gpt.kinds))
    if variant == "adv":
        from seam_exp.seam.candidates.adv import AdvBuilder

        return AdvBuilder(seam.adv.rate, list(seam.adv.ops), seam.adv.attempts)
    raise ValueError(f"unknown SEAM variant '{variant}'; valid: {', '.join(VARIANTS)}")
