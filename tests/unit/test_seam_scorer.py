"""The SEAM scorer on a tiny model equals the numbers computed by hand, one sequence at a time; the ground
truth and the validation rows on hand-built data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import LlamaForCausalLM, LlamaForSequenceClassification

from seam_exp.data.layout import format_prompt
from seam_exp.models.factory import llama_config
from seam_exp.seam.candidates.base import candidate_frame
from seam_exp.seam.candidates.gpt import GptBuilder, ScriptedWriter
from seam_exp.seam.formula import ablation_scores, seam_config
from seam_exp.seam.scoring import format_prompts, pm_scores, rm_scores
from seam_exp.seam.validation import split_half_reliability, true_mismatch, validation_rows

ARCH = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64}
BASE = {"alpha": 1.0, "temperature": 0.5, "mode": "hard", "tau": 0.7, "weighting": "pm"}
ABLATIONS = {
    "seam": {},
    "soft": {"mode": "soft"},
    "alpha0": {"alpha": 0.0},
    "uniform": {"weighting": "uniform"},
    "rank": {"score": "rank_discordance"},
}


@pytest.fixture(scope="module")
def scored(tiny_world):
    torch.manual_seed(0)
    tok = tiny_world.tokenizer
    pm = LlamaForCausalLM(llama_config(ARCH, tok)).eval()
    rm = LlamaForSequenceClassification(llama_config(ARCH, tok, num_labels=1)).eval()
    ids = list(tiny_world.data["rl"]["prompt_id"])[:5]
    built = GptBuilder(ScriptedWriter()).build(tiny_world, ids, 4, seed=0)
    cands = candidate_frame(tiny_world, built, "gpt")
    # batch_size 3 < rows per prompt: batches mix prompts and lengths, so padding is exercised.
    pm_part = pm_scores(cands, tiny_world, pm, tok, "world", batch_size=3)
    out = cands.merge(pm_part, on=["prompt_id", "candidate_index"], validate="one_to_one")
    out["reward"] = rm_scores(cands, tiny_world, rm, tok, batch_size=3)
    return out, pm, rm


def _by_hand_logp(pm, tok, prompt: str, response: str) -> tuple[float, int]:
    p = tok(prompt, add_special_tokens=False)["input_ids"]
    r = tok(response, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    with torch.no_grad():
        logits = pm(input_ids=torch.tensor([p + r])).logits[0].double()
    logp = torch.log_softmax(logits, -1)
    return sum(float(logp[len(p) + t - 1, tok_id]) for t, tok_id in enumerate(r)), len(r)


def _by_hand_reward(rm, tok, prompt: str, response: str) -> float:
    ids = (
        tok(prompt, add_special_tokens=False)["input_ids"]
        + tok(response, add_special_tokens=False)["input_ids"]
    )
    ids.append(tok.eos_token_id)
    with torch.no_grad():
        hidden = rm.model(input_ids=torch.tensor([ids])).last_hidden_state[0, -1]
        return float(rm.score(hidden))


def test_logprobs_lengths_and_rewards_equal_one_sequence_at_a_time(scored, tiny_world):
    df, pm, rm = scored
    tok = tiny_world.tokenizer
    for row in df.itertuples():
        prompt = format_prompt(tiny_world.problems[row.prompt_id].question)
        logp, length = _by_hand_logp(pm, tok, prompt, row.text)
        assert row.logp == pytest.approx(logp, abs=1e-4)
        assert row.length == length
        assert row.reward == pytest.approx(_by_hand_reward(rm, tok, prompt, row.text), abs=1e-5)


def _seam_by_hand(rows: pd.DataFrame, alpha, temperature, mode, tau, weighting) -> float:
    ref = rows[rows["candidate_index"] == 0].iloc[0]
    worse = rows[rows["candidate_index"] > 0].sort_values("candidate_index")
    l = [lp / n**alpha for lp, n in zip(worse["logp"], worse["length"], strict=True)]  # noqa: E741
    if weighting == "uniform":
        w = [1 / len(l)] * len(l)
    else:
        z = [math.exp(x / temperature) for x in l]
        w = [x / sum(z) for x in z]
    if mode == "hard":
        m = [1.0 if r >= ref["reward"] else 0.0 for r in worse["reward"]]
    else:
        m = [1 / (1 + math.exp(-(r - ref["reward"]) / tau)) for r in worse["reward"]]
    return sum(a * b for a, b in zip(w, m, strict=True))


def _discordance_by_hand(rows: pd.DataFrame, alpha) -> float:
    l = [lp / n**alpha for lp, n in zip(rows["logp"], rows["length"], strict=True)]  # noqa: E741
    r = list(rows["reward"])
    comparable = discordant = 0
    for i in range(len(l)):
        for j in range(i + 1, len(l)):
            if l[i] != l[j] and r[i] != r[j]:
                comparable += 1
                discordant += (l[i] > l[j]) != (r[i] > r[j])
    return discordant / comparable if comparable else 0.0


def _paper_by_hand(rows: pd.DataFrame, alpha, prob: bool) -> float:
    ref = rows[rows["candidate_index"] == 0].iloc[0]
    worse = rows[rows["candidate_index"] > 0]
    total = 0.0
    for lp, n, r in zip(worse["logp"], worse["length"], worse["reward"], strict=True):
        l = lp / n**alpha  # noqa: E741
        total += (math.exp(l) if prob else l) * max(r - ref["reward"], 0.0)
    return total


def test_every_ablation_equals_the_formula_by_hand(scored):
    df, _, _ = scored
    table = ablation_scores(df, BASE, ABLATIONS).set_index("prompt_id")
    assert list(table.columns) == [f"normalized:{a}" for a in ABLATIONS if a != "rank"] + ["-:rank"]
    for pid, row in table.iterrows():
        rows = df[df["prompt_id"] == pid]
        assert row["normalized:seam"] == pytest.approx(
            _seam_by_hand(rows, 1.0, 0.5, "hard", 0.7, "pm"), abs=1e-9
        )
        assert row["normalized:soft"] == pytest.approx(
            _seam_by_hand(rows, 1.0, 0.5, "soft", 0.7, "pm"), abs=1e-9
        )
        assert row["normalized:alpha0"] == pytest.approx(
            _seam_by_hand(rows, 0.0, 0.5, "hard", 0.7, "pm"), abs=1e-9
        )
        uniform = _seam_by_hand(rows, 1.0, 0.5, "hard", 0.7, "uniform")
        assert row["normalized:uniform"] == pytest.approx(uniform, abs=1e-9)
        assert row["-:rank"] == pytest.approx(_discordance_by_hand(rows, 1.0), abs=1e-9)
    # The random tiny RM misjudges some answers but not all: the checks above are not all zeros.
    assert 0 < table["normalized:uniform"].mean() < 1


def test_every_formula_is_scored_once_per_distinct_setting(scored):
    df, _, _ = scored
    table = ablation_scores(df, BASE, ABLATIONS, ["normalized", "paper", "paper_prob"]).set_index("prompt_id")
    # soft is a knob of the normalized formula; rank discordance has no formula and is reported once
    assert "paper:soft" not in table and "paper_prob:soft" not in table
    assert [c for c in table.columns if c.endswith(":rank")] == ["-:rank"]
    for pid, row in table.iterrows():
        rows = df[df["prompt_id"] == pid]
        assert row["paper:seam"] == pytest.approx(_paper_by_hand(rows, 1.0, prob=False), abs=1e-9)
        assert row["paper_prob:seam"] == pytest.approx(_paper_by_hand(rows, 1.0, prob=True), abs=1e-9)
        assert row["paper:alpha0"] == pytest.approx(_paper_by_hand(rows, 0.0, prob=False), abs=1e-9)
    assert (table["paper:seam"] <= 0).all() and (table["paper_prob:seam"] >= 0).all()
    assert (table["paper:seam"] < 0).any()  # the tiny RM ranks some worse answer above a reference


def test_ablation_config_errors_name_the_key():
    with pytest.raises(ValueError, match="unknown SEAM setting 'alpah'"):
        seam_config(BASE, {"alpah": 0})
    with pytest.raises(ValueError, match="unknown SEAM score 'nope'"):
        seam_config(BASE, {"score": "nope"})


def test_world_prompt_format_is_the_worlds_template(tiny_world):
    q = tiny_world.problems[0].question
    assert format_prompts([q], tiny_world.tokenizer, "world") == [format_prompt(q)]
    with pytest.raises(ValueError, match="unknown prompt format"):
        format_prompts([q], tiny_world.tokenizer, "alpaca")


def test_true_mismatch_by_hand():
    # Prompt 7: gold [1, 2, 2]; the pairs with different gold are (s1 > s0) and (s2 > s0); the RM gets the
    # first wrong (0.3 <= 0.5) and the second right -> 0.5 over 2 pairs. Prompt 9: one gold, no pair.
    ids = [7, 7, 7, 9, 9]
    gold = np.array([1.0, 2.0, 2.0, 3.0, 3.0])
    rewards = np.array([0.5, 0.3, 0.9, 0.0, 1.0])
    out = true_mismatch(ids, rewards, gold).set_index("prompt_id")
    assert out.loc[7, "gt_mismatch"] == pytest.approx(0.5) and out.loc[7, "gt_pairs"] == 2
    assert np.isnan(out.loc[9, "gt_mismatch"]) and out.loc[9, "gt_pairs"] == 0
    assert out.loc[7, "gt_gold_mean"] == pytest.approx(5 / 3) and out.loc[9, "gt_samples"] == 2
    # An RM tie on a pair of different gold counts as a mismatch.
    tie = true_mismatch([1, 1], np.array([0.2, 0.2]), np.array([0.0, 1.0]))
    assert tie["gt_mismatch"].iloc[0] == 1.0


def test_validation_rows_skip_prompts_without_ground_truth_and_orient_each_formula():
    truth = [0.1, 0.2, 0.3, np.nan, 0.4, 0.5, 0.6, 0.7]
    per_prompt = pd.DataFrame(
        {
            "prompt_id": range(8),
            "family": ["a", "b"] * 4,
            "gt_mismatch": truth,
            "a:normalized:seam": [1.0, 2.0, 3.0, 100.0, 4.0, 5.0, 6.0, 7.0],  # monotone in the truth
            "a:normalized:rev": [7.0, 6.0, 5.0, 0.0, 4.0, 3.0, 2.0, 1.0],
            "a:paper:seam": [-1.0, -2.0, -3.0, 0.0, -4.0, -5.0, -6.0, -7.0],  # lower = less seamless
        }
    )
    columns = {c: tuple(c.split(":")) for c in per_prompt.columns if c.startswith("a:")}
    rows = validation_rows(per_prompt, columns, 200, 0.95, 0)
    by = {(r["formula"], r["ablation"]): r for r in rows}
    main = by[("normalized", "seam")]
    assert main["n_prompts"] == 8 and main["n_gt_prompts"] == 7
    assert main["spearman"] == pytest.approx(1.0) and main["kendall"] == pytest.approx(1.0)
    assert by[("normalized", "rev")]["spearman"] == pytest.approx(-1.0)
    # the paper formula's scores fall as mismatch rises: oriented, they track it perfectly
    assert by[("paper", "seam")]["spearman"] == pytest.approx(1.0)
    assert by[("paper", "seam")]["seam_mean"] == pytest.approx(np.mean(per_prompt["a:paper:seam"]))
    assert main["gt_mismatch_mean"] == pytest.approx(0.4)
    # within each family the score is still monotone; the family alone predicts little here
    assert main["spearman_within_family"] == pytest.approx(1.0)
    assert abs(main["family_baseline_spearman"]) < 1.0


def test_split_half_reliability_of_a_consistent_ground_truth_is_one():
    # 8 prompts x 6 samples; each half (even / odd samples) has gold 0, 1, 2, and the RM gets 0..3 of its
    # 3 pairs wrong, the same number in both halves (level = prompt % 4): the halves agree perfectly.
    rewards_for_level = {0: [0, 1, 2], 1: [0, 2, 1], 2: [2, 0, 1], 3: [2, 1, 0]}
    ids, index, rewards, gold = [], [], [], []
    for p in range(8):
        half = rewards_for_level[p % 4]
        for j in range(6):
            ids.append(p)
            index.append(j)
            gold.append(float(j // 2))
            rewards.append(float(half[j // 2]))
    rewards, gold = np.array(rewards), np.array(gold)
    per_prompt = true_mismatch(ids, rewards, gold)
    assert sorted(set(per_prompt["gt_mismatch"].round(3))) == [0.0, 0.333, 0.667, 1.0]
    assert split_half_reliability(ids, index, rewards, gold) == pytest.approx(1.0)
    # If every prompt has the same mismatch, there is nothing to rank: undefined, not a number.
    flat = np.tile(np.array([0.0, 0.0, 1.0, 1.0, 2.0, 2.0]), 8)
    assert np.isnan(split_half_reliability(ids, index, flat, gold))
