#!/usr/bin/env python
"""The quick-start job: see hodor learn, end to end, on CPU with no downloads.

1. generate the synthetic datasets (COCO layout for training, DAVIS layout for held-out
   evaluation videos, YouTube-VOS layout for sparse-video fine-tuning);
2. train the **static-image** regime (pseudo-clips from single images) with a small model;
3. evaluate on the held-out DAVIS-layout videos with hodor's DAVIS evaluator, next to the
   trivial baseline that copies the first-frame mask to every frame;
4. fine-tune with the **sparse-video** regime (one annotated frame per video, cycle
   consistency) and evaluate again;
5. **self-training**: one round of pseudo-labelling the unlabelled training-video frames with the
   sparse-video model (``hodor-pseudo-label``), then training on the same labelled frames plus the
   confident pseudo-labels (``TRAINING.MODE self_training``, ``hodor-self-train``); evaluate again;
6. write overlay videos of a few held-out sequences and ``results.md`` with the tables.

    python tools/quickstart.py --out output/quickstart --seed 0
    python tools/quickstart.py --fast          # a few iterations on tiny data (used by the tests)

Everything lands under ``--out``: ``data/``, ``static_image/``, ``sparse_video/`` and
``self_training/round_1/{pseudo_labels,train}`` (checkpoints,
TensorBoard logs in ``tb/`` with mask images, metrics.json, log.txt), ``eval_*/`` (predicted
PNGs and the official-format CSVs), ``videos/*.mp4`` and ``results.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from types import SimpleNamespace

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATIC_CFG = os.path.join(REPO, "configs", "quickstart", "static_image_r18.yaml")
SPARSE_CFG = os.path.join(REPO, "configs", "quickstart", "sparse_video_r18.yaml")
SELF_CFG = os.path.join(REPO, "configs", "quickstart", "self_training_r18.yaml")
# --fast: the same pipeline, shortened to a smoke test (seconds, not minutes).
FAST_OPTS = [
    "SOLVER.MAX_ITER",
    "2",
    "SOLVER.CHECKPOINT_PERIOD",
    "1",
    "SOLVER.LOG_PERIOD",
    "1",
    "SOLVER.IMAGE_LOG_PERIOD",
    "1",
    # a 2-iteration model is confident about nothing: keep every pseudo-label so that the smoke
    # test still trains on them (only the self-training stage reads this key)
    "TRAINING.SELF_TRAINING.MIN_CONFIDENCE",
    "0.0",
]
METRICS = ["J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", default=os.path.join(REPO, "output", "quickstart"), help="output directory")
    p.add_argument("--seed", type=int, default=0, help="seed for data generation and training")
    p.add_argument("--fast", action="store_true", help="tiny data and 2 iterations per stage (smoke test)")
    p.add_argument("--skip-sparse", action="store_true", help="stop after static-image training and evaluation")
    p.add_argument(
        "--skip-self-training", action="store_true", help="stop after sparse-video fine-tuning and evaluation"
    )
    p.add_argument("--num-videos", type=int, default=3, help="overlay videos to write")
    p.add_argument("opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE overrides for both training stages")
    return p.parse_args(argv)


def generate_data(root: str, preset: str, seed: int) -> dict:
    """Write the synthetic datasets once; reuse them when the same preset/seed is already there."""
    from hodor.data.synthetic import make_all

    stamp = os.path.join(root, "SYNTHETIC.json")
    if os.path.isfile(stamp):
        with open(stamp) as fh:
            meta = json.load(fh)
        if meta.get("preset") == preset and meta.get("seed") == seed:
            print(f"[quickstart] reusing synthetic data in {root}")
            return meta
        shutil.rmtree(root)
    return make_all(root, preset=preset, seed=seed)


def train(config_file: str, out_dir: str, opts: list[str]) -> str:
    """Train one stage in this process; returns the final checkpoint path."""
    from hodor.cli.train import run_training

    # overwrite: a re-run moves the previous stage's run aside (OUTPUT_DIR.old-<time>) instead of failing
    args = SimpleNamespace(
        config_file=config_file, resume=False, overwrite=True, eval_only=False, opts=["OUTPUT_DIR", out_dir] + opts
    )
    rc = run_training(args)
    if rc != 0:
        raise SystemExit(f"[quickstart] training with {config_file} failed (exit code {rc}); see {out_dir}/log.txt")
    final = os.path.join(out_dir, "model_final.pth")
    if not os.path.isfile(final):
        raise SystemExit(f"[quickstart] training finished but {final} is missing")
    return final


def predict_and_evaluate(config_file: str, weights: str, davis_root: str, out_dir: str, opts: list[str]):
    """Run the streaming predictor over the held-out videos and score them like the official toolkit."""
    from hodor.config import load_config
    from hodor.evaluation import evaluate_davis, write_csvs
    from hodor.inference.model_loading import build_inference_model
    from hodor.inference.run_dataset import run_dataset

    cfg = load_config(config_file, opts + ["MODEL.WEIGHTS", weights])
    model = build_inference_model(cfg, "cpu")
    results_dir = os.path.join(out_dir, "results")
    if os.path.isdir(results_dir):
        shutil.rmtree(results_dir)
    run_dataset(model, cfg, davis_root, results_dir, split="val", progress=False)
    res = evaluate_davis(davis_root, results_dir, split="val")
    write_csvs(res, out_dir)
    return res, results_dir


def copy_first_frame_baseline(davis_root: str, out_dir: str):
    """The trivial baseline: the first-frame ground truth pasted onto every frame."""
    from hodor.data.davis import load_davis_folder
    from hodor.evaluation import evaluate_davis, save_index_png, write_csvs

    results_dir = os.path.join(out_dir, "results")
    for rec in load_davis_folder(davis_root, "val"):
        first = rec.load_mask(0)
        for name in rec.frame_names:
            save_index_png(os.path.join(results_dir, rec.video_id, name + ".png"), first)
    res = evaluate_davis(davis_root, results_dir, split="val")
    write_csvs(res, out_dir)
    return res


def write_overlays(davis_root: str, results_dir: str, video_dir: str, num: int) -> list[str]:
    """Side by side: ground truth | prediction, as mp4, for the first ``num`` held-out videos."""
    from hodor.data.davis import load_davis_folder
    from hodor.evaluation import read_index_png
    from hodor.inference.video_io import OverlayVideoWriter, overlay

    written = []
    for rec in load_davis_folder(davis_root, "val")[:num]:
        path = os.path.join(video_dir, f"{rec.video_id}.mp4")
        writer = None
        for i, name in enumerate(rec.frame_names):
            img = rec.load_frame(i)
            pred = read_index_png(os.path.join(results_dir, rec.video_id, name + ".png"))
            panel = np.concatenate(
                [
                    overlay(img, rec.load_mask(i), title=f"ground truth  frame {i}", label_ids=True),
                    overlay(img, pred, title="prediction", label_ids=True),
                ],
                axis=1,
            )
            if writer is None:
                writer = OverlayVideoWriter(path, fps=4, frame_hw=panel.shape[:2])
            writer.write(panel)
        if writer is not None:
            writer.close()
            written.append(path)
    return written


def stage_cost(run_dir: str) -> dict:
    """A training stage's annotation_cost.json (labelled images / video frames, pseudo-labelled frames)."""
    from hodor.training.annotation_cost import ANNOTATION_COST_FILE

    with open(os.path.join(run_dir, ANNOTATION_COST_FILE), encoding="utf-8") as fh:
        return json.load(fh)


def stage_labels(run_dir: str) -> int:
    """Labels a training stage used (labelled images + labelled video frames), from its annotation_cost.json."""
    from hodor.training.annotation_cost import labels_used

    return labels_used(stage_cost(run_dir))


def self_training(weights: str, out_dir: str, opts: list[str]) -> str:
    """One round of pseudo-labelling + self-training from ``weights``; returns the round's final checkpoint."""
    from hodor.cli.self_train import run_self_training

    if os.path.isdir(out_dir):  # a re-run starts the stage over, as train() does with overwrite
        shutil.rmtree(out_dir)
    state = run_self_training(SELF_CFG, weights, out_dir, opts)
    return state["final_weights"]


def table(
    rows: list[tuple[str, dict]], labels: dict[str, int] | None = None, pseudo: dict[str, int] | None = None
) -> str:
    """Markdown table; ``labels``: row name -> ground-truth labels used in training (cumulative
    over stages); ``pseudo``: row name -> pseudo-labelled frames used."""
    labels, pseudo = labels or {}, pseudo or {}
    head = (
        "| method | labels used | pseudo-labels | "
        + " | ".join(METRICS)
        + " |\n|---|---|---|"
        + "---|" * len(METRICS)
        + "\n"
    )
    return head + "".join(
        f"| {name} | {labels.get(name, '')} | {pseudo.get(name, 0)} | "
        + " | ".join(f"{m[k]:.3f}" for k in METRICS)
        + " |\n"
        for name, m in rows
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    t_start = time.time()
    times: dict[str, float] = {}

    def lap(name: str, t0: float) -> None:
        times[name] = time.time() - t0
        print(f"[quickstart] {name}: {times[name]:.0f} s (total {time.time() - t_start:.0f} s)", flush=True)

    preset = "tiny" if args.fast else "quickstart"
    data = os.path.join(out, "data")
    t0 = time.time()
    generate_data(data, preset, args.seed)
    lap("data generation", t0)
    davis_root = os.path.join(data, "DAVIS")
    common = ["DATASETS.ROOT", data, "SEED", str(args.seed)] + (FAST_OPTS if args.fast else []) + list(args.opts)
    # evaluation only needs the architecture/inference keys; training keys are harmless
    eval_opts = ["DATASETS.ROOT", data]

    t0 = time.time()
    baseline = copy_first_frame_baseline(davis_root, os.path.join(out, "eval_baseline_copy_first_frame"))
    lap("baseline", t0)

    t0 = time.time()
    static_w = train(STATIC_CFG, os.path.join(out, "static_image"), common)
    lap("static-image training", t0)
    t0 = time.time()
    static_res, static_pred = predict_and_evaluate(
        STATIC_CFG, static_w, davis_root, os.path.join(out, "eval_static_image"), eval_opts
    )
    lap("static-image evaluation", t0)
    rows = [
        ("copy first-frame mask (baseline)", baseline.global_metrics()),
        ("static-image training", static_res.global_metrics()),
    ]
    # training labels behind each row (the fine-tuned row also used the static stage's images)
    labels = {rows[0][0]: 0, rows[1][0]: stage_labels(os.path.join(out, "static_image"))}

    best_pred = static_pred
    if not args.skip_sparse:
        t0 = time.time()
        sparse_w = train(SPARSE_CFG, os.path.join(out, "sparse_video"), common + ["MODEL.WEIGHTS", static_w])
        lap("sparse-video fine-tuning", t0)
        t0 = time.time()
        sparse_res, sparse_pred = predict_and_evaluate(
            SPARSE_CFG, sparse_w, davis_root, os.path.join(out, "eval_sparse_video"), eval_opts
        )
        lap("sparse-video evaluation", t0)
        rows.append(("+ sparse-video fine-tuning", sparse_res.global_metrics()))
        labels[rows[-1][0]] = labels[rows[1][0]] + stage_labels(os.path.join(out, "sparse_video"))
        best_pred = sparse_pred

    pseudo: dict[str, int] = {}
    if not args.skip_sparse and not args.skip_self_training:
        t0 = time.time()
        self_dir = os.path.join(out, "self_training")
        self_w = self_training(sparse_w, self_dir, common)
        lap("pseudo-labelling + self-training", t0)
        t0 = time.time()
        self_res, self_pred = predict_and_evaluate(
            SELF_CFG, self_w, davis_root, os.path.join(out, "eval_self_training"), eval_opts
        )
        lap("self-training evaluation", t0)
        rows.append(("+ self-training (1 pseudo-label round)", self_res.global_metrics()))
        cost = stage_cost(os.path.dirname(self_w))
        sparse_cost = stage_cost(os.path.join(out, "sparse_video"))
        # The pseudo-labeller's labelled frames follow the sparse stage's rule (the middle annotated
        # frame of each training video: PSEUDO_LABEL.LABELLED_FRAMES = TRAINING.SPARSE_REF_FRAME), so
        # its ground-truth frames are the sparse stage's: only a different count would add labels.
        extra = cost["labelled_video_frames"] - sparse_cost["labelled_video_frames"]
        labels[rows[-1][0]] = labels[rows[-2][0]] + max(extra, 0) + int(cost.get("labelled_images", 0))
        pseudo[rows[-1][0]] = int(cost["pseudo_labelled_frames"])
        best_pred = self_pred

    t0 = time.time()
    videos = write_overlays(davis_root, best_pred, os.path.join(out, "videos"), args.num_videos)
    lap("overlay videos", t0)

    total = time.time() - t_start
    text = table(rows, labels, pseudo)
    report = [
        "# hodor quick start results",
        "",
        f"Held-out synthetic DAVIS-layout videos ({davis_root}), scored with hodor's DAVIS evaluator",
        f"(official davis2017-evaluation protocol). Seed {args.seed}, preset `{preset}`.",
        "labels used: ground-truth labels seen in training (labelled images + labelled video frames,",
        "cumulative over the stages; per dataset in each stage's annotation_cost.json); pseudo-labels:",
        "model-predicted frames the self-training stage could train on (not annotations).",
        "",
        text,
        "Wall time per stage (s): " + ", ".join(f"{k} {v:.0f}" for k, v in times.items()) + f"; total {total:.0f}.",
        "",
        "Overlay videos (left: ground truth, right: prediction): " + ", ".join(os.path.relpath(v, out) for v in videos),
        "",
        f"TensorBoard: `tensorboard --logdir {out}`",
        "",
    ]
    with open(os.path.join(out, "results.md"), "w") as fh:
        fh.write("\n".join(report))
    with open(os.path.join(out, "results.json"), "w") as fh:
        json.dump(
            {
                "seed": args.seed,
                "preset": preset,
                "rows": rows,
                "labels_used": labels,
                "pseudo_labels_used": pseudo,
                "seconds": times,
                "total_seconds": total,
            },
            fh,
            indent=1,
        )
    print("\n" + text)
    print(f"[quickstart] done in {total:.0f} s; report: {os.path.join(out, 'results.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
