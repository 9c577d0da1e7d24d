"""``hodor-pseudo-label``: write pseudo-labels for a video dataset's unlabelled frames.

    python tools/pseudo_label.py --weights out/model_final.pth --dataset youtube_vos_2019_train \\
        --out out/pseudo [PSEUDO_LABEL.LABELLED_FRAMES middle] [PSEUDO_LABEL.CONFIDENCE mean_max_prob]
    torchrun --nproc_per_node 4 tools/pseudo_label.py --weights CKPT --dataset NAME --out DIR

The checkpoint's stored config rebuilds the model; trailing ``KEY VALUE`` pairs override it
(``PSEUDO_LABEL.*``, ``INFERENCE.*``, ``DATASETS.ROOT``). ``--dataset`` defaults to
``PSEUDO_LABEL.SOURCE_DATASET``. The folder is then a dataset: ``DATASETS.TRAIN ("pseudo:DIR",)``.
A re-run with the same settings resumes (finished videos are skipped); other settings are
refused unless ``--overwrite``. See hodor/inference/pseudo_label.py for the procedure and the
confidence, datasets/README.md for the layout.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from ..utils.cli_args import parse_with_overrides
from ..utils.errors import run_cli


def run_pseudo_labelling(
    weights: str,
    out_dir: str,
    dataset: str | None = None,
    opts: Sequence[str] = (),
    device: str = "cpu",
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Pseudo-label ``dataset`` (default ``PSEUDO_LABEL.SOURCE_DATASET``) with the checkpoint
    ``weights`` into ``out_dir``; under torchrun every rank calls it and the videos are sharded.

    ``opts``: ``KEY VALUE`` overrides of the checkpoint's config. ``device``: "cpu", "cuda",
    "auto" (this rank's GPU if any), or "" for the config's ``DEVICE``.

    Returns the summary: out_dir, videos, videos_done, videos_skipped, frames_pseudo_labelled,
    mean_confidence, seconds, world_size, plus dataset, labelled_frames, confidence.
    Raises UserError subclasses (ConfigError, DataError, CheckpointError, RunDirError) for bad input.
    """
    from ..checkpoint.loading import load_config_with_weights
    from ..config.config import ConfigError
    from ..data.catalog import get_dataset_spec, load_dataset, resolve_root
    from ..data.io import DataError
    from ..inference.model_loading import build_inference_model
    from ..inference.pseudo_label import pseudo_label_dataset
    from ..utils import comm
    from ..utils.device import resolve_device

    if not weights:
        raise ConfigError("--weights: pseudo-labelling needs a trained checkpoint")
    cfg = load_config_with_weights(None, list(opts), weights)
    name = dataset or str(cfg.PSEUDO_LABEL.SOURCE_DATASET)
    if not name:
        raise ConfigError("no dataset to pseudo-label: pass --dataset NAME or set PSEUDO_LABEL.SOURCE_DATASET")
    try:
        kind = get_dataset_spec(name).kind
    except KeyError as e:
        raise ConfigError(f"dataset {name!r} is not registered ({e})") from None
    if kind != "video":
        raise DataError(name, "holds images, not videos: nothing to propagate")
    if comm.launched_by_torchrun():
        comm.init_distributed()
    dev = resolve_device(device or cfg.DEVICE)
    records = load_dataset(name, cfg.DATASETS.ROOT)
    model = build_inference_model(cfg, dev)
    summary = pseudo_label_dataset(
        model,
        cfg,
        records,
        out_dir,
        source_dataset=name,
        datasets_root=resolve_root(cfg.DATASETS.ROOT),
        checkpoint=weights,
        overwrite=overwrite,
        progress=progress,
        device=dev,
    )
    out = summary.as_dict()
    out.update(
        dataset=name,
        labelled_frames=str(cfg.PSEUDO_LABEL.LABELLED_FRAMES),
        confidence=str(cfg.PSEUDO_LABEL.CONFIDENCE),
    )
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hodor-pseudo-label",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Trailing KEY VALUE pairs override config keys, e.g. PSEUDO_LABEL.LABELLED_FRAMES all",
    )
    p.add_argument("--weights", required=True, metavar="CKPT", help="checkpoint to run (its stored config builds it)")
    p.add_argument("--dataset", default=None, help="video dataset name (default: PSEUDO_LABEL.SOURCE_DATASET)")
    p.add_argument("--out", required=True, metavar="DIR", help="pseudo-label folder (read back as pseudo:DIR)")
    p.add_argument("--device", default="", help="cpu, cuda, auto (default: the config's DEVICE)")
    p.add_argument("--overwrite", action="store_true", help="recompute every video even if --out holds other settings")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--debug", action="store_true", help="show tracebacks for errors (also HODOR_DEBUG=1)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: exit 0 when done, 2 with one message for bad input."""

    def _main(args_list: list[str]) -> int:
        from ..utils import comm
        from ..utils.logger import setup_logger

        args = parse_with_overrides(build_parser(), args_list, pairs=True)
        setup_logger()
        s = run_pseudo_labelling(
            args.weights, args.out, args.dataset, args.opts, args.device, args.overwrite, not args.no_progress
        )
        if comm.is_main_process():
            conf = "n/a" if s["mean_confidence"] is None else f"{s['mean_confidence']:.3f}"
            print(
                f"{s['dataset']}: {s['videos_done']} videos pseudo-labelled, {s['videos_skipped']} already done; "
                f"{s['frames_pseudo_labelled']} frames, mean confidence {conf}, {s['seconds']:.1f}s -> {s['out_dir']}"
            )
        return 0

    return run_cli(_main, argv, also=(ValueError,))


if __name__ == "__main__":
    raise SystemExit(main())
