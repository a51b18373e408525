"""The paper's path in miniature, offline: a pretrained Llama in the Hugging Face format (here a tiny random
one saved by the test) as `source=hub` PM and RM, trained through LoRA adapters (SFT, RM, RL); and the whole
paper setting through the entry point: stack-exchange-paired data, the LLM judge (a local fake server), SEAM."""

from __future__ import annotations

import time

import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir
from transformers import LlamaForCausalLM

from seam_exp.models.factory import llama_config
from seam_exp.models.train import load_policy, load_reward, sft_policy, trained_reward
from seam_exp.rl.run import rl_finetune
from seam_exp.utils.cache import ArtifactCache
from seam_exp.utils.config import CONF_DIR
from tests.fake_openai import FakeServer
from tests.slow.helpers import run_experiment
from tests.stack_exchange_data import paired_table

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
        "rm.init=scratch",  # the RM starts from the hub weights too, not from a size preset's SFT policy
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


def _grade(body: dict) -> str:
    """The fake judge: rates an answer by its length, so every rating is known to the test."""
    answer = body["messages"][1]["content"].split("[The assistant's answer]\n", 1)[1]
    return f"Reasonable. [[{_rating(answer.rsplit(chr(10) + '[End of the answer]', 1)[0])}]]"


def _rating(answer: str) -> int:
    return len(answer) % 10 + 1


def test_the_papers_path_end_to_end_offline(tiny_world, tmp_path, no_proxy):
    """stack-exchange-paired data, a pretrained Llama (tiny, random, in the HF format) trained through
    LoRA as PM and RM, PPO, the LLM judge as gold (a local fake server), then SEAM of the RL prompts."""
    base = tmp_path / "tiny-llama"
    torch.manual_seed(0)
    LlamaForCausalLM(llama_config(ARCH, tiny_world.tokenizer)).save_pretrained(base)
    tiny_world.tokenizer.save_pretrained(base)
    paired_table(80).to_parquet(tmp_path / "se.parquet")
    judge = FakeServer(reply=_grade)
    common = [
        "data=stack_exchange",
        f"data.path={tmp_path / 'se.parquet'}",
        f"data.judge.base_url={judge.base_url}",
        "data.judge.api_key_env=SEAM_TEST_JUDGE_KEY",
        "data.judge.concurrency=2",
        "pm=llama2_7b",
        "rm=llama2_7b",
        *(f"{p}.hub_id={base}" for p in ("pm", "rm")),
        *(f"{p}.lora={LORA}" for p in ("pm", "rm")),
        "rm.init=scratch",  # the RM starts from the hub weights too, not from a size preset's SFT policy
        *(f"{p}.arch.max_position_embeddings=256" for p in ("pm", "rm")),
        "pm.sft.max_steps=20",
        "rm.train.max_steps=20",
        "pm.generation.max_new_tokens=12",
    ]
    env = {"SEAM_TEST_JUDGE_KEY": "sk-test"}
    try:
        start = time.perf_counter()
        rlhf = run_experiment(
            tmp_path,
            "+experiment=paper_rlhf",
            *common,
            "rl.steps=1",
            "rl.rollout.prompts_per_step=4",
            "rl.ppo.minibatch_size=4",
            "rl.eval.prompts=4",
            "rl.eval.samples_per_prompt=2",
            "rl.eval.val_prompts=0",
            env=env,
        )
        scored = run_experiment(
            tmp_path,
            "+experiment=score_dataset",
            *common,
            f"dataset_tool.output={tmp_path / 'seam'}",
            env=env,
        )
        print(f"paper path (SFT, RM, 1 PPO step, judge, SEAM): {time.perf_counter() - start:.1f} s")
    finally:
        judge.close()
    (results,) = (tmp_path / "outputs" / "saturation").rglob("results.csv")
    row = pd.read_csv(results).iloc[0]
    assert row["rl_steps"] == 1 and row["grid"] == "paper_setting" and row["pm"] == "llama2_7b"
    # the judge is the gold: every eval sample's gold is its rating, and only eval texts were judged
    samples = pd.read_parquet(results.parent / "eval_samples.parquet")
    assert samples["gold"].tolist() == [_rating(t) for t in samples["text"]]
    assert row["sft_gold"] == pytest.approx(samples.loc[samples["policy"] == "start", "gold"].mean())
    judged = {r["body"]["messages"][1]["content"] for r in judge.requests}
    assert len(judged) == len(judge.requests)  # each (question, answer) asked once
    assert samples["prompt_id"].nunique() == 4
    assert len(judge.requests) <= 4 + 2 * (4 * 2)  # the references, then the start's and final samples
    # SEAM scored every RL prompt with the SFT policy trained above (found in the cache, not retrained)
    seam = pd.read_parquet(tmp_path / "seam" / "scored.parquet")
    assert "SFT of pm=llama2_7b" in rlhf.stdout + rlhf.stderr
    assert len(seam) == 16 and seam["seam"].notna().all()  # the RL split: 20% of the 80 questions
    assert "SFT of" not in scored.stdout + scored.stderr
    kept = pd.read_parquet(tmp_path / "seam" / "kept.parquet")
    assert len(kept) == len(seam) - seam["least_seamless"].sum()
