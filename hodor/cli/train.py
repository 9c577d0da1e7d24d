"""Entry point of ``tools/train_net.py`` and the ``hodor-train`` console script.

``--eval-only`` evaluates MODEL.WEIGHTS on DATASETS.TEST (predictions and CSVs under
``OUTPUT_DIR/inference/<dataset>``) and returns; it never trains and never writes model files.

One CPU, one GPU, or many GPUs/nodes through torchrun::

    python tools/train_net.py --config-file configs/static_image/coco_swin_t.yaml OUTPUT_DIR out/coco
    torchrun --nproc_per_node 8 tools/train_net.py --config-file ... [--resume]
    torchrun --nnodes 2 --node_rank R --master_addr HOST --master_port 29500 --nproc_per_node 8 tools/train_net.py ...

Exit codes: 0 done; 128+signal after SIGTERM/SIGINT (checkpoint saved); 3 after the non-finite
loss guard (checkpoint saved); 2 for configuration or input errors (one message; ``--debug`` or
HODOR_DEBUG=1 show the traceback).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

import torch

from ..checkpoint.checkpointer import Checkpointer
from ..checkpoint.formats import CheckpointError
from ..checkpoint.loading import load_config_with_weights
from ..config import load_config
from ..engine.distributed import launch
from ..engine.setup import RecordBuffer, default_argument_parser, seed_process, write_run_files
from ..engine.trainer import NonFiniteLossError, TrainingInterrupted
from ..training.build import build_trainer
from ..utils import comm
from ..utils.errors import TrainingAborted, debug_enabled, report_error, user_error_types
from ..utils.logger import get_logger, setup_logger
from ..utils.run_dir import RunDirectory
from .eval_vos import evaluate_checkpoint

logger = get_logger(__name__)


def _last_good_checkpoint(output_dir: str) -> str:
    try:
        path = Checkpointer(torch.nn.Identity(), output_dir).last_checkpoint()
    except (CheckpointError, OSError):
        path = None
    return path or "none (no checkpoint was saved yet)"


def run_training(args, eval_fn: Callable[[], dict[str, float]] | None = None) -> int:
    """Set up this process (distributed if launched by torchrun), build the trainer and train.

    Start-up order (nothing is written to OUTPUT_DIR before every check passed): config ->
    lock OUTPUT_DIR and refuse a non-empty one without --resume/--overwrite -> build model, data
    and resume state -> write config.yaml, env.json, log.txt -> train. User errors print one
    message and return 2 (``--debug`` / HODOR_DEBUG=1 add the traceback).
    """
    debug = bool(getattr(args, "debug", False)) or debug_enabled()
    comm.init_distributed()
    run_dir = None
    try:
        cfg = load_config(args.config_file or None, list(args.opts))
        setup_logger()  # console only until the run folder may be written to; log.txt gets these later
        early = RecordBuffer()
        logging.getLogger("hodor").addHandler(early)
        if comm.is_main_process():
            run_dir = RunDirectory(cfg.OUTPUT_DIR).acquire(
                resume=args.resume, overwrite=bool(getattr(args, "overwrite", False))
            )
        seed_process(cfg)
        trainer = build_trainer(
            cfg, resume=args.resume, eval_fn=eval_fn, progress_bar=not getattr(args, "no_progress", False)
        )
        write_run_files(cfg, args, seed=False, early=early)
    except (*user_error_types(), OSError, ValueError) as exc:
        # user mistakes found before training starts: a message, not a traceback
        if run_dir is not None:
            run_dir.release(failed=True)
        return report_error(exc, debug)
    except BaseException:
        if run_dir is not None:
            run_dir.release(failed=True)
        raise
    try:
        trainer.train()
    except TrainingInterrupted as exc:
        logger.warning("%s", exc)
        return 128 + exc.signum
    except TrainingAborted as exc:
        print(
            f"stopped: {exc}; nothing half-written was kept. Last good checkpoint: "
            f"{_last_good_checkpoint(cfg.OUTPUT_DIR)}",
            file=sys.stderr,
        )
        return 128 + exc.signum
    except NonFiniteLossError as exc:
        logger.error("%s", exc)
        return 3
    except (*user_error_types(), OSError) as exc:
        # bad data met after the start, a full disk...: the message names the file and what is safe
        extra = (
            ""
            if "last good checkpoint" in str(exc)
            else f"\nlast good checkpoint: {_last_good_checkpoint(cfg.OUTPUT_DIR)}"
        )
        return report_error(exc, debug, extra=extra)
    finally:
        if run_dir is not None:
            run_dir.release()
        comm.synchronize()
    # the loop ran to max_iter, or not at all (a resumed run that had already finished)
    logger.info("Training finished: %d iterations done", max(trainer.max_iter, trainer.start_iter))
    return 0


def run_eval_only(args: argparse.Namespace) -> int:
    """``--eval-only``: evaluate MODEL.WEIGHTS with the config's DATASETS.TEST; no training, no model files."""
    debug = bool(getattr(args, "debug", False)) or debug_enabled()
    try:
        cfg = load_config_with_weights(args.config_file or None, list(args.opts))
    except (*user_error_types(), OSError, ValueError) as exc:
        return report_error(exc, debug)
    if not cfg.MODEL.WEIGHTS:
        print("error: --eval-only evaluates MODEL.WEIGHTS: pass MODEL.WEIGHTS <checkpoint>", file=sys.stderr)
        return 2
    if not cfg.DATASETS.TEST:
        print("error: --eval-only needs DATASETS.TEST (e.g. DATASETS.TEST \"('davis_2017_val',)\")", file=sys.stderr)
        return 2
    setup_logger()
    where = argparse.Namespace(
        davis_root=None,
        set="val",
        resolution="480p",
        out=None,
        workers=min(4, os.cpu_count() or 1),
        full_precision=False,
    )
    try:
        return evaluate_checkpoint(cfg, where)
    except (*user_error_types(), OSError) as exc:
        return report_error(exc, debug)


def train_main(argv: Sequence[str] | None = None) -> int:
    """Console entry point (``hodor-train``): parse arguments, train (or ``--eval-only``), return an exit code."""
    args = default_argument_parser("Train HODOR").parse_args(argv)
    if "--debug" in args.opts:  # given after the KEY VALUE overrides
        args.opts = [o for o in args.opts if o != "--debug"]
        args.debug = True
    if args.eval_only:
        return run_eval_only(args)
    return launch(run_training, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(train_main())
