"""Top layer of the checkpoint stack: the one way weights get into a model, and the config a
checkpoint carries.

:func:`load_model_weights` reads any supported file (:mod:`.formats`), detects an upstream layout
and converts it (:mod:`.convert`), matches it against the model and loads it; trainer
fine-tuning, inference, the tools and the parity runner all go through it. (Resuming a run goes
through :class:`~hodor.checkpoint.checkpointer.Checkpointer`, which restores optimiser and RNG
state too, with the same reader and matcher.)

:func:`checkpoint_config` / :func:`load_config_with_weights` rebuild the config a checkpoint was
written with, so that a checkpoint alone is enough to rebuild its model.
"""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn

from ..config import CfgNode, config_from_dict, get_cfg, load_config
from ..config.config import merge_from_file, merge_from_list, validate
from ..utils.logger import get_logger
from .convert import convert_original_state_dict, is_original_state_dict, original_config
from .formats import CheckpointError, LoadReport, match_state_dict, read_checkpoint, read_config

logger = get_logger(__name__)


def _architecture_hint(report: LoadReport, model: nn.Module) -> str:
    """Point at the likely cause when large parts of the model do not match."""
    hints = []
    cfg = report.checkpoint_cfg or {}
    name = ((cfg.get("MODEL") or {}).get("BACKBONE") or {}).get("NAME") if isinstance(cfg, dict) else None
    if name:
        hints.append(f"the checkpoint was written for MODEL.BACKBONE.NAME={name!r}")
    bad = {k.split(".", 1)[0] for k in report.missing + report.unexpected + [m[0] for m in report.mismatched]}
    if bad:
        hints.append(f"mismatching parts: {sorted(bad)}")
    if len(report.missing) > len(model.state_dict()) // 4:
        hints.append(
            "more than a quarter of the model is missing: probably a different architecture (backbone, hidden dim "
            "or layer counts); build the model from the checkpoint's own config (omit --config-file)"
        )
    return ("; ".join(hints) + ".") if hints else ""


def load_model_weights(model: nn.Module, path: str, strict: bool = True) -> LoadReport:
    """Load the weights in ``path`` into ``model`` (read, detect format, convert, match, load).

    Strict (the default): any missing, unexpected or mis-shaped key raises :class:`CheckpointError`
    naming the file and the keys, and nothing is loaded. Non-strict (fine-tuning with
    ``MODEL.WEIGHTS_STRICT False``): the fitting tensors are loaded and what was loaded, missing and
    mis-shaped is logged; a file of which *nothing* fits still raises.
    """
    sd, cfg = read_checkpoint(path)
    converted = is_original_state_dict(sd)
    if converted:
        sd = convert_original_state_dict(sd)
    good, report = match_state_dict(model, sd, path)
    report.converted_from_original = converted
    report.source_format = "original HODOR checkpoint" if converted else "hodor checkpoint"
    report.checkpoint_cfg = cfg
    if not report.ok:
        hint = _architecture_hint(report, model)
        if strict:
            raise CheckpointError(
                f"{path}: checkpoint does not match the model, nothing was loaded (strict loading; "
                f"MODEL.WEIGHTS_STRICT False loads the fitting part).\n{report.summary()}\n{hint}"
            )
        if not good:
            raise CheckpointError(f"{path}: no tensor fits this model.\n{report.summary()}\n{hint}")
        logger.warning("partial load (MODEL.WEIGHTS_STRICT False):\n%s\n%s", report.summary(), hint)
    model.load_state_dict(good, strict=False)
    if report.ok:
        logger.info(report.summary())
    return report


def checkpoint_config(path: str) -> CfgNode | None:
    """The config that rebuilds the model stored in ``path`` (frozen), or None if it carries none.

    Our checkpoints carry their resolved config; an original HODOR checkpoint implies the original
    architecture (:func:`~hodor.checkpoint.convert.original_config`).
    """
    data = read_config(path)  # safetensors: metadata only
    sd = None
    if data is None:
        sd, data = read_checkpoint(path)
    if data is not None:
        cfg = config_from_dict(data, f"config stored in {path}", freeze=False)
        cfg.DEVICE = get_cfg().DEVICE  # where a checkpoint runs is not where it was trained
        cfg.freeze()
        return cfg
    if is_original_state_dict(sd):
        cfg = original_config()
        cfg.freeze()
        return cfg
    return None


def _weights_in_opts(opts: list[str]) -> str:
    for key, value in zip(opts[::2], opts[1::2]):
        if key == "MODEL.WEIGHTS":
            return value
    return ""


def load_config_with_weights(
    config_file: str | None, opts: Iterable[str] = (), weights: str | None = None, freeze: bool = True
) -> CfgNode:
    """The config of a tool run: defaults <- checkpoint's config <- config file <- ``KEY VALUE``.

    ``weights`` (``--weights``) or ``MODEL.WEIGHTS`` among ``opts`` names the checkpoint. When the
    checkpoint carries its config, ``--config-file`` is optional: the model is rebuilt from it, and
    a config file or ``KEY VALUE`` pairs still override single keys.
    """
    opts = list(opts)
    path = weights or _weights_in_opts(opts)
    if not path:
        return load_config(config_file or None, opts, freeze=freeze)
    stored = checkpoint_config(path)
    if stored is None:
        if not config_file:
            logger.warning("%s carries no config: using the defaults (pass --config-file if that is wrong)", path)
        return load_config(config_file or None, [*opts, "MODEL.WEIGHTS", path], freeze=freeze)
    cfg = stored.clone()
    cfg.defrost()
    if config_file:
        merge_from_file(cfg, config_file)
    merge_from_list(cfg, [*opts, "MODEL.WEIGHTS", path])
    validate(cfg)
    if freeze:
        cfg.freeze()
    return cfg
