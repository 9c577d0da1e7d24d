"""``hodor-self-train``: rounds of pseudo-labelling and self-training, each from the last round's model.

Why a driver and not one long training run: a pseudo-label is only as good as the model that
predicted it, so label-efficient methods (e.g. Two-shot VOS) alternate: predict the unlabelled
frames with the current model, train on ground truth plus the confident predictions, repeat
with the better model. One round here is

1. ``hodor-pseudo-label`` with the current checkpoint over ``PSEUDO_LABEL.SOURCE_DATASET``
   (its labelled frames chosen by ``PSEUDO_LABEL.LABELLED_FRAMES``) into ``<out>/round_<r>/pseudo_labels``;
2. a training run of the config (``TRAINING.MODE self_training``) on ``pseudo:<that folder>``,
   starting from the current checkpoint, into ``<out>/round_<r>/train`` (its ``model_final.pth``
   is the next round's model).

``TRAINING.SELF_TRAINING.ROUNDS`` rounds in all. Running the same command again continues where
it stopped: finished rounds are skipped, pseudo-labels of finished videos are kept, and an
interrupted training run resumes from its last checkpoint. ``<out>/self_training.json`` lists
each round (model in, pseudo-label summary, annotation cost, model out).

    hodor-self-train --config-file configs/quickstart/self_training_r18.yaml \\
        --weights output/quickstart/sparse_video/model_final.pth --out output/self_training \\
        PSEUDO_LABEL.SOURCE_DATASET youtube_vos_2019_train TRAINING.SELF_TRAINING.ROUNDS 2

Under ``torchrun`` every rank runs the driver: pseudo-labelling shards the videos over the ranks
and training is data-parallel, as their own commands are.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from ..config import load_config
from ..training.annotation_cost import ANNOTATION_COST_FILE
from ..utils import comm
from ..utils.cli_args import parse_with_overrides
from ..utils.errors import UserError, run_cli
from ..utils.logger import get_logger, setup_logger
from .pseudo_label import run_pseudo_labelling
from .train import run_training

__all__ = ["STATE_FILE", "RoundPaths", "SelfTrainingError", "round_paths", "run_self_training", "main"]

logger = get_logger(__name__)

STATE_FILE = "self_training.json"
FINAL_MODEL = "model_final.pth"


class SelfTrainingError(UserError, RuntimeError):
    """A round could not run (bad settings, a failed training run); the message says which and why."""


@dataclass(frozen=True)
class RoundPaths:
    """Where round ``index`` (1-based) writes: its pseudo-labels and its training run."""

    index: int
    pseudo_dir: str
    train_dir: str

    @property
    def final_model(self) -> str:
        return os.path.join(self.train_dir, FINAL_MODEL)


def round_paths(out_dir: str, index: int) -> RoundPaths:
    root = os.path.join(os.path.abspath(out_dir), f"round_{index}")
    return RoundPaths(index, os.path.join(root, "pseudo_labels"), os.path.join(root, "train"))


def _read_state(path: str) -> dict[str, Any] | None:
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        raise SelfTrainingError(
            f"{path}: cannot read the self-training state ({exc}); move it aside to start over"
        ) from None


def _write_state(path: str, state: dict[str, Any]) -> None:
    if not comm.is_main_process():
        return
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(state, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, path)


def _annotation_cost(run_dir: str) -> dict[str, Any] | None:
    path = os.path.join(run_dir, ANNOTATION_COST_FILE)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def run_self_training(
    config_file: str,
    weights: str,
    out_dir: str,
    opts: Sequence[str] = (),
    device: str = "cpu",
) -> dict[str, Any]:
    """Run (or continue) ``TRAINING.SELF_TRAINING.ROUNDS`` rounds; returns the state written to
    ``<out_dir>/self_training.json``.

    ``weights``: the model of round 1 (e.g. a sparse-video checkpoint); ``opts``: KEY VALUE
    overrides for the training runs (and the pseudo-labeller's PSEUDO_LABEL.* / DATASETS.ROOT).
    A folder that holds a previous driver run with another config, start model or source
    dataset is refused (the rounds would not be one experiment).
    """
    comm.init_distributed()  # before pseudo-labelling: it shards videos over the ranks
    cfg = load_config(config_file, list(opts))
    if cfg.TRAINING.MODE != "self_training":
        raise SelfTrainingError(
            f"{config_file}: TRAINING.MODE is {cfg.TRAINING.MODE!r}; the rounds train with TRAINING.MODE self_training"
        )
    source = cfg.PSEUDO_LABEL.SOURCE_DATASET
    if not source:
        raise SelfTrainingError(
            "PSEUDO_LABEL.SOURCE_DATASET is empty: name the video dataset to pseudo-label "
            "(e.g. PSEUDO_LABEL.SOURCE_DATASET youtube_vos_2019_train)"
        )
    if not os.path.isfile(weights):
        raise SelfTrainingError(f"--weights {weights}: file not found (the model that starts round 1)")
    out_dir = os.path.abspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    state_path = os.path.join(out_dir, STATE_FILE)
    identity = {
        "config_file": os.path.abspath(config_file),
        "start_weights": os.path.abspath(weights),
        "source_dataset": source,
    }
    state = _read_state(state_path) or {**identity, "rounds": []}
    changed = {k: (state.get(k), v) for k, v in identity.items() if state.get(k) != v}
    if changed:
        what = "; ".join(f"{k}: {old!r} before, {new!r} now" for k, (old, new) in changed.items())
        raise SelfTrainingError(f"{out_dir} holds self-training rounds of another setup ({what}); choose another --out")
    state["rounds_planned"] = int(cfg.TRAINING.SELF_TRAINING.ROUNDS)
    done = {int(r["round"]): r for r in state.get("rounds", [])}

    pseudo_opts = [
        "DATASETS.ROOT",
        cfg.DATASETS.ROOT,
        "PSEUDO_LABEL.LABELLED_FRAMES",
        cfg.PSEUDO_LABEL.LABELLED_FRAMES,
        "PSEUDO_LABEL.CONFIDENCE",
        cfg.PSEUDO_LABEL.CONFIDENCE,
    ]
    current = os.path.abspath(weights)
    for index in range(1, int(cfg.TRAINING.SELF_TRAINING.ROUNDS) + 1):
        paths = round_paths(out_dir, index)
        if index in done and os.path.isfile(paths.final_model):
            logger.info("self-training round %d: already done (%s)", index, paths.final_model)
            current = paths.final_model
            continue
        logger.info("self-training round %d: pseudo-labelling %s with %s", index, source, current)
        summary = run_pseudo_labelling(current, paths.pseudo_dir, dataset=source, opts=pseudo_opts, device=device)
        comm.synchronize()
        train_opts = [
            *opts,
            "OUTPUT_DIR",
            paths.train_dir,
            "MODEL.WEIGHTS",
            current,
            "DATASETS.TRAIN",
            repr([f"pseudo:{paths.pseudo_dir}"]),
            "DATASETS.TRAIN_RATIOS",
            "[1.0]",
        ]
        logger.info("self-training round %d: training into %s", index, paths.train_dir)
        # resume=True: an interrupted round continues from its last checkpoint; a fresh folder
        # starts from MODEL.WEIGHTS (the previous round's model)
        args = SimpleNamespace(config_file=config_file, resume=True, overwrite=False, eval_only=False, opts=train_opts)
        rc = run_training(args)
        if rc != 0:
            raise SelfTrainingError(
                f"self-training round {index}: training failed (exit code {rc}); see {paths.train_dir}/log.txt. "
                "Run the same command again to continue from its last checkpoint."
            )
        if not os.path.isfile(paths.final_model):
            raise SelfTrainingError(
                f"self-training round {index}: training finished but {paths.final_model} is missing"
            )
        entry = {
            "round": index,
            "weights_in": current,
            "pseudo_labels": paths.pseudo_dir,
            "pseudo_label_summary": summary,
            "train_dir": paths.train_dir,
            "weights_out": paths.final_model,
            "annotation_cost": _annotation_cost(paths.train_dir),
        }
        state["rounds"] = [r for r in state.get("rounds", []) if int(r["round"]) != index] + [entry]
        _write_state(state_path, state)
        current = paths.final_model
    state["final_weights"] = current
    _write_state(state_path, state)
    return state


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="hodor-self-train",
        description="Rounds of pseudo-labelling and self-training (see hodor/cli/self_train.py).",
    )
    p.add_argument("--config-file", required=True, help="training config with TRAINING.MODE self_training")
    p.add_argument("--weights", required=True, help="checkpoint that starts round 1 (e.g. a sparse-video model)")
    p.add_argument("--out", required=True, help="folder of the rounds (round_<r>/pseudo_labels, round_<r>/train)")
    p.add_argument("--device", default="cpu", help="device of the pseudo-labeller (training uses the config's DEVICE)")
    return parse_with_overrides(p, argv, pairs=True)


def _main(argv: list[str]) -> int:
    args = _parse(argv)
    setup_logger()
    state = run_self_training(args.config_file, args.weights, args.out, args.opts, device=args.device)
    if comm.is_main_process():
        print(f"self-training: {len(state['rounds'])} round(s); final model {state['final_weights']}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
