"""Entry point of ``tools/train_net.py`` and the ``hodor-train`` console script.

``--eval-only`` evaluates MODEL.WEIGHTS on DATASETS.TEST (predictions and CSVs under
``OUTPUT_DIR/inference/<dataset>``) and returns; it never trains and never writes model files.

One CPU, one GPU, or many GPUs/nodes through torchrun::

    python tools/train_net.py --config-file configs/static_image/coco_swin_t.yaml OUTPUT_DIR out/coco
    torchrun --nproc_per_node 8 tools/train_net.py --config-file ... [--resume]
    torchrun --nnodes 2 --node_rank R --master_addr HOST --master_port 29500 --nproc_per_node 8 tools/train_net.py ...

Exit codes: 0 done; 128+signal after SIGTERM/SIGINT (checkpoint saved); 3 after the non-finite
loss guard (checkpoint saved); 2 for configuration or input errors.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from ..checkpoint.formats import CheckpointError
from ..checkpoint.loading import load_config_with_weights
from ..config import ConfigError, load_config
from ..data.io import DataError
from ..engine.distributed import launch
from ..engine.setup import default_argument_parser, default_setup
from ..engine.trainer import NonFiniteLossError, TrainingInterrupted
from ..training.build import build_trainer
from ..utils import comm
from ..utils.logger import get_logger, setup_logger
from .eval_vos import evaluate_checkpoint

logger = get_logger(__name__)


def run_training(args, eval_fn: Callable[[], dict[str, float]] | None = None) -> int:
    """Set up this process (distributed if launched by torchrun), build the trainer and train."""
    comm.init_distributed()
    try:
        cfg = load_config(args.config_file or None, list(args.opts))
        default_setup(cfg, args)
        trainer = build_trainer(
            cfg, resume=args.resume, eval_fn=eval_fn, progress_bar=not getattr(args, "no_progress", False)
        )
    except (ConfigError, CheckpointError, DataError, FileNotFoundError, PermissionError, ValueError) as exc:
        # user mistakes found before training starts: a message, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        trainer.train()
    except TrainingInterrupted as exc:
        logger.warning("%s", exc)
        return 128 + exc.signum
    except NonFiniteLossError as exc:
        logger.error("%s", exc)
        return 3
    finally:
        comm.synchronize()
    # the loop ran to max_iter, or not at all (a resumed run that had already finished)
    logger.info("Training finished: %d iterations done", max(trainer.max_iter, trainer.start_iter))
    return 0


def run_eval_only(args: argparse.Namespace) -> int:
    """``--eval-only``: evaluate MODEL.WEIGHTS with the config's DATASETS.TEST; no training, no model files."""
    try:
        cfg = load_config_with_weights(args.config_file or None, list(args.opts))
    except (ConfigError, CheckpointError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
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
    return evaluate_checkpoint(cfg, where)


def train_main(argv: Sequence[str] | None = None) -> int:
    """Console entry point (``hodor-train``): parse arguments, train (or ``--eval-only``), return an exit code."""
    args = default_argument_parser("Train HODOR").parse_args(argv)
    if args.eval_only:
        return run_eval_only(args)
    return launch(run_training, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(train_main())
