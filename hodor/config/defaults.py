"""Every configuration key hodor knows, with its default and what it means.

This file is the single place where keys are defined. YAML files under ``configs/`` only
override these values (an unknown key is an error), and ``KEY VALUE`` pairs on the command
line override both. Original HODOR key names are noted where ours differ, so users of the
original code can translate their YAML files.

Lists are used instead of tuples everywhere so that a dumped config reloads unchanged.
"""

from __future__ import annotations

from fvcore.common.config import CfgNode as _FvCfgNode


class CfgNode(_FvCfgNode):
    """fvcore's CfgNode (yacs + ``_BASE_`` inheritance); hodor adds strictness in config.py."""


_C = CfgNode()
_C.VERSION = 1  # schema version of this file; bump when keys are renamed

# Directory for checkpoints, logs, TensorBoard events and the resolved config.
_C.OUTPUT_DIR = "./output"
# Global seed. Each rank r seeds its RNGs with SEED + r; -1 draws a fresh seed (logged).
_C.SEED = 42
# "auto" = cuda if available else cpu; or an explicit torch device string.
_C.DEVICE = "auto"

# --------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------
_C.MODEL = CfgNode()
# Weights to start from: our checkpoint (.pth/.safetensors) or a converted original HODOR
# file. Loaded as weights only (no optimizer state); "" = random init / backbone weights.
_C.MODEL.WEIGHTS = ""
# Every key of MODEL.WEIGHTS must fit the model (and the other way round). False loads only the
# fitting tensors (fine-tuning another head or depth) and prints what was loaded, missing, mis-shaped.
_C.MODEL.WEIGHTS_STRICT = True
# Feature width shared by FPN, encoder and decoder (original: 256, asserted).
_C.MODEL.HIDDEN_DIM = 256
# Recompute the activations of Swin blocks and encoder/decoder layers in the backward pass instead
# of keeping them (training memory for ~1/3 more compute; same gradients). See
# hodor/modeling/checkpointing.py.
_C.MODEL.CHECKPOINT_ACTIVATIONS = False

_C.MODEL.BACKBONE = CfgNode()
# Registered backbone name: swin_t (original), swin_s, swin_b, resnet18, resnet50, resnet101.
_C.MODEL.BACKBONE.NAME = "swin_t"
# Weights for the backbone (+FPN) only: mmdetection detector checkpoint (backbone.*, neck.*),
# timm/torchvision ImageNet state dict, or a detectron2-style .pkl. "" = random init.
_C.MODEL.BACKBONE.WEIGHTS = ""
# The backbone weights a paper recipe starts from (file name and source, for the error message).
# When set, training refuses an empty MODEL.BACKBONE.WEIGHTS (and no MODEL.WEIGHTS); write
# MODEL.BACKBONE.WEIGHTS none to train from random initialisation deliberately.
_C.MODEL.BACKBONE.RECIPE_WEIGHTS = ""
# Stochastic depth rate of Swin backbones (original: 0.2 for T/S, 0.3 for B).
_C.MODEL.BACKBONE.DROP_PATH_RATE = 0.2
# Number of backbone stages frozen from the input side (0 = train everything, original;
# 1 = the stem / patch embedding; k = the stem and the first k-1 stages, as in detectron2).
_C.MODEL.BACKBONE.FREEZE_AT = 0
# ResNets only: freeze BatchNorm statistics and affine parameters (FrozenBatchNorm2d), as
# detectron2 does; batch statistics are meaningless with HODOR's 1-2 samples per GPU.
_C.MODEL.BACKBONE.FROZEN_BN = True
# GroupNorm groups applied to each FPN output (original: 16).
_C.MODEL.BACKBONE.FPN_NORM_GROUPS = 16

_C.MODEL.ENCODER = CfgNode()
_C.MODEL.ENCODER.NUM_LAYERS = 5
_C.MODEL.ENCODER.NUM_HEADS = 8
_C.MODEL.ENCODER.FFN_DIM = 1024
_C.MODEL.ENCODER.DROPOUT = 0.1
# Number of background descriptors; must be a supported grid (1, 2, 4, 9, 12, 16).
_C.MODEL.ENCODER.NUM_BG_DESCRIPTORS = 9
# Initial per-head soft-mask scales sigma_h. Empty list = the original [32,32,16,16,8,8,4,4]
# for 8 heads, generalised to other head counts (see modeling/soft_masked_attention.py).
_C.MODEL.ENCODER.MASK_SCALES = []
# Learn sigma_h (original: True).
_C.MODEL.ENCODER.LEARNABLE_MASK_SCALES = True
# Add the sine position embedding to the encoder's pixel keys (original POS_ENCODINGS_IN_FMQ).
_C.MODEL.ENCODER.POS_ENC_IN_KEYS = False
# Use torch's scaled_dot_product_attention for soft-masked attention (exact same maths).
_C.MODEL.ENCODER.FUSED_ATTENTION = True

# Start every encoder layer from the same initial weights (copies of one initialised layer), as
# the original; False = each layer initialised independently. Matters only without MODEL.WEIGHTS.
_C.MODEL.ENCODER.CLONE_LAYER_INIT = True

_C.MODEL.DECODER = CfgNode()
# As MODEL.ENCODER.CLONE_LAYER_INIT, for the decoder layers.
_C.MODEL.DECODER.CLONE_LAYER_INIT = True
_C.MODEL.DECODER.NUM_LAYERS = 5
_C.MODEL.DECODER.NUM_HEADS = 8
_C.MODEL.DECODER.FFN_DIM = 256
_C.MODEL.DECODER.DROPOUT = 0.1
# Add the sine position embedding to the decoder's pixel queries (original POS_ENCODINGS_IN_FQM).
_C.MODEL.DECODER.POS_ENC_IN_QUERIES = True
# Deformable conv kernel: "auto" (gather on CPU, torchvision elsewhere), "torchvision",
# "grid_sample" or "gather" (embedding_bag). Same maths and parameters; on CPU grid_sample is
# 3.5-11x faster than torchvision and gather faster still, and gather also runs in bf16 (see
# hodor/modeling/deform_conv.py).
_C.MODEL.DECODER.DEFORM_CONV_IMPL = "auto"

# --------------------------------------------------------------------------------------
# Input preprocessing (shared by training and inference)
# --------------------------------------------------------------------------------------
_C.INPUT = CfgNode()
# Per-channel mean/std in RGB order on the 0-255 scale (original: mmdetection statistics).
_C.INPUT.PIXEL_MEAN = [123.675, 116.28, 103.53]
_C.INPUT.PIXEL_STD = [58.395, 57.12, 57.375]
# Inputs are zero-padded (after normalisation) bottom/right to a multiple of this.
_C.INPUT.SIZE_DIVISIBILITY = 32
# Video clips ("dims" mode): shorter side -> MIN_DIM unless the longer side would exceed MAX_DIM.
_C.INPUT.MIN_DIM = 576
_C.INPUT.MAX_DIM = 1200
# Static images ("px" mode): resize to about this many pixels keeping the aspect ratio.
_C.INPUT.MAX_IMAGE_AREA = 300000

# Training augmentation (hodor/data/augment.py). Defaults follow the original recipe; imgaug
# parameters are translated to torchvision.transforms.v2 equivalents (approximate where noted).
_C.INPUT.AUG = CfgNode()
# Colour jitter on/off (static images always get it in the original; video: AUGMENTATIONS.COLOR).
_C.INPUT.AUG.COLOR = True
# ColorJitter brightness factor for images (original: additive +-25 of 255, ~ +-20 % at mid-grey).
_C.INPUT.AUG.BRIGHTNESS = 0.2
# ColorJitter contrast factor (original LinearContrast 0.95-1.05).
_C.INPUT.AUG.CONTRAST = 0.05
# ColorJitter saturation factor (original additive +-12 of 255, approximated multiplicatively).
_C.INPUT.AUG.SATURATION = 0.05
# ColorJitter hue shift as a fraction of the hue circle (original +-12 of 255 = 0.047).
_C.INPUT.AUG.HUE = 0.047
# ColorJitter brightness factor for video frames (original additive +-20 of 255).
_C.INPUT.AUG.VIDEO_BRIGHTNESS = 0.16
# Pseudo-clips: probability of the crop-based recipe; otherwise affine/perspective/crop views.
_C.INPUT.AUG.CROP_VIEW_PROB = 0.5
# Relative crop sizes tried for crop views (original np.arange(0.6, 0.8, 0.1) -> 0.6, 0.7, 0.8).
_C.INPUT.AUG.CROP_FACTORS = [0.6, 0.7, 0.8]
# A reference crop must keep at least this fraction of every object's area.
_C.INPUT.AUG.CROP_MIN_KEEP = 0.5
# Random crops tried before falling back to a crop that contains every object's box.
_C.INPUT.AUG.CROP_MAX_TRIES = 10
# Relative size range of that fallback (mask-preserving) crop.
_C.INPUT.AUG.PRESERVE_CROP_RANGE = [0.6, 0.9]
# Crop recipe, frames 1..T-1: probability of an extra affine warp after the crop.
_C.INPUT.AUG.CROP_VIEW_AFFINE_PROB = 0.5
# Crop recipe affine: rotation and shear ranges in degrees (+-).
_C.INPUT.AUG.CROP_VIEW_ROTATE = 10.0
_C.INPUT.AUG.CROP_VIEW_SHEAR = 5.0
# Basic recipe affine: translation (fraction of size), rotation and shear (degrees, +-).
_C.INPUT.AUG.BASIC_TRANSLATE = 0.25
_C.INPUT.AUG.BASIC_ROTATE = 20.0
_C.INPUT.AUG.BASIC_SHEAR = 10.0
# Basic recipe perspective: imgaug PerspectiveTransform scale range (corner jitter |N(0, s)| of
# the image size, s ~ U(range); the inner quadrilateral is stretched to the full image).
_C.INPUT.AUG.BASIC_PERSPECTIVE = [0.10, 0.12]
# Basic recipe crop: fraction cut from every side (same on all sides), resized back.
_C.INPUT.AUG.BASIC_CROP_RANGE = [0.10, 0.25]
# Probability of one horizontal flip applied to the whole clip.
_C.INPUT.AUG.FLIP_PROB = 0.5
# Video clips: probability of one validated crop for all frames (else affine/perspective).
_C.INPUT.AUG.VIDEO_CROP_PROB = 0.5
# Video affine rotation/shear (degrees, +-) and perspective scale range (as BASIC_PERSPECTIVE).
_C.INPUT.AUG.VIDEO_ROTATE = 20.0
_C.INPUT.AUG.VIDEO_SHEAR = 10.0
_C.INPUT.AUG.VIDEO_PERSPECTIVE = [0.08, 0.10]
# Video affine/perspective draws tried to keep the reference objects before giving up (none).
_C.INPUT.AUG.VIDEO_AFFINE_TRIES = 3

# --------------------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------------------
_C.DATASETS = CfgNode()
# Root holding coco/, DAVIS/, YouTube-VOS/ (env HODOR_DATASETS overrides an empty value).
_C.DATASETS.ROOT = ""
# Registered dataset names used for training, and their sampling ratios (same length).
_C.DATASETS.TRAIN = []
_C.DATASETS.TRAIN_RATIOS = []
# Registered dataset names evaluated by tools/eval_vos.py and the in-training eval hook.
_C.DATASETS.TEST = []

_C.DATALOADER = CfgNode()
_C.DATALOADER.NUM_WORKERS = 2
# Corrupt images in static-image datasets: "error" stops, "skip" counts and reports them.
_C.DATALOADER.ON_BAD_SAMPLE = "error"
# Maximum number of bad samples tolerated with ON_BAD_SAMPLE = "skip" before failing.
_C.DATALOADER.MAX_BAD_SAMPLES = 100
# Re-draws (another augmentation / reference frame / video) when a sample ends up with no
# object, before it counts as a bad sample.
_C.DATALOADER.MAX_RESAMPLES = 10
# Start-method of worker processes ("" = platform default; "spawn"/"forkserver"/"fork").
_C.DATALOADER.MP_CONTEXT = ""
# Form every per-forward batch as the original does (hodor.data.grouping): one object count,
# aspect ratios h/w within MAX_ASPECT_RATIO_DIFF. False = samples drawn independently (mixed
# counts and shapes, padded to the largest).
_C.DATALOADER.GROUP_BATCHES = True
_C.DATALOADER.MAX_ASPECT_RATIO_DIFF = 0.1
# Equal numbers of 1..TRAINING.NUM_INSTANCES-object samples, as the original's sample lists
# (static images, dense video; hodor.data.balance). Needs GROUP_BATCHES. False = every image /
# reference frame equally often with at most NUM_INSTANCES random objects.
_C.DATALOADER.BALANCE_OBJECT_COUNTS = True
# Samples per epoch of the sample list (0 = one per candidate image / reference frame / video,
# at least 1024).
_C.DATALOADER.SAMPLES_PER_EPOCH = 0

# --------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------
_C.TRAINING = CfgNode()
# Registered regime: static_image, dense_video, sparse_video, self_training.
_C.TRAINING.MODE = "static_image"
# Frames per clip besides the reference frame (original NUM_OTHER_FRAMES).
_C.TRAINING.NUM_OTHER_FRAMES = 2
# Maximum objects per training sample (original NUM_INSTANCES).
_C.TRAINING.NUM_INSTANCES = 4
# Stop gradients through predicted soft masks before re-encoding (original: True).
_C.TRAINING.DETACH_INTERMEDIATE_MASKS = True
# Cycles as a spec string; "" = the original schedule for the clip length, including the
# alternation of the third cycle by iteration parity.
_C.TRAINING.CYCLES = ""
# Loss: "multiclass_dice" (original, pooled per sample) or "per_object_dice".
_C.TRAINING.DICE = "multiclass_dice"
_C.TRAINING.CE_WEIGHT = 1.0
_C.TRAINING.DICE_WEIGHT = 1.0
# Objects smaller than this (pixels / bbox side) in the reference frame are dropped.
_C.TRAINING.MIN_REF_MASK_AREA = 2000
_C.TRAINING.MIN_REF_MASK_DIM = 20
# Maximum frame distance inside a video clip (DAVIS uses twice this, as the original).
_C.TRAINING.MIN_CLIP_DELTA = 1
_C.TRAINING.MAX_CLIP_DELTA = 10
# Annotated frame used by sparse video training: middle (intended), end (original bug),
# first, random.
_C.TRAINING.SPARSE_REF_FRAME = "middle"
# Self-training (TRAINING.MODE self_training, hodor.training.regimes.SelfTrainingRegime): clips
# from a pseudo-label dataset (DATASETS.TRAIN = ("pseudo:<dir>",), written by hodor-pseudo-label).
# The reference frame carries ground truth; the other frames take ground truth where it exists,
# else their pseudo-label, else no label (unsupervised, as in sparse video).
_C.TRAINING.SELF_TRAINING = CfgNode()
# A pseudo-labelled frame is used only when every object of the clip has at least this
# confidence there (hodor.data.self_training_clips); otherwise the frame counts as unlabelled.
_C.TRAINING.SELF_TRAINING.MIN_CONFIDENCE = 0.7
# Loss weight of predictions on pseudo-labelled frames (ground-truth frames weigh 1).
_C.TRAINING.SELF_TRAINING.PSEUDO_WEIGHT = 1.0
# Multiply that weight by the frame's confidence (min over the clip's objects).
_C.TRAINING.SELF_TRAINING.WEIGHT_BY_CONFIDENCE = False
# Loss weight of predictions that return to the labelled reference frame (the sparse-video
# cycle-consistency term); 0 = pseudo-labels only.
_C.TRAINING.SELF_TRAINING.CYCLE_WEIGHT = 1.0
# False: pseudo-labels are ignored (every non-GT frame is unlabelled: the sparse regime).
_C.TRAINING.SELF_TRAINING.USE_PSEUDO_LABELS = True
# Rounds of (pseudo-label -> train) run by hodor-self-train; each starts from the previous
# round's final checkpoint.
_C.TRAINING.SELF_TRAINING.ROUNDS = 1

# --------------------------------------------------------------------------------------
# Pseudo-labelling (hodor-pseudo-label, hodor-self-train)
# --------------------------------------------------------------------------------------
_C.PSEUDO_LABEL = CfgNode()
# Registered video dataset whose unlabelled frames get pseudo-labels (e.g. youtube_vos_2019_train).
_C.PSEUDO_LABEL.SOURCE_DATASET = ""
# Which ground-truth frames count as labels: "all" annotated frames, or one per video as the
# sparse regime picks it ("middle", "first").
_C.PSEUDO_LABEL.LABELLED_FRAMES = "middle"
# Per-object, per-frame confidence: "mean_max_prob" (mean of the object's probability over
# its predicted pixels) or "fb_iou" (IoU of forward and backward propagation where both
# exist, else mean_max_prob).
_C.PSEUDO_LABEL.CONFIDENCE = "mean_max_prob"

_C.SOLVER = CfgNode()
# Optimiser steps.
_C.SOLVER.MAX_ITER = 250000
# Global batch per optimiser step; reached by gradient accumulation on any number of GPUs.
_C.SOLVER.IMS_PER_BATCH = 8
# Samples one process puts through the model per forward (original --max_samples_per_gpu).
_C.SOLVER.MAX_SAMPLES_PER_GPU = 2
_C.SOLVER.BASE_LR = 1e-4
_C.SOLVER.WEIGHT_DECAY = 0.01
# LR multiplier for backbone (+FPN) parameters (original: 1.0, one param group).
_C.SOLVER.BACKBONE_LR_MULTIPLIER = 1.0
# "step" (warm-up then step decay), "warmup" (warm-up then constant), "cosine".
_C.SOLVER.LR_SCHEDULER = "step"
_C.SOLVER.WARMUP_ITERS = 10000
_C.SOLVER.WARMUP_INIT_LR = 1e-7
_C.SOLVER.STEPS = [100000]
_C.SOLVER.GAMMA = 0.1
# Clip the global gradient norm to this value; 0 disables (original: disabled).
_C.SOLVER.CLIP_GRAD_NORM = 0.0
# "fp32", "bf16" or "fp16" (autocast; fp16 uses a GradScaler).
_C.SOLVER.PRECISION = "fp32"
# Abort after this many consecutive non-finite losses (each one skips its step).
_C.SOLVER.MAX_NONFINITE_STEPS = 5
# Checkpoint every N iterations, keeping the newest K files.
_C.SOLVER.CHECKPOINT_PERIOD = 10000
_C.SOLVER.CHECKPOINT_KEEP = 3
# Write scalars every N iterations and mask images every M iterations.
_C.SOLVER.LOG_PERIOD = 20
_C.SOLVER.IMAGE_LOG_PERIOD = 1000

# --------------------------------------------------------------------------------------
# Inference and evaluation
# --------------------------------------------------------------------------------------
_C.INFERENCE = CfgNode()
# Number of past frames whose descriptors the decoder attends to (original --temporal_window).
_C.INFERENCE.TEMPORAL_WINDOW = 7
# Shorter side at test time, and the cap on the longer side (original --min_image_dim 512
# gives MAX = round(512 * 864 / 448) = 987 for the static-image config).
_C.INFERENCE.MIN_DIM = 512
_C.INFERENCE.MAX_DIM = 987
# "fp32", "bf16" or "fp16".
_C.INFERENCE.PRECISION = "fp32"
# On a frame where masks are given, output exactly those masks (at the original resolution) for
# the ids given there, and the prediction elsewhere. False = the original's output, which
# re-renders the given masks through the inference resolution (thin parts can change).
_C.INFERENCE.EXACT_GIVEN_MASKS = True

_C.TEST = CfgNode()
# Run the DAVIS evaluator every N training iterations (0 = never) and keep the best J&F.
_C.TEST.EVAL_PERIOD = 0
# Evaluate at most this many videos during training (0 = all).
_C.TEST.MAX_VIDEOS = 0
