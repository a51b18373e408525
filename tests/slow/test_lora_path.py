"""The paper's path in miniature, offline: a pretrained Llama in the Hugging Face format (here a tiny random
one saved by the test) as `source=hub` PM and RM, trained through LoRA adapters (SFT, RM, RL)."""

from __future__ import annotations

import pytest
import torch
from hydra import compose, initialize_config_dir
from transformers import LlamaForCausalLM

from seam_exp.models.factory import llama_config
from seam_exp.models.train import load_policy, load_reward, sft_policy, trained_reward
from seam_exp.rl.run import rl_finetune
from seam_exp.utils.cache import ArtifactCache
from seam_exp.utils.config import CONF_DIR

pytestmark = pytest.mark.slow
ARCH = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}
LORA = "{r: 4, alpha: 8, dropout: 0.0, target_modules: [q_proj, v_proj]}"


def _cfg(base, cache_dir):
    overrides = [
        "+experiment=world",
        "scale=smoke",
        f"paths.cache_dir={cache_dir}",
        "trainer.enable_progress_bar=false",
        *(f"{p}.source=hub" for p in ("pm", "rm")),
        *(f"+{p}.hub_id={base}" for p in ("pm", "rm")),
        *(f"{p}.lora={LORA}" for p in ("pm", "rm")),
        "pm.sft.max_steps=30",
        "pm.sft.lr=1e-2",
        "rm.train.max_steps=30",
        "rm.train.lr=1e-2",
        "rl.steps=2",
        "rl.eval.prompts=4",
        "rl.eval.val_prompts=0",
    ]
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=overrides)


def _changed(before: dict, after: dict, part: str) -> bool:
    return any(not torch.equal(before[k], after[k]) for k in before if part in k)


def test_lora_trains_only_the_adapted_projections_of_a_pretrained_llama(tiny_world, tmp_path):
    base = tmp_path / "tiny-llama"
    torch.manual_seed(0)
    LlamaForCausalLM(llama_config(ARCH, tiny_world.tokenizer)).save_pretrained(base)
    tiny_world.tokenizer.save_pretrained(base)
    start = LlamaForCausalLM.from_pretrained(base).state_dict()
    cfg, cache = _cfg(base, tmp_path / "cache"), ArtifactCache(tmp_path / "cache")

    pm_dir, _ = sft_policy(cfg, tiny_world, cache)
    sft = load_policy(pm_dir)[0].state_dict()  # a plain model: the adapters are merged into it
    assert set(sft) == set(start)
    assert _changed(start, sft, "q_proj") and _changed(start, sft, "v_proj")
    assert not _changed(start, sft, "k_proj") and not _changed(start, sft, "mlp")

    rm_dir, _ = trained_reward(cfg, tiny_world, cache)
    rm = load_reward(rm_dir)[0].state_dict()
    trunk = {k.removeprefix("model."): v for k, v in rm.items() if k.startswith("model.")}
    base_trunk = {k.removeprefix("model."): v for k, v in start.items() if k.startswith("model.")}
    assert _changed(base_trunk, trunk, "q_proj") and not _changed(base_trunk, trunk, "mlp")

    run = rl_finetune(cfg, tiny_world, pm_dir, rm_dir, tmp_path / "rl")
    trainable = {n for n, p in run.module.policy.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    assert run.steps == 2 and len(run.history) == 2
