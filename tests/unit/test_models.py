"""Policy and reward models: exact log-probs, reward read-out, training, and the artifact cache."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch
from hydra import compose, initialize_config_dir
from transformers import LlamaForCausalLM, LlamaForSequenceClassification

from seam_exp.cli import CONF_DIR
from seam_exp.models import generation
from seam_exp.models.batching import encode_pairs
from seam_exp.models.factory import llama_config
from seam_exp.models.generation import GenerationSettings, generate
from seam_exp.models.logprob import response_logprobs
from seam_exp.models.reward import bradley_terry_loss, reward_scores
from seam_exp.models.train import load_policy, sft_policy, trained_reward
from seam_exp.utils.cache import ArtifactCache

ARCH = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64}


@pytest.fixture(scope="module")
def policy(tiny_world):
    torch.manual_seed(0)
    return LlamaForCausalLM(llama_config(ARCH, tiny_world.tokenizer)).eval()


def _texts(tiny_world, n=6):
    rows = tiny_world.data["rm"].select(range(n))
    # Mixed lengths on both sides of the boundary: short and long prompts, short and long responses.
    return rows["prompt"], [c if i % 2 else c + " And more words here." for i, c in enumerate(rows["chosen"])]


def _slow_logprob(model, tokenizer, prompt: str, response: str) -> float:
    """One sequence, no padding: sum over response tokens of log_softmax at the previous position."""
    p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    r = tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    ids = torch.tensor([p + r])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0]
    logp = torch.log_softmax(logits.double(), -1)
    return float(sum(logp[len(p) + t - 1, tok] for t, tok in enumerate(r)))


@pytest.mark.parametrize("side", ["left", "right"])
def test_logprob_matches_slow_reference_on_padded_batches(policy, tiny_world, side):
    tok = tiny_world.tokenizer
    prompts, responses = _texts(tiny_world)
    batch = encode_pairs(tok, prompts, responses, padding_side=side)
    assert (batch.attention_mask == 0).any(), "the batch must actually be padded"
    with torch.no_grad():
        fast = response_logprobs(policy, batch)
    for i, (p, r) in enumerate(zip(prompts, responses, strict=True)):
        assert fast.sequence[i].item() == pytest.approx(_slow_logprob(policy, tok, p, r), abs=1e-5)
        n_resp = len(tok(r, add_special_tokens=False)["input_ids"]) + 1
        assert fast.lengths[i].item() == n_resp


def test_reward_is_read_at_last_real_token_whatever_the_padding(tiny_world):
    torch.manual_seed(0)
    rm = LlamaForSequenceClassification(llama_config(ARCH, tiny_world.tokenizer, num_labels=1)).eval()
    tok = tiny_world.tokenizer
    prompts, responses = _texts(tiny_world)
    with torch.no_grad():
        right = reward_scores(rm, encode_pairs(tok, prompts, responses, padding_side="right"))
        left = reward_scores(rm, encode_pairs(tok, prompts, responses, padding_side="left"))
        alone = torch.cat(
            [reward_scores(rm, encode_pairs(tok, [p], [r])) for p, r in zip(prompts, responses, strict=True)]
        )
    torch.testing.assert_close(right, alone, atol=1e-5, rtol=0)
    torch.testing.assert_close(left, alone, atol=1e-5, rtol=0)
    assert alone.std() > 0


def test_bradley_terry_loss_by_hand():
    c, r = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 0.0])
    expected = (
        -torch.log(torch.sigmoid(torch.tensor(1.0))) + -torch.log(torch.sigmoid(torch.tensor(0.0)))
    ) / 2
    assert bradley_terry_loss(c, r, torch.ones(2)).item() == pytest.approx(expected.item(), abs=1e-6)
    # A tie (target 0.5) is minimised by equal rewards, not by a large margin.
    tie = torch.tensor([0.5])
    assert bradley_terry_loss(torch.tensor([0.0]), torch.tensor([0.0]), tie) < bradley_terry_loss(
        torch.tensor([3.0]), torch.tensor([0.0]), tie
    )


def test_batched_greedy_generation_equals_one_prompt_at_a_time(policy, tiny_world):
    tok = tiny_world.tokenizer
    prompts = tiny_world.data["eval"]["prompt"][:5]
    together = generate(policy, tok, prompts, greedy=True, settings=GenerationSettings(max_new_tokens=12))
    alone = [
        generate(policy, tok, [p], greedy=True, settings=GenerationSettings(max_new_tokens=12)).texts[0]
        for p in prompts
    ]
    assert together.texts == alone
    assert together.prompt_index == list(range(5))


@pytest.fixture(scope="module")
def sft_xs(tiny_world, tmp_path_factory):
    """A briefly trained policy: its answers end (EOS) after varied numbers of tokens, or run long."""
    folder, _ = sft_policy(
        _cfg(tmp_path_factory.mktemp("sft")), tiny_world, ArtifactCache(tmp_path_factory.mktemp("c"))
    )
    return load_policy(folder)[0]


@pytest.mark.parametrize(
    "settings, greedy",
    [
        (GenerationSettings(max_new_tokens=24), False),
        (GenerationSettings(max_new_tokens=24, temperature=0.7, top_k=20, top_p=0.9), False),
        (GenerationSettings(max_new_tokens=24, temperature=1.6), False),
        (GenerationSettings(max_new_tokens=24), True),
    ],
)
def test_sampling_drops_finished_rows_yet_draws_exactly_what_hf_generate_draws(
    sft_xs, tiny_world, monkeypatch, settings, greedy
):
    tok = tiny_world.tokenizer
    prompts = tiny_world.data["eval"]["prompt"][:12]
    same_length = [
        p
        for p in tiny_world.data["eval"]["prompt"]
        if len(tok(p)["input_ids"]) == len(tok(prompts[0])["input_ids"])
    ]

    def both(prompt_list, n):
        runs = []
        for exact in (True, False):  # False: HF `generate` itself
            monkeypatch.setattr(generation, "samples_like_generate", lambda model, exact=exact: exact)
            samples = generate(
                sft_xs, tok, prompt_list, n=n, settings=settings, greedy=greedy, batch_size=16, seed=3
            )
            runs.append((samples, torch.rand(4)))  # and the random stream continues the same way
        return runs

    lengths = set()
    for prompt_list, n in ((prompts, 3), (same_length[:5], 2)):  # padded prompts; none padded (no mask)
        (ours, after_ours), (hf, after_hf) = both(prompt_list, n)
        assert ours.response_ids == hf.response_ids and ours.has_eos == hf.has_eos
        assert torch.equal(after_ours, after_hf)
        lengths |= {len(r) for r in ours.response_ids}
    assert len(lengths) >= 3  # rows finished at different steps, so rows were dropped along the way


def _cfg(tmp_path, **extra):
    overrides = [
        "+experiment=world",
        "scale=smoke",
        "pm=xs",
        "rm=xs",
        f"paths.cache_dir={tmp_path}",
        "trainer.enable_progress_bar=false",
        *[f"{k}={v}" for k, v in extra.items()],
    ]
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=overrides)


def test_reward_model_learns_and_cache_hit_trains_nothing(tiny_world, tmp_path, monkeypatch):
    cfg = _cfg(tmp_path, **{"rm.train.max_steps": 150, "rm.train.lr": 3e-3})
    cache = ArtifactCache(tmp_path)
    folder, built = trained_reward(cfg, tiny_world, cache)
    assert built
    logged = (folder / "logs" / "rm" / "metrics.csv").read_text().splitlines()
    header, rows = logged[0].split(","), [r.split(",") for r in logged[1:]]
    loss_col, acc_col = header.index("train/loss"), header.index("train/accuracy")
    losses = [float(r[loss_col]) for r in rows if r[loss_col]]
    accuracies = [float(r[acc_col]) for r in rows if r[acc_col]]  # validation rows leave them empty
    assert losses[-1] < losses[0]
    from seam_exp.models.evaluate import heldout_pair_accuracy
    from seam_exp.models.train import load_reward

    rm, tok = load_reward(folder)
    # Beats chance on the pairs it was trained on (the tiny world's ~30 held-out pairs are too few to
    # test generalisation at 150 steps; the sanity experiment measures that at scale).
    assert heldout_pair_accuracy(rm, tok, tiny_world, split="rm")["rm_acc_heldout"] > 0.65
    assert accuracies[-1] > 0.5

    def no_training(*args, **kwargs):
        raise AssertionError("a cache hit must not train")

    monkeypatch.setattr(pl.Trainer, "fit", no_training)
    again, built_again = trained_reward(cfg, tiny_world, cache)
    assert (again, built_again) == (folder, False)


def test_corrupt_policy_artifact_is_rebuilt(tiny_world, tmp_path):
    cfg = _cfg(tmp_path, **{"pm.sft.max_steps": 3})
    cache = ArtifactCache(tmp_path)
    folder, built = sft_policy(cfg, tiny_world, cache)
    assert built
    weights = next((folder / "model").glob("*.safetensors"))
    weights.write_bytes(weights.read_bytes()[:-10])  # truncated, as by a killed writer
    again, rebuilt = sft_policy(cfg, tiny_world, cache)
    assert again == folder and rebuilt
    model, _ = load_policy(folder)  # loads cleanly
    assert sum(p.numel() for p in model.parameters()) > 0


def test_sft_lowers_nll_on_demonstrations(tiny_world, tmp_path):
    cfg = _cfg(tmp_path, **{"pm.sft.max_steps": 80, "pm.sft.lr": 5e-3})
    folder, _ = sft_policy(cfg, tiny_world, ArtifactCache(tmp_path))
    logged = (folder / "logs" / "sft" / "metrics.csv").read_text().splitlines()
    col = logged[0].split(",").index("train/nll")
    nll = [float(r.split(",")[col]) for r in logged[1:] if r.split(",")[col]]
    assert nll[-1] < 0.6 * nll[0]


def test_reward_model_initialised_from_sft_starts_from_its_weights(tiny_world, tmp_path):
    from seam_exp.models.train import init_policy_cfg, load_reward

    # rm.init=sft, 0 pairs (0 steps): the paper's "untrained head" RM on the SFT trunk
    cfg = _cfg(
        tmp_path,
        **{"rm.init": "sft", "rm.init_sft_steps": 5, "rm.train.num_pairs": 0, "rm.train.max_steps": 0},
    )
    cache = ArtifactCache(tmp_path)
    rm_dir, _ = trained_reward(cfg, tiny_world, cache)
    sft_dir, built = sft_policy(init_policy_cfg(cfg), tiny_world, cache)
    assert not built  # the RM build trained (and cached) the SFT policy it starts from
    rm, _ = load_reward(rm_dir)
    policy, _ = load_policy(sft_dir)
    trunk, sft_trunk = rm.base_model.state_dict(), policy.get_decoder().state_dict()
    assert trunk.keys() == sft_trunk.keys()
    assert all(torch.equal(trunk[k], sft_trunk[k]) for k in trunk)
    # a scratch RM of the same preset does not share those weights, and the key tells the two apart
    scratch_dir, _ = trained_reward(
        _cfg(tmp_path, **{"rm.init": "scratch", "rm.train.max_steps": 0}), tiny_world, cache
    )
    scratch, _ = load_reward(scratch_dir)
    assert scratch_dir != rm_dir
    assert not torch.equal(scratch.base_model.embed_tokens.weight, rm.base_model.embed_tokens.weight)
    # a trained step moves the trunk away from the SFT weights
    trained_dir, _ = trained_reward(
        _cfg(
            tmp_path,
            **{"rm.init": "sft", "rm.init_sft_steps": 5, "rm.train.num_pairs": 64, "rm.train.max_steps": 2},
        ),
        tiny_world,
        cache,
    )
    trained, _ = load_reward(trained_dir)
    assert not torch.equal(trained.base_model.embed_tokens.weight, rm.base_model.embed_tokens.weight)


def test_rm_init_from_sft_starts_from_its_own_size_whatever_the_pm(tmp_path):
    from seam_exp.models.train import init_policy_cfg

    # the RM of a (PM xs, RM s) cell starts from the s SFT policy, with the RM's training seed
    cfg = _cfg(tmp_path, **{"rm.init": "sft", "rm": "s", "rm.train.seed": 3, "pm.sft.seed": 1})
    start = init_policy_cfg(cfg).pm
    assert start.name == "s" and start.sft.seed == 3
    assert start.arch.hidden_size == cfg.rm.arch.hidden_size != cfg.pm.arch.hidden_size
    assert start.sft.max_steps == cfg.rm.init_sft_steps
    assert cfg.pm.name == "xs"  # the run's own PM is left as it was


def test_rm_init_from_sft_needs_an_init_policy_of_its_architecture(tmp_path):
    from seam_exp.errors import UserError
    from seam_exp.models.train import init_policy_cfg

    with pytest.raises(UserError, match="share the RM's architecture"):
        init_policy_cfg(_cfg(tmp_path, **{"rm.init": "sft", "rm.arch.hidden_size": 96}))
