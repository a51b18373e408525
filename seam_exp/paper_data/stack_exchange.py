"""The paper's data, `lvwerra/stack-exchange-paired` (question, response_j, response_k: response_j is the
answer the site's votes preferred), laid out in the splits every data source has (seam_exp/data/layout.py;
docs/data.md), with an LLM judge as its gold.

Read from a local file or folder (Parquet, JSONL or a `datasets` folder in that schema), split by question
with `split_fractions`; or from the Hugging Face hub cache, each split from the dataset's own folder
(data/finetune, data/reward, data/rl, data/evaluation) and `rm_test` held out of the reward questions.
Offline, a hub dataset that is not in the local cache is a one-line error; nothing is ever downloaded on
the default path. Questions are disjoint across splits (a question met again keeps its first split, eval
first), so no SFT sample, preference pair or RL prompt holds an evaluation question.

Per split: `sft` one row per distinct preferred answer of a question; `rm`/`rm_test` every pair, chosen =
response_j, with the data's own preference as the gold order (gold_chosen 1, gold_rejected 0); `rl` and
`eval` one row per question, its reference the first preferred answer. A byte-level BPE tokenizer trained
on the texts serves tiny models built from scratch (pm=xs ...); pretrained presets keep their own.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from datasets import Dataset, DatasetDict, disable_progress_bars, load_dataset, load_from_disk
from transformers import PreTrainedTokenizerFast

from seam_exp.data import layout as layout_module
from seam_exp.data import tokenizer as tokenizer_module
from seam_exp.data.layout import SPLITS, check_validation_fractions, format_prompt, hold_out_validation
from seam_exp.data.tokenizer import train_tokenizer
from seam_exp.errors import UserError
from seam_exp.paper_data.judge import LLMJudge, make_judge
from seam_exp.utils.cache import ArtifactCache, code_version, file_sha256, stable_hash
from seam_exp.utils.config import to_container, to_dataclass
from seam_exp.utils.table_io import read_table

log = logging.getLogger(__name__)
SOURCES = ("local", "hub")
# The order questions are claimed in: a question in two splits stays in the first, eval before all.
CLAIM_ORDER = ("eval", "rm_test", "rl", "rm", "sft")


@dataclass
class StackExchangeConfig:
    name: str = "stack_exchange"
    source: str = "local"
    path: str | None = None  # source=local: a .parquet, .jsonl or datasets folder in the paired schema
    hub_id: str = "lvwerra/stack-exchange-paired"
    hub_dirs: dict[str, str] = field(
        default_factory=lambda: {
            "sft": "data/finetune",
            "rm": "data/reward",
            "rl": "data/rl",
            "eval": "data/evaluation",
        }
    )
    columns: dict[str, str] = field(
        default_factory=lambda: {"question": "question", "chosen": "response_j", "rejected": "response_k"}
    )
    split_fractions: dict[str, float] = field(
        default_factory=lambda: {"sft": 0.4, "rm": 0.25, "rm_test": 0.05, "rl": 0.2, "eval": 0.1}
    )
    rm_test_fraction: float = 0.05  # source=hub: share of the reward questions held out as rm_test
    # Share of the sft and rm questions held out as sft_val / rm_val (as in the world).
    validation_fractions: dict[str, float] = field(default_factory=lambda: {"sft": 0.05, "rm": 0.05})
    max_questions: int | None = None  # per split, the first ones (None: all)
    seed: int = 1234
    vocab_size: int = 2000
    # Filled in at load for source=local: the sha256 of the file(s), so that the data and every model
    # trained on it are keyed by what the file holds, not by where it lies.
    content: str | None = None

    def __post_init__(self):
        check_validation_fractions(self.validation_fractions)


@dataclass(frozen=True)
class Question:
    question: str
    reference: str
    alt_reference: str = ""
    family: str = "stack_exchange"


class JudgedData:
    """The splits, the tokenizer and the judge-as-gold, with the attributes the rest of the project reads
    from a world (`data`, `tokenizer`, `problems`, `gold`, `cfg`, `path`)."""

    gold_is_free = False  # every gold number is a judge call: not spent on RL rollouts or SEAM candidates

    def __init__(self, cfg: StackExchangeConfig, data: DatasetDict, tokenizer, path: Path, judge):
        self.cfg, self.data, self.tokenizer, self.path, self.judge = cfg, data, tokenizer, path, judge
        self.problems = {
            int(r["prompt_id"]): Question(r["question"], r["reference"], family=cfg.name)
            for r in data["prompts"]
        }

    def gold(self, prompt_ids: Sequence[int], responses: Sequence[str]) -> np.ndarray:
        if self.judge is None:
            raise UserError(f"data={self.cfg.name} has no judge (data/judge=none): this run needs one")
        return self.judge.scores([self.problems[int(i)].question for i in prompt_ids], responses)


def _read_local(path: Path) -> Dataset:
    try:
        return read_table(path)[0]
    except UserError as exc:
        raise UserError(f"data.path: {exc}") from None


def _read_hub(cfg: StackExchangeConfig, data_dir: str) -> Dataset:
    split = "train" if cfg.max_questions is None else f"train[:{cfg.max_questions * 4}]"
    try:
        return load_dataset(cfg.hub_id, data_dir=data_dir, split=split)
    except Exception as exc:  # offline and not cached, or a wrong id: the user's to fix
        raise UserError(
            f"data.hub_id: cannot load {cfg.hub_id} ({data_dir}) from the local Hugging Face cache "
            f"({type(exc).__name__}); download it on a machine with internet access, or set data.path"
        ) from None


def _check_columns(table: Dataset, cfg: StackExchangeConfig, where: str) -> None:
    for role, column in cfg.columns.items():
        if column not in table.column_names:
            raise UserError(
                f"data.columns.{role}: no column '{column}' in {where}; columns: {', '.join(table.column_names)}"
            )
    if len(table) == 0:
        raise UserError(f"{where}: the dataset has no rows")


def _pairs_by_question(table: Dataset, cfg: StackExchangeConfig) -> dict[str, list[tuple[str, str]]]:
    """question -> its (preferred, other) answers, in file order."""
    q, c, r = (table[cfg.columns[k]] for k in ("question", "chosen", "rejected"))
    out: dict[str, list[tuple[str, str]]] = {}
    for question, chosen, rejected in zip(q, c, r, strict=True):
        out.setdefault(str(question), []).append((str(chosen), str(rejected)))
    return out


def _questions_per_split(cfg: StackExchangeConfig) -> dict[str, dict[str, list[tuple[str, str]]]]:
    if cfg.source == "local":
        if not cfg.path:
            raise UserError("data.path: data=stack_exchange with source=local needs a file or folder")
        table = _read_local(Path(cfg.path))
        _check_columns(table, cfg, cfg.path)
        grouped = _pairs_by_question(table, cfg)
        questions = list(grouped)
        order = np.random.default_rng(cfg.seed).permutation(len(questions))
        bounds = np.cumsum([round(cfg.split_fractions[s] * len(questions)) for s in SPLITS])
        bounds[-1] = len(questions)
        per_split, start = {}, 0
        for split, end in zip(SPLITS, bounds, strict=True):
            per_split[split] = {questions[i]: grouped[questions[i]] for i in sorted(order[start:end])}
            start = end
        return per_split
    if cfg.source != "hub":
        raise UserError(f"data.source: unknown '{cfg.source}'; valid: {', '.join(SOURCES)}")
    per_split = {}
    for split, data_dir in cfg.hub_dirs.items():
        table = _read_hub(cfg, data_dir)
        _check_columns(table, cfg, f"{cfg.hub_id} ({data_dir})")
        per_split[split] = _pairs_by_question(table, cfg)
    reward = list(per_split["rm"])
    held = set(
        np.random.default_rng(cfg.seed).permutation(len(reward))[: round(cfg.rm_test_fraction * len(reward))]
    )
    per_split["rm_test"] = {q: per_split["rm"][q] for i, q in enumerate(reward) if i in held}
    per_split["rm"] = {q: per_split["rm"][q] for i, q in enumerate(reward) if i not in held}
    return per_split


def stack_exchange_data(cfg: StackExchangeConfig) -> tuple[DatasetDict, list[str]]:
    """The splits in the common layout and the texts to train a tokenizer on. Pure function of cfg."""
    per_split = _questions_per_split(cfg)
    claimed: dict[str, str] = {}
    for split in CLAIM_ORDER:
        kept = [q for q in per_split.get(split, {}) if q not in claimed]
        for q in kept[: cfg.max_questions]:
            claimed[q] = split
    prompts = [
        {
            "prompt_id": i,
            "split": split,
            "family": cfg.name,
            "question": q,
            "prompt": format_prompt(q),
            "reference": per_split[split][q][0][0],
        }
        for i, (q, split) in enumerate(claimed.items())
    ]
    rows: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for p in prompts:
        pairs = per_split[p["split"]][p["question"]]
        base = {"prompt_id": p["prompt_id"], "prompt": p["prompt"], "family": cfg.name}
        if p["split"] == "sft":
            for answer in dict.fromkeys(chosen for chosen, _ in pairs):
                rows["sft"].append({**base, "response": answer})
        elif p["split"] in ("rm", "rm_test"):
            for chosen, rejected in pairs:
                rows[p["split"]].append(
                    {**base, "chosen": chosen, "rejected": rejected, "target": 1.0, "is_tie": False}
                    | {"gold_chosen": 1.0, "gold_rejected": 0.0}
                )
        else:
            rows[p["split"]].append(p)
    empty = [s for s in SPLITS if not rows[s]]
    if empty:
        raise UserError(f"data={cfg.name}: no questions for the {empty[0]} split; use more rows")
    data = DatasetDict(
        {"prompts": Dataset.from_list(prompts), **{s: Dataset.from_list(rows[s]) for s in SPLITS}}
    )
    texts = [p["prompt"] + p["reference"] for p in prompts] + [r["response"] for r in rows["sft"]]
    texts += [r[k] for r in rows["rm"] for k in ("chosen", "rejected")]
    return hold_out_validation(data, cfg.validation_fractions, cfg.seed), texts


VERSION = code_version(sys.modules[__name__], tokenizer_module, layout_module)


def load_stack_exchange(data_cfg, cache: ArtifactCache) -> JudgedData:
    values = to_container(data_cfg)
    judge: LLMJudge | None = make_judge(values.pop("judge"))  # fails here, before any work, without a key
    cfg = to_dataclass(StackExchangeConfig, values, "data")

    def build(folder: Path) -> None:
        data, texts = stack_exchange_data(cfg)
        disable_progress_bars()
        data.save_to_disk(str(folder / "data"))
        train_tokenizer(texts, cfg.vocab_size).save_pretrained(str(folder / "tokenizer"))

    if cfg.source == "local" and cfg.path:
        cfg.content = _content_id(Path(cfg.path))
    folder, built = cache.get_or_build("stack_exchange", asdict(cfg), VERSION, build)
    log.info("stack exchange data %s at %s", "built" if built else "loaded from cache", folder)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(str(folder / "tokenizer"))
    return JudgedData(cfg, load_from_disk(str(folder / "data")), tokenizer, folder, judge)


def _content_id(path: Path) -> str:
    if not path.exists():
        raise UserError(f"data.path: no such file or folder: {path}")
    files = sorted(p for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file())
    return stable_hash([(str(p.relative_to(path)) if p != path else p.name, file_sha256(p)) for p in files])
