"""`+experiment=models`: train the SFT policy or the reward model of one preset into the artifact cache.

Swept over sizes and artifacts (conf/experiment/models.yaml), it trains a grid's models in parallel
before the grid runs; every later run finds them in the cache.
"""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import DictConfig

from seam_exp.experiments import Experiment, prepare
from seam_exp.models.train import metrics_of, sft_policy, trained_reward
from seam_exp.utils.cache import artifact_digest
from seam_exp.utils.runtime import output_dir

ARTIFACT_FILE = "artifact.json"  # what the job trained or found: name, seed, folder, digest, metrics

TRAINERS = {"pm": sft_policy, "rm": trained_reward}


def trained_artifact(cfg: DictConfig) -> tuple[Path, bool]:
    """The cache folder of the model `cfg.artifact` names (`pm` or `rm`), and whether it was trained now."""
    if cfg.artifact not in TRAINERS:
        raise ValueError(f"unknown artifact '{cfg.artifact}'; valid: {', '.join(TRAINERS)}")
    world, cache = prepare(cfg)
    return TRAINERS[cfg.artifact](cfg, world, cache)


def run(cfg: DictConfig) -> dict:
    folder, trained_now = trained_artifact(cfg)
    info = metrics_of(folder)
    state = f"trained in {info['seconds']:.0f} s" if trained_now else "found in the cache"
    record = {
        "artifact": cfg.artifact,
        "name": cfg[cfg.artifact].name,
        "train_seed": int(cfg.train_seed),
        "trained_now": trained_now,
        "folder": str(folder),
        # the trained bytes: a retraining on another machine or day is checked against it (runs/README.md)
        "digest": artifact_digest(folder),
        **info,
    }
    out = output_dir()
    out.mkdir(parents=True, exist_ok=True)
    (out / ARTIFACT_FILE).write_text(json.dumps(record, indent=1, default=str))
    print(
        f"{cfg.artifact}={cfg[cfg.artifact].name}: {info['params']} params, {info['steps']} steps, {state}, "
        f"digest {record['digest']}: {folder}"
    )
    return record


EXPERIMENT = Experiment(run=run, data=("world", "stack_exchange"))
