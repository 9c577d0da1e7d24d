"""Configuration: defaults in code (defaults.py), YAML overrides with ``_BASE_``, CLI overrides."""

from .config import (
    CHOICES,
    ConfigError,
    cfg_to_dict,
    config_from_dict,
    dump_config,
    get_cfg,
    load_config,
    merge_from_file,
    merge_from_list,
    validate,
)
from .defaults import CfgNode

__all__ = [
    "CHOICES",
    "CfgNode",
    "ConfigError",
    "cfg_to_dict",
    "config_from_dict",
    "dump_config",
    "get_cfg",
    "load_config",
    "merge_from_file",
    "merge_from_list",
    "validate",
]
