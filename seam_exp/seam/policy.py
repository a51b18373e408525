"""The policy whose judgement SEAM weights: the SFT policy of `pm`, an RL checkpoint, or a pretrained
model as shipped (seam.policy in the config; docs/seam.md)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from omegaconf import DictConfig
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

from seam_exp.models.factory import build_policy, pretrained_tokenizer
from seam_exp.models.train import load_policy, policy_key, sft_policy
from seam_exp.seam.scoring import PM, prompt_format_of
from seam_exp.utils.config import to_container


def _weights_file(folder: Path) -> Path:
    return (
        folder / "model" / "model.safetensors"
        if (folder / "model").is_dir()
        else folder / "model.safetensors"
    )


def _checkpoint_id(folder: Path) -> dict:
    # Content, not path, identifies a checkpoint: a retrained policy at the same path is a new policy.
    weights = _weights_file(folder)
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16] if weights.is_file() else "unknown"
    return {"checkpoint": str(folder.resolve()), "content": digest}


def load_checkpoint(folder: Path):
    """A policy checkpoint in either layout: <folder>/{model,tokenizer}/ (cached SFT artifacts) or one
    folder holding both (what rl_finetune writes to <run dir>/policy with rl.save_policy=true)."""
    if not folder.is_dir():
        raise FileNotFoundError(f"seam.policy.checkpoint: no folder at {folder}")
    if (folder / "model").is_dir():
        return load_policy(folder)
    model = AutoModelForCausalLM.from_pretrained(str(folder))
    return model.eval(), PreTrainedTokenizerFast.from_pretrained(str(folder))


def fine_tuned(pm: DictConfig) -> bool:
    """Whether a pm preset is fine-tuned on the data (a pretrained one may be used as shipped)."""
    return float(pm.sft.lr) > 0 and int(pm.sft.max_steps) > 0


def load_pm(cfg: DictConfig, world, cache) -> PM:
    """The PM that SEAM weights with, reading the prompt format of `cfg.pm` (prompt_format_of)."""
    model, tok, label, ident = _load(cfg, world, cache)
    return PM(model, tok, prompt_format_of(cfg.pm, tok), ident, label)


def _load(cfg: DictConfig, world, cache):
    """(model, tokenizer, policy label, identity for cache keys) of the PM that SEAM weights with."""
    if cfg.seam.policy.source == "rl":
        if not cfg.seam.policy.checkpoint:
            raise ValueError("seam.policy.source=rl needs seam.policy.checkpoint=<folder of an RL policy>")
        folder = Path(cfg.seam.policy.checkpoint)
        model, tok = load_checkpoint(folder)
        return model, tok, "rl", _checkpoint_id(folder)
    if cfg.seam.policy.source != "sft":
        raise ValueError(f"unknown seam.policy.source '{cfg.seam.policy.source}'; valid: sft, rl")
    if cfg.pm.source == "scratch" or fine_tuned(cfg.pm):
        folder, _ = sft_policy(cfg, world, cache)
        model, tok = load_policy(folder)
        return model, tok, "sft", {"sft": policy_key(cfg, world), "artifact": folder.name}
    # A pretrained PM with no SFT (lr or steps 0, e.g. SmolLM2-Instruct) is used as shipped.
    tok = pretrained_tokenizer(cfg.pm)
    model = build_policy(cfg.pm, tok).eval()
    ident = {k: v for k, v in to_container(cfg.pm).items() if k in ("name", "source", "gguf", "hub_id")}
    return model, tok, "pretrained", ident
