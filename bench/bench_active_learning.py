"""Does active learning pay? Held-out lesion Dice against the number of corrected cases, for cases
chosen by MC-dropout uncertainty versus chosen at random, same seeds, same starting cases.

    .venv/bin/python bench/bench_active_learning.py [--pool 20] [--test 8] [--initial 2] [--step 2]
        [--rounds 4] [--seeds 2] [--out docs/active-learning.png]

A "corrected case" is a demo case whose ground truth joins the labelled set, which is what an
approved correction is. Each round trains a fresh small model on the labelled set (fixed budget of
steps, so both arms get the same compute), scores the held-out cases, then picks the next cases.
Prints the curves as a table and writes the plot. Runs on the ML core alone (no database).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from annotations.demo import generate_dataset
from bench._django import table
from inference.ml.config import SegmentationConfig
from inference.ml.datasets import read_case_folder
from inference.ml.metrics import lesion_scores
from inference.ml.predict import load_model, predict_case
from inference.ml.schema import load_schema
from inference.ml.training import train

REPO = Path(__file__).resolve().parent.parent
CONFIG = SegmentationConfig(
    channels=(8, 16, 32, 64),
    num_res_units=1,
    head_features=8,
    dropout=0.2,
    patch_size=(48, 48, 48),
    epochs=6,
    batch_size=2,
    validate_every=6,
)


def volumes_of(case) -> dict:
    import nibabel as nib

    return {m: nib.load(p) for m, p in case.volumes.items()}


def lesion_dice(model_path: Path, test_cases: list, schema) -> float:
    import nibabel as nib

    model = load_model(model_path, expected_schema=schema)
    scores = []
    for case in test_cases:
        truth = np.asarray(nib.load(case.lesion).dataobj)
        if not truth.any():
            continue
        prediction = predict_case(model, volumes_of(case))
        scores.append(lesion_scores(np.asarray(prediction.lesion.dataobj), truth).dice or 0.0)
    return float(np.mean(scores)) if scores else float("nan")


def uncertainty(model_path: Path, cases: list, schema, samples: int) -> dict[str, float]:
    model = load_model(model_path, expected_schema=schema)
    out = {}
    for case in cases:
        u = predict_case(model, volumes_of(case), mc_samples=samples).uncertainty
        out[case.case_id] = u.mutual_information if u.mutual_information is not None else u.mean_entropy_brain
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pool", type=int, default=20)
    parser.add_argument("--test", type=int, default=8)
    parser.add_argument("--initial", type=int, default=2)
    parser.add_argument("--step", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--steps-per-epoch", type=int, default=10)
    parser.add_argument("--mc-samples", type=int, default=4)
    parser.add_argument("--data", type=Path, default=None, help="Reuse generated data here.")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "active-learning.png")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(2)
    schema = load_schema(REPO / "annotations" / "schemas" / "demo-aal3.csv", "demo-aal3")
    work = Path(tempfile.mkdtemp(prefix="brainscribe-al-"))
    data = args.data or work / "data"
    if not (data / "pool" / "train_val_test_split.json").exists():
        generate_dataset(data / "pool", args.pool, seed=4100, workers=2)
        generate_dataset(data / "test", args.test, seed=4999, workers=2)
    pool = [read_case_folder(p) for p in sorted((data / "pool" / "cases").iterdir())]
    test = [read_case_folder(p) for p in sorted((data / "test" / "cases").iterdir())]
    by_id = {c.case_id: c for c in pool}

    curves: dict[str, list[list[float]]] = {"random": [], "entropy": []}
    started = time.perf_counter()
    for seed in range(args.seeds):
        initial = random.Random(seed).sample(sorted(by_id), args.initial)
        for arm in ("random", "entropy"):
            chooser = random.Random(1000 + seed)
            labelled, curve = list(initial), []
            for round_ in range(args.rounds + 1):
                out = work / f"s{seed}-{arm}-r{round_}"
                result = train(
                    CONFIG.replace(seed=seed),
                    [by_id[i] for i in labelled],
                    out,
                    schema=schema,
                    resume=False,
                    cache_dir=work / "cache",
                    max_steps_per_epoch=args.steps_per_epoch,
                )
                dice = lesion_dice(result.last_checkpoint, test, schema)
                curve.append(dice)
                print(f"seed {seed} {arm:7s} labelled {len(labelled):2d}: held-out lesion Dice {dice:.3f}", flush=True)
                if round_ == args.rounds:
                    break
                remaining = sorted(set(by_id) - set(labelled))
                if arm == "random":
                    picked = chooser.sample(remaining, min(args.step, len(remaining)))
                else:
                    scores = uncertainty(result.last_checkpoint, [by_id[i] for i in remaining], schema, args.mc_samples)
                    picked = sorted(remaining, key=lambda i: -scores[i])[: args.step]
                labelled += picked
            curves[arm].append(curve)

    sizes = [args.initial + k * args.step for k in range(args.rounds + 1)]
    mean = {arm: np.nanmean(np.array(c), axis=0) for arm, c in curves.items()}
    rows = [
        [n, f"{mean['random'][k]:.3f}", f"{mean['entropy'][k]:.3f}", f"{mean['entropy'][k] - mean['random'][k]:+.3f}"]
        for k, n in enumerate(sizes)
    ]
    print(
        f"\nheld-out lesion Dice ({args.test} test cases), mean of {args.seeds} seeds; "
        f"{(time.perf_counter() - started) / 60:.0f} min"
    )
    print(table(["corrected cases", "random order", "entropy order", "entropy − random"], rows))
    area = {arm: float(np.trapezoid(mean[arm], sizes)) for arm in mean}
    print(f"area under the curve: random {area['random']:.2f}, entropy {area['entropy']:.2f}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for arm, colour in (("random", "#888888"), ("entropy", "#1f77b4")):
        for c in curves[arm]:
            ax.plot(sizes, c, color=colour, alpha=0.25, linewidth=1)
        ax.plot(
            sizes, mean[arm], color=colour, linewidth=2.5, marker="o", label=f"{arm} order (mean of {args.seeds} seeds)"
        )
    ax.set_xlabel("corrected (approved) cases in the training set")
    ax.set_ylabel(f"held-out lesion Dice ({args.test} cases)")
    ax.set_title("Active learning on synthetic demo data")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out)
    print(f"plot: {args.out}")


if __name__ == "__main__":
    main()
