"""The packaged SmolLM2-135M-Instruct as the SEAM PM and as the local "GPT" writer (CPU, offline).

Loading it takes seconds, so the module loads it once; the end-to-end run loads it again in its own
process, as a user's run would.
"""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir

from seam_exp.cli import CONF_DIR
from seam_exp.models.factory import build_policy, pretrained_tokenizer
from seam_exp.seam.candidates.base import candidate_frame
from seam_exp.seam.candidates.gpt import GptBuilder, LocalWriter
from seam_exp.seam.scoring import format_prompts, pm_scores, prompt_format_of
from tests.slow.helpers import run_experiment

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2():
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=["+experiment=seam", "pm=smollm2_135m", "seam/gpt=local"])
    tok = pretrained_tokenizer(cfg.pm)
    return cfg, build_policy(cfg.pm, tok).eval(), tok


def test_scorer_uses_smollm2s_own_tokenizer_and_chat_template(smollm2, tiny_world):
    cfg, model, tok = smollm2
    assert prompt_format_of(cfg.pm, tok) == "chat"
    pid = int(tiny_world.data["rl"]["prompt_id"][0])
    p = tiny_world.problems[pid]
    (prompt,) = format_prompts([p.question], tok, "chat")
    assert (
        prompt.startswith("<|im_start|>")
        and prompt.endswith("<|im_start|>assistant\n")
        and p.question in prompt
    )
    cands = candidate_frame(tiny_world, {pid: []}, "none")
    cands = pd.concat(
        [cands, cands.assign(candidate_index=1, is_reference=False, text=p.reference + " Maybe.")]
    )
    scores = pm_scores(cands, tiny_world, model, tok, "chat", batch_size=2)
    for row, text in zip(scores.itertuples(), cands["text"], strict=True):
        # By hand: one unpadded sequence, the answer closed by <|im_end|> (SmolLM2's EOS).
        prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        answer_ids = tok(text, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        assert tok.convert_ids_to_tokens(tok.eos_token_id) == "<|im_end|>"
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([prompt_ids + answer_ids])).logits[0].double()
        logp = torch.log_softmax(logits, -1)
        by_hand = sum(float(logp[len(prompt_ids) + t - 1, a]) for t, a in enumerate(answer_ids))
        assert row.length == len(answer_ids)
        assert row.logp == pytest.approx(by_hand, abs=1e-3)


def test_local_writer_is_seeded_and_writes_one_answer_per_slot(smollm2, tiny_world):
    cfg, model, tok = smollm2
    local = cfg.seam.gpt  # seam/gpt=local
    writer = LocalWriter(local.model, 24, local.temperature, local.top_p, 4)
    writer._model, writer._tokenizer = model, tok  # reuse the loaded model
    ids = [int(i) for i in tiny_world.data["rl"]["prompt_id"][:2]]
    builder = GptBuilder(writer, kinds=["factual", "grammar"])
    a = builder.build(tiny_world, ids, 2, seed=0)
    assert a == builder.build(tiny_world, ids, 2, seed=0)
    for worse in a.values():
        assert [w.provenance for w in worse] == [
            {"backend": "local", "kind": "factual"},
            {"backend": "local", "kind": "grammar"},
        ]
        assert all(isinstance(w.text, str) for w in worse) and any(w.text for w in worse)


def test_seam_experiment_runs_with_smollm2_as_pm(tmp_path):
    proc = run_experiment(
        tmp_path,
        "+experiment=seam",
        "pm=smollm2_135m",
        "rm=xs",
        "hydra.mode=RUN",
        "seam.max_prompts=6",
        # one variant, two worse answers: a 135M PM scores every candidate, and the other variants'
        # builders are covered on the tiny PMs (test_seam_e2e)
        "seam.variants=[adv]",
        "seam.k=2",
        "seam.ground_truth.n_samples=3",
        "pm.generation.max_new_tokens=24",
        "trainer.num_threads=1",  # two threads on a shared 2-core machine are many times slower
    )
    (results,) = (tmp_path / "outputs" / "seam").rglob("results.csv")
    rows = pd.read_csv(results)
    assert set(rows["pm"]) == {"smollm2_135m"} and set(rows["policy"]) == {"pretrained"}
    assert (rows["n_prompts"] == 6).all() and (rows["k"] == 2).all() and (rows["prompts_per_s"] > 0).all()
    cands = pd.read_parquet(results.parent / "seam_candidates.parquet")
    assert cands["logp"].lt(0).all() and cands["length"].gt(0).all()
    assert "pm=smollm2_135m (pretrained)" in proc.stdout
