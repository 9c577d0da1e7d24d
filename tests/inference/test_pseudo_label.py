"""Pseudo-labelling (hodor.inference.pseudo_label): confidence maths on hand-worked cases, the
labelled-frame rule, forward/backward coverage checked against the streaming predictor run by
hand, fusion, resume, refusal of other settings, and 2 processes writing what 1 writes.

The model is the tiny test architecture with its mask logits scaled x30: random weights give
every pixel to the background once its Qb+1 channels are summed; sharpened, the predictions hold
objects, so the masks and confidences compared here are not all-zero.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from hodor.data.catalog import load_dataset
from hodor.data.io import DataError, read_index_mask
from hodor.data.pseudo_labels import load_pseudo_dataset
from hodor.data.synthetic import make_youtube_vos
from hodor.inference.predictor import VideoPredictor
from hodor.inference.pseudo_label import (
    choose_labelled_frames,
    fb_iou,
    fuse_probs,
    mean_max_prob,
    pseudo_label_dataset,
)
from hodor.utils.palette import save_index_png
from hodor.utils.run_dir import RunDirError

from .conftest import TINY_OPTS

SOURCE = "youtube_vos_2019_train"


def _sharpen(model):
    with torch.no_grad():
        for mod in (model.decoder.instance_query_proj, model.decoder.bg_query_proj):
            mod.weight.mul_(30)
            mod.bias.mul_(30)
        model.decoder.catch_all_conv[-1].weight.mul_(30)
    return model


def _cfg(*opts):
    from hodor.config import load_config

    return load_config(None, [*TINY_OPTS, *opts])


@pytest.fixture(scope="module")
def sharp(tmp_path_factory):
    """(model, checkpoint path) of the sharpened tiny model."""
    from hodor.checkpoint.formats import save_model
    from hodor.modeling import build_model

    torch.manual_seed(0)
    model = _sharpen(build_model(_cfg()).eval())
    path = save_model(model, _cfg(), str(tmp_path_factory.mktemp("ckpt")))
    return model, path


@pytest.fixture(scope="module")
def ds_root(tmp_path_factory):
    """2 synthetic YouTube-VOS train videos of 11 frames, annotated at 0, 5 and 10."""
    root = str(tmp_path_factory.mktemp("datasets"))
    make_youtube_vos(os.path.join(root, "YouTube-VOS"), num_videos=2, num_frames=11, image_size=(48, 64),
                     max_objects=2, seed=1)  # fmt: skip
    return root


def _run(sharp, root, out, *opts, overwrite=False, records=None):
    model, ckpt = sharp
    cfg = _cfg(*opts)
    return pseudo_label_dataset(
        model, cfg, records or load_dataset(SOURCE, root), str(out), source_dataset=SOURCE, datasets_root=root,
        checkpoint=ckpt, overwrite=overwrite, progress=False,
    )  # fmt: skip


# --------------------------------------------------------------------------- hand-worked maths
def test_mean_max_prob_hand_worked():
    # 2x2 pixels; channels: background, object 4, object 9, object 12
    bg = [[0.5, 0.1], [0.2, 0.3]]
    o4 = [[0.3, 0.7], [0.2, 0.6]]
    o9 = [[0.2, 0.1], [0.6, 0.1]]
    o12 = [[0.0, 0.1], [0.0, 0.0]]
    probs = torch.tensor([bg, o4, o9, o12])
    # arg-max per pixel: (0,0) bg 0.5, (0,1) obj 4 0.7, (1,0) obj 9 0.6, (1,1) obj 4 0.6
    # obj 4: mean(0.7, 0.6) = 0.65; obj 9: 0.6; obj 12 never wins: 0
    conf = mean_max_prob(probs, [4, 9, 12])
    assert conf == pytest.approx({4: 0.65, 9: 0.6, 12: 0.0})


def test_fuse_probs_averages_by_object_id():
    # forward tracks object 3 only, backward tracks 3 and 5 (one pixel each)
    fwd = torch.tensor([[[0.6]], [[0.4]]])  # bg, 3
    bwd = torch.tensor([[[0.2]], [[0.3]], [[0.5]]])  # bg, 3, 5
    ids, fused = fuse_probs(([3], fwd), ([3, 5], bwd))
    assert ids == [3, 5]
    # bg (0.6+0.2)/2 = 0.4; obj 3 (0.4+0.3)/2 = 0.35; obj 5 (0+0.5)/2 = 0.25
    assert fused[:, 0, 0].tolist() == pytest.approx([0.4, 0.35, 0.25])


def test_fb_iou_hand_made_masks():
    fwd = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 3]])
    bwd = np.array([[0, 1, 1], [0, 1, 0], [0, 0, 0]])
    # obj 1: fwd 4 px, bwd 3 px, 2 shared -> 2 / 5; obj 2 absent in both -> 1; obj 3 forward only -> 0
    assert fb_iou(fwd, bwd, [1, 2, 3]) == pytest.approx({1: 0.4, 2: 1.0, 3: 0.0})


# --------------------------------------------------------------------------- labelled frames
def test_labelled_frame_rules_and_empty_candidate(ds_root, tmp_path):
    rec = load_dataset(SOURCE, ds_root)[0]
    assert rec.annotated_frames == [0, 5, 10]
    assert choose_labelled_frames(rec, "middle") == [5]
    assert choose_labelled_frames(rec, "first") == [0]
    assert choose_labelled_frames(rec, "all") == [0, 5, 10]
    # the middle frame without any object: the next candidate (distance 5, the earlier first)
    empty = str(tmp_path / "empty.png")
    h, w = rec.frame_size()
    save_index_png(empty, np.zeros((h, w), np.uint8))
    no_middle = dataclasses.replace(rec, annotations={**rec.annotations, 5: empty}, first_frames=None)
    assert choose_labelled_frames(no_middle, "middle") == [0]
    nothing = dataclasses.replace(rec, annotations={5: empty}, first_frames=None)
    assert choose_labelled_frames(nothing, "middle") == []


# --------------------------------------------------------------------------- propagation
def _by_hand(model, rec, order, labelled):
    """{frame: (ids, probs)} of the streaming predictor over ``order`` with the GT of ``labelled``."""
    p = VideoPredictor.from_config(model, _cfg())
    out = {}
    for t in order:
        prompts = None
        if t in labelled:
            m = rec.load_mask(t)
            prompts = {int(i): m == i for i in np.unique(m) if i != 0}
        _, probs = p.step(rec.load_frame(t), prompts, return_probs=True)
        out[t] = (p.object_ids, probs)
    return out


def _on_ids(ids, probs, all_ids):
    """probs over ``ids`` laid out over ``all_ids`` (zeros for an object not tracked)."""
    out = torch.zeros(1 + len(all_ids), *probs.shape[1:])
    out[0] = probs[0]
    for j, i in enumerate(ids):
        out[1 + all_ids.index(i)] = probs[1 + j]
    return out


def _argmax_ids(ids, probs):
    return np.array([0, *ids])[probs.argmax(0).numpy()]


def _mask_mean(ids, probs, index):
    """mean probability of each object over its pixels in ``index`` (0 when it has none)."""
    return {i: float(probs[1 + j][torch.from_numpy(index == i)].mean()) if (index == i).any() else 0.0
            for j, i in enumerate(ids)}  # fmt: skip


def test_middle_frame_forward_after_backward_before(sharp, ds_root, tmp_path):
    out = tmp_path / "pl"
    s = _run(sharp, ds_root, out)
    assert (s.videos, s.videos_done, s.videos_skipped) == (2, 2, 0)
    assert s.frames_pseudo_labelled == 2 * 10 and 0.0 < s.mean_confidence <= 1.0
    source = {r.video_id: r for r in load_dataset(SOURCE, ds_root)}
    pseudo = load_dataset(f"pseudo:{out}", ds_root)
    assert sorted(r.video_id for r in pseudo) == sorted(source)
    rec = pseudo[0]
    src = source[rec.video_id]
    # ground truth only at the labelled frame (frames 0 and 10 of the source must not leak)
    assert sorted(src.annotations) == [0, 5, 10] and sorted(rec.annotations) == [5]
    assert sorted(rec.pseudo_labels) == [0, 1, 2, 3, 4, 6, 7, 8, 9, 10]
    assert not os.path.exists(out / rec.video_id / "00005.png")
    objects = sorted(int(i) for i in np.unique(src.load_mask(5)) if i != 0)
    assert rec.first_frames == {i: 5 for i in objects}
    fwd = _by_hand(sharp[0], src, range(5, 11), {5})
    bwd = _by_hand(sharp[0], src, range(5, -1, -1), {5})
    nonempty = 0
    for t, pl in rec.pseudo_labels.items():
        ids, probs = (fwd if t > 5 else bwd)[t]
        expected = _argmax_ids(ids, probs)
        got = rec.load_pseudo_mask(t)
        np.testing.assert_array_equal(got, expected)
        assert sorted(pl.confidence) == objects
        assert pl.confidence == pytest.approx(_mask_mean(ids, probs, expected), abs=1e-6)
        nonempty += int(got.any())
    assert nonempty >= 8  # the comparison is not between empty masks
    # frames before the labelled one come from the backward pass: a forward-only pass has no
    # object there yet (its output is empty), the pseudo-labels are not
    assert any(rec.load_pseudo_mask(t).any() for t in range(5))


@pytest.mark.slow
def test_all_frames_fuses_both_directions(sharp, ds_root, tmp_path):
    src = load_dataset(SOURCE, ds_root)[1]
    fwd = _by_hand(sharp[0], src, range(0, 11), {0, 5, 10})
    bwd = _by_hand(sharp[0], src, range(10, -1, -1), {0, 5, 10})
    for method in ("mean_max_prob", "fb_iou"):
        out = tmp_path / method
        opts = ("PSEUDO_LABEL.LABELLED_FRAMES", "all", "PSEUDO_LABEL.CONFIDENCE", method)
        _run(sharp, ds_root, out, *opts, records=[src])
        rec = load_pseudo_dataset(str(out), ds_root, allow_incomplete=True)[0]  # the other video is not run
        assert rec.video_id == src.video_id
        assert sorted(rec.annotations) == [0, 5, 10]
        assert sorted(rec.pseudo_labels) == [1, 2, 3, 4, 6, 7, 8, 9]
        for t, pl in rec.pseudo_labels.items():
            (f_ids, f_p), (b_ids, b_p) = fwd[t], bwd[t]
            ids = sorted(set(f_ids) | set(b_ids))  # an object starting at frame 5 is backward-only before it
            f_p, b_p = _on_ids(f_ids, f_p, ids), _on_ids(b_ids, b_p, ids)
            fused = 0.5 * (f_p + b_p)
            expected = _argmax_ids(ids, fused)
            np.testing.assert_array_equal(rec.load_pseudo_mask(t), expected)
            if method == "mean_max_prob":
                want = _mask_mean(ids, fused, expected)
            else:
                fm, bm = _argmax_ids(ids, f_p), _argmax_ids(ids, b_p)
                want = {
                    i: ((fm == i) & (bm == i)).sum() / ((fm == i) | (bm == i)).sum() if ((fm == i) | (bm == i)).any()
                    else 1.0
                    for i in ids
                }  # fmt: skip
            assert pl.confidence == pytest.approx(want, abs=1e-6)


# --------------------------------------------------------------------------- resume / refusal
def test_resume_recomputes_only_the_unfinished_video(sharp, ds_root, tmp_path):
    out = tmp_path / "pl"
    _run(sharp, ds_root, out)
    videos = sorted(d for d in os.listdir(out) if os.path.isdir(out / d))
    assert len(videos) == 2
    stamps = {v: os.stat(out / v / "labels.json").st_mtime_ns for v in videos}
    png_stamps = {v: os.stat(out / v / "00000.png").st_mtime_ns for v in videos}
    os.remove(out / videos[1] / "labels.json")
    s = _run(sharp, ds_root, out)
    assert (s.videos_done, s.videos_skipped, s.frames_pseudo_labelled) == (1, 1, 20)
    for v in (videos[0],):
        assert os.stat(out / v / "labels.json").st_mtime_ns == stamps[v]
        assert os.stat(out / v / "00000.png").st_mtime_ns == png_stamps[v]
    assert os.path.isfile(out / videos[1] / "labels.json")
    assert os.stat(out / videos[1] / "00000.png").st_mtime_ns != png_stamps[videos[1]]
    assert len(load_dataset(f"pseudo:{out}", ds_root)) == 2

    # other settings into the same folder: refused, nothing touched; --overwrite recomputes all
    with pytest.raises(RunDirError, match="confidence: 'mean_max_prob' -> 'fb_iou'"):
        _run(sharp, ds_root, out, "PSEUDO_LABEL.CONFIDENCE", "fb_iou")
    with pytest.raises(RunDirError, match="labelled_frames"):
        _run(sharp, ds_root, out, "PSEUDO_LABEL.LABELLED_FRAMES", "first")
    assert json.load(open(out / "pseudo_labels.json"))["confidence"] == "mean_max_prob"
    s = _run(sharp, ds_root, out, "PSEUDO_LABEL.LABELLED_FRAMES", "first", overwrite=True)
    assert (s.videos_done, s.videos_skipped) == (2, 0)
    rec = load_dataset(f"pseudo:{out}", ds_root)[0]
    assert sorted(rec.annotations) == [0] and sorted(rec.pseudo_labels) == list(range(1, 11))
    assert not os.path.exists(out / rec.video_id / "00000.png")  # the earlier run's PNG of frame 0 is gone


def test_crash_mid_run_is_recognisable_and_resumes(sharp, ds_root, tmp_path):
    out = tmp_path / "pl"
    recs = load_dataset(SOURCE, ds_root)
    paths = list(recs[1].frame_paths)
    paths[8] = str(tmp_path / "missing.jpg")  # video 2 fails in its forward pass, after some PNGs
    broken = [recs[0], dataclasses.replace(recs[1], frame_paths=paths)]
    with pytest.raises(DataError, match="missing.jpg"):
        _run(sharp, ds_root, out, records=broken)
    assert json.load(open(out / "pseudo_labels.json"))["format"] == "hodor-pseudo-labels"
    assert os.path.isfile(out / recs[0].video_id / "labels.json")
    assert not os.path.exists(out / recs[1].video_id / "labels.json")
    assert os.path.isfile(out / recs[1].video_id / "00004.png")  # partial output of the failed video
    with pytest.raises(DataError, match=f"1 of 2 videos .*: {recs[1].video_id}"):
        load_dataset(f"pseudo:{out}", ds_root)
    s = _run(sharp, ds_root, out)
    assert (s.videos_done, s.videos_skipped) == (1, 1)
    assert sorted(r.video_id for r in load_dataset(f"pseudo:{out}", ds_root)) == sorted(r.video_id for r in recs)


def test_foreign_folder_and_other_checkpoint_refused(sharp, ds_root, tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(RunDirError, match="not empty"):
        _run(sharp, ds_root, foreign)
    out = tmp_path / "pl"
    _run(sharp, ds_root, out)
    from hodor.checkpoint.formats import save_model
    from hodor.modeling import build_model

    torch.manual_seed(1)
    other = save_model(build_model(_cfg()).eval(), _cfg(), str(tmp_path / "other"))
    cfg = _cfg()
    with pytest.raises(RunDirError, match="checkpoint_sha256"):
        pseudo_label_dataset(sharp[0], cfg, load_dataset(SOURCE, ds_root), str(out), source_dataset=SOURCE,
                             datasets_root=ds_root, checkpoint=other, progress=False)  # fmt: skip


# --------------------------------------------------------------------------- distributed
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, root: str, ckpt: str, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank)
    )
    torch.set_num_threads(1)
    from hodor.checkpoint.loading import load_model_weights
    from hodor.modeling import build_model
    from hodor.utils import comm

    assert comm.init_distributed(backend="gloo")
    model = build_model(_cfg()).eval()
    load_model_weights(model, ckpt)
    s = pseudo_label_dataset(model, _cfg(), load_dataset(SOURCE, root), out, source_dataset=SOURCE,
                             datasets_root=root, checkpoint=ckpt, progress=False)  # fmt: skip
    torch.save(s.as_dict(), os.path.join(os.path.dirname(out), f"rank{rank}.pt"))
    torch.distributed.destroy_process_group()


def _tree(folder):
    """{relative path: content} with PNGs decoded and JSON parsed."""
    out = {}
    for dirpath, _, files in os.walk(folder):
        for f in files:
            p = os.path.join(dirpath, f)
            rel = os.path.relpath(p, folder)
            out[rel] = read_index_mask(p).tolist() if f.endswith(".png") else json.load(open(p))
    return out


@pytest.mark.slow
def test_two_processes_write_what_one_writes(sharp, ds_root, tmp_path):
    one = tmp_path / "one"
    single = _run(sharp, ds_root, one)
    (tmp_path / "two").mkdir()
    two = tmp_path / "two" / "pl"
    mp.spawn(_worker, args=(2, _free_port(), ds_root, sharp[1], str(two)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "two" / "rank0.pt", weights_only=False)
    r1 = torch.load(tmp_path / "two" / "rank1.pt", weights_only=False)
    assert r0["world_size"] == 2 and r0["videos_done"] == 2  # both shards counted, on every rank
    assert r1["frames_pseudo_labelled"] == single.frames_pseudo_labelled
    assert r0["mean_confidence"] == pytest.approx(single.mean_confidence)
    a, b = _tree(one), _tree(two)
    assert sorted(a) == sorted(b) and len(a) == 1 + 2 * 11
    for k in a:
        if k.endswith("labels.json") and "frames" in a[k]:  # confidences: equal up to float summation order
            fa, fb = a[k].pop("frames"), b[k].pop("frames")
            assert fa.keys() == fb.keys() and all(fa[t] == pytest.approx(fb[t], abs=1e-5) for t in fa), k
        assert a[k] == b[k], k
