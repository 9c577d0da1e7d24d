"""The dense-video sample plan's candidates computed by 2 processes (each decodes every 2nd video,
then the shares are gathered) equal the single-process list, and a bad mask in one rank's share
stops every rank with an error naming the file instead of leaving the others waiting."""

import os
import pickle
import shutil
import socket

import pytest
import torch
import torch.multiprocessing as mp

from tests.data.conftest import SMALL


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cfg(root: str):
    from hodor.config import load_config

    return load_config(
        None,
        ["DATASETS.ROOT", root, "DATASETS.TRAIN", "['youtube_vos_2019_train']", "TRAINING.MODE", "dense_video",
         "TRAINING.NUM_INSTANCES", "2", *SMALL],
    )  # fmt: skip


def _candidates(root: str) -> list:
    from hodor.data import load_dataset
    from hodor.data.build import shared_video_candidates
    from hodor.training.modes import get_mode

    cfg = _cfg(root)
    records = [r for r in load_dataset("youtube_vos_2019_train", root) if r.annotated_frames]
    return shared_video_candidates(records, get_mode(cfg).build_mapper(cfg), "youtube_vos_2019_train")


def _worker(rank: int, world: int, port: int, root: str, out: str) -> None:
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        result = ("ok", _candidates(root))
    except Exception as e:  # noqa: BLE001 - recorded for the test to inspect
        result = (type(e).__name__, str(e))
    finally:
        torch.distributed.destroy_process_group()
    with open(os.path.join(out, f"rank{rank}.pkl"), "wb") as fh:
        pickle.dump(result, fh)


@pytest.fixture(scope="module")
def ytvos_root(tmp_path_factory) -> str:
    """5 small YouTube-VOS-layout videos: an odd count, so the two shares differ in size."""
    from hodor.data.synthetic import make_youtube_vos

    root = tmp_path_factory.mktemp("ytvos5")
    make_youtube_vos(str(root / "YouTube-VOS"), num_videos=5, num_frames=20, image_size=(64, 96), seed=3)
    return str(root)


def _run_two(root: str, out: str) -> list:
    mp.spawn(_worker, args=(2, _free_port(), root, out), nprocs=2, join=True)
    results = []
    for r in range(2):
        with open(os.path.join(out, f"rank{r}.pkl"), "rb") as fh:
            results.append(pickle.load(fh))  # written by this test's own workers
    return results


@pytest.mark.slow
def test_two_ranks_share_the_decoding_and_get_the_single_process_list(ytvos_root, tmp_path):
    single = _candidates(ytvos_root)  # not distributed: every video decoded here
    assert len({c.item for c in single}) == 5  # every video has a candidate, from both shares
    results = _run_two(ytvos_root, str(tmp_path))
    for status, cands in results:
        assert status == "ok"
        assert cands == single


@pytest.mark.slow
def test_a_bad_mask_in_one_share_stops_every_rank(ytvos_root, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(os.path.join(ytvos_root, "YouTube-VOS"), root / "YouTube-VOS")
    ann = root / "YouTube-VOS" / "train" / "Annotations"
    second = sorted(os.listdir(ann))[1]  # video index 1: rank 1's share
    bad = ann / second / sorted(os.listdir(ann / second))[0]
    bad.write_bytes(b"not a png")
    results = _run_two(str(root), str(tmp_path))
    assert results[1][0] == "DataError" and str(bad) in results[1][1]
    assert results[0][0] == "DataError" and "rank 1" in results[0][1] and str(bad) in results[0][1]
