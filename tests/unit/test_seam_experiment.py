"""Plumbing of `+experiment=seam`: which prompts, which policy checkpoint."""

from __future__ import annotations

import torch
from hydra import compose, initialize_config_dir
from transformers import LlamaForCausalLM

from seam_exp.cli import CONF_DIR
from seam_exp.experiments.seam import prompt_ids_of
from seam_exp.models.factory import llama_config
from seam_exp.seam.policy import _checkpoint_id, load_checkpoint

ARCH = {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32}


def _cfg(*overrides):
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=["+experiment=seam", *overrides])


def test_prompt_subset_is_seeded_and_spans_families(tiny_world):
    all_ids = prompt_ids_of(_cfg(), tiny_world)
    assert all_ids == sorted(tiny_world.data["rl"]["prompt_id"])  # id order, as selection lists them
    some = prompt_ids_of(_cfg("seam.max_prompts=12"), tiny_world)
    assert len(set(some)) == 12 and set(some) <= set(all_ids)
    assert some == [i for i in all_ids if i in set(some)]  # that order kept
    assert some == prompt_ids_of(_cfg("seam.max_prompts=12"), tiny_world)
    assert some != prompt_ids_of(_cfg("seam.max_prompts=12", "seam.seed=1"), tiny_world)
    assert len({tiny_world.problems[i].family for i in some}) > 1


def test_checkpoint_loads_from_either_layout_and_is_keyed_by_content(tiny_world, tmp_path):
    torch.manual_seed(0)
    model = LlamaForCausalLM(llama_config(ARCH, tiny_world.tokenizer))
    nested, flat = tmp_path / "nested", tmp_path / "flat"
    model.save_pretrained(str(nested / "model"))
    tiny_world.tokenizer.save_pretrained(str(nested / "tokenizer"))
    model.save_pretrained(str(flat))  # rl_finetune's layout: model and tokenizer in one folder
    tiny_world.tokenizer.save_pretrained(str(flat))
    ids = torch.tensor([[3, 4, 5]])
    outputs = []
    for folder in (nested, flat):
        loaded, tok = load_checkpoint(folder)
        assert len(tok) == len(tiny_world.tokenizer)
        with torch.no_grad():
            outputs.append(loaded(input_ids=ids).logits)
    torch.testing.assert_close(outputs[0], outputs[1])
    assert _checkpoint_id(nested)["content"] == _checkpoint_id(flat)["content"] != "unknown"
    with torch.no_grad():
        model.lm_head.weight.add_(1.0)
    model.save_pretrained(str(flat))
    assert _checkpoint_id(flat)["content"] != _checkpoint_id(nested)["content"]
