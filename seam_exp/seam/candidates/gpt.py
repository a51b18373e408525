"""gpt: a writer rewrites the reference answer into a worse one of a given error kind.

Error kinds (seam_exp.seam.candidates.openai_writer.ERROR_KINDS): factual, misunderstanding, irrelevant, grammar;
the k answers of a prompt cycle through the configured kinds. Writers (backends):
    scripted  the world's own error injector (seam_exp.world.responses), deterministic: the default,
              free and offline. factual -> a clearly wrong value; misunderstanding -> a near miss (the
              other number of a comparison, one swapped pair in a sort, off by a little); irrelevant ->
              the answer drowned in off-topic talk; grammar -> broken form.
    local     a Hugging Face causal LM prompted with its chat template (default: the packaged
              SmolLM2-135M-Instruct GGUF), sampled.
    openai    any OpenAI-compatible chat endpoint (seam_exp.seam.candidates.openai_writer).
Generations are cached with the candidate table (seam.candidates.base.build_candidates).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import NamedTuple

from omegaconf import DictConfig, OmegaConf

from seam_exp.seam.candidates.base import Worse, WorseAnswerBuilder, prompt_rng
from seam_exp.seam.candidates.openai_writer import ERROR_KINDS, OpenAIWriter, worse_answer_messages
from seam_exp.utils.chat_client import ChatClient, require_openai_package
from seam_exp.utils.config import to_container
from seam_exp.world.build import World
from seam_exp.world.responses import make_response

log = logging.getLogger(__name__)
BACKENDS = ("scripted", "local", "openai")
SCRIPTED_KINDS = {
    "factual": "wrong",
    "misunderstanding": "partial",
    "irrelevant": "rambling",
    "grammar": "malformed",
}


class Request(NamedTuple):
    prompt_id: int
    kind: str  # an ERROR_KINDS key
    slot: int  # which of the k answers


class ScriptedWriter:
    name = label = "scripted"

    def __init__(self, attempts: int = 8):
        self.attempts = attempts

    def settings(self) -> dict:
        return {"attempts": self.attempts}

    def write(self, world: World, requests: Sequence[Request], seed: int) -> list[str]:
        if not hasattr(world, "families"):
            raise ValueError(
                "gpt[scripted] injects the world's own errors and cannot write for your data: "
                "use seam/gpt=local or seam/gpt=openai"
            )
        out, taken = [], {}
        for r in requests:
            p = world.problems[r.prompt_id]
            seen = taken.setdefault(r.prompt_id, {p.reference})
            # Redraw a few times so that a prompt's k answers differ where the kind allows it.
            for attempt in range(self.attempts):
                rng = prompt_rng(seed, r.prompt_id, f"gpt/{r.kind}/{r.slot}/{attempt}")
                text = make_response(SCRIPTED_KINDS[r.kind], p, world.families[p.family], rng)
                if text not in seen:
                    break
            seen.add(text)
            out.append(text)
        return out


class LocalWriter:
    """A chat LM on this machine. Loaded lazily: building the builder must not cost a model load."""

    name = "local"

    @property
    def label(self) -> str:
        return f"local:{self.model_cfg.name}"

    def __init__(
        self,
        model_cfg: DictConfig | dict,
        max_new_tokens: int,
        temperature: float,
        top_p: float,
        batch_size: int,
    ):
        self.model_cfg = OmegaConf.create(to_container(model_cfg))
        self.max_new_tokens, self.temperature, self.top_p, self.batch_size = (
            max_new_tokens,
            temperature,
            top_p,
            batch_size,
        )
        self._model = self._tokenizer = None

    def settings(self) -> dict:
        return {
            "model": to_container(self.model_cfg),
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
        }

    def load(self):
        if self._model is None:
            from seam_exp.models.factory import build_policy, pretrained_tokenizer

            self._tokenizer = pretrained_tokenizer(self.model_cfg)
            self._model = build_policy(self.model_cfg, self._tokenizer).eval()
        return self._model, self._tokenizer

    def write(self, world: World, requests: Sequence[Request], seed: int) -> list[str]:
        from seam_exp.models.generation import GenerationSettings, generate

        model, tok = self.load()
        if not tok.chat_template:
            raise ValueError(f"the local writer {self.model_cfg.name} has no chat template")
        prompts = [
            tok.apply_chat_template(
                worse_answer_messages(
                    world.problems[r.prompt_id].question, world.problems[r.prompt_id].reference, r.kind
                ),
                tokenize=False,
                add_generation_prompt=True,
            )
            for r in requests
        ]
        samples = generate(
            model,
            tok,
            prompts,
            settings=GenerationSettings(self.max_new_tokens, self.temperature, top_k=0, top_p=self.top_p),
            batch_size=self.batch_size,
            seed=seed,
            progress=True,
        )
        return [t.strip() for t in samples.texts]


class RemoteWriter:
    name = "openai"

    @property
    def label(self) -> str:
        return f"openai:{self.writer.model}"

    def __init__(self, cfg: DictConfig | dict):
        cfg = to_container(cfg)
        require_openai_package("seam/gpt=openai")
        self.writer = OpenAIWriter(ChatClient.from_config(cfg), cfg["temperature"], cfg["max_tokens"])

    def settings(self) -> dict:  # never the key: it is not part of what determines the answers
        return {"url": self.writer.url, "model": self.writer.model, "temperature": self.writer.temperature}

    def write(self, world: World, requests: Sequence[Request], seed: int) -> list[str]:
        out = []
        for i, r in enumerate(requests):
            p = world.problems[r.prompt_id]
            out.append(self.writer.rewrite_worse(p.question, p.reference, r.kind))
            if (i + 1) % 50 == 0:
                log.info("gpt/openai: %d/%d answers written", i + 1, len(requests))
        return out


def make_writer(cfg: DictConfig):
    """The writer of `seam.gpt`: its backend and that backend's settings (conf/seam/gpt/)."""
    if cfg.backend == "scripted":
        return ScriptedWriter(cfg.attempts)
    if cfg.backend == "local":
        return LocalWriter(cfg.model, cfg.max_new_tokens, cfg.temperature, cfg.top_p, cfg.batch_size)
    if cfg.backend == "openai":
        return RemoteWriter(cfg)
    raise ValueError(f"unknown gpt backend '{cfg.backend}'; valid: {', '.join(BACKENDS)}")


class GptBuilder(WorseAnswerBuilder):
    variant = "gpt"

    def __init__(self, writer, kinds: Sequence[str] = tuple(ERROR_KINDS)):
        unknown = [k for k in kinds if k not in ERROR_KINDS]
        if unknown or not kinds:
            raise ValueError(f"unknown gpt error kind {unknown[:1]}; valid: {', '.join(ERROR_KINDS)}")
        self.writer, self.kinds = writer, list(kinds)

    @property
    def label(self) -> str:
        return f"gpt[{self.writer.label}]"

    def settings(self) -> dict:
        return {"backend": self.writer.name, "writer": self.writer.settings(), "kinds": self.kinds}

    def build(self, world: World, prompt_ids: Sequence[int], k: int, seed: int) -> dict[int, list[Worse]]:
        requests = [
            Request(int(pid), self.kinds[i % len(self.kinds)], i) for pid in prompt_ids for i in range(k)
        ]
        texts = self.writer.write(world, requests, seed)
        out: dict[int, list[Worse]] = {int(pid): [] for pid in prompt_ids}
        for r, text in zip(requests, texts, strict=True):
            out[r.prompt_id].append(Worse(text, {"backend": self.writer.name, "kind": r.kind}))
        return out
