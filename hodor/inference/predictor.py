"""Streaming video predictor: HODOR's inference procedure, one frame at a time.

The procedure is the original one (``InferenceModel.forward``, reference §4), step by step:

1. Objects whose mask is given at frame t (first appearance) are encoded from that mask:
   fg = the new objects' masks, bg = 3x3 grid cell x (pixel in none of the *new* masks), both at
   padded full resolution, bilinearly resized by 1/8. Their descriptors become frame t's entries.
   If no object existed before, the background descriptors are stored too and the output of the
   frame is the given mask itself (argmax over [0, m_1..m_N] of the bilinearly resized masks);
   nothing else happens at such a frame.
2. Otherwise the descriptors of the window ``max(0, t-W) .. t`` (frame t included: it holds the
   descriptors of objects that start at t) are stacked; missing entries are zero and marked
   invalid; the decoder predicts logits [1, 1+Qb+I, Hp/4, Wp/4].
3. Objects with a given mask at t override the prediction (their channel := the mask, every other
   channel := 0 inside it). This is done twice, in different orders, as the original does:
   output = (logits x4 -> softmax -> override), re-encoding = (softmax -> x4 -> override -> x1/8).
4. Output: crop the padding, bilinear resize to the original size, argmax; channels 0..Qb
   (catch-all and background) -> 0, object channel j -> its id.
5. Frame t is re-encoded from its own soft masks (fg = object probabilities at stride 8, bg =
   grid cell x (1 - sum fg)) and the result *replaces* frame t's entries.

Differences from the original, all outside the maths:

* It streams. The original ran the backbone on every frame first and kept all feature maps in
  RAM (~40 MB/frame at 480p). Here only the last W+1 frames' descriptors ((Qb+I) x C floats per
  frame) are kept, so memory is flat in the video length. The re-encoding of frame t (step 5) is
  deferred to the next ``step`` call; it produces the same encoder calls in the same order, and
  the last frame is never re-encoded (as in the original) without knowing the video length.
* Frames before any object get an all-zero mask of the *original* size (the original returned
  the padded size).
* An object whose given mask has no value > 0.5 after the 1/8 resize was dropped forever by the
  original. Here it is kept: the descriptor initialiser then starts from the feature at the mask's
  argmax pixel (its documented fallback), and a warning is logged. A thin mask that the 0.5
  threshold of the resize to the network size would erase keeps its pixels with any coverage
  (see ``preprocess_mask``). An empty mask is an error.
* A mask given for an already tracked id is used as a ground-truth override at that frame
  (correction); the object is not encoded anew from it, the re-encoding of the frame picks it up.
* With ``exact_given_masks`` (``INFERENCE.EXACT_GIVEN_MASKS``, on by default through
  ``from_config``) a frame with given masks outputs exactly those masks at the original size for
  the ids given there, as other VOS tools do; the original re-rendered them through the network
  size (thin structures such as bicycle spokes were lost). What is re-encoded is unchanged.
* Ids are any positive integers; they need not be contiguous. Channel j of the decoder output
  belongs to the j-th smallest tracked id, and the output index map holds the ids themselves.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..modeling.masks import downsample_masks, encoder_masks_from_probs, first_object_channel, grid_cells
from ..utils.device import PRECISION_DTYPES
from ..utils.logger import get_logger
from .preprocess import padded_hw, preprocess_frame, preprocess_mask, resized_hw, to_original_size

logger = get_logger(__name__)


@dataclass
class _FrameEntry:
    """Descriptors stored for one frame of the window."""

    fg: dict[int, Tensor] = field(default_factory=dict)  # id -> [C]
    bg: Tensor | None = None  # [Qb, C]


@dataclass
class _PendingReencode:
    """Everything needed to re-encode a frame from its own prediction (deferred to the next step)."""

    frame: int
    ids: list[int]
    f8: Tensor  # [1,C,h8,w8]
    fg_masks: Tensor  # [1,I,h8,w8]
    bg_masks: Tensor  # [1,Qb,h8,w8]


class VideoPredictor:
    """Per-video state around a HODOR model; feed frames in order with :meth:`step`.

    Args:
        model: a HODOR model with ``extract_features``, ``encode``, ``decode`` and
            ``num_bg_descriptors`` (see ``hodor.modeling``).
        temporal_window: W, number of past frames whose descriptors the decoder attends to.
        min_dim, max_dim: test-time size (shorter side, cap on the longer side).
        pixel_mean, pixel_std: RGB normalisation on the 0-255 scale.
        size_divisibility: zero-pad inputs to a multiple of this.
        precision: "fp32", "bf16" or "fp16" (autocast for the network; mask maths stay fp32).
        device: where to run; default the model's device.
        observer: optional ``fn(event, frame, tensors)`` called after every model call, with
            event "encode_given" (objects encoded from given masks), "reencode" (a frame
            re-encoded from its prediction) or "decode"; ``tensors`` holds the inputs/outputs
            (masks, descriptors, logits, invalid masks). For debugging and the parity check.
        exact_given_masks: on a frame with given masks, return exactly those masks (original
            resolution) for the ids given there and the prediction elsewhere; pixels predicted as
            a given id outside its mask take the best other channel. False (the default here, for
            parity) = the original's output, the given masks re-rendered through the network
            size; ``from_config`` reads ``INFERENCE.EXACT_GIVEN_MASKS`` (True by default).
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        temporal_window: int = 7,
        min_dim: int = 512,
        max_dim: int = 987,
        pixel_mean: Sequence[float] = (123.675, 116.28, 103.53),
        pixel_std: Sequence[float] = (58.395, 57.12, 57.375),
        size_divisibility: int = 32,
        precision: str = "fp32",
        device: torch.device | str | None = None,
        observer: Callable[[str, int, dict[str, Tensor]], None] | None = None,
        exact_given_masks: bool = False,
    ) -> None:
        if temporal_window < 1:
            raise ValueError(f"INFERENCE.TEMPORAL_WINDOW must be >= 1, got {temporal_window}")
        if precision not in PRECISION_DTYPES:
            raise ValueError(f"INFERENCE.PRECISION must be one of {sorted(PRECISION_DTYPES)}, got {precision!r}")
        if size_divisibility % 8 != 0:
            raise ValueError(f"size_divisibility must be a multiple of 8 (stride-8 features), got {size_divisibility}")
        self.model = model
        self.temporal_window = int(temporal_window)
        self.min_dim, self.max_dim = int(min_dim), int(max_dim)
        self.pixel_mean = [float(v) for v in pixel_mean]
        self.pixel_std = [float(v) for v in pixel_std]
        self.size_divisibility = int(size_divisibility)
        self.precision = precision
        if device is None:
            p = next(iter(model.parameters()), None)
            device = p.device if p is not None else "cpu"
        self.device = torch.device(device)
        self.num_bg = int(model.num_bg_descriptors)
        self.observer = observer
        self.exact_given_masks = bool(exact_given_masks)
        self.reset()

    @classmethod
    def from_config(cls, model: nn.Module, cfg, device: torch.device | str | None = None) -> VideoPredictor:
        """Build from a full hodor config (reads INFERENCE.* and INPUT.PIXEL_MEAN/STD/SIZE_DIVISIBILITY)."""
        return cls(
            model,
            temporal_window=cfg.INFERENCE.TEMPORAL_WINDOW,
            min_dim=cfg.INFERENCE.MIN_DIM,
            max_dim=cfg.INFERENCE.MAX_DIM,
            pixel_mean=cfg.INPUT.PIXEL_MEAN,
            pixel_std=cfg.INPUT.PIXEL_STD,
            size_divisibility=cfg.INPUT.SIZE_DIVISIBILITY,
            precision=cfg.INFERENCE.PRECISION,
            device=device,
            exact_given_masks=cfg.INFERENCE.EXACT_GIVEN_MASKS,
        )

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget the current video (call before starting another one)."""
        self.frame_index = 0
        self.orig_hw: tuple[int, int] | None = None
        self.size_hw: tuple[int, int] | None = None
        self.pad_hw: tuple[int, int] | None = None
        self._object_ids: list[int] = []
        self._history: dict[int, _FrameEntry] = {}
        self._pending: _PendingReencode | None = None
        self._grid_full: Tensor | None = None

    @property
    def object_ids(self) -> list[int]:
        """Ids currently tracked, ascending (= order of the object channels)."""
        return list(self._object_ids)

    def num_stored_frames(self) -> int:
        """Frames whose descriptors are held (at most W + 1); useful to check memory stays flat."""
        return len(self._history)

    # ------------------------------------------------------------------ helpers
    def _autocast(self) -> contextlib.AbstractContextManager:
        dtype = PRECISION_DTYPES[self.precision]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    @contextlib.contextmanager
    def _eval_mode(self) -> Iterator[None]:
        """Dropout off during inference, restoring the caller's mode (the trainer's eval hook)."""
        was_training = self.model.training
        self.model.eval()
        try:
            yield
        finally:
            self.model.train(was_training)

    def _init_video(self, h: int, w: int) -> None:
        self.orig_hw = (h, w)
        self.size_hw = resized_hw(h, w, self.min_dim, self.max_dim)
        self.pad_hw = padded_hw(*self.size_hw, self.size_divisibility)
        logger.info(
            "video %dx%d (HxW): inference at %dx%d (INFERENCE.MIN_DIM %d, MAX_DIM %d)%s",
            h,
            w,
            *self.size_hw,
            self.min_dim,
            self.max_dim,
            "; annotated frames output the given masks exactly" if self.exact_given_masks else "",
        )
        hp, wp = self.pad_hw
        self._grid_full = grid_cells(hp, wp, self.num_bg, device=self.device)

    def _check_masks(self, new_masks: Mapping[int, np.ndarray] | None, h: int, w: int) -> dict[int, np.ndarray]:
        out: dict[int, np.ndarray] = {}
        for oid, m in (new_masks or {}).items():
            if isinstance(oid, bool) or not isinstance(oid, (int, np.integer)) or int(oid) <= 0:
                raise ValueError(f"object ids must be positive integers (0 is background), got {oid!r}")
            arr = np.asarray(m.cpu() if isinstance(m, Tensor) else m)
            if arr.shape != (h, w):
                raise ValueError(
                    f"mask of object {int(oid)} at frame {self.frame_index} has shape {arr.shape}, "
                    f"but the frames are {h}x{w}"
                )
            if not arr.any():
                raise ValueError(f"mask of object {int(oid)} at frame {self.frame_index} is empty")
            out[int(oid)] = arr
        return out

    def _window(self, t: int) -> list[int]:
        return list(range(max(0, t - self.temporal_window), t + 1))

    def _store(self, t: int, ids: Sequence[int], fg: Tensor, bg: Tensor | None) -> None:
        entry = self._history.setdefault(t, _FrameEntry())
        for j, oid in enumerate(ids):
            entry.fg[oid] = fg[0, j].float()
        if bg is not None:
            entry.bg = bg[0].float()

    def _flush_pending(self) -> None:
        """Run the deferred re-encoding of the previous frame and replace its entries."""
        p = self._pending
        if p is None:
            return
        self._pending = None
        with self._autocast():
            fg, bg = self.model.encode(p.f8, p.fg_masks, p.bg_masks)
        self._notify("reencode", p.frame, fg_masks=p.fg_masks, bg_masks=p.bg_masks, fg=fg, bg=bg)
        self._store(p.frame, p.ids, fg, bg)

    def _notify(self, event: str, frame: int, **tensors: Tensor) -> None:
        if self.observer is not None:
            self.observer(event, frame, tensors)

    def _evict(self, t: int) -> None:
        # The next step (t+1) reads frames >= t+1-W; everything older is dropped.
        for k in [k for k in self._history if k < t + 1 - self.temporal_window]:
            del self._history[k]

    # ------------------------------------------------------------------ main entry
    @torch.inference_mode()
    def step(
        self,
        frame_rgb: np.ndarray,
        new_masks: Mapping[int, np.ndarray] | None = None,
        return_probs: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, Tensor]:
        """Segment the next frame.

        Args:
            frame_rgb: uint8 RGB frame [H,W,3]; every frame of a video must have the same size.
            new_masks: {object id: bool mask [H,W]} for objects annotated at this frame (new
                objects, or a correction of a tracked one).
            return_probs: also return probabilities at the original size, [1+I,H,W] float32 on
                the CPU: channel 0 = background (catch-all + Qb background channels summed),
                channel 1+j = ``object_ids[j]``.

        Returns:
            index map [H,W] holding object ids (uint8 if all ids < 256, else int32), and the
            probabilities if requested.
        """
        frame = np.asarray(frame_rgb)
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frame {self.frame_index}: expected an RGB array [H,W,3], got shape {frame.shape}")
        if frame.dtype != np.uint8:
            raise TypeError(
                f"frame {self.frame_index}: expected uint8 RGB (0-255), got dtype {frame.dtype} "
                "(for floats in [0,1]: (frame * 255).round().astype(np.uint8))"
            )
        h, w = frame.shape[:2]
        if self.orig_hw is None:
            self._init_video(h, w)
        elif (h, w) != self.orig_hw:
            raise ValueError(
                f"frame {self.frame_index} is {h}x{w}, but the video started at {self.orig_hw[0]}x{self.orig_hw[1]}"
            )
        masks = self._check_masks(new_masks, h, w)
        t = self.frame_index
        try:
            with self._eval_mode():
                out = self._step(t, frame, masks, return_probs)
        finally:
            self.frame_index += 1
        return out

    def _step(self, t: int, frame: np.ndarray, masks: dict[int, np.ndarray], return_probs: bool):
        assert self.size_hw is not None and self.pad_hw is not None and self.orig_hw is not None
        out_dtype = np.uint8 if max([0, *self._object_ids, *masks]) < 256 else np.int32
        if not self._object_ids and not masks:
            probs = torch.ones(1, *self.orig_hw) if return_probs else None
            empty = np.zeros(self.orig_hw, dtype=out_dtype)
            return (empty, probs) if return_probs else empty

        self._flush_pending()
        image = preprocess_frame(
            frame, self.size_hw, self.pixel_mean, self.pixel_std, self.size_divisibility, self.device
        )
        with self._autocast():
            feats = self.model.extract_features(image)
        f4, f8 = feats[4], feats[8]

        gt = {oid: preprocess_mask(m, self.size_hw, self.pad_hw).to(self.device) for oid, m in sorted(masks.items())}
        new_ids = [oid for oid in gt if oid not in self._object_ids]
        first_objects = not self._object_ids
        if new_ids:
            self._encode_new_objects(t, f8, {oid: gt[oid] for oid in new_ids}, store_bg=first_objects)
            self._object_ids = sorted(self._object_ids + new_ids)
        if first_objects:
            out = self._output_given_masks(gt, out_dtype, return_probs)
            if self.exact_given_masks:
                # only the given objects exist yet: their masks are the whole output
                if return_probs:
                    return _paste_given(np.zeros_like(out[0]), masks), out[1]
                return _paste_given(np.zeros_like(out), masks)
            return out

        ids = self._object_ids
        logits = self._decode(t, ids, f4, f8).float()  # [1,1+Qb+I,Hp/4,Wp/4]
        hp, wp = self.pad_hw
        first_obj = first_object_channel(self.num_bg)
        override = [(first_obj + ids.index(oid), m) for oid, m in gt.items()]

        # output path: upsample logits, then softmax, then override
        probs = torch.softmax(F.interpolate(logits, size=(hp, wp), mode="bilinear", align_corners=False), dim=1)
        probs = _override(probs, override)
        probs = to_original_size(probs, self.size_hw, self.orig_hw)[0]  # [1+Qb+I,H,W]
        index = probs.argmax(dim=0)
        lut = torch.tensor([0] * first_obj + ids, device=index.device, dtype=torch.int64)
        result = lut[index].cpu().numpy().astype(out_dtype)
        if self.exact_given_masks and masks:
            # pixels the network gives to a given id outside its mask: best channel of the others
            given_ch = [first_obj + ids.index(oid) for oid in masks]
            others = probs.clone()
            others[given_ch] = -1.0
            alt = lut[others.argmax(dim=0)].cpu().numpy().astype(out_dtype)
            result = np.where(np.isin(result, list(masks)), alt, result)
            result = _paste_given(result, masks)

        # re-encoding path: softmax at stride 4, upsample, override, down to stride 8
        p4 = torch.softmax(logits, dim=1)
        p1 = _override(F.interpolate(p4, size=(hp, wp), mode="bilinear", align_corners=False), override)
        p8 = F.interpolate(p1, size=(hp // 8, wp // 8), mode="bilinear", align_corners=False)
        fg8, bg8 = encoder_masks_from_probs(p8[:, first_obj:], self.num_bg)
        self._pending = _PendingReencode(frame=t, ids=list(ids), f8=f8, fg_masks=fg8, bg_masks=bg8)
        self._evict(t)
        if return_probs:
            merged = torch.cat([probs[:first_obj].sum(dim=0, keepdim=True), probs[first_obj:]], dim=0)
            return result, merged.float().cpu()
        return result

    def _encode_new_objects(self, t: int, f8: Tensor, gt: dict[int, Tensor], store_bg: bool) -> None:
        """Encode objects from their given masks (GT) and store them as frame t's entries."""
        fg = torch.stack(list(gt.values()))[None]  # [1,N,Hp,Wp]
        bg = self._grid_full[None] * (1.0 - fg.amax(dim=1, keepdim=True))  # [1,Qb,Hp,Wp]
        fg8, bg8 = downsample_masks(fg), downsample_masks(bg)
        for j, oid in enumerate(gt):
            if not bool((fg8[0, j] > 0.5).any()):
                logger.warning(
                    "object %d at frame %d is too small for the stride-8 features (no value > 0.5 after "
                    "resizing); keeping it with a descriptor from its strongest pixel (the original dropped it)",
                    oid,
                    t,
                )
        with self._autocast():
            fg_desc, bg_desc = self.model.encode(f8, fg8, bg8)
        self._notify("encode_given", t, fg_masks=fg8, bg_masks=bg8, fg=fg_desc, bg=bg_desc)
        self._store(t, list(gt), fg_desc, bg_desc if store_bg else None)

    def _decode(self, t: int, ids: list[int], f4: Tensor, f8: Tensor) -> Tensor:
        """Stack the window's descriptors (zeros + invalid where missing) and run the decoder."""
        frames = self._window(t)
        n_t, n_i = len(frames), len(ids)
        c = f8.shape[1]
        fg = torch.zeros(1, n_i, n_t, c, device=self.device)
        bg = torch.zeros(1, self.num_bg, n_t, c, device=self.device)
        fg_invalid = torch.ones(1, n_i, n_t, dtype=torch.bool, device=self.device)
        bg_invalid = torch.ones(1, self.num_bg, n_t, dtype=torch.bool, device=self.device)
        for s, k in enumerate(frames):
            entry = self._history.get(k)
            if entry is None:
                continue
            for j, oid in enumerate(ids):
                if oid in entry.fg:
                    fg[0, j, s] = entry.fg[oid]
                    fg_invalid[0, j, s] = False
            if entry.bg is not None:
                bg[0, :, s] = entry.bg
                bg_invalid[0, :, s] = False
        with self._autocast():
            logits = self.model.decode(fg, bg, f4, f8, fg_invalid, bg_invalid)
        self._notify("decode", t, fg=fg, bg=bg, fg_invalid=fg_invalid, bg_invalid=bg_invalid, logits=logits)
        return logits

    def _output_given_masks(self, gt: dict[int, Tensor], out_dtype, return_probs: bool):
        """Output of the frame where the first objects appear: the given masks themselves."""
        ids = list(gt)
        m = torch.stack(list(gt.values()))[None]  # [1,N,Hp,Wp]
        m = to_original_size(m, self.size_hw, self.orig_hw)[0]
        stacked = torch.cat([torch.zeros_like(m[:1]), m], dim=0)
        index = stacked.argmax(dim=0)
        lut = torch.tensor([0, *ids], device=index.device, dtype=torch.int64)
        result = lut[index].cpu().numpy().astype(out_dtype)
        if return_probs:
            # One-hot of the decision, in the ascending-id channel order of object_ids.
            order = [ids.index(oid) + 1 for oid in self._object_ids]
            onehot = F.one_hot(index, num_classes=len(ids) + 1).permute(2, 0, 1).float()
            return result, onehot[[0, *order]].cpu()
        return result


def _paste_given(result: np.ndarray, masks: Mapping[int, np.ndarray]) -> np.ndarray:
    """The given masks, pixel-exact at the original size, over ``result`` [H,W] (larger id wins overlaps)."""
    out = result.copy()
    for oid in sorted(masks):
        out[np.asarray(masks[oid]).astype(bool)] = oid
    return out


def _override(probs: Tensor, override: list[tuple[int, Tensor]]) -> Tensor:
    """Given masks replace the prediction: channel := mask, all other channels := 0 inside it."""
    if not override:
        return probs
    probs = probs.clone()
    for ch, m in override:
        inside = m > 0.5
        probs[0][:, inside] = 0.0
        probs[0, ch] = m
    return probs
