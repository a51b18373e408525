"""Every config group's values checked at compose time, before any work starts.

A bad value (a negative temperature, k = 0, a word where a number goes) would otherwise surface as a
raw exception minutes into a run, or deep inside a sweep job. Each group's rules are listed once here,
next to the names that are valid for it (taken from the packages that define them), and the command line
check (cli.py) turns the first broken rule into `error: <key>: <why>` with exit code 2.

A rule is (key, kind, condition): kind is int, float, str or bool (None allowed where `optional`), the
condition a comparison string (">0", ">=1", "[0,1]", "(0,1]") or a tuple of valid values.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from seam_exp import experiments
from seam_exp.models.factory import SOURCES
from seam_exp.utils.checks import BadValue
from seam_exp.utils.trainer import RL_IS_ONE_PROCESS, distributed

OPTIONAL = "optional"

_GENERATION = [
    ("generation.max_new_tokens", int, ">=1"),
    ("generation.temperature", float, ">0"),
    ("generation.top_k", int, ">=0"),
    ("generation.top_p", float, "(0,1]"),
]


def _training(block: str, lr: str) -> list[tuple]:
    """The rules of an SFT or RM training block (`pm.sft`, `rm.train`)."""
    return [
        (f"{block}.lr", float, lr),
        (f"{block}.batch_size", int, ">=1"),
        (f"{block}.max_steps", int, ">=0"),
        (f"{block}.warmup_steps", int, ">=0"),
        (f"{block}.budget", float, ">0"),
    ]


_SCRATCH_ARCH = [
    ("arch.hidden_size", int, ">=1"),
    ("arch.num_hidden_layers", int, ">=1"),
    ("arch.num_attention_heads", int, ">=1"),
    ("arch.intermediate_size", int, ">=1"),
    ("arch.max_position_embeddings", int, ">=8"),
]

# Checked only when a preset sets `lora` (null: every weight trains).
_LORA = [
    ("lora.r", int, ">=1"),
    ("lora.alpha", float, ">0"),
    ("lora.dropout", float, "[0,1)"),
]

RULES: dict[str, list[tuple]] = {
    "pm": [
        ("source", str, SOURCES),
        *_LORA,
        *_training("sft", lr=">=0"),  # lr 0: a pretrained PM used as shipped
        *_SCRATCH_ARCH,
        *_GENERATION,
    ],
    "rm": [
        ("source", str, SOURCES),
        *_LORA,
        ("init", str, ("scratch", "sft")),
        *_training("train", lr=">0"),
        ("train.num_pairs", int, ">=0", OPTIONAL),
        *_SCRATCH_ARCH,
    ],
    "trainer": [("num_threads", int, ">=0")],
}
KIND_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _typed(key: str, value: Any, kind: type, optional: bool) -> Any:
    if value is None and optional:
        return None
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        raise BadValue(f"{key}: expected {KIND_NAMES[kind]}, got {value!r}")
    return value


def _satisfies(value: Any, condition) -> bool:
    if isinstance(condition, tuple):
        return value in condition
    if condition.startswith(">="):
        return value >= float(condition[2:])
    if condition.startswith(">"):
        return value > float(condition[1:])
    lo, hi = (float(x) for x in condition[1:-1].split(","))
    above = value >= lo if condition[0] == "[" else value > lo
    below = value <= hi if condition[-1] == "]" else value < hi
    return above and below


def _why(condition, value) -> str:
    if isinstance(condition, tuple):
        return f"unknown {value!r}; valid: {', '.join(condition)}"
    if condition[0] in "[(":
        return f"must be in {condition}, got {value!r}"
    op = condition.rstrip("0123456789.-")
    return f"must be {op} {condition[len(op) :]}, got {value!r}"


def check_group(group: str, node: DictConfig) -> None:
    """Raise BadValue for the first value of `node` (the config of `group`) that breaks its rules."""
    for rule in RULES.get(group, []):
        key, kind, condition, *flags = rule
        if group in ("pm", "rm") and key.startswith("arch.") and node.get("source") != "scratch":
            continue
        value = OmegaConf.select(node, key, default=None)
        if value is None and OPTIONAL not in flags and OmegaConf.select(node, key, default="?") == "?":
            continue  # a key this preset does not have (e.g. no generation block on an RM)
        value = _typed(f"{group}.{key}", value, kind, OPTIONAL in flags)
        if value is not None and condition is not None and not _satisfies(value, condition):
            raise BadValue(f"{group}.{key}: {_why(condition, value)}")


def check_config(cfg: DictConfig) -> None:
    """Check every group of a composed (resolved) run config; the first broken rule raises BadValue."""
    for group in RULES:
        if group in cfg:
            check_group(group, cfg[group])
    if cfg.get("task") and "data" in cfg:
        _check_data_source(cfg.task, cfg.data.name)
    if (
        cfg.get("task")
        and "trainer" in cfg
        and distributed(cfg.trainer)
        and experiments.get(cfg.task).runs_rl
    ):
        raise BadValue(f"trainer: {cfg.task} runs RL; {RL_IS_ONE_PROCESS}")
    for group in ("pm", "rm"):
        arch = cfg[group].get("arch") if group in cfg else None
        scratch = arch is not None and cfg[group].source == "scratch"
        if scratch and arch.hidden_size % arch.num_attention_heads:
            heads = arch.num_attention_heads
            raise BadValue(f"{group}.arch.hidden_size: must be a multiple of num_attention_heads ({heads})")


def _check_data_source(task: str, data: str) -> None:
    if data not in experiments.get(task).data:
        takers = [n for n in experiments.names() if data in experiments.get(n).data]
        raise BadValue(
            f"data: {task} needs the preference world (its gold formula, labeler or families); "
            f"data={data} runs with {', '.join(takers) or 'no experiment'}"
        )
