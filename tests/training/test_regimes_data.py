"""One training step of each video regime through the real data pipeline on synthetic datasets."""

import json

import pytest
import torch

from hodor.checkpoint.identity import checkpoint_info
from hodor.engine.setup import default_setup
from hodor.training.build import build_trainer
from tests.helpers import tiny_cfg


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    from hodor.data.synthetic import make_all

    root = tmp_path_factory.mktemp("synthetic")
    make_all(str(root), preset="tiny", layouts=("davis", "ytvos"))
    return str(root)


@pytest.mark.slow
@pytest.mark.parametrize("config,supervised", [("dense_video_tiny.yaml", 6), ("sparse_video_tiny.yaml", 3)])
def test_video_regime_trains_on_synthetic_data(data_root, tmp_path, config, supervised):
    cfg = tiny_cfg(
        tmp_path, "DATASETS.ROOT", data_root, "SOLVER.MAX_ITER", "1", "SOLVER.IMS_PER_BATCH", "1", config=config
    )
    default_setup(cfg)
    trainer = build_trainer(cfg, progress_bar=False)
    assert trainer.data is not None  # the loader's resumable state is checkpointed
    trainer.train()
    out = trainer.last_output
    assert all(g.pred_logits.shape[2] == supervised for g in out.groups)
    assert torch.isfinite(out.total_loss) and trainer.nonfinite_total == 0
    data = torch.load(tmp_path / "model_final.pth", weights_only=True)
    assert data["sampler"][0]["position"] == 1 and data["iteration"] == 1
    # the run's annotation cost: in the checkpoint, in OUTPUT_DIR, and read back by evaluation
    with open(tmp_path / "annotation_cost.json") as f:
        cost = json.load(f)
    assert data["training_metadata"]["annotation_cost"] == cost
    assert cost["mode"] == cfg.TRAINING.MODE and cost["labelled_video_frames"] > 0 and cost["labelled_images"] == 0
    assert checkpoint_info(str(tmp_path / "model_final.pth"))["annotation_cost"] == cost
