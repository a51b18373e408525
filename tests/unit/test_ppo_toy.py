"""A toy task the real RL module must learn, with no world dependency: PPO (and RLOO) through
`RLHFModule.training_step` in a Lightning Trainer, exactly as `rl_finetune` runs them.

A tiny randomly initialised Llama over a 16-token vocabulary learns to emit a target word. The reward is
the known function "share of the 8 response slots filled with the target" (so stopping early at EOS is
not free), given as the gold function and trained on directly (rl.reward.source=gold); the policy stays
tied to a frozen copy of itself by the module's per-token KL penalty.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch
from datasets import Dataset
from hydra import compose, initialize_config_dir
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaForCausalLM, LlamaForSequenceClassification, PreTrainedTokenizerFast

from seam_exp.cli import CONF_DIR
from seam_exp.models.factory import llama_config
from seam_exp.rl.config import rl_config
from seam_exp.rl.module import RLHFModule
from seam_exp.rl.resume import PromptSchedule
from seam_exp.rl.run import fit, rl_trainer

WORDS = [f"w{i}" for i in range(12)]
TARGET = "w7"
RESPONSE_SLOTS = 8
ARCH = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64}
STEPS = 25


def toy_tokenizer() -> PreTrainedTokenizerFast:
    """One token per whitespace-separated word, plus pad, EOS, BOS and unknown: 16 tokens."""
    specials = ["<pad>", "</s>", "<s>", "<unk>"]
    vocab = {token: i for i, token in enumerate(specials + WORDS)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", bos_token="<s>", unk_token="<unk>"
    )


def share_of_target(prompt_ids, texts) -> np.ndarray:
    """The known reward: how many of the response slots hold the target word."""
    return np.array([text.split().count(TARGET) / RESPONSE_SLOTS for text in texts])


def toy_prompts(n: int = 16) -> Dataset:
    rng = np.random.default_rng(0)
    prompts = [" ".join(rng.choice([w for w in WORDS if w != TARGET], size=4)) for _ in range(n)]
    return Dataset.from_dict({"prompt_id": list(range(n)), "prompt": prompts})


def run_config(algorithm: str):
    overrides = [
        "+experiment=world",
        f"rl={algorithm}",
        "trainer.enable_progress_bar=false",
        f"rl.steps={STEPS}",
        "rl.reward.source=gold",
        "rl.reward.normalize=none",
        f"rl.rollout.max_new_tokens={RESPONSE_SLOTS}",
        "rl.rollout.prompts_per_step=8",
        "rl.rollout.samples_per_prompt=4",
        "rl.ppo.minibatch_size=16",
        "rl.ppo.epochs=4",
        "rl.optim.lr=3e-3",
        "rl.optim.critic_lr=3e-3",
        "rl.kl.coef=0.02",
    ]
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=overrides)


def train_toy(algorithm: str, seed: int, folder) -> np.ndarray:
    """Per-step mean reward of the rollouts, as the module logged it."""
    cfg = run_config(algorithm)
    tokenizer = toy_tokenizer()
    torch.manual_seed(seed)
    policy = LlamaForCausalLM(llama_config(ARCH, tokenizer))
    reward_model = LlamaForSequenceClassification(llama_config(ARCH, tokenizer, num_labels=1))
    module = RLHFModule(
        policy, copy.deepcopy(policy), reward_model, tokenizer, rl_config(cfg.rl), gold_fn=share_of_target
    )
    schedule = PromptSchedule(toy_prompts(), cfg.rl.rollout.prompts_per_step, STEPS, seed=seed)
    fit(rl_trainer(cfg, folder, callbacks=[]), module, schedule)
    log = pd.read_csv(folder / "logs" / "rl" / "metrics.csv").dropna(subset=["score/gold"])
    return log["score/gold"].to_numpy()


@pytest.mark.parametrize("algorithm, seed", [("ppo", 0), ("rloo", 1)])
def test_rl_module_learns_to_emit_the_target_word(algorithm, seed, tmp_path):
    torch.set_num_threads(1)
    rewards = train_toy(algorithm, seed, tmp_path)
    assert len(rewards) == STEPS
    start, end = rewards[:3].mean(), rewards[-3:].mean()
    # A random policy fills about 1 slot in 16 with the target; trained, nearly all of them (seeds 0-3 of
    # both algorithms measured: 0.06-0.10 over the first 3 steps, 0.94-1.00 over the last 3).
    assert start < 0.2
    assert end > start + 0.5, f"{algorithm} did not learn: reward {start:.3f} -> {end:.3f}; curve {rewards}"
