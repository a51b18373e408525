"""Check the command line before Hydra runs, so a bad override is one line, not a stack of them.

Hydra reports a missing config option or an unknown key over many lines with a hint about
HYDRA_FULL_ERROR; researchers sweeping dozens of jobs want `error: <what> ; valid: <choices>` instead.
We compose the config once per distinct value of every sweep override (cheap: no job runs), build every
group's schema from it (its dataclass checks its values), turn the first failure into one line, and leave
everything else to Hydra.
"""

from __future__ import annotations

import dataclasses

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException, ValidationError
from omegaconf.nodes import BooleanNode, FloatNode, IntegerNode, StringNode

import seam_exp.schemas  # noqa: F401 - registers every group's schema in Hydra's ConfigStore
from seam_exp import experiments
from seam_exp.utils.checks import BadValue, at_least, integer
from seam_exp.utils.config import CONF_DIR, register_resolvers
from seam_exp.utils.trainer import RL_IS_ONE_PROCESS, distributed

KIND_NAMES = {
    IntegerNode: "an integer",
    FloatNode: "a number",
    StringNode: "a string",
    BooleanNode: "true or false",
}


class ConfigError(Exception):
    """A config problem, reported as one line."""


def group_options(group: str) -> list[str]:
    folder = CONF_DIR / group
    return sorted(p.stem for p in folder.glob("*.yaml") if not p.stem.startswith("_"))


def check_config(cfg: DictConfig) -> None:
    """Build the dataclass of every group of a composed (resolved) config that has one (seam_exp/schemas.py),
    then check what spans groups: the first bad value raises BadValue (utils/checks.py)."""
    for group in cfg:
        node = cfg[group]
        if isinstance(node, DictConfig) and dataclasses.is_dataclass(OmegaConf.get_type(node)):
            if node.get("arch") is not None and node.get("source") != "scratch":
                node = node.copy()  # a packaged or hub model brings its own architecture: none to check
                node.arch = None
            OmegaConf.to_object(node)
    if "trainer" in cfg:  # no schema: Lightning's free-form Trainer arguments, and this one of ours
        integer("trainer.num_threads", cfg.trainer.num_threads)
        at_least("trainer.num_threads", cfg.trainer.num_threads, 0)
    task = cfg.get("task")
    if task and "data" in cfg and cfg.data.name not in experiments.get(task).data:
        takers = [n for n in experiments.names() if cfg.data.name in experiments.get(n).data]
        raise BadValue(
            f"data: {task} needs the preference world (its gold formula, labeler or families); "
            f"data={cfg.data.name} runs with {', '.join(takers) or 'no experiment'}"
        )
    if task and "trainer" in cfg and distributed(cfg.trainer) and experiments.get(task).runs_rl:
        raise BadValue(f"trainer: {task} runs RL; {RL_IS_ONE_PROCESS}")


def _job_overrides(args: list[str]) -> list[str]:
    # Flags (-m, --cfg job, ...) and hydra.* settings are Hydra's own business.
    return [a for a in args if not a.startswith("-") and not a.lstrip("+~").startswith("hydra")]


def _expand_sweeps(overrides: list[str]) -> list[list[str]]:
    """The overrides with every sweep at its first value, then one variant per further sweep value
    (each value is checked once, not the cross product)."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    values = [list(o.sweep_string_iterator()) if o.is_sweep_override() else None for o in parsed]
    plain = [
        f"{o.get_key_element()}={v[0]}" if v else o.input_line for o, v in zip(parsed, values, strict=True)
    ]
    variants = [plain]
    for i, (o, v) in enumerate(zip(parsed, values, strict=True)):
        for value in (v or [])[1:]:
            variants.append([*plain[:i], f"{o.get_key_element()}={value}", *plain[i + 1 :]])
    return variants


def _unparsable(overrides: list[str], exc: OverrideParseException) -> str:
    parser = OverridesParser.create()
    for override in overrides:
        try:
            parser.parse_overrides([override])
        except OverrideParseException:
            # Run folders contain '=' and ',': a path must be quoted for Hydra's override grammar.
            hint = (
                " (quote a value with '=' or ',' in it: key=\"'<value>'\")" if override.count("=") > 1 else ""
            )
            return f"cannot parse override '{override}'{hint}"
    return f"cannot parse override: {str(exc).splitlines()[0]}"


def _one_line(exc: Exception) -> str:
    if isinstance(exc, MissingConfigException):
        missing = exc.missing_cfg_file or ""
        # a nested group (seam/gpt/gtp): the group is everything before the last part
        group = missing.rsplit("/", 1)[0] if "/" in missing else missing
        value = missing.rsplit("/", 1)[1] if "/" in missing else ""
        options = group_options(group) if (CONF_DIR / group).is_dir() else []
        what = f"unknown {group} '{value}'" if value else f"unknown config '{missing}'"
        return f"{what}; valid: {', '.join(options)}" if options else what
    # Hydra wraps OmegaConf's error, which names the key and holds the nodes involved.
    cause = exc.__cause__ if isinstance(exc.__cause__, OmegaConfBaseException) else exc
    key = getattr(cause, "full_key", None)
    if isinstance(cause, ConfigAttributeError | ConfigKeyError) and key:
        parent, where = cause.parent_node, key.rsplit(".", 1)[0] if "." in key else "the root"
        hint = f"; valid keys under {where}: {', '.join(sorted(parent))}" if parent is not None else ""
        return f"unknown config key '{key}'{hint}"
    if isinstance(cause, ValidationError) and key:
        kind = KIND_NAMES.get(type(cause.child_node), "a valid value")
        return f"{key}: expected {kind}, got {cause.value!r}"
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _refuse_lists_written_as_sweeps(overrides: list[str]) -> None:
    """`scale.sizes=m,l` is a sweep to Hydra (each job gets one size), never the list a user meant."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    sweeps = [o for o in parsed if o.is_sweep_override()]
    if not sweeps:
        return
    plain = [o.input_line for o in parsed if not o.is_sweep_override()]
    try:
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            base = compose("config", overrides=plain)
    except Exception:  # noqa: BLE001 - the variants' check below reports what is wrong
        return
    finally:
        GlobalHydra.instance().clear()
    for o in sweeps:
        key = o.get_key_element().lstrip("+~")
        if OmegaConf.is_list(OmegaConf.select(base, key, default=None)):
            values = ",".join(o.sweep_string_iterator())
            raise ConfigError(
                f"{key} is a list: write {key}=[{values}] (written {values}, Hydra sweeps over its values)"
            )


def _refuse_axes_the_scale_replaces(cfg, overrides: list[str]) -> None:
    """An experiment's `sweep.<scale>` block replaces its lists at that scale (conf/experiment/selection.yaml):
    an edit of the replaced list would be silently ignored."""
    scale, sweep = cfg.get("scale", {}).get("name"), cfg.get("sweep")
    at_scale = sweep.get(scale) if sweep is not None and scale else None
    for override in overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        name = key.removeprefix("sweep.")
        if key.startswith("sweep.") and at_scale is not None and name in at_scale:
            raise ConfigError(
                f"{key}: at scale={scale} the sweep reads sweep.{scale}.{name}; override that one"
            )


def check(args: list[str]) -> None:
    """Raise ConfigError with a one-line message if the command line cannot compose into a run."""
    register_resolvers()
    overrides = _job_overrides(args)
    names = group_options("experiment")
    if not any(o.lstrip("+").startswith("experiment=") for o in overrides):
        raise ConfigError(f"choose an experiment with +experiment=<name>; valid: {', '.join(names)}")
    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    try:
        variants = _expand_sweeps(overrides)
    except OverrideParseException as exc:
        raise ConfigError(_unparsable(overrides, exc)) from None
    _refuse_lists_written_as_sweeps(overrides)
    for variant in variants:
        try:
            with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
                cfg = compose("config", overrides=variant)
                OmegaConf.resolve(cfg)
            check_config(cfg)
            _refuse_axes_the_scale_replaces(cfg, variant)
        except BadValue as exc:
            raise ConfigError(str(exc)) from None
        except (
            ConfigCompositionException,
            MissingConfigException,
            OmegaConfBaseException,
            ValueError,
        ) as exc:
            raise ConfigError(_one_line(exc)) from None
        finally:
            GlobalHydra.instance().clear()
