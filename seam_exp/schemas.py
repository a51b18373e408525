"""Each config group's schema: the dataclass that declares its keys, types and defaults once.

Registered in Hydra's ConfigStore as `<group>/<name>` (names start with `_`: never a choice on the command
line), the first entry of the group's YAML defaults list (conf/rl/ppo.yaml), so that a YAML file only
selects and overrides. Hydra checks types when it composes; `check_config` builds the dataclasses, whose
`__post_init__` checks values: cli.py runs it for every sweep point before any job starts.
"""

from __future__ import annotations

import dataclasses

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf

from seam_exp.config_checks import check_config as legacy_checks
from seam_exp.rl.config import RLConfig
from seam_exp.seam.config import SCHEMAS as SEAM_SCHEMAS
from seam_exp.world.schema import WorldSchema

SCHEMAS = {"rl/_schema": RLConfig, "data/_world": WorldSchema, **SEAM_SCHEMAS}


def register() -> None:
    store = ConfigStore.instance()
    for path, schema in SCHEMAS.items():
        group, name = path.rsplit("/", 1)
        store.store(group=group, name=name, node=schema)


def check_config(cfg: DictConfig) -> None:
    """Build the dataclass of every group of a composed (resolved) config that has one: the first bad
    value raises BadValue (utils/checks.py)."""
    for group in cfg:
        node = cfg[group]
        if isinstance(node, DictConfig) and dataclasses.is_dataclass(OmegaConf.get_type(node)):
            OmegaConf.to_object(node)
    legacy_checks(cfg)  # the groups without a schema yet


register()
