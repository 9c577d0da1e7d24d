"""The training loop: gradient accumulation, AMP, DDP, non-finite guard, signals, resume.

``Trainer`` is deliberately thin: ``run_step`` draws ``accum_steps`` per-forward batches, runs
the (possibly DDP-wrapped) :class:`~hodor.training.regimes.TrainingModule` under autocast, and
takes one optimiser step; everything periodic (logging, checkpoints, evaluation, images,
progress) is a hook (``hodor.engine.hooks``). ``build_trainer(cfg)`` wires it from a config.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import torch
from torch import nn

from ..checkpoint.checkpointer import Checkpointer, restore_rng_state, sampler_state_for_rank, unwrap
from ..structures import ClipBatch, ResumableLoader
from ..utils import comm
from ..utils.device import PRECISION_DTYPES
from ..utils.errors import TrainingAborted
from ..utils.logger import get_logger
from .events import EventStorage

logger = get_logger(__name__)

PRECISIONS = PRECISION_DTYPES  # alias kept for one release (moved to hodor.utils.device)


class NonFiniteLossError(FloatingPointError):
    """Raised after SOLVER.MAX_NONFINITE_STEPS consecutive non-finite losses (a checkpoint is saved first)."""


class TrainingInterrupted(Exception):
    """SIGTERM/SIGINT arrived; a checkpoint was saved. ``signum`` tells which signal."""

    def __init__(self, signum: int, iteration: int) -> None:
        super().__init__(f"training interrupted by signal {signum} after iteration {iteration}; checkpoint saved")
        self.signum, self.iteration = signum, iteration


def accumulation_plan(ims_per_batch: int, max_samples_per_gpu: int, world_size: int) -> tuple[int, int]:
    """(samples per forward, forwards per optimiser step) so the global batch is ``ims_per_batch``.

    Each of the ``world_size`` processes contributes ``ims_per_batch / world_size`` samples per
    step, ``min(max_samples_per_gpu, that)`` at a time. Both divisions must be exact: a silently
    different effective batch would change the recipe.
    """
    if ims_per_batch <= 0 or max_samples_per_gpu <= 0:
        raise ValueError(
            f"SOLVER.IMS_PER_BATCH ({ims_per_batch}) and SOLVER.MAX_SAMPLES_PER_GPU ({max_samples_per_gpu}) must be > 0"
        )
    if ims_per_batch % world_size:
        raise ValueError(
            f"SOLVER.IMS_PER_BATCH={ims_per_batch} is not divisible by the number of processes ({world_size}); "
            "choose a global batch that is a multiple of the number of GPUs"
        )
    per_rank = ims_per_batch // world_size
    per_forward = min(max_samples_per_gpu, per_rank)
    if per_rank % per_forward:
        raise ValueError(
            f"each of the {world_size} processes must put {per_rank} samples through per step, which is not a "
            f"multiple of SOLVER.MAX_SAMPLES_PER_GPU={max_samples_per_gpu}; pick MAX_SAMPLES_PER_GPU dividing {per_rank}"
        )
    return per_forward, per_rank // per_forward


def forward_index(iteration: int, sub_step: int) -> int:
    """The index a regime receives for forward ``sub_step`` of optimiser step ``iteration``.

    As the original (``iter_num = elapsed_iterations + sub_iteration`` in its
    ``Trainer.forward``): ``iteration + sub_step``, the same on every process. The index only
    selects the parity-alternating variant of the long cycle. Rule and consequence: with A
    forwards per step, step i runs variants parity(i), ..., parity(i + A - 1); A = 1 (e.g. 8 GPUs
    x 1 sample, 4 x 2) alternates per step, an even A mixes both halves in every step, and over
    any two consecutive steps every split of the global batch into processes x sub-batches sees
    both variants equally often. Which samples form each forward is split-independent
    (hodor.data.grouping); the per-step variant mix is the original's, which depends on A.
    """
    return iteration + sub_step


class HookBase:
    """Override any of the four callbacks; ``state_dict`` is stored in checkpoints.

    Lives beside the loop that calls it (the concrete hooks in :mod:`.hooks` import it), so the
    loop and its hooks do not import each other.
    """

    trainer: Trainer

    def before_train(self) -> None: ...
    def after_train(self) -> None: ...
    def before_step(self) -> None: ...
    def after_step(self) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class StepOutput(Protocol):
    """What the trained module returns for one forward: the loop needs nothing else.

    ``hodor.training.StepOutput`` is the implementation; the loop stays generic.
    """

    losses: dict[str, torch.Tensor]  # weighted scalar loss terms, logged by name
    metrics: dict[str, torch.Tensor]  # scalars logged only

    @property
    def total_loss(self) -> torch.Tensor: ...  # the optimised scalar


class Trainer:
    """Iteration-based loop over an (infinite) iterable of per-forward ``ClipBatch`` objects."""

    def __init__(
        self,
        module: nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        data: ResumableLoader,
        *,
        max_iter: int,
        accum_steps: int = 1,
        device: torch.device | str = "cpu",
        precision: str = "fp32",
        clip_grad_norm: float = 0.0,
        max_nonfinite: int = 5,
        checkpointer: Checkpointer | None = None,
        config_dict: dict | None = None,
        model: nn.Module | None = None,
        tb_writer: Any = None,
        hooks: Sequence[HookBase] = (),
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"SOLVER.PRECISION must be one of {list(PRECISIONS)}, got {precision!r}")
        self.module = module
        self.model = model if model is not None else unwrap(module)  # the network whose weights are checkpointed
        self.optimizer, self.scheduler = optimizer, scheduler
        self.data = data
        self.max_iter, self.accum_steps = max_iter, accum_steps
        self.device = torch.device(device)
        self.precision = precision
        self.amp_dtype = PRECISIONS[precision]
        self.scaler = torch.amp.GradScaler(self.device.type) if precision == "fp16" else None
        if checkpointer is not None:
            checkpointer.scaler = self.scaler
        self.clip_grad_norm = clip_grad_norm
        self.max_nonfinite = max_nonfinite
        self.checkpointer = checkpointer
        self.config_dict = config_dict
        self.tb_writer = tb_writer
        self.storage = EventStorage()
        self.hooks: list[HookBase] = []
        self.register_hooks(hooks)
        self.start_iter = 0
        self.iter = 0
        self.nonfinite_in_a_row = 0
        self.nonfinite_total = 0
        self.batches_consumed = 0
        self.last_output: StepOutput | None = None
        self.last_batch: ClipBatch | None = None
        self._pending_rng: dict | None = None
        self._stop_signal = 0
        self._abort_signal = 0
        self._data_iter = None

    def register_hooks(self, hooks: Iterable[HookBase]) -> None:
        for h in hooks:
            h.trainer = self
            self.hooks.append(h)

    # -- state -------------------------------------------------------------------------------
    def save_checkpoint(self, name: str, periodic: bool = True, update_pointer: bool = True) -> str | None:
        """Checkpoint after ``self.iter + 1`` finished steps (called from hooks / guards)."""
        if self.checkpointer is None:
            return None
        extra = {
            "hooks": [h.state_dict() for h in self.hooks],
            "hook_names": [type(h).__name__ for h in self.hooks],
            "nonfinite_total": self.nonfinite_total,
            "batches_consumed": self.batches_consumed,
        }
        sampler_state = self.data.state_dict()
        try:
            return self.checkpointer.save(
                name,
                self.iter + 1,
                self.config_dict,
                sampler_state,
                extra,
                periodic=periodic,
                update_pointer=update_pointer,
            )
        except Exception:
            if self._abort_signal:  # torch turns the second signal's exception into a write error
                raise TrainingAborted(self._abort_signal) from None
            raise

    def resume(self, path: str) -> None:
        """Restore everything from ``path``; the RNG states are restored right after the first
        batch of the resumed run is drawn (see ``_next_batch``)."""
        assert self.checkpointer is not None
        data = self.checkpointer.resume(path, self.config_dict, restore_rng=False)
        self.start_iter = int(data["iteration"])
        extra = data.get("extra", {})
        states = extra.get("hooks", [])
        names = extra.get("hook_names")
        if names is not None and len(names) == len(states):  # by class name: the hook order may change
            by_name = dict(zip(names, states))
            for h in self.hooks:
                if type(h).__name__ in by_name:
                    h.load_state_dict(by_name[type(h).__name__])
        else:
            for h, st in zip(self.hooks, states):
                h.load_state_dict(st)
        self.nonfinite_total = int(extra.get("nonfinite_total", 0))
        self.batches_consumed = int(extra.get("batches_consumed", 0))
        sampler_state = sampler_state_for_rank(data)
        if sampler_state is not None:
            self.data.load_state_dict(sampler_state)
        else:
            logger.warning("data position not restored (the checkpoint has none): data order differs")
        rng = data.get("rng") or []
        self._pending_rng = rng[comm.get_rank()] if len(rng) == comm.get_world_size() else None

    # -- loop --------------------------------------------------------------------------------
    def train(self) -> None:
        if self.start_iter >= self.max_iter:
            logger.info(
                "Nothing to train: %d of SOLVER.MAX_ITER=%d iterations are already done (raise SOLVER.MAX_ITER to continue)",
                self.start_iter,
                self.max_iter,
            )
        elif self.start_iter > 0:
            logger.info("Resuming training after iteration %d, up to %d", self.start_iter, self.max_iter)
        else:
            logger.info("Starting training: %d iterations", self.max_iter)
        self._data_iter = iter(self.data)
        self.module.train()
        previous = self._install_signal_handlers()
        self.iter = self.start_iter
        try:
            for h in self.hooks:
                h.before_train()
            for it in range(self.start_iter, self.max_iter):
                self.iter = self.storage.iter = it
                for h in self.hooks:
                    h.before_step()
                self.run_step()
                for h in self.hooks:
                    h.after_step()
                if self._should_stop():
                    self.save_checkpoint(f"model_{self.iter + 1:07d}")
                    raise TrainingInterrupted(self._stop_signal, self.iter + 1)
        finally:
            for h in self.hooks:
                h.after_train()
            self._restore_signal_handlers(previous)

    def _next_batch(self) -> ClipBatch:
        batch = next(self._data_iter)
        if self._pending_rng is not None:
            # Restored only after the first batch of a resumed run: a data iterator may draw from
            # the global RNG when it starts (DataLoader's base seed), which the uninterrupted run
            # did once at its beginning, not at this iteration.
            restore_rng_state(self._pending_rng)
            self._pending_rng = None
        self.batches_consumed += 1
        return batch.to(self.device)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def run_step(self) -> None:
        """One optimiser step over ``accum_steps`` forwards; skipped if any loss is non-finite."""
        # The previous step's outputs (full-resolution logits of every frame) were for its hooks
        # only; drop them before this forward so they do not add to its peak memory.
        self.last_output = self.last_batch = None
        self.optimizer.zero_grad(set_to_none=True)
        is_ddp = isinstance(self.module, nn.parallel.DistributedDataParallel)
        sums: dict[str, torch.Tensor] = {}
        finite = True
        for k in range(self.accum_steps):
            batch = self._next_batch()
            sync = contextlib.nullcontext() if not is_ddp or k == self.accum_steps - 1 else self.module.no_sync()
            with sync:
                with self._autocast():
                    out: StepOutput = self.module(batch, forward_index(self.iter, k))
                loss = out.total_loss / self.accum_steps
                finite = finite and bool(torch.isfinite(loss.detach()))
                (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
            for name, v in {**out.losses, **out.metrics}.items():
                sums[name] = sums.get(name, 0.0) + v.detach().float() / self.accum_steps
            sums["loss"] = sums.get("loss", 0.0) + loss.detach().float()
            if k + 1 < self.accum_steps:
                del out, loss  # an accumulation forward's outputs are not needed by the next one
        self.last_output, self.last_batch = out, batch
        lr = self.optimizer.param_groups[-1]["lr"]
        finite = self._all_ranks_true(finite)
        if finite:
            self.nonfinite_in_a_row = 0
            self._optimizer_step()
        else:
            self.optimizer.zero_grad(set_to_none=True)
            self.nonfinite_in_a_row += 1
            self.nonfinite_total += 1
            logger.warning(
                "non-finite loss at iteration %d: step skipped (%d in a row, %d in total)",
                self.iter,
                self.nonfinite_in_a_row,
                self.nonfinite_total,
            )
        self.scheduler.step()
        names = sorted(sums)
        values = comm.reduce_mean(torch.stack([sums[n] for n in names]).to(self.device))
        self.storage.put_scalars(**{n: float(v) for n, v in zip(names, values.cpu())})
        self.storage.put_scalar("lr", lr)
        self.storage.put_scalar("nonfinite_steps", self.nonfinite_total)
        if not finite and self.nonfinite_in_a_row >= self.max_nonfinite:
            path = self.save_checkpoint(f"model_{self.iter + 1:07d}")
            raise NonFiniteLossError(
                f"{self.nonfinite_in_a_row} consecutive non-finite losses (SOLVER.MAX_NONFINITE_STEPS="
                f"{self.max_nonfinite}) at iteration {self.iter}; the parameters are those of the last finite "
                f"step, saved to {path}. Lower SOLVER.BASE_LR, use SOLVER.CLIP_GRAD_NORM, or switch "
                "SOLVER.PRECISION to fp32/bf16, then resume with --resume."
            )

    def _optimizer_step(self) -> None:
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        if self.clip_grad_norm > 0:
            params = [p for g in self.optimizer.param_groups for p in g["params"] if p.grad is not None]
            norm = torch.nn.utils.clip_grad_norm_(params, self.clip_grad_norm)
            self.storage.put_scalar("grad_norm", float(norm))
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()

    def _all_ranks_true(self, flag: bool) -> bool:
        if not comm.is_dist() or comm.get_world_size() == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MIN)
        return bool(t.item() > 0.5)

    # -- signals -----------------------------------------------------------------------------
    def _install_signal_handlers(self) -> dict:
        if threading.current_thread() is not threading.main_thread():
            return {}

        def handler(signum: int, frame: Any) -> None:
            if self._stop_signal:  # second signal: stop now; temporary files are removed on the way out
                self._abort_signal = signum
                raise TrainingAborted(signum)
            self._stop_signal = signum
            logger.warning("received signal %d: saving a checkpoint after this step, then exiting", signum)

        return {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}

    @staticmethod
    def _restore_signal_handlers(previous: dict) -> None:
        for s, h in previous.items():
            signal.signal(s, h)

    def _should_stop(self) -> bool:
        stop = self._stop_signal
        if comm.is_dist() and comm.get_world_size() > 1:
            t = torch.tensor([float(stop)], device=self.device)
            torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
            stop = int(t.item())
            self._stop_signal = stop
        return stop != 0
