"""Training regimes: drive the model's primitives over a clip and compute the loss.

A regime receives a ``ClipBatch`` (frames [B,T,3,H,W], index masks [B,T,H,W], mask_valid [B,T],
presence [B,T,I_max], num_objects [B]) and runs, per group of samples with the same object count
(the original required equal counts per batch; we group instead):

1. the backbone once on all frames of the group;
2. the encoder on the ground truth of frame 0 (the annotated/reference frame);
3. the cycles of ``TRAINING.CYCLES`` (``hodor.training.cycles``): each step stacks the current
   descriptors of its source frames, decodes the target frame and, for targets other than 0,
   re-encodes the target from its predicted soft mask (softmax over all 1+Qb+I channels at
   stride 4, bilinear to stride 8, detached unless DETACH_INTERMEDIATE_MASKS is false, background
   = grid cell x (1 - sum fg)); steps with an already computed trace are reused;
4. the loss on the supervised predictions (all of them for static_image / dense_video, only
   those that return to the annotated frame 0 for sparse_video, those whose target frame carries
   a label with a non-zero weight for self_training), with objects that are no longer
   trackable in a cycle (absent from every source frame of some step so far) turned into
   background in the target.

Semantics follow hodor-reference §2.3 and case d of the parity fixture exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import _moved
from ..config import CfgNode
from ..modeling.hodor_model import HODOR
from ..modeling.masks import encoder_masks_from_index, encoder_masks_from_probs, first_object_channel, merge_bg_logits
from ..structures import ClipBatch
from ..structures.batch import LABEL_GT, LABEL_PSEUDO
from .cycles import CycleSchedule, Step
from .losses import IGNORE_INDEX, mean_iou, segmentation_loss

__getattr__ = _moved.name_getter(__name__)  # build_regime moved to hodor.training.modes (one release)


@dataclass
class Prediction:
    """One decoder call of a cycle. logits [b, 1+Qb+I, H/4, W/4]; target [b, H, W] (IGNORE where no GT)."""

    cycle: int
    step: Step
    logits: Tensor
    target: Tensor
    supervised: bool
    weight: Tensor | None = None  # [b] loss weight per sample (self-training); None = 1


@dataclass
class EncoderCall:
    """One encoder call (recorded only with ``record=True``; used by parity and gradient tests)."""

    frame: int
    fg_mask: Tensor  # [b, I, h8, w8] as fed
    bg_mask: Tensor  # [b, Qb, h8, w8] as fed
    fg_desc: Tensor  # [b, I, C]
    bg_desc: Tensor  # [b, Qb, C]
    soft_fg: Tensor | None = None  # predicted fg probabilities at stride 8 *before* any detach


@dataclass
class GroupOutput:
    """Everything one object-count group produced."""

    sample_index: Tensor  # [b] indices into the batch
    num_objects: int
    predictions: list[Prediction] = field(default_factory=list)
    encoder_calls: list[EncoderCall] = field(default_factory=list)
    pred_logits: Tensor | None = None  # [b, 1+I, N, H, W] supervised, merged, upsampled
    targets: Tensor | None = None  # [b, N, H, W]
    weights: Tensor | None = None  # [b, N] per-prediction loss weights; None = unweighted
    keepalive: Tensor | float = 0.0  # 0 * (features HODOR does not use), see ClipRegime._run_group


@dataclass
class RegimeOutput:
    losses: dict[str, Tensor]  # weighted loss terms; the optimised loss is their sum
    metrics: dict[str, Tensor]  # logged only (IoU)
    groups: list[GroupOutput]
    keepalive: Tensor | float = 0.0  # exactly zero; keeps every parameter in the autograd graph

    @property
    def total_loss(self) -> Tensor:
        return sum(self.losses.values()) + self.keepalive  # type: ignore[return-value]


class ClipRegime:
    """Shared cycle-unrolling logic; subclasses only decide which predictions are supervised."""

    supervise_only_reference = False
    # a batch without any supervised prediction is an error (a mistake in TRAINING.CYCLES or the
    # regime); self-training allows it (every pseudo-label of the batch below MIN_CONFIDENCE)
    require_supervision = True

    def __init__(
        self,
        cycles: str = "",
        detach_masks: bool = True,
        dice: str = "multiclass_dice",
        ce_weight: float = 1.0,
        dice_weight: float = 1.0,
        drop_vanishing_objects: bool = True,
    ) -> None:
        self.cycles_spec = cycles
        self.detach_masks = detach_masks
        self.dice, self.ce_weight, self.dice_weight = dice, ce_weight, dice_weight
        self.drop_vanishing_objects = drop_vanishing_objects
        self._schedules: dict[int, CycleSchedule] = {}

    @classmethod
    def from_config(cls, cfg: CfgNode) -> ClipRegime:
        return cls(**cls.config_kwargs(cfg))

    @classmethod
    def config_kwargs(cls, cfg: CfgNode) -> dict[str, object]:
        """The constructor arguments read from TRAINING.* (subclasses add their own keys)."""
        t = cfg.TRAINING
        return {
            "cycles": t.CYCLES,
            "detach_masks": t.DETACH_INTERMEDIATE_MASKS,
            "dice": t.DICE,
            "ce_weight": t.CE_WEIGHT,
            "dice_weight": t.DICE_WEIGHT,
        }

    def schedule(self, num_frames: int) -> CycleSchedule:
        if num_frames not in self._schedules:
            self._schedules[num_frames] = CycleSchedule(self.cycles_spec, num_frames)
        return self._schedules[num_frames]

    # ------------------------------------------------------------------------------------
    def __call__(self, model: HODOR, batch: ClipBatch, iteration: int, record: bool = False) -> RegimeOutput:
        """Run all groups of ``batch``; losses are batch means (groups weighted by their size)."""
        num_objects = batch.num_objects.to("cpu")
        total = int(num_objects.numel())
        groups, losses, ious, keepalive = [], {}, [], 0.0
        for count in torch.unique(num_objects).tolist():
            idx = torch.nonzero(num_objects == count).flatten()
            g = self._run_group(model, batch, idx, int(count), iteration, record)
            groups.append(g)
            keepalive = keepalive + g.keepalive
            if g.pred_logits is None:
                continue
            term = segmentation_loss(
                g.pred_logits, g.targets, self.dice, self.ce_weight, self.dice_weight, weights=g.weights
            )
            for k, v in term.items():
                losses[k] = losses.get(k, 0.0) + v * (len(idx) / total)
            ious.append(mean_iou(g.pred_logits.detach(), g.targets))
        if not losses:
            if self.require_supervision:
                raise ValueError("the batch produced no supervised prediction (check TRAINING.CYCLES and the regime)")
            # nothing to learn from this batch: an exact zero that is still part of the graph
            zero = sum((p.logits.float().sum() * 0.0 for g in groups for p in g.predictions), batch.frames.sum() * 0.0)
            losses = {"loss_ce": zero, "loss_dice": zero.clone()}
        metrics = {"iou": torch.stack(ious).mean()} if ious else {}
        return RegimeOutput(losses=losses, metrics=metrics, groups=groups, keepalive=keepalive)

    def _run_group(
        self, model: HODOR, batch: ClipBatch, idx: Tensor, count: int, iteration: int, record: bool
    ) -> GroupOutput:
        num_bg = model.num_bg_descriptors  # the model's own layout: never restated from the config
        dev = batch.frames.device
        idx_d = idx.to(dev)
        frames = batch.frames.index_select(0, idx_d)  # [b, T, 3, H, W]
        masks = batch.masks.index_select(0, idx_d).long()  # [b, T, H, W]
        valid = batch.mask_valid.index_select(0, idx_d).bool()  # [b, T]
        presence = batch.presence.index_select(0, idx_d)[..., :count].bool()  # [b, T, I]
        b, T, _, H, W = frames.shape
        if int(masks.max()) > count:
            raise ValueError(f"a mask holds object id {int(masks.max())} but num_objects is {count}")
        if not bool(valid[:, 0].all()):
            raise ValueError("frame 0 of every clip must be annotated (it is the reference frame)")
        if self.drop_vanishing_objects:
            masks, presence, count = _drop_vanishing_objects(masks, presence, count)
        # Frames without ground truth give no presence information: treat objects as present.
        presence = presence | ~valid[..., None]
        frame_w = self.frame_weights(batch, idx_d, valid)  # [b, T] or None
        if frame_w is not None:  # per frame, on the host once (no device sync per prediction)
            frame_any = (frame_w > 0).any(0).tolist()  # [T] some sample is supervised there
            frame_ones = (frame_w == 1).all(0).tolist()  # [T] every sample has weight 1 there
        out = GroupOutput(sample_index=idx, num_objects=count)

        feats = model.extract_features(frames.flatten(0, 1))
        f4 = feats[4].unflatten(0, (b, T))  # [b, T, C, H/4, W/4]
        f8 = feats[8].unflatten(0, (b, T))  # [b, T, C, H/8, W/8]
        # HODOR only uses strides 4 and 8; the coarser FPN outputs exist for the backbone's
        # other uses. A zero-weighted term keeps their parameters in the graph so that DDP runs
        # without find_unused_parameters (it adds exactly 0 to the loss and to every gradient).
        out.keepalive = sum((f.float().mean() * 0.0 for s, f in feats.items() if s not in (4, 8)), 0.0)

        fg0, bg0 = encoder_masks_from_index(masks[:, 0], count, num_bg)
        desc0 = model.encode(f8[:, 0], fg0.to(f8.dtype), bg0.to(f8.dtype))
        if record:
            out.encoder_calls.append(EncoderCall(0, fg0, bg0, desc0[0], desc0[1]))

        cache: dict[str, tuple[Tensor, Tensor] | None] = {}
        for ci, cycle in enumerate(self.schedule(T).cycles(iteration)):
            desc: dict[int, tuple[Tensor, Tensor]] = {0: desc0}
            trackable = torch.ones(b, count, dtype=torch.bool, device=dev)
            trace = ""
            for step in cycle:
                trace += f"{step};"
                trackable = trackable & presence[:, list(step.src)].any(dim=1)
                if trace in cache:  # same computation as an earlier cycle: reuse, no new prediction
                    if cache[trace] is not None:
                        desc[step.tgt] = cache[trace]
                    continue
                fg = torch.stack([desc[s][0] for s in step.src], dim=2)  # [b, I, S, C]
                bg = torch.stack([desc[s][1] for s in step.src], dim=2)  # [b, Qb, S, C]
                logits = model.decode(fg, bg, f4[:, step.tgt], f8[:, step.tgt])  # [b, 1+Qb+I, H/4, W/4]
                new = None
                if step.tgt != 0:
                    new = self._reencode(model, logits, f8[:, step.tgt], step.tgt, out if record else None, num_bg)
                    desc[step.tgt] = new
                cache[trace] = new
                weight = None
                if frame_w is None:
                    target = _target(masks[:, step.tgt], valid[:, step.tgt], trackable)
                    supervised = step.tgt == 0 if self.supervise_only_reference else True
                else:  # a sample whose target frame has weight 0 is not supervised there
                    weight = frame_w[:, step.tgt]
                    target = _target(masks[:, step.tgt], valid[:, step.tgt] & (weight > 0), trackable)
                    supervised = frame_any[step.tgt]
                out.predictions.append(Prediction(ci, step, logits, target, supervised, weight))

        sup = [p for p in out.predictions if p.supervised]
        if sup:
            merged = [
                F.interpolate(merge_bg_logits(p.logits, num_bg), size=(H, W), mode="bilinear", align_corners=False)
                for p in sup
            ]
            out.pred_logits = torch.stack(merged, dim=2)  # [b, 1+I, N, H, W]
            out.targets = torch.stack([p.target for p in sup], dim=1)  # [b, N, H, W]
            if frame_w is not None and not all(frame_ones[p.step.tgt] for p in sup):
                out.weights = torch.stack([p.weight for p in sup], dim=1)  # [b, N]
            # (all weights 1: unweighted, bit for bit; self-training without pseudo-labels = sparse)
        return out

    def frame_weights(self, batch: ClipBatch, idx: Tensor, valid: Tensor) -> Tensor | None:
        """Loss weight of predictions on each frame ``[b, T]`` for the samples ``idx`` (0 = not
        supervised); None (every regime but self-training) = supervision decided by
        ``supervise_only_reference`` alone, unweighted."""
        return None

    def _reencode(
        self, model: HODOR, logits: Tensor, f8: Tensor, frame: int, out: GroupOutput | None, num_bg: int
    ) -> tuple[Tensor, Tensor]:
        """Descriptors of ``frame`` from its predicted soft masks (see module docstring)."""
        probs = logits.float().softmax(dim=1)[:, first_object_channel(num_bg) :]  # [b, I, H/4, W/4]
        soft = F.interpolate(probs, size=f8.shape[-2:], mode="bilinear", align_corners=False)  # [b, I, H/8, W/8]
        fg_in = soft.detach() if self.detach_masks else soft
        fg, bg = encoder_masks_from_probs(fg_in, num_bg)
        fg, bg = fg.to(f8.dtype), bg.to(f8.dtype)
        new = model.encode(f8, fg, bg)
        if out is not None:
            out.encoder_calls.append(EncoderCall(frame, fg, bg, new[0], new[1], soft_fg=soft))
        return new


def _target(index: Tensor, valid: Tensor, trackable: Tensor) -> Tensor:
    """index [b,H,W] with untrackable objects set to 0 and frames without GT set to IGNORE."""
    keep = torch.cat([torch.ones_like(trackable[:, :1]), trackable], dim=1)  # [b, 1+I]
    kept = torch.gather(keep, 1, index.flatten(1)).view_as(index)
    target = torch.where(kept, index, torch.zeros_like(index))
    return torch.where(valid[:, None, None], target, torch.full_like(target, IGNORE_INDEX))


def _drop_vanishing_objects(masks: Tensor, presence: Tensor, count: int) -> tuple[Tensor, Tensor, int]:
    """Drop objects whose reference mask vanishes under nearest x1/8 downsampling in any sample.

    As the original (hodor-reference §2.3 step 1): such an object would give the encoder an
    empty mask. Kept objects are renumbered 1..I'; if none survives, object 1 is kept anyway.
    """
    h, w = masks.shape[-2:]
    small = F.interpolate(masks[:, :1].float(), size=(h // 8, w // 8), mode="nearest").long()  # [b,1,h8,w8]
    ids = torch.arange(1, count + 1, device=masks.device)
    visible = (small.flatten(1)[:, :, None] == ids).any(1).all(0)  # [I]
    if bool(visible.all()):
        return masks, presence, count
    if not bool(visible.any()):
        visible[0] = True
    kept = torch.nonzero(visible).flatten()
    lut = torch.zeros(count + 1, dtype=masks.dtype, device=masks.device)
    lut[kept + 1] = torch.arange(1, len(kept) + 1, dtype=masks.dtype, device=masks.device)
    return lut[masks], presence[..., kept], len(kept)


class StaticImageRegime(ClipRegime):
    """Pseudo-clips from one image: every frame has ground truth, every prediction is supervised."""


class DenseVideoRegime(ClipRegime):
    """Densely annotated video clips: every prediction is supervised, as static_image."""


class SparseVideoRegime(ClipRegime):
    """One annotated frame (frame 0): only predictions that return to it are supervised (cycle consistency)."""

    supervise_only_reference = True


class SelfTrainingRegime(ClipRegime):
    """Self-training (TRAINING.MODE = self_training): dense-style supervision of every prediction
    whose target frame carries a label, weighted by where the label came from.

    Clips come from ``hodor.data.self_training_clips.SelfTrainingClipMapper`` (``label_source`` /
    ``label_confidence`` per frame). Per-prediction weights (TRAINING.SELF_TRAINING.*), by target
    frame:

    * frame 0, the labelled reference (the cycle-consistency returns): CYCLE_WEIGHT;
    * a ground-truth frame: 1;
    * a pseudo-labelled frame: PSEUDO_WEIGHT, times its confidence when WEIGHT_BY_CONFIDENCE;
      0 when USE_PSEUDO_LABELS is off (the mapper then labels no frame so; the regime agrees
      whatever mapper built the batch);
    * no label: 0.

    A prediction with weight 0 is not supervised (its target is ignored). A batch without
    ``label_source`` counts its valid frames as ground truth. With USE_PSEUDO_LABELS off,
    CYCLE_WEIGHT 1 and no other ground truth in the windows this is the sparse-video loss exactly.
    """

    require_supervision = False

    def __init__(
        self,
        *args,
        pseudo_weight: float = 1.0,
        weight_by_confidence: bool = False,
        cycle_weight: float = 1.0,
        use_pseudo_labels: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        for name, v in (("PSEUDO_WEIGHT", pseudo_weight), ("CYCLE_WEIGHT", cycle_weight)):
            if not (v >= 0 and v < float("inf")):
                raise ValueError(f"TRAINING.SELF_TRAINING.{name} must be a finite number >= 0, got {v!r}")
        self.pseudo_weight, self.weight_by_confidence = float(pseudo_weight), bool(weight_by_confidence)
        self.cycle_weight, self.use_pseudo_labels = float(cycle_weight), bool(use_pseudo_labels)

    @classmethod
    def config_kwargs(cls, cfg: CfgNode) -> dict[str, object]:
        st = cfg.TRAINING.SELF_TRAINING
        return {
            **super().config_kwargs(cfg),
            "pseudo_weight": st.PSEUDO_WEIGHT,
            "weight_by_confidence": st.WEIGHT_BY_CONFIDENCE,
            "cycle_weight": st.CYCLE_WEIGHT,
            "use_pseudo_labels": st.USE_PSEUDO_LABELS,
        }

    def frame_weights(self, batch: ClipBatch, idx: Tensor, valid: Tensor) -> Tensor:
        if batch.label_source is None:
            source = valid.to(torch.int8) * LABEL_GT  # [b, T]
            conf = valid.float()
        else:
            source = batch.label_source.index_select(0, idx)
            conf = batch.label_confidence.index_select(0, idx).float()
        w = torch.zeros(valid.shape, dtype=torch.float32, device=valid.device)
        w = torch.where(source == LABEL_GT, torch.ones_like(w), w)
        if self.use_pseudo_labels:
            pw = conf * self.pseudo_weight if self.weight_by_confidence else torch.full_like(w, self.pseudo_weight)
            w = torch.where(source == LABEL_PSEUDO, pw, w)
        w[:, 0] = self.cycle_weight
        return w * valid


class TrainingModule(nn.Module):
    """Model + regime as one module, so DistributedDataParallel sees the whole training forward.

    DDP only synchronises through ``forward``; the regime calls the model's primitives
    (``extract_features``/``encode``/``decode``), so the DDP wrapper must sit around this module.
    """

    def __init__(self, model: HODOR, regime: ClipRegime) -> None:
        super().__init__()
        self.model = model
        self.regime = regime

    def forward(self, batch: ClipBatch, iteration: int, record: bool = False) -> RegimeOutput:
        return self.regime(self.model, batch, iteration, record=record)
