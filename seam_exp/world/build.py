"""Build (or load from the artifact cache) the preference world: problems, splits, pairs, tokenizer.

The splits (seam_exp/data/layout.py) are disjoint by prompt: each sampled question goes to one split by a
seeded permutation; the `rm` and `rm_test` pairs are labeled by the simulated human.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from datasets import Dataset, DatasetDict, disable_progress_bars, load_from_disk
from transformers import PreTrainedTokenizerFast

from seam_exp.data import layout as layout_module
from seam_exp.data import tokenizer as tokenizer_module
from seam_exp.data.layout import SPLITS, check_validation_fractions, format_prompt, hold_out_validation
from seam_exp.data.tokenizer import train_tokenizer
from seam_exp.utils.cache import ArtifactCache, code_version
from seam_exp.world import facts as facts_module
from seam_exp.world import families as families_module
from seam_exp.world import gold as gold_module
from seam_exp.world import labeler as labeler_module
from seam_exp.world import responses as responses_module
from seam_exp.world.facts import FactTable
from seam_exp.world.families import Family, Problem, make_families
from seam_exp.world.gold import GoldWeights, gold_components, gold_reward
from seam_exp.world.labeler import HumanLabeler
from seam_exp.world.responses import CONTENTS, STYLES, kind_name, make_response, parse_kind

log = logging.getLogger(__name__)
# models/ imports the validation split names from this module, and its code is part of every trained
# model's cache key (MODELS_VERSION): they stay importable from here.
VALIDATION_SPLITS = layout_module.VALIDATION_SPLITS


@dataclass
class WorldConfig:
    # The schema of `data=world` (with the value rules of world/schema.py); conf/data/world.yaml only
    # sets prompts_per_family and num_entities from the scale. Its own seed: varying the run seed never
    # changes the data.
    name: str = "world"
    seed: int = 1234
    families: list[str] = field(
        default_factory=lambda: ["arithmetic", "comparison", "counting", "conversion", "lookup", "sorting"]
    )
    prompts_per_family: int = 400
    split_fractions: dict[str, float] = field(
        default_factory=lambda: {"sft": 0.4, "rm": 0.25, "rm_test": 0.05, "rl": 0.2, "eval": 0.1}
    )
    # Share of the sft and rm splits' prompts held out as sft_val / rm_val: they choose recipes and kept
    # weights.
    validation_fractions: dict[str, float] = field(default_factory=lambda: {"sft": 0.05, "rm": 0.05})
    num_entities: int = 40
    # What the SFT demonstrations look like: mostly the reference, some terse and some verbose answers.
    sft_mix: dict[str, float] = field(
        default_factory=lambda: {"correct": 0.7, "terse": 0.15, "verbose": 0.15}
    )
    # Preference-pair responses: content and style drawn independently (see world/responses.py).
    content_mix: dict[str, float] = field(
        default_factory=lambda: {"correct": 0.4, "partial": 0.2, "wrong": 0.3, "off_topic": 0.1}
    )
    style_mix: dict[str, float] = field(
        default_factory=lambda: {
            "plain": 0.4,
            "terse": 0.15,
            "verbose": 0.15,
            "malformed": 0.15,
            "rambling": 0.15,
        }
    )
    responses_per_prompt: int = 5
    pairs_per_prompt: int = 4
    # The simulated human (world/labeler.py): tau is the Bradley-Terry temperature on gold (lower: a more
    # decisive human), noise the probability of flipping a label, tie_policy (drop | half | random) what a
    # gold tie (metrics/ties.py) becomes.
    labeler: dict = field(default_factory=lambda: {"tau": 0.3, "noise": 0.0, "tie_policy": "drop"})
    # Weights of the gold reward (world/gold.py).
    gold: dict = field(default_factory=lambda: asdict(GoldWeights()))
    vocab_size: int = 600

    def __post_init__(self):
        missing = [s for s in SPLITS if s not in self.split_fractions]
        unknown = [s for s in self.split_fractions if s not in SPLITS]
        if missing or unknown:
            raise ValueError(f"data.split_fractions must name exactly {', '.join(SPLITS)}")
        if abs(sum(self.split_fractions.values()) - 1.0) > 1e-6:
            raise ValueError(f"data.split_fractions must sum to 1, got {sum(self.split_fractions.values())}")
        check_validation_fractions(self.validation_fractions)
        for kind in self.sft_mix:
            parse_kind(kind)
        for name, mix, valid in (
            ("content_mix", self.content_mix, CONTENTS),
            ("style_mix", self.style_mix, STYLES),
        ):
            unknown = [k for k in mix if k not in valid]
            if unknown:
                raise ValueError(f"unknown key {unknown[0]!r} in data.{name}; valid: {', '.join(valid)}")


class World:
    """The built world: datasets, tokenizer, and the gold oracle over its prompts."""

    gold_is_free = True  # gold is a formula: computed on every RL rollout and SEAM candidate for the logs

    def __init__(self, cfg: WorldConfig, data: DatasetDict, tokenizer: PreTrainedTokenizerFast, path: Path):
        self.cfg, self.data, self.tokenizer, self.path = cfg, data, tokenizer, path
        self.facts = FactTable(cfg.num_entities, cfg.seed)
        self.families = make_families(cfg.families, self.facts)
        self.weights = GoldWeights(**cfg.gold)
        self.labeler = HumanLabeler(**cfg.labeler)
        self.problems: dict[int, Problem] = {
            row["prompt_id"]: _problem_from_row(row) for row in data["prompts"]
        }

    def gold(self, prompt_ids: Sequence[int], responses: Sequence[str]) -> np.ndarray:
        """Gold reward of each (prompt, response)."""
        return np.array(
            [
                gold_reward(self.families[self.problems[i].family], self.problems[i], y, self.weights)
                for i, y in zip(prompt_ids, responses, strict=True)
            ],
            dtype=np.float64,
        )

    def components(self, prompt_id: int, response: str) -> dict[str, float]:
        p = self.problems[prompt_id]
        return gold_components(self.families[p.family], p, response)


def _problem_from_row(row: dict) -> Problem:
    return Problem(
        row["family"],
        row["question"],
        row["reference"],
        row["answer"],
        tuple(row["key_terms"]),
        alt_reference=row["alt_reference"],
        meta=json.loads(row["meta"]),
    )


def _sample_problems(cfg: WorldConfig, families: dict[str, Family], facts: FactTable, rng) -> list[Problem]:
    """prompts_per_family unique questions per family (fewer only if the family cannot supply them)."""
    problems: list[Problem] = []
    for family in families.values():
        seen: set[str] = set()
        attempts = 0
        while len(seen) < cfg.prompts_per_family and attempts < 50 * cfg.prompts_per_family:
            attempts += 1
            p = family.sample(rng, facts)
            if p.question not in seen:
                seen.add(p.question)
                problems.append(p)
    return problems


def _assign_splits(n: int, fractions: dict[str, float], rng) -> list[str]:
    order = rng.permutation(n)
    bounds = np.cumsum([round(fractions[s] * n) for s in SPLITS])
    bounds[-1] = n
    split_of = [""] * n
    start = 0
    for split, end in zip(SPLITS, bounds, strict=True):
        for idx in order[start:end]:
            split_of[idx] = split
        start = end
    return split_of


def _mix(weights: dict[str, float]) -> tuple[list[str], np.ndarray]:
    p = np.array(list(weights.values()), dtype=float)
    return list(weights), p / p.sum()


def _pairs_for(problem_ids, problems, families, world_cfg, labeler, rng) -> list[dict]:
    weights = GoldWeights(**world_cfg.gold)
    contents, content_p = _mix(world_cfg.content_mix)
    styles, style_p = _mix(world_cfg.style_mix)
    other_family = {f: np.array([i for i, q in enumerate(problems) if q.family != f]) for f in families}
    rows = []
    for pid in problem_ids:
        p, fam = problems[pid], families[problems[pid].family]
        responses: dict[str, str] = {}
        for _ in range(4 * world_cfg.responses_per_prompt):
            if len(responses) == world_cfg.responses_per_prompt:
                break
            content = str(rng.choice(contents, p=content_p))
            kind = kind_name(content, str(rng.choice(styles, p=style_p)))
            if kind in responses or (content == "off_topic" and len(other_family[p.family]) == 0):
                continue
            # off-topic answers come from another family, so they cannot be right by coincidence
            other = problems[int(rng.choice(other_family[p.family]))] if content == "off_topic" else None
            text = make_response(kind, p, fam, rng, other=other)
            if text not in responses.values():
                responses[kind] = text
        names = list(responses)
        if len(names) < 2:
            continue
        combos = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
        pick = rng.choice(len(combos), size=min(world_cfg.pairs_per_prompt, len(combos)), replace=False)
        for ci in pick:
            a, b = combos[int(ci)]
            ga = gold_reward(fam, p, responses[a], weights)
            gb = gold_reward(fam, p, responses[b], weights)
            lab = labeler.label(ga, gb, rng)
            if lab is None:
                continue
            (ck, ca, gc), (rk, ra, gr) = ((a, responses[a], ga), (b, responses[b], gb))
            if not lab.a_preferred:
                (ck, ca, gc), (rk, ra, gr) = (rk, ra, gr), (ck, ca, gc)
            rows.append(
                {
                    "prompt_id": pid,
                    "prompt": format_prompt(p.question),
                    "family": p.family,
                    "chosen": ca,
                    "rejected": ra,
                    "chosen_kind": ck,
                    "rejected_kind": rk,
                    "gold_chosen": gc,
                    "gold_rejected": gr,
                    "target": lab.target,
                    "is_tie": lab.is_tie,
                }
            )
    return rows


def generate_world_data(cfg: WorldConfig) -> tuple[DatasetDict, list[str]]:
    """The world's datasets and the texts to train its tokenizer on. Pure function of cfg."""
    rng = np.random.default_rng(cfg.seed)
    facts = FactTable(cfg.num_entities, cfg.seed)
    families = make_families(cfg.families, facts)
    problems = _sample_problems(cfg, families, facts, rng)
    split_of = _assign_splits(len(problems), cfg.split_fractions, rng)
    prompt_rows = [
        {
            "prompt_id": i,
            "split": split_of[i],
            "family": p.family,
            "question": p.question,
            "prompt": format_prompt(p.question),
            "reference": p.reference,
            "alt_reference": p.alt_reference,
            "answer": p.answer,
            "key_terms": list(p.key_terms),
            "meta": json.dumps(p.meta, sort_keys=True),
        }
        for i, p in enumerate(problems)
    ]
    ids_in = {s: [r["prompt_id"] for r in prompt_rows if r["split"] == s] for s in SPLITS}

    mix_kinds, mix_p = list(cfg.sft_mix), np.array(list(cfg.sft_mix.values()), dtype=float)
    sft_rows = []
    for pid in ids_in["sft"]:
        kind = str(rng.choice(mix_kinds, p=mix_p / mix_p.sum()))
        p = problems[pid]
        sft_rows.append(
            {
                "prompt_id": pid,
                "prompt": format_prompt(p.question),
                "family": p.family,
                "response": make_response(kind, p, families[p.family], rng),
                "kind": kind,
            }
        )

    labeler = HumanLabeler(**cfg.labeler)
    rm_rows = _pairs_for(ids_in["rm"], problems, families, cfg, labeler, rng)
    rm_test_rows = _pairs_for(ids_in["rm_test"], problems, families, cfg, labeler, rng)

    # Prompt splits in random order, so that any prefix (e.g. the first `eval_prompts`) mixes all families.
    shuffled = [prompt_rows[i] for i in rng.permutation(len(prompt_rows))]
    data = DatasetDict(
        {
            "prompts": Dataset.from_list(prompt_rows),
            "facts": Dataset.from_list(facts.rows()),
            "sft": Dataset.from_list(sft_rows),
            "rm": Dataset.from_list(rm_rows),
            "rm_test": Dataset.from_list(rm_test_rows),
            "rl": Dataset.from_list([r for r in shuffled if r["split"] == "rl"]),
            "eval": Dataset.from_list([r for r in shuffled if r["split"] == "eval"]),
        }
    )
    texts = [r["prompt"] + r["reference"] for r in prompt_rows]
    texts += [r["response"] for r in sft_rows]
    texts += [r[k] for r in rm_rows for k in ("chosen", "rejected")]
    return hold_out_validation(data, cfg.validation_fractions, cfg.seed), texts


WORLD_VERSION = code_version(
    sys.modules[__name__],
    facts_module,
    families_module,
    gold_module,
    labeler_module,
    responses_module,
    tokenizer_module,
    layout_module,
)


def _build_into(cfg: WorldConfig, folder: Path) -> None:
    data, texts = generate_world_data(cfg)
    disable_progress_bars()  # saving a few thousand rows takes milliseconds; the bars are noise
    data.save_to_disk(str(folder / "data"))
    train_tokenizer(texts, cfg.vocab_size).save_pretrained(str(folder / "tokenizer"))


def load_world(cfg: WorldConfig, cache: ArtifactCache) -> World:
    folder, built = cache.get_or_build("world", asdict(cfg), WORLD_VERSION, lambda tmp: _build_into(cfg, tmp))
    log.info("world %s at %s", "built" if built else "loaded from cache", folder)
    data = load_from_disk(str(folder / "data"))
    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(folder / "tokenizer"))
    return World(cfg, data, tokenizer, folder)
