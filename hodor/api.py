"""The public Python API: load a trained model in one call, propagate masks through a video.

    >>> import hodor
    >>> predictor = hodor.load_predictor("output/quickstart/static_image")   # doctest: +SKIP
    >>> masks = predictor.propagate("clip/JPEGImages", {0: "clip/Annotations/00000.png"})  # doctest: +SKIP

``load_predictor`` accepts what training, export and conversion write: a run directory
(``config.yaml`` + its last or final checkpoint), an exported/converted directory
(``model.safetensors`` + ``config.yaml``), a checkpoint file that carries its config (training
checkpoints store it under ``"config"``, safetensors exports in their metadata), or any
checkpoint together with ``config_file=``. Original HODOR checkpoints load as the original
architecture. Weights load strictly: a file that does not fit the architecture is an error.

``propagate`` wraps :class:`hodor.inference.VideoPredictor` (the streaming predictor; use it
directly to feed frames one at a time, e.g. from a camera).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from .utils.logger import get_logger

logger = get_logger(__name__)

# One annotation: an index map [H,W] of object ids, a path to an index PNG, or {id: bool mask [H,W]}.
Annotation = np.ndarray | str | os.PathLike | Mapping[int, np.ndarray]
# Frames: a folder of images or a video file, a list of image paths, a list of [H,W,3] uint8
# arrays, or one uint8 array [T,H,W,3].
Frames = str | os.PathLike | Sequence[Any] | np.ndarray

_RUN_CHECKPOINTS = ("model_final.pth",)


# ------------------------------------------------------------------------------------------
# locating the weights and the config
# ------------------------------------------------------------------------------------------
def _checkpoint_in_run_dir(run_dir: str) -> str:
    """Weights of a directory: model.safetensors (export), else last_checkpoint, else model_final.pth."""
    from .checkpoint.formats import WEIGHTS_NAME

    exported = os.path.join(run_dir, WEIGHTS_NAME)
    if os.path.isfile(exported):
        return exported
    pointer = os.path.join(run_dir, "last_checkpoint")
    if os.path.isfile(pointer):
        with open(pointer, encoding="utf-8") as fh:
            name = fh.read().strip()
        path = os.path.join(run_dir, name)
        if name and os.path.isfile(path):
            return path
    for name in _RUN_CHECKPOINTS:
        path = os.path.join(run_dir, name)
        if os.path.isfile(path):
            return path
    periodic = sorted(f for f in os.listdir(run_dir) if f.startswith("model_") and f.endswith(".pth"))
    if periodic:
        return os.path.join(run_dir, periodic[-1])
    raise FileNotFoundError(
        f"{run_dir}: no checkpoint found (looked for {WEIGHTS_NAME}, last_checkpoint, model_final.pth, model_*.pth)"
    )


def _override_list(precision: str | None, overrides: Mapping[str, Any]) -> list[str]:
    """``{"INFERENCE.MIN_DIM": 480}`` / ``INFERENCE__MIN_DIM=480`` -> ``["INFERENCE.MIN_DIM", "480"]``."""
    opts: list[str] = []
    for key, value in overrides.items():
        name = key.replace("__", ".")
        if "." not in name:
            raise TypeError(
                f"unknown option {key!r}: pass config keys as INFERENCE__MIN_DIM=480 or **{{'INFERENCE.MIN_DIM': 480}}"
            )
        opts += [name, value if isinstance(value, str) else repr(list(value) if isinstance(value, tuple) else value)]
    if precision is not None:
        opts += ["INFERENCE.PRECISION", precision]
    return opts


def resolve_checkpoint(
    path: str | os.PathLike, config_file: str | os.PathLike | None = None, opts: Sequence[str] = ()
) -> tuple[str, Any]:
    """(weights file, unfrozen config) for a run directory, exported directory or checkpoint file.

    The config comes from ``config_file`` if given, else the directory's ``config.yaml``, else
    the checkpoint itself (``"config"``/``"cfg"`` entry, safetensors metadata, or a
    ``config.yaml`` next to it); original HODOR checkpoints get the original architecture.
    ``opts`` are ``KEY VALUE`` overrides applied on top.
    """
    from .checkpoint.loading import checkpoint_config
    from .config import load_config, merge_from_list

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such run directory or checkpoint file")
    weights = _checkpoint_in_run_dir(path) if os.path.isdir(path) else path
    run_config = os.path.join(path, "config.yaml") if os.path.isdir(path) else ""
    if config_file:
        return weights, load_config(os.fspath(config_file), list(opts), freeze=False)
    if run_config and os.path.isfile(run_config):
        return weights, load_config(run_config, list(opts), freeze=False)
    stored = checkpoint_config(weights)  # its "config" entry; the original architecture for upstream files
    if stored is None:
        raise ValueError(
            f"{weights}: the checkpoint carries no config; pass the config.yaml of the run that wrote it "
            "(config_file= in Python, --config-file on the command line)"
        )
    cfg = stored.clone()
    cfg.defrost()
    merge_from_list(cfg, list(opts))
    return weights, cfg


def load_predictor(
    path: str | os.PathLike,
    *,
    config_file: str | os.PathLike | None = None,
    device: str | torch.device = "auto",
    precision: str | None = None,
    **overrides: Any,
) -> Predictor:
    """Build a ready-to-use :class:`Predictor` from a run directory or a checkpoint.

    Args:
        path: a training run directory (``OUTPUT_DIR``: ``config.yaml`` + ``last_checkpoint`` /
            ``model_final.pth``), an exported or converted directory (``model.safetensors`` +
            ``config.yaml``), or a checkpoint file (``.pth`` / ``.safetensors``).
        config_file: YAML config to use instead of the one stored with the checkpoint (needed
            for a bare state dict that carries none).
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        precision: ``"fp32"``, ``"bf16"`` or ``"fp16"``; default: the config's ``INFERENCE.PRECISION``.
        **overrides: config keys, written ``INFERENCE__MIN_DIM=480`` (double underscore for the
            dot) or ``**{"INFERENCE.MIN_DIM": 480}``.

    Raises:
        FileNotFoundError: nothing at ``path`` or no checkpoint in the directory.
        ValueError: no config can be found, or the weights do not fit the architecture.
    """
    from .checkpoint.loading import load_model_weights
    from .config import validate
    from .modeling import build_model
    from .modeling.parameter_count import describe_parameters
    from .utils.device import resolve_device

    weights, cfg = resolve_checkpoint(path, config_file, _override_list(precision, overrides))
    cfg.MODEL.WEIGHTS = weights
    dev = resolve_device(str(device))
    cfg.DEVICE = str(dev)
    validate(cfg)
    cfg.freeze()
    model = build_model(cfg)
    load_model_weights(model, weights, strict=True)
    logger.info("loaded %s: %s", weights, describe_parameters(model))
    return Predictor(model.to(dev).eval(), cfg, dev)


# ------------------------------------------------------------------------------------------
# inputs
# ------------------------------------------------------------------------------------------
def _check_frame(frame: Any, index: int) -> np.ndarray:
    if isinstance(frame, torch.Tensor):
        frame = frame.detach().cpu().numpy()
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"frame {index}: expected a numpy array [H,W,3] or an image path, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise TypeError(
            f"frame {index}: frames must be uint8 RGB (0-255), got dtype {frame.dtype}; for floats in [0,1] use "
            "(frame * 255).round().astype(np.uint8)"
        )
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame {index}: expected shape [H,W,3] (RGB), got {tuple(frame.shape)}")
    return frame


def iter_frames(frames: Frames) -> Iterator[np.ndarray]:
    """RGB uint8 frames [H,W,3] from any accepted input, one at a time (files are read lazily)."""
    from .data.io import read_image
    from .inference.video_io import VideoSource

    if isinstance(frames, (str, os.PathLike)):
        yield from VideoSource(frames)
        return
    if isinstance(frames, torch.Tensor):
        frames = frames.detach().cpu().numpy()
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4:
            raise ValueError(f"frames: expected an array [T,H,W,3], got shape {tuple(frames.shape)}")
        for i in range(frames.shape[0]):
            yield _check_frame(frames[i], i)
        return
    if isinstance(frames, Iterable) and not isinstance(frames, Mapping):
        for i, f in enumerate(frames):
            yield _check_frame(read_image(os.fspath(f)) if isinstance(f, (str, os.PathLike)) else f, i)
        return
    raise TypeError(
        "frames: expected a folder or video path, a list of image paths or [H,W,3] uint8 arrays, or a "
        f"uint8 array [T,H,W,3]; got {type(frames).__name__}"
    )


def _is_mask_array(x: Any) -> bool:
    return isinstance(x, (np.ndarray, torch.Tensor))


def annotation_objects(
    annotation: Annotation,
    frame_hw: tuple[int, int],
    source: str,
    mask_resize: str | None = None,
    void_255: bool = False,
) -> dict[int, np.ndarray]:
    """One annotation (index map, PNG path or ``{id: mask}``) -> ``{id: bool mask [H,W]}``."""
    from .data.io import read_index_mask
    from .inference.user_masks import fit_mask_size, objects_from_index_map

    if isinstance(annotation, (str, os.PathLike)):
        path = os.fspath(annotation)
        index = fit_mask_size(read_index_mask(path), frame_hw, path, mask_resize)
        return objects_from_index_map(index, path, void_255=void_255)
    if _is_mask_array(annotation):
        arr = np.asarray(annotation.detach().cpu() if isinstance(annotation, torch.Tensor) else annotation)
        if arr.ndim != 2:
            raise ValueError(f"{source}: an index map must be 2-D [H,W], got shape {arr.shape}")
        if arr.dtype == bool:
            arr = arr.astype(np.uint8)  # a single bool mask = object 1
        elif not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(
                f"{source}: an index map must hold integer object ids, got dtype {arr.dtype} (for one object's "
                "soft mask, threshold it first: (m > 0.5))"
            )
        arr = fit_mask_size(arr, frame_hw, source, mask_resize)
        return objects_from_index_map(arr, source, void_255=void_255)
    if isinstance(annotation, Mapping):
        out: dict[int, np.ndarray] = {}
        for oid, m in annotation.items():
            if isinstance(oid, bool) or not isinstance(oid, (int, np.integer)) or int(oid) <= 0:
                raise TypeError(f"{source}: object ids must be positive integers (0 is background), got {oid!r}")
            if not _is_mask_array(m):
                raise TypeError(f"{source}: the mask of object {oid} must be an array [H,W], got {type(m).__name__}")
            arr = np.asarray(m.detach().cpu() if isinstance(m, torch.Tensor) else m)
            if arr.ndim != 2:
                raise ValueError(f"{source}: the mask of object {oid} must be 2-D [H,W], got shape {arr.shape}")
            arr = fit_mask_size(arr.astype(np.uint8) if arr.dtype == bool else arr, frame_hw, source, mask_resize)
            out[int(oid)] = arr.astype(bool) if arr.dtype != bool else arr
        return out
    raise TypeError(
        f"{source}: expected an index map [H,W] of object ids, a PNG path, or a dict {{object id: mask [H,W]}}; "
        f"got {type(annotation).__name__}"
    )


def normalise_masks(masks: Annotation | Mapping[int, Annotation]) -> dict[int, Annotation]:
    """``masks`` -> ``{frame index: annotation}``; a single annotation (not a dict) means frame 0.

    A dict is always ``{frame index: annotation}``; give ``{id: mask}`` for frame 0 as
    ``{0: {1: mask_a, 2: mask_b}}``. A dict of bool arrays is refused because it reads as
    ``{id: mask}`` written without the frame index.
    """
    if not isinstance(masks, Mapping):
        return {0: masks}
    if masks and all(_is_mask_array(v) and np.asarray(v).dtype == bool for v in masks.values()):
        raise TypeError(
            "masks looks like {object id: bool mask}, but a dict here maps frame index -> annotation: "
            "write {0: {1: mask_a, 2: mask_b}} for objects given at frame 0, or pass an index map"
        )
    out: dict[int, Annotation] = {}
    for t, ann in masks.items():
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or int(t) < 0:
            raise TypeError(f"masks: keys are frame indices (integers >= 0), got {t!r}")
        out[int(t)] = ann
    return out


# ------------------------------------------------------------------------------------------
# the predictor
# ------------------------------------------------------------------------------------------
class Predictor:
    """A loaded model with its config; :meth:`propagate` segments a whole video.

    Attributes:
        model: the HODOR model (eval mode, on ``device``).
        cfg: the frozen config it was built from (``INFERENCE.*`` sets size, window, precision).
        device: where it runs.
    """

    def __init__(self, model: torch.nn.Module, cfg, device: torch.device) -> None:
        self.model, self.cfg, self.device = model, cfg, device

    def video_predictor(self):
        """A fresh streaming :class:`hodor.inference.VideoPredictor` (one per video)."""
        from .inference.predictor import VideoPredictor

        return VideoPredictor.from_config(self.model, self.cfg, device=self.device)

    def propagate(
        self,
        frames: Frames,
        masks: Annotation | Mapping[int, Annotation],
        *,
        mask_resize: str | None = None,
        void_255: bool = False,
    ) -> list[np.ndarray]:
        """Segment every frame, given objects' masks on one or more frames.

        Args:
            frames: a folder of frames or a video file, a list of image paths or of uint8 RGB
                arrays [H,W,3], or a uint8 array [T,H,W,3].
            masks: ``{frame index: annotation}``, or one annotation meaning frame 0. An
                annotation is an index map [H,W] (integer ids, 0 background, 255 void; a binary
                0/255 map is object 1), a PNG path, or ``{object id: mask [H,W]}``. Objects may
                start at any frame; a mask for an id already tracked corrects it at that frame.
            mask_resize: ``"nearest"`` to resize masks whose size differs from the frames
                (a warning names both sizes); default: an error.
            void_255: keep 255 as void even in a binary 0/255 mask (DAVIS 2017 meaning).

        Returns:
            one index map [H,W] per frame (uint8, or int32 for ids > 255) holding the given
            ids; on annotated frames the given masks are returned exactly (at the original size).
        """
        prompts = normalise_masks(masks)
        predictor = self.video_predictor()
        out: list[np.ndarray] = []
        for t, frame in enumerate(iter_frames(frames)):
            given = None
            if t in prompts:
                given = annotation_objects(prompts[t], frame.shape[:2], f"mask of frame {t}", mask_resize, void_255)
            out.append(predictor.step(frame, given))
        late = sorted(t for t in prompts if t >= len(out))
        if late:
            raise ValueError(f"masks are given for frame {late[0]}, but the video has only {len(out)} frames")
        return out
