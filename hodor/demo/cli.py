"""``hodor-demo``: serve the interactive browser demo on this machine.

    hodor-demo --weights output/quickstart/sparse_video/model_final.pth   # then open http://127.0.0.1:7860

The model is built and loaded exactly as ``hodor-infer-video`` does (config file + ``KEY VALUE``
overrides, ``MODEL.WEIGHTS`` = ``--weights``); without ``--config-file`` the ``config.yaml`` next to
the weights is used if there is one. Without weights the page still opens and says how
to get a model. Binds to 127.0.0.1 unless ``--host`` says otherwise.
"""

from __future__ import annotations

import argparse
import atexit
import os
import sys
from collections.abc import Sequence

from ..utils.cli_args import parse_with_overrides
from ..utils.logger import get_logger, setup_logger
from .uploads import Limits

logger = get_logger(__name__)

QUICKSTART_MODELS = (
    "output/quickstart/sparse_video/model_final.pth",
    "output/quickstart/static_image/model_final.pth",
)


def no_model_message(cwd: str | None = None) -> str:
    """What to tell a user who started the demo without weights (offers a quick-start model if present)."""
    cwd = cwd or os.getcwd()
    msg = (
        "No model is loaded, so propagation is off (uploading and painting work). Start the demo with "
        "`hodor-demo --weights CKPT` (add --config-file CFG if no config.yaml lies beside CKPT). To get a model: "
        "run the quick start (`bash scripts/quickstart.sh`, about 15 minutes on 2 CPU cores; it writes "
        "output/quickstart/sparse_video/model_final.pth), or convert an original HODOR checkpoint with "
        "`python tools/convert_checkpoint.py CKPT OUT_DIR` and pass --weights OUT_DIR."
    )
    for weights in QUICKSTART_MODELS:
        if os.path.isfile(os.path.join(cwd, weights)):
            return msg + f" Found a quick-start model here: `hodor-demo --weights {weights}`."
    return msg


def build_parser() -> argparse.ArgumentParser:
    d = Limits()
    p = argparse.ArgumentParser(
        prog="hodor-demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Trailing KEY VALUE pairs override config keys, e.g. INFERENCE.MIN_DIM 480 DEVICE cpu",
    )
    p.add_argument("--weights", default="", metavar="CKPT", help="model weights (sets MODEL.WEIGHTS)")
    p.add_argument(
        "--config-file", default="", metavar="FILE", help="YAML config of the model (default: config.yaml beside it)"
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--max-upload-mb", type=float, default=d.max_upload_bytes / 2**20, help="largest upload")
    p.add_argument("--max-frames", type=int, default=d.max_frames, help="most frames per clip")
    p.add_argument("--max-pixels", type=int, default=d.max_pixels, help="largest frame, height x width")
    p.add_argument("--max-sessions", type=int, default=d.max_sessions, help="sessions open at once")
    return p


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parse_with_overrides(parser, argv, pairs=True)
    return args


def run_config_beside(weights: str) -> str:
    """``config.yaml`` next to the weights (training runs and converted checkpoints write one), or "".

    Why: a model is only loadable with the architecture it was trained with; taking the run's own
    config when ``--config-file`` is not given makes ``hodor-demo --weights RUN/model_final.pth`` work.
    """
    if not weights:
        return ""
    folder = weights if os.path.isdir(weights) else os.path.dirname(os.path.abspath(weights))
    path = os.path.join(folder, "config.yaml")
    if os.path.isfile(path):
        logger.info("using the run's config %s (give --config-file to choose another)", path)
        return path
    return ""


def build_engine(args: argparse.Namespace):
    """Config + model as ``hodor-infer-video`` builds them; no weights -> an engine without a model."""
    from ..checkpoint.loading import load_config_with_weights
    from ..inference.model_loading import build_inference_model
    from ..utils.device import resolve_device
    from .session import Engine

    # defaults <- the checkpoint's stored config <- config file (or the run's config.yaml) <- KEY VALUE
    config_file = args.config_file or run_config_beside(args.weights)
    cfg = load_config_with_weights(config_file or None, list(args.opts), args.weights or None)
    device = resolve_device(cfg.DEVICE)
    if not cfg.MODEL.WEIGHTS:
        return Engine(None, cfg, device, no_model_message())
    model = build_inference_model(cfg, device)
    logger.info("model loaded from %s on %s", cfg.MODEL.WEIGHTS, device)
    return Engine(model, cfg, device)


def limits_from_args(args: argparse.Namespace) -> Limits:
    return Limits(
        max_upload_bytes=int(args.max_upload_mb * 2**20),
        max_frames=args.max_frames,
        max_pixels=args.max_pixels,
        max_sessions=args.max_sessions,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point (``hodor-demo``)."""
    args = parse_args(argv)
    setup_logger()
    try:
        import uvicorn

        from .app import create_app
    except ImportError as e:
        print(f"error: the demo needs its extra: pip install 'hodor[demo]' ({e})", file=sys.stderr)
        return 2
    try:
        engine = build_engine(args)
    except (ValueError, RuntimeError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if engine.model is None:
        logger.warning("%s", engine.no_model_message)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        logger.warning("serving on %s: anyone who can reach this address can upload files", args.host)
    app = create_app(engine, limits_from_args(args))
    atexit.register(app.state.store.close)  # also when the server dies without its shutdown hook
    logger.info("open http://%s:%d in a browser", args.host, args.port)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
