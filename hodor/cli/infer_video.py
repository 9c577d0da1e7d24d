"""``hodor-infer-video``: segment objects in your own video from one or more annotated frames.

    python tools/infer_video.py clip.mp4 --mask 0:first.png --mask 12:later.png \\
        --output out/clip --weights out/model_final.pth

The checkpoint's stored config rebuilds the model; ``--config-file`` and trailing ``KEY VALUE``
pairs override it (``MODEL.WEIGHTS ckpt`` is the same as ``--weights ckpt``).

Input is a folder of frames (sorted by name) or a video file that OpenCV can read. Each
``--mask FRAME:PNG`` is an index PNG (palette or greyscale; values are object ids, 0 background,
255 void) for that frame; a bare path means frame 0. Objects may start at any frame; ids are kept
as they are in the output. Writes ``<output>/masks/<frame>.png`` (DAVIS palette) and
``<output>/overlay.mp4`` (H.264 with imageio-ffmpeg installed, else mp4v; labelled with the
frame number and object ids). On annotated frames the output is the given mask, exactly. A
binary 0/255 mask is object 1 (``--mask-255-void`` keeps 255 as void); masks off the frame size
need ``--mask-resize nearest``.

For a folder of numbered frames (``00000.jpg``, ``00005.jpg``...), ``--mask N:PNG`` names the
frame *file number* N, not its position, and gaps in the numbering are reported; for a video file
or unnumbered frames N is the position (0-based). Results are written to a temporary folder and
moved to ``--output`` when complete; an existing result is replaced only with ``--overwrite``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence

import torch

from ..checkpoint.loading import load_config_with_weights
from ..data.io import DataError
from ..inference.model_loading import build_inference_model
from ..inference.predictor import VideoPredictor
from ..inference.video_io import (
    OverlayVideoWriter,
    VideoSource,
    load_masks,
    overlay,
    parse_mask_spec,
    resolve_frame_number,
)
from ..utils.cli_args import parse_with_overrides
from ..utils.device import resolve_device
from ..utils.errors import run_cli
from ..utils.logger import get_logger, setup_logger
from ..utils.palette import save_index_png
from ..utils.progress import PROGRESS_ENV, progress_bar
from ..utils.run_dir import StagedOutput

logger = get_logger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hodor-infer-video",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Trailing KEY VALUE pairs override config keys, e.g. MODEL.WEIGHTS m.pth INFERENCE.MIN_DIM 480",
    )
    parser.add_argument("input", help="folder of frames or a video file")
    parser.add_argument(
        "--mask", action="append", required=True, metavar="[FRAME:]PNG", help="index PNG for a frame (repeatable)"
    )
    parser.add_argument("--output", required=True, help="output folder (masks/ and overlay.mp4)")
    parser.add_argument("--weights", default="", metavar="CKPT", help="checkpoint (its stored config builds the model)")
    parser.add_argument("--config-file", default="", metavar="FILE", help="YAML config overriding the checkpoint's")
    parser.add_argument("--no-overlay", action="store_true", help="do not write overlay.mp4")
    parser.add_argument("--alpha", type=float, default=0.5, help="overlay opacity of the masks (default 0.5)")
    parser.add_argument(
        "--mask-resize",
        choices=["nearest"],
        default=None,
        help="resize masks whose size differs from the frames with nearest-neighbour (a warning names the "
        "file and both sizes); default: refuse them",
    )
    parser.add_argument(
        "--mask-255-void",
        action="store_true",
        help="keep 255 as void (DAVIS 2017) even in a mask whose only values are 0 and 255; by default such "
        "a binary mask is object 1",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help=f"no progress bar (it is only shown on a terminal anyway; or set {PROGRESS_ENV}=0)",
    )
    parser.add_argument(
        "--backend", choices=("torch", "onnx"), default="torch", help="torch (default) or onnx (onnxruntime)"
    )
    parser.add_argument("--onnx-dir", default="", metavar="DIR", help="hodor-export output, for --backend onnx")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the results already in --output (refused otherwise)"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors (also HODOR_DEBUG=1)")
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Options anywhere; every leftover word is a ``KEY VALUE`` config override (``args.opts``)."""
    parser = build_parser()
    args = parse_with_overrides(parser, argv)
    return args


def run(args: argparse.Namespace) -> dict:
    """Run the whole video; returns a small summary (frames, seconds, output paths)."""
    cfg = load_config_with_weights(args.config_file or None, list(args.opts), args.weights or None)
    staged = StagedOutput(args.output, overwrite=bool(getattr(args, "overwrite", False)))
    staged.check()  # an older result is refused before any work (nothing written yet)
    source = VideoSource(args.input)
    specs = [resolve_frame_number(parse_mask_spec(s), source) for s in args.mask]
    masks = load_masks(
        specs,
        (source.height, source.width),
        len(source) or None,
        mask_resize=getattr(args, "mask_resize", None),
        void_255=getattr(args, "mask_255_void", False),
    )

    if args.backend == "onnx":
        from ..export.ort_backend import onnx_video_predictor_for_cli

        predictor = onnx_video_predictor_for_cli(args.onnx_dir, cfg, args.opts)
    else:
        device = resolve_device(cfg.DEVICE)
        model = build_inference_model(cfg, device)
        predictor = VideoPredictor.from_config(model, cfg, device=device)

    # results go to a temporary folder moved into place at the end: a failure never leaves a
    # partial result that looks finished (it is kept in <output>.incomplete, marked INCOMPLETE)
    staging = staged.open()
    mask_dir = os.path.join(staging, "masks")
    writer = None
    t0 = time.perf_counter()
    n = 0
    try:
        os.makedirs(mask_dir, exist_ok=True)
        if not args.no_overlay:
            writer = OverlayVideoWriter(os.path.join(staging, "overlay.mp4"), source.fps, (source.height, source.width))
        try:
            bar = progress_bar(
                source,
                total=len(source) or None,
                desc="frames",
                unit="frame",
                enabled=not getattr(args, "no_progress", False),
            )
            for i, frame in enumerate(bar):
                pred = predictor.step(frame, masks.get(i))
                mask_path = os.path.join(mask_dir, source.frame_name(i) + ".png")
                try:
                    save_index_png(mask_path, pred)
                except OSError as e:  # PIL's errors do not name the file (a full disk, say)
                    if e.filename is None and e.errno is not None:
                        raise OSError(e.errno, e.strerror, mask_path) from e
                    raise
                if writer is not None:
                    writer.write(overlay(frame, pred, args.alpha, title=f"prediction  frame {i}", label_ids=True))
                n += 1
        finally:
            if writer is not None:
                writer.close()
        late = sorted(f for f in masks if f >= n)
        if late:
            bad = [s.path for s in specs if s.frame in late]
            raise DataError(bad[0], f"mask is given for frame {late[0]}, but the video has only {n} frames")
    except BaseException as exc:
        kept = staged.abort(f"stopped after {n} frame(s): {exc}")
        if kept is not None and isinstance(exc, Exception):
            logger.error("partial results (%d frames) kept in %s, marked INCOMPLETE", n, kept)
        raise
    out = staged.commit()
    mask_dir = os.path.join(out, "masks")
    dt = time.perf_counter() - t0
    logger.info("%d frames in %.1fs (%.3f s/frame); masks in %s", n, dt, dt / max(n, 1), mask_dir)
    overlay_path = os.path.join(out, "overlay.mp4") if writer is not None else None
    return {"frames": n, "seconds": dt, "mask_dir": mask_dir, "overlay": overlay_path}


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point (``hodor-infer-video``): exit 2 with one message for bad input."""

    def _main(args_list: list[str]) -> int:
        args = parse_args(args_list)
        setup_logger()
        with torch.inference_mode():
            run(args)
        return 0

    return run_cli(_main, argv, also=(ValueError,))
