"""``build_trainer(cfg)``: model, regime, optimiser, schedule, data, checkpoints and hooks from a config.

Everything that can fail for a user mistake (config, dataset paths, output directory, checkpoint
compatibility) fails here, before the first training step.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from torch import nn

from ..checkpoint.backbone_weights import load_backbone_weights
from ..checkpoint.checkpointer import Checkpointer
from ..checkpoint.loading import load_model_weights
from ..config import CfgNode, cfg_to_dict
from ..config.recipe_weights import backbone_weights_path, check_recipe_weights
from ..engine.hooks import EvalHook, ImageWriter, IterationTimer, MetricsWriter, PeriodicCheckpointer, ProgressBar
from ..engine.trainer import Trainer, accumulation_plan
from ..inference.train_eval import make_davis_eval_fn
from ..modeling import build_model
from ..solver import build_lr_scheduler, build_optimizer
from ..structures import ResumableLoader
from ..utils import comm
from ..utils.device import resolve_device
from ..utils.logger import get_logger
from ..utils.training_metadata import ANNOTATION_COST_KEY
from .annotation_cost import annotation_cost_scalars, format_annotation_cost, write_annotation_cost
from .modes import build_regime, build_train_data
from .regimes import TrainingModule

logger = get_logger(__name__)


def _default_eval_fn(cfg: CfgNode, model: nn.Module) -> Callable[[], dict[str, float]] | None:
    """DAVIS J&F on DATASETS.TEST with the streaming predictor (hodor.inference.train_eval)."""
    return make_davis_eval_fn(cfg, model)


def build_trainer(
    cfg: CfgNode,
    resume: bool = False,
    eval_fn: Callable[[], dict[str, float]] | None = None,
    data: ResumableLoader | None = None,
    progress_bar: bool = True,
) -> Trainer:
    """Build everything for ``tools/train_net.py``; ``data`` replaces the loader of the config's datasets."""
    device = resolve_device(cfg.DEVICE)
    world = comm.get_world_size()
    per_forward, accum = accumulation_plan(cfg.SOLVER.IMS_PER_BATCH, cfg.SOLVER.MAX_SAMPLES_PER_GPU, world)
    logger.info(
        "Global batch %d = %d process(es) x %d forward(s) x %d sample(s)",
        cfg.SOLVER.IMS_PER_BATCH,
        world,
        accum,
        per_forward,
    )

    check_recipe_weights(cfg)  # a paper config without its backbone weights is a different experiment
    model = build_model(cfg).to(device)
    regime = build_regime(cfg)
    module: nn.Module = TrainingModule(model, regime)
    optimizer = build_optimizer(cfg, model)
    scheduler = build_lr_scheduler(cfg, optimizer)
    checkpointer = Checkpointer(model, cfg.OUTPUT_DIR, optimizer, scheduler, keep=cfg.SOLVER.CHECKPOINT_KEEP)

    resume_path = checkpointer.last_checkpoint() if resume else None
    if resume and resume_path is None:
        logger.warning("--resume: no checkpoint in %s, starting from scratch", cfg.OUTPUT_DIR)
    if resume_path is None and cfg.MODEL.WEIGHTS:
        load_model_weights(model, cfg.MODEL.WEIGHTS, strict=cfg.MODEL.WEIGHTS_STRICT)
    elif resume_path is None and backbone_weights_path(cfg.MODEL.BACKBONE.WEIGHTS):
        # a fresh start: only the backbone is pretrained (a resumed or fine-tuned model has it all)
        report = load_backbone_weights(model.backbone, backbone_weights_path(cfg.MODEL.BACKBONE.WEIGHTS))
        if report.ok:  # otherwise load_backbone_weights has already warned with the details
            logger.info("%s", report)

    loader = data if data is not None else build_train_data(cfg, per_forward)
    cost = getattr(loader, "annotation_cost", None)
    if cost is not None:
        checkpointer.training_metadata[ANNOTATION_COST_KEY] = cost
        logger.info("annotation cost: %s", format_annotation_cost(cost))

    if world > 1:
        module = nn.parallel.DistributedDataParallel(
            module, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=False
        )

    hooks: list = [IterationTimer(cfg.SOLVER.IMS_PER_BATCH)]
    if cfg.TEST.EVAL_PERIOD > 0:
        if eval_fn is None:
            eval_fn = _default_eval_fn(cfg, model)
        if eval_fn is None:
            logger.warning(
                "TEST.EVAL_PERIOD=%d but no evaluation function was given: no periodic evaluation", cfg.TEST.EVAL_PERIOD
            )
        else:
            hooks.append(EvalHook(cfg.TEST.EVAL_PERIOD, eval_fn))
    hooks += [
        ImageWriter(cfg.SOLVER.IMAGE_LOG_PERIOD, list(cfg.INPUT.PIXEL_MEAN), list(cfg.INPUT.PIXEL_STD)),
        MetricsWriter(cfg.OUTPUT_DIR, cfg.SOLVER.LOG_PERIOD, annotation_cost_scalars(cost) if cost else None),
        # after MetricsWriter: a checkpoint never runs ahead of its metrics row (a kill between
        # the two then costs a recomputed step, never a lost row)
        PeriodicCheckpointer(cfg.SOLVER.CHECKPOINT_PERIOD),
        ProgressBar(progress_bar),
    ]
    trainer = Trainer(
        module,
        optimizer,
        scheduler,
        loader,
        max_iter=cfg.SOLVER.MAX_ITER,
        accum_steps=accum,
        device=device,
        precision=cfg.SOLVER.PRECISION,
        clip_grad_norm=cfg.SOLVER.CLIP_GRAD_NORM,
        max_nonfinite=cfg.SOLVER.MAX_NONFINITE_STEPS,
        checkpointer=checkpointer,
        config_dict=cfg_to_dict(cfg),
        model=model,
        tb_writer=None,
        hooks=hooks,
    )
    if resume_path is not None:
        trainer.resume(resume_path)
    if comm.is_main_process():  # written only now that every start-up check has passed
        if cost is not None:
            write_annotation_cost(cfg.OUTPUT_DIR, cost)
        from torch.utils.tensorboard import SummaryWriter

        # purge_step: events of iterations after the checkpoint (from the interrupted run) are dropped
        trainer.tb_writer = SummaryWriter(os.path.join(cfg.OUTPUT_DIR, "tb"), purge_step=trainer.start_iter + 1)
    return trainer
