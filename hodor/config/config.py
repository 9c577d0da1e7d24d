"""Loading, validating, overriding and dumping configs.

fvcore's CfgNode gives us the node type and ``_BASE_`` inheritance; this module makes its
failures useful: an unknown key names the file and the closest valid keys, a wrongly typed
override names the key and both types, and integers are accepted where floats are expected
(``SOLVER.BASE_LR 1`` or ``BASE_LR: 1``), the one coercion users expect.
"""

from __future__ import annotations

import ast
import copy
import difflib
import os
from collections.abc import Iterable
from typing import Any

import yaml

from ..utils.errors import UserError
from .defaults import _C, CfgNode

BASE_KEY = "_BASE_"


class ConfigError(UserError, ValueError):
    """A config file or override that cannot be applied; the message says what to change."""


def get_cfg() -> CfgNode:
    """A fresh, mutable copy of the defaults."""
    return _C.clone()


def _all_keys(node: CfgNode, prefix: str = "") -> list[str]:
    keys = []
    for k, v in node.items():
        full = f"{prefix}{k}"
        keys.append(full)
        if isinstance(v, CfgNode):
            keys.extend(_all_keys(v, full + "."))
    return keys


def _suggest(key: str, cfg: CfgNode) -> str:
    candidates = _all_keys(cfg)
    close = difflib.get_close_matches(key, candidates, n=3, cutoff=0.5)
    if not close:  # fall back to matching the last component only
        leaf = key.rsplit(".", 1)[-1]
        close = [c for c in candidates if difflib.SequenceMatcher(None, leaf, c.rsplit(".", 1)[-1]).ratio() > 0.7][:3]
    return ", ".join(close) if close else "(no similar key)"


def _coerce(value: Any, default: Any, key: str, source: str) -> Any:
    """Check ``value`` against the type of ``default``; allow int -> float and tuple <-> list."""
    if isinstance(default, CfgNode):
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: key {key} is a section; got {type(value).__name__} {value!r}")
        return value
    if default is None or value is None:
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(default, (list, tuple)):
        if isinstance(value, (list, tuple)):
            return list(value)
    else:
        if isinstance(value, type(default)):
            return value
    raise ConfigError(
        f"{source}: wrong type for {key}: expected {type(default).__name__} "
        f"(default {default!r}), got {type(value).__name__} {value!r}"
    )


def _merge_dict(cfg: CfgNode, new: dict, source: str, prefix: str = "") -> None:
    """Strictly merge a plain dict (from YAML) into ``cfg``, validating keys and types."""
    for k, v in new.items():
        full = f"{prefix}{k}"
        if k not in cfg:
            raise ConfigError(f"{source}: unknown config key '{full}'. Closest valid keys: {_suggest(full, _C)}")
        default = cfg[k]
        if isinstance(v, str) and not isinstance(default, str):
            v = _literal(v)
        v = _coerce(v, default, full, source)
        if isinstance(default, CfgNode):
            _merge_dict(default, v, source, full + ".")
        else:
            cfg[k] = v


def _literal(text: str) -> Any:
    """Decode a string such as '1e-4', '[1, 2]' or 'True' into a Python value if possible."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _load_yaml_with_base(path: str, _seen: tuple[str, ...] = ()) -> dict:
    path = os.path.abspath(path)
    if path in _seen:
        raise ConfigError(f"{path}: _BASE_ chain loops back to itself: {' -> '.join(_seen + (path,))}")
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    with open(path, encoding="utf-8") as fh:
        try:
            data = yaml.safe_load(fh)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of keys, got {type(data).__name__}")
    base = data.pop(BASE_KEY, None)
    if base is None:
        return {"__layers__": [(path, data)]}
    base_path = base if os.path.isabs(base) else os.path.join(os.path.dirname(path), base)
    loaded = _load_yaml_with_base(base_path, _seen + (path,))
    loaded["__layers__"].append((path, data))
    return loaded


def merge_from_file(cfg: CfgNode, path: str) -> CfgNode:
    """Merge a YAML file (and its ``_BASE_`` chain, base first) into ``cfg`` in place."""
    for layer_path, data in _load_yaml_with_base(path)["__layers__"]:
        _merge_dict(cfg, data, layer_path)
    return cfg


def merge_from_list(cfg: CfgNode, opts: Iterable[str]) -> CfgNode:
    """Apply ``KEY VALUE`` pairs from the command line, with type checking."""
    opts = list(opts)
    if len(opts) % 2:
        raise ConfigError(f"command-line overrides must be KEY VALUE pairs; got an odd list: {opts}")
    for key, raw in zip(opts[0::2], opts[1::2]):
        node = cfg
        parts = key.split(".")
        for depth, part in enumerate(parts):
            if not isinstance(node, CfgNode) or part not in node:
                raise ConfigError(f"command line: unknown config key '{key}'. Closest valid keys: {_suggest(key, _C)}")
            if depth < len(parts) - 1:
                node = node[part]
        default = node[parts[-1]]
        if isinstance(default, CfgNode):
            raise ConfigError(f"command line: '{key}' is a section; override one of its keys instead")
        value = raw if isinstance(default, str) else _literal(raw) if isinstance(raw, str) else raw
        node[parts[-1]] = _coerce(value, default, key, "command line")
    return cfg


def load_config(config_file: str | None = None, opts: Iterable[str] = (), freeze: bool = True) -> CfgNode:
    """Defaults <- YAML file (with ``_BASE_``) <- ``KEY VALUE`` overrides, then validate and freeze."""
    cfg = get_cfg()
    if config_file:
        merge_from_file(cfg, config_file)
    merge_from_list(cfg, opts)
    try:
        validate(cfg)
    except ConfigError as err:
        source = f"{config_file} (with command-line overrides)" if config_file else "command-line overrides"
        raise ConfigError(f"{source}: {err}") from None
    if freeze:
        cfg.freeze()
    return cfg


# Keys whose value must be one of a fixed set. The single source of these sets: modules that
# need them (data clips, the deformable conv dispatcher) import them from here.
CHOICES: dict[str, tuple[str, ...]] = {
    "SOLVER.PRECISION": ("fp32", "bf16", "fp16"),
    "INFERENCE.PRECISION": ("fp32", "bf16", "fp16"),
    "SOLVER.LR_SCHEDULER": ("step", "warmup", "cosine"),
    "TRAINING.DICE": ("multiclass_dice", "per_object_dice"),
    "TRAINING.SPARSE_REF_FRAME": ("middle", "end", "first", "random"),
    "PSEUDO_LABEL.LABELLED_FRAMES": ("all", "middle", "first"),
    "PSEUDO_LABEL.CONFIDENCE": ("mean_max_prob", "fb_iou"),
    "DATALOADER.ON_BAD_SAMPLE": ("error", "skip"),
    "MODEL.DECODER.DEFORM_CONV_IMPL": ("auto", "torchvision", "grid_sample", "gather"),
}


def validate(cfg: CfgNode) -> None:
    """Cross-key checks that single-key type checks cannot express."""
    if len(cfg.DATASETS.TRAIN_RATIOS) not in (0, len(cfg.DATASETS.TRAIN)):
        raise ConfigError(
            f"DATASETS.TRAIN_RATIOS has {len(cfg.DATASETS.TRAIN_RATIOS)} entries but DATASETS.TRAIN "
            f"has {len(cfg.DATASETS.TRAIN)}; give one ratio per dataset or none"
        )
    for name, choices in CHOICES.items():
        node = cfg
        for part in name.split("."):
            node = node[part]
        if node not in choices:
            raise ConfigError(f"{name} = {node!r} is not one of {list(choices)}")
    from .ranges import check_ranges

    problems = check_ranges(cfg)
    if problems:
        raise ConfigError("; ".join(problems))


def cfg_to_dict(cfg: CfgNode) -> dict:
    """Plain nested dict (for JSON, checkpoints and comparisons)."""
    out = {}
    for k, v in cfg.items():
        out[k] = cfg_to_dict(v) if isinstance(v, CfgNode) else copy.deepcopy(v)
    return out


def dump_config(cfg: CfgNode, path: str) -> str:
    """Write the resolved config as YAML that ``load_config`` reads back to an equal config."""
    text = yaml.safe_dump(cfg_to_dict(cfg), sort_keys=False, default_flow_style=None)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return path


def config_from_dict(data: dict, source: str = "<dict>", freeze: bool = True) -> CfgNode:
    """Rebuild a config from ``cfg_to_dict`` output (e.g. stored in a checkpoint)."""
    cfg = get_cfg()
    _merge_dict(cfg, data, source)
    if freeze:
        cfg.freeze()
    return cfg
