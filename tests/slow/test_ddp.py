"""SFT under Lightning's DDP on two CPU processes (gloo, trainer=ddp_cpu), through the real training path:
both processes end with the same weights, and the model is as good as one process's with the same
global batch. RL under DDP stops with a one-line error."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from hydra import compose, initialize_config_dir

from seam_exp.errors import UserError
from seam_exp.models import train as model_training
from seam_exp.models.policy import SFTCollator, SFTModule
from seam_exp.models.train import load_policy, sft_policy
from seam_exp.rl.run import rl_finetune
from seam_exp.utils.cache import ArtifactCache
from seam_exp.utils.config import CONF_DIR

pytestmark = pytest.mark.slow


def _cfg(trainer: str, seed: int = 0, steps: int = 40):
    overrides = [
        "+experiment=world",
        "pm=xs",
        f"trainer={trainer}",
        "trainer.enable_progress_bar=false",
        f"pm.sft.max_steps={steps}",
        "pm.sft.batch_size=16",
        f"pm.sft.seed={seed}",
    ]
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose("config", overrides=overrides)


class WeightsPerProcess(pl.Callback):
    """Each training process writes a digest of its final weights (picklable: spawned with the Trainer)."""

    def __init__(self, folder: Path):
        self.folder = folder

    def on_train_end(self, trainer, pl_module):
        digest = hashlib.sha256()
        for name, value in sorted(pl_module.state_dict().items()):
            digest.update(name.encode() + value.detach().cpu().numpy().tobytes())
        (self.folder / f"rank{trainer.global_rank}.sha256").write_text(digest.hexdigest())


def _held_out_nll(folder: Path, world) -> float:
    model, tokenizer = load_policy(folder)
    rows = world.data["rm_test"]  # prompts and answers no model trained on
    batch = SFTCollator(tokenizer)([{"prompt": r["prompt"], "response": r["chosen"]} for r in rows])
    with torch.no_grad():
        return SFTModule(model, 0.0, 0.0, 0, 1).loss(batch).item()


def test_ddp_on_two_cpu_processes_keeps_weights_equal_and_trains_as_well_as_one(
    tiny_world, tmp_path, monkeypatch
):
    cache = ArtifactCache(tmp_path / "cache")
    build = model_training._trainer

    def with_digests(*args, **kwargs):
        trainer = build(*args, **kwargs)
        trainer.callbacks.append(WeightsPerProcess(tmp_path))
        return trainer

    monkeypatch.setattr(model_training, "_trainer", with_digests)
    start = time.perf_counter()
    ddp_dir, trained = sft_policy(_cfg("ddp_cpu"), tiny_world, cache)
    ddp_seconds = time.perf_counter() - start
    assert trained
    digests = {p.name: p.read_text() for p in tmp_path.glob("rank*.sha256")}
    assert sorted(digests) == ["rank0.sha256", "rank1.sha256"] and len(set(digests.values())) == 1
    monkeypatch.undo()

    # DDP is its own artifact (its data order differs), as good as one process up to seed noise
    start = time.perf_counter()
    single = [sft_policy(_cfg("cpu", seed), tiny_world, cache)[0] for seed in (0, 1)]
    one_seconds = (time.perf_counter() - start) / 2
    assert ddp_dir not in single
    ddp_nll = _held_out_nll(ddp_dir, tiny_world)
    nll = [_held_out_nll(d, tiny_world) for d in single]
    untrained = _held_out_nll(sft_policy(_cfg("cpu", steps=0), tiny_world, cache)[0], tiny_world)
    print(f"held-out NLL: DDP {ddp_nll:.4f}, one process seeds 0/1 {nll[0]:.4f}/{nll[1]:.4f}")
    print(f"SFT wall time: DDP on 2 processes {ddp_seconds:.1f} s, one process {one_seconds:.1f} s")
    assert ddp_nll < untrained
    assert abs(ddp_nll - nll[0]) <= max(3 * abs(nll[1] - nll[0]), 0.02 * nll[0])

    with pytest.raises(UserError, match="RL does not run under DDP"):
        rl_finetune(_cfg("ddp_cpu"), tiny_world, ddp_dir, ddp_dir, tmp_path / "rl")
