"""Entry point of ``tools/train_net.py`` and the ``hodor-train`` console script.

One CPU, one GPU, or many GPUs/nodes through torchrun::

    python tools/train_net.py --config-file configs/static_image/coco_swin_t.yaml OUTPUT_DIR out/coco
    torchrun --nproc_per_node 8 tools/train_net.py --config-file ... [--resume]
    torchrun --nnodes 2 --node_rank R --master_addr HOST --master_port 29500 --nproc_per_node 8 tools/train_net.py ...

Exit codes: 0 done; 128+signal after SIGTERM/SIGINT (checkpoint saved); 3 after the non-finite
loss guard (checkpoint saved); 2 for configuration or input errors.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from ..checkpoint.checkpointer import CheckpointError
from ..config import ConfigError, load_config
from ..data.io import DataError
from ..utils import comm
from ..utils.logger import get_logger
from .setup import default_argument_parser, default_setup
from .trainer import NonFiniteLossError, TrainingInterrupted

logger = get_logger(__name__)


def run_training(args, eval_fn: Callable[[], dict[str, float]] | None = None) -> int:
    """Set up this process (distributed if launched by torchrun), build the trainer and train."""
    from .build import build_trainer

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


def train_main(argv: Sequence[str] | None = None) -> int:
    """Console entry point (``hodor-train``): parse arguments, train, return an exit code."""
    args = default_argument_parser("Train HODOR").parse_args(argv)
    return run_training(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(train_main())
