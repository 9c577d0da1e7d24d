"""The self-training regime on the real tiny model: which predictions it supervises and with what
weight, gradients from pseudo-labelled frames only when enabled, equality with the sparse and
dense losses where it must reduce to them, and a resumable end-to-end run."""

from __future__ import annotations

import json
import os
import uuid
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from hodor.data.catalog import register_dataset
from hodor.modeling import build_model
from hodor.structures.batch import LABEL_GT, LABEL_NONE, LABEL_PSEUDO, collate_clips
from hodor.training.modes import build_regime, get_mode
from hodor.training.regimes import SelfTrainingRegime
from tests.helpers import QUICK, ClipStream, tiny_cfg
from tests.pseudo_videos import VideoSpec, write_videos

SMALL = ["INPUT.MIN_DIM", "64", "INPUT.MAX_DIM", "64", "TRAINING.MAX_CLIP_DELTA", "2"]
# every non-reference frame confidently pseudo-labelled
CONFIDENT = {"p": VideoSpec(8, gt=(3,), confidence={f: {1: 0.9, 2: 0.9} for f in range(8) if f != 3})}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    torch.manual_seed(0)
    return build_model(
        tiny_cfg(tmp_path_factory.mktemp("m"), "MODEL.ENCODER.DROPOUT", "0.0", "MODEL.DECODER.DROPOUT", "0.0")
    )


def _cfg(tmp_path, *opts):
    return tiny_cfg(tmp_path, "TRAINING.MODE", "self_training", *SMALL, *opts)


def test_weights_follow_label_source(tmp_path, model):
    """Hand table: frame 0 -> CYCLE_WEIGHT, ground truth -> 1, pseudo -> PSEUDO_WEIGHT x confidence, none -> unsupervised."""
    batch = ClipStream(2, seed=3).make(0)  # two samples, 1 and 2 objects: two groups
    batch.label_source = torch.tensor([[LABEL_GT, LABEL_PSEUDO, LABEL_NONE], [LABEL_GT, LABEL_GT, LABEL_PSEUDO]])
    batch.label_source = batch.label_source.to(torch.int8)
    batch.label_confidence = torch.tensor([[1.0, 0.8, 0.0], [1.0, 1.0, 0.6]])
    batch.mask_valid[0, 2] = False
    batch.masks[0, 2] = 0
    # WEIGHT_BY_CONFIDENCE -> per sample: target frame -> weight (CYCLE_WEIGHT 0.5, PSEUDO_WEIGHT 0.3)
    expected = {
        True: [{0: 0.5, 1: 0.3 * 0.8}, {0: 0.5, 1: 1.0, 2: 0.3 * 0.6}],
        False: [{0: 0.5, 1: 0.3}, {0: 0.5, 1: 1.0, 2: 0.3}],
    }
    for by_conf in (True, False):
        cfg = _cfg(
            tmp_path,
            "TRAINING.SELF_TRAINING.CYCLE_WEIGHT", "0.5",
            "TRAINING.SELF_TRAINING.PSEUDO_WEIGHT", "0.3",
            "TRAINING.SELF_TRAINING.WEIGHT_BY_CONFIDENCE", str(by_conf),
        )  # fmt: skip
        regime = build_regime(cfg)
        assert isinstance(regime, SelfTrainingRegime)
        with torch.no_grad():
            out = regime(model, batch, iteration=1)
        for g in out.groups:
            (i,) = g.sample_index.tolist()
            table = expected[by_conf][i]
            sup = [p for p in g.predictions if p.supervised]
            assert len(g.predictions) == 6
            assert {p.step.tgt for p in sup} == set(table)  # sample 0: frame 2 has no label
            got = g.weights[0].tolist()
            assert got == pytest.approx([table[p.step.tgt] for p in sup])
            for p in g.predictions:
                if not p.supervised:
                    assert bool((p.target == -1).all())
        assert torch.isfinite(out.total_loss)


def _clip_batch(cfg, record, seed=0):
    mapper = get_mode(cfg).build_mapper(cfg)
    return collate_clips([mapper(record, np.random.default_rng(seed))])


def _grad_norm(model) -> float:
    return sum(float(p.grad.abs().sum()) for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("use_pseudo", [False, True])
def test_pseudo_frames_give_gradient_only_when_enabled(tmp_path, model, use_pseudo):
    """CYCLE_WEIGHT 0: the reference returns weigh nothing, so any gradient comes from the
    pseudo-labelled frames (the clip's other frames have no ground truth)."""
    (record,) = write_videos(str(tmp_path / "d"), CONFIDENT)
    cfg = _cfg(
        tmp_path,
        "TRAINING.SELF_TRAINING.CYCLE_WEIGHT",
        "0.0",
        "TRAINING.SELF_TRAINING.USE_PSEUDO_LABELS",
        str(use_pseudo),
    )
    batch = _clip_batch(cfg, record)
    assert batch.label_source[0].tolist() == [LABEL_GT] + [LABEL_PSEUDO if use_pseudo else LABEL_NONE] * 2
    model.zero_grad(set_to_none=True)
    out = build_regime(cfg)(model, batch, iteration=1)
    out.total_loss.backward()
    loss = float(out.total_loss.detach())
    sup = [p for g in out.groups for p in g.predictions if p.supervised]
    if use_pseudo:
        assert sup and all(p.step.tgt != 0 for p in sup)
        assert loss > 0 and _grad_norm(model) > 0
    else:
        assert not sup and loss == 0.0 and _grad_norm(model) == 0.0


@pytest.mark.parametrize("use_pseudo", [False, True])
def test_changing_the_pseudo_mask_changes_the_loss_only_when_enabled(tmp_path, model, use_pseudo):
    a = write_videos(str(tmp_path / "a"), CONFIDENT, pseudo_dx=6)[0]
    b = write_videos(str(tmp_path / "b"), CONFIDENT, pseudo_dx=-4)[0]  # same frames, other pseudo masks
    cfg = _cfg(tmp_path, "TRAINING.SELF_TRAINING.USE_PSEUDO_LABELS", str(use_pseudo))
    regime = build_regime(cfg)
    with torch.no_grad():
        la, lb = (float(regime(model, _clip_batch(cfg, r), iteration=1).total_loss) for r in (a, b))
    assert (la != lb) is use_pseudo


def test_low_confidence_frame_is_unlabelled(tmp_path, model):
    low = {"p": VideoSpec(8, gt=(3,), confidence={f: {1: 0.9, 2: 0.69} for f in range(8) if f != 3})}
    (record,) = write_videos(str(tmp_path / "d"), low)
    cfg = _cfg(tmp_path, "TRAINING.SELF_TRAINING.CYCLE_WEIGHT", "0.0")
    batch = _clip_batch(cfg, record)
    assert batch.label_source[0].tolist() == [LABEL_GT, LABEL_NONE, LABEL_NONE]
    with torch.no_grad():
        out = build_regime(cfg)(model, batch, iteration=1)
    assert not [p for g in out.groups for p in g.predictions if p.supervised]


@pytest.mark.parametrize("sparse,other", [(True, "sparse_video"), (False, "dense_video")])
def test_reduces_to_sparse_and_dense_losses(tmp_path, model, sparse, other):
    """Without pseudo-labels and with CYCLE_WEIGHT 1 (batches without label sources: valid frames
    are ground truth), self-training is the sparse loss on sparse clips and the dense loss on
    dense clips, bit for bit."""
    batch = ClipStream(2, seed=4, sparse=sparse).make(1)
    st = build_regime(_cfg(tmp_path, "TRAINING.SELF_TRAINING.USE_PSEUDO_LABELS", "False"))
    ref = build_regime(tiny_cfg(tmp_path, "TRAINING.MODE", other))
    with torch.no_grad():
        a, b = st(model, batch, iteration=1), ref(model, batch, iteration=1)
    assert set(a.losses) == set(b.losses)
    for k in a.losses:
        assert torch.equal(a.losses[k], b.losses[k]), k


# ----------------------------------------------------------------------------- end to end
E2E = {
    "p": VideoSpec(8, gt=(3,), confidence={f: {1: 0.9, 2: 0.9} for f in range(8) if f != 3}),
    "q": VideoSpec(6, gt=(2,), confidence={f: {1: 0.8, 2: 0.95} for f in range(6) if f != 2}),
}


def _train(out, dataset, max_iter, resume):
    from hodor.cli.train import run_training

    opts = ["OUTPUT_DIR", str(out), "TRAINING.MODE", "self_training", "DATASETS.TRAIN", f"['{dataset}']"]
    opts += [
        "DATASETS.TRAIN_RATIOS",
        "[1.0]",
        *SMALL,
        "SOLVER.MAX_ITER",
        str(max_iter),
        "SOLVER.CHECKPOINT_PERIOD",
        "1",
    ]
    args = SimpleNamespace(
        config_file=os.path.join(QUICK, "Base-quick.yaml"), resume=resume, overwrite=False, eval_only=False, opts=opts
    )
    assert run_training(args) == 0
    with open(os.path.join(out, "metrics.json")) as fh:
        return {row["iteration"]: row["loss"] for row in map(json.loads, fh)}


@pytest.mark.slow
def test_run_training_and_resume(tmp_path):
    records = write_videos(str(tmp_path / "data"), E2E)
    dataset = f"pseudo_e2e_{uuid.uuid4().hex[:8]}"
    register_dataset(dataset, "video", lambda root: list(records))
    full = _train(tmp_path / "full", dataset, 2, False)
    assert sorted(full) == [1, 2] and all(np.isfinite(v) for v in full.values())
    # 1 iteration, then a fresh process-like run resumes from its checkpoint
    _train(tmp_path / "split", dataset, 1, False)
    split = _train(tmp_path / "split", dataset, 2, True)
    assert split == full  # the following losses are those of the uninterrupted run
    a = torch.load(tmp_path / "full" / "model_final.pth", weights_only=True)["model"]
    b = torch.load(tmp_path / "split" / "model_final.pth", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    # annotation cost: refs 3 and 2; windows (MAX_CLIP_DELTA 2) p [1,2,4,5], q [0,1,3,4], all confident
    with open(tmp_path / "full" / "annotation_cost.json") as fh:
        cost = json.load(fh)
    assert cost["mode"] == "self_training"
    assert cost["labelled_video_frames"] == 2 and cost["pseudo_labelled_frames"] == 8
