"""Training-state checkpoints: save atomically, keep the newest K, resume exactly.

A checkpoint is one ``torch.save`` file holding only tensors and plain Python types, so that it
loads with ``torch.load(weights_only=True)`` (no unpickling of arbitrary objects):

``model`` (state dict of the bare module), ``optimizer``, ``scheduler``, ``scaler``,
``iteration`` (optimiser steps done), ``training_metadata`` (run-level facts such as the
annotation cost, see ``hodor.utils.training_metadata``), ``rng`` (one entry per rank: python / numpy / torch / cuda
states as tensors), ``sampler`` (one ``state_dict()`` per rank), ``config`` (the resolved config
as a nested dict), ``versions`` and any extra plain data (hook state, counters).

Files are written to a temporary name in the same directory and moved into place with
``os.replace``, then the ``last_checkpoint`` pointer (a one-line text file) is replaced the same
way: an interrupted save leaves the previous checkpoint and pointer untouched.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from ..utils import comm
from ..utils.errors import describe_os_error, find_os_error
from ..utils.logger import get_logger
from ..utils.training_metadata import PTH_KEY
from .formats import CONFIG_KEY, CheckpointError, check_finite, match_state_dict, torch_load_weights_only

logger = get_logger(__name__)

POINTER = "last_checkpoint"
PERIODIC_RE = re.compile(r"^model_(\d{7})\.pth$")


class CheckpointWriteError(CheckpointError):
    """A checkpoint could not be written (full disk, quota...): says why and which checkpoint is still good."""

    def __init__(self, path: str, cause: BaseException, last_good: str | None) -> None:
        os_error = find_os_error(cause)
        reason = describe_os_error(os_error, path) if os_error is not None else f"{path}: {cause}"
        super().__init__(
            f"cannot write checkpoint: {reason}. Nothing half-written was kept; last good checkpoint: "
            f"{last_good or 'none (no checkpoint was saved yet)'} (continue from it with --resume)"
        )
        self.path, self.last_good = path, last_good


# ----------------------------------------------------------------------------------------
# RNG states as tensors / plain types
# ----------------------------------------------------------------------------------------
def capture_rng_state() -> dict[str, Any]:
    """Python, NumPy, torch (CPU) and CUDA generator states, in a weights_only-loadable form."""
    version, py_state, gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state: dict[str, Any] = {
        "python": {"version": version, "state": torch.tensor(py_state, dtype=torch.int64), "gauss": gauss},
        "numpy": {
            "name": np_name,
            "keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "gauss": float(np_gauss),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = [s.cpu() for s in torch.cuda.get_rng_state_all()]
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    py = state["python"]
    random.setstate((py["version"], tuple(int(x) for x in py["state"].tolist()), py["gauss"]))
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = state["cuda"]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)
        else:
            logger.warning(
                "checkpoint has %d CUDA RNG states, this machine %d devices: CUDA RNG not restored",
                len(cuda_states),
                torch.cuda.device_count(),
            )


# ----------------------------------------------------------------------------------------
# Config comparison on resume
# ----------------------------------------------------------------------------------------
# Keys that may change between a run and its resumption: they do not change what has been
# computed so far (output location, run length, logging/checkpoint cadence, data loading
# workers, evaluation, where datasets and initial weights live, device, the per-forward batch
# which gradient accumulation compensates, and the non-finite guard).
RESUME_MUTABLE_KEYS = (
    "OUTPUT_DIR",
    "DEVICE",
    "MODEL.WEIGHTS",
    "MODEL.BACKBONE.WEIGHTS",
    "DATASETS.ROOT",
    "DATALOADER.NUM_WORKERS",
    "DATALOADER.MP_CONTEXT",
    "SOLVER.MAX_ITER",
    "SOLVER.MAX_SAMPLES_PER_GPU",
    "SOLVER.CHECKPOINT_PERIOD",
    "SOLVER.CHECKPOINT_KEEP",
    "SOLVER.LOG_PERIOD",
    "SOLVER.IMAGE_LOG_PERIOD",
    "SOLVER.MAX_NONFINITE_STEPS",
    "TEST.",
    "INFERENCE.",
    "DATASETS.TEST",
)


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def config_differences(
    old: Mapping[str, Any], new: Mapping[str, Any], ignore: tuple[str, ...] = RESUME_MUTABLE_KEYS
) -> list[str]:
    """Human-readable ``KEY: old -> new`` lines for keys that differ and are not ignorable."""
    a, b = _flatten(old), _flatten(new)
    diffs = []
    for key in sorted(set(a) | set(b)):
        if any(key == p or (p.endswith(".") and key.startswith(p)) for p in ignore):
            continue
        va, vb = a.get(key, "<absent>"), b.get(key, "<absent>")
        if isinstance(va, tuple):
            va = list(va)
        if isinstance(vb, tuple):
            vb = list(vb)
        if va != vb:
            diffs.append(f"{key}: {va!r} -> {vb!r}")
    return diffs


def unwrap(model: nn.Module) -> nn.Module:
    """The bare module under DDP / torch.compile wrappers."""
    while hasattr(model, "module") or hasattr(model, "_orig_mod"):
        model = getattr(model, "module", None) or model._orig_mod
    return model


def atomic_torch_save(obj: Any, path: str) -> None:
    """``torch.save`` to a temporary file in the same directory, fsync, then ``os.replace``."""
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _atomic_write_text(path: str, text: str) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def versions() -> dict[str, str]:
    import hodor

    return {"hodor": str(hodor.__version__), "torch": str(torch.__version__), "numpy": str(np.__version__)}


class Checkpointer:
    """Saves/loads the full training state of a run under ``save_dir``.

    Every rank must call :meth:`save` (RNG and sampler states are gathered from all ranks);
    only the main process writes.
    """

    def __init__(
        self,
        model: nn.Module,
        save_dir: str,
        optimizer: torch.optim.Optimizer | None = None,
        scheduler: Any = None,
        scaler: Any = None,
        keep: int = 3,
        training_metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.model = unwrap(model)
        self.save_dir = save_dir
        self.optimizer, self.scheduler, self.scaler = optimizer, scheduler, scaler
        self.keep = keep
        # run-level facts written into every checkpoint (hodor.utils.training_metadata), e.g.
        # {"annotation_cost": {...}}; set by whoever builds the run
        self.training_metadata: dict[str, Any] = dict(training_metadata or {})

    # -- saving ------------------------------------------------------------------------------
    def save(
        self,
        name: str,
        iteration: int,
        config: Mapping[str, Any] | None = None,
        sampler_state: Any = None,
        extra: Mapping[str, Any] | None = None,
        periodic: bool = True,
        update_pointer: bool = True,
    ) -> str | None:
        """Write ``save_dir/name.pth`` atomically and (unless ``update_pointer`` is False, as for
        ``model_best``) point ``last_checkpoint`` at it.

        ``periodic`` files (``model_XXXXXXX``) are pruned to the newest ``keep``.
        Returns the path on the main process, None elsewhere.
        """
        rng_all = comm.all_gather_object(capture_rng_state())
        sampler_all = comm.all_gather_object(sampler_state)
        if not comm.is_main_process():
            return None
        data: dict[str, Any] = {
            "model": self.model.state_dict(),
            "iteration": int(iteration),
            "rng": rng_all,
            "sampler": sampler_all,
            "world_size": comm.get_world_size(),
            CONFIG_KEY: dict(config) if config is not None else None,
            "versions": versions(),
            "extra": dict(extra or {}),
            PTH_KEY: dict(self.training_metadata),
        }
        if self.optimizer is not None:
            data["optimizer"] = self.optimizer.state_dict()
        if self.scheduler is not None:
            data["scheduler"] = self.scheduler.state_dict()
        if self.scaler is not None:
            data["scaler"] = self.scaler.state_dict()
        os.makedirs(self.save_dir, exist_ok=True)
        path = os.path.join(self.save_dir, f"{name}.pth")
        try:
            atomic_torch_save(data, path)
            if update_pointer:
                _atomic_write_text(os.path.join(self.save_dir, POINTER), f"{name}.pth\n")
        except (OSError, RuntimeError) as exc:  # torch reports ENOSPC as a RuntimeError from its zip writer
            raise CheckpointWriteError(path, exc, self._last_good()) from exc
        logger.info("Saved checkpoint %s (iteration %d)", path, iteration)
        if periodic:
            self._prune()
        return path

    def _prune(self) -> None:
        if self.keep <= 0:
            return
        files = sorted(f for f in os.listdir(self.save_dir) if PERIODIC_RE.match(f))
        current = self.last_checkpoint()
        for f in files[: -self.keep]:
            if current and os.path.basename(current) == f:
                continue
            os.remove(os.path.join(self.save_dir, f))

    def _last_good(self) -> str | None:
        try:
            return self.last_checkpoint()
        except (CheckpointError, OSError):
            return None

    # -- finding -----------------------------------------------------------------------------
    def last_checkpoint(self) -> str | None:
        """Path named by ``last_checkpoint``, or None when there is no pointer."""
        pointer = os.path.join(self.save_dir, POINTER)
        if not os.path.isfile(pointer):
            return None
        with open(pointer, encoding="utf-8") as fh:
            name = fh.read().strip()
        path = os.path.join(self.save_dir, name)
        if not os.path.isfile(path):
            raise CheckpointError(
                f"{pointer} names {name!r}, which does not exist in {self.save_dir}; "
                "fix the pointer file or start without --resume"
            )
        return path

    # -- loading -----------------------------------------------------------------------------
    @staticmethod
    def read(path: str) -> dict[str, Any]:
        """Load a checkpoint file safely (weights_only) with a clear error for bad files."""
        try:
            data = torch_load_weights_only(path)
        except FileNotFoundError:
            raise
        except CheckpointError as exc:
            raise CheckpointError(f"{path}: not a readable hodor checkpoint ({exc})") from exc
        if not isinstance(data, dict) or "model" not in data or "iteration" not in data:
            raise CheckpointError(f"{path}: not a hodor training checkpoint (no 'model'/'iteration' entries)")
        check_finite(data["model"], path)
        return data

    def check_compatible(self, data: Mapping[str, Any], path: str, config: Mapping[str, Any] | None) -> None:
        """Fail before training if the checkpoint belongs to another architecture or config."""
        _, report = match_state_dict(self.model, data["model"], path)
        if not report.ok:
            raise CheckpointError(
                f"{path} was written by a different architecture. Resume with the config the run was started "
                f"with, or start a new OUTPUT_DIR (use MODEL.WEIGHTS to fine-tune).\n{report.summary(max_keys=8)}"
            )
        stored = data.get(CONFIG_KEY)
        if config is not None and stored is not None:
            diffs = config_differences(stored, config)
            if diffs:
                raise CheckpointError(
                    f"cannot resume from {path}: the config differs from the one the run was started with:\n  "
                    + "\n  ".join(diffs)
                    + "\nPass the original values again (see config.yaml in the output directory) or use a new "
                    f"OUTPUT_DIR. Keys that may change on resume: {', '.join(RESUME_MUTABLE_KEYS)}"
                )

    def resume(self, path: str, config: Mapping[str, Any] | None = None, restore_rng: bool = True) -> dict[str, Any]:
        """Restore model, optimiser, scheduler, scaler and (optionally) this rank's RNG.

        Returns the checkpoint dict (the caller restores sampler and hook states from it).
        """
        data = self.read(path)
        self.check_compatible(data, path, config)
        self.model.load_state_dict(data["model"], strict=True)
        if self.optimizer is not None and "optimizer" in data:
            self.optimizer.load_state_dict(data["optimizer"])
        if self.scheduler is not None and "scheduler" in data:
            self.scheduler.load_state_dict(data["scheduler"])
        if self.scaler is not None and "scaler" in data:
            self.scaler.load_state_dict(data["scaler"])
        rank, world = comm.get_rank(), comm.get_world_size()
        rng = data.get("rng") or []
        if not restore_rng:
            pass
        elif len(rng) == world:
            restore_rng_state(rng[rank])
        else:
            logger.warning(
                "checkpoint was written by %d ranks, now %d: RNG states not restored (resume is not bit-exact)",
                len(rng),
                world,
            )
        logger.info("Resumed from %s at iteration %d", path, data["iteration"])
        return data


def sampler_state_for_rank(data: Mapping[str, Any]) -> Any:
    """This rank's sampler state from a checkpoint dict.

    If the number of processes changed, rank 0's state is used: hodor's train loader stores a
    *global* sample position (identical on every rank), from which any sharding can continue.
    """
    states = data.get("sampler") or []
    if not states:
        return None
    if len(states) != comm.get_world_size():
        logger.warning(
            "checkpoint written by %d processes, now %d: continuing from rank 0's data position",
            len(states),
            comm.get_world_size(),
        )
        return states[0]
    return states[comm.get_rank()]
