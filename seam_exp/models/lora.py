"""LoRA adapters (peft) for the paper's path: a large pretrained PM or RM (e.g. Llama-2-7B) trained through
low-rank adapters on the attention projections instead of every weight (`pm.lora`, `rm.lora`; null trains
every weight). Artifacts store the merged model, so every reader loads a plain transformers model."""

from __future__ import annotations

from omegaconf import DictConfig

from seam_exp.errors import UserError

TASKS = {"policy": "CAUSAL_LM", "reward": "SEQ_CLS"}  # SEQ_CLS also trains the new scalar head in full


def with_lora(model, lora: DictConfig | dict | None, role: str):
    """`model` with fresh LoRA adapters as `lora` sets them (only they, and a reward head, train), or the
    model itself when `lora` is null."""
    if not lora:
        return model
    try:
        from peft import LoraConfig, get_peft_model
    except ModuleNotFoundError:
        raise UserError("LoRA (pm.lora / rm.lora) needs the package peft: pip install -e .[lora]") from None
    config = LoraConfig(
        task_type=TASKS[role],
        r=int(lora["r"]),
        lora_alpha=float(lora["alpha"]),
        lora_dropout=float(lora["dropout"]),
        target_modules=list(lora["target_modules"]),
    )
    return get_peft_model(model, config)


def merged(model):
    """The plain model, adapters folded into its weights (a model without adapters as it is)."""
    return model.merge_and_unload() if hasattr(model, "merge_and_unload") else model
