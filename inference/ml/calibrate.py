"""Choose lesion post-processing on validation cases and store it in the checkpoint.

Training samples patches around lesions half of the time (``lesion_oversample``), which teaches
the network a lesion prior above the true one, and specks of false positives survive in healthy
brains. The p(lesion) cut-off and the smallest kept component that maximise whole-lesion Dice on
the validation cases with a lesion (never the benchmark's) — preferring, among near-equals, the
setting that leaves lesion-free cases clean — are stored as ``postprocess`` in the checkpoint,
together with the inference settings they were chosen under: the sliding-window overlap (half by
default, as nnU-Net runs its models), left-right mirroring of the lesion head (scored with and
without; kept only if it gains more than the tolerance, as it costs a second network pass and
halves p(lesion) on a lacune the mirrored view misses), and how far
from the predicted brain a lesion component may lie (4 mm by default; components are found at
p > 0.5 while calibrating, at the chosen cut-off afterwards). Whether lesion borders are refined
onto the images (off, grown only, grown or trimmed; ``postprocess.refine_lesions_to_images``) is
scored beside every cut-off: how much it gains depends on how sharp the lesions' edges are in a
site's scans, which only its validation cases can say.

    python -m inference.ml.calibrate --model inference/weights/demo-model.pt --data var/demo-train
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import nibabel as nib
import numpy as np

from inference.ml.datasets import TrainingCase

if TYPE_CHECKING:
    from inference.ml.predict import InferenceSettings, SegmentationModel

DEFAULT_THRESHOLDS = (0.4, 0.5, 0.6, 0.7, 0.8)
DEFAULT_MIN_VOLUMES = (20.0, 50.0, 100.0, 200.0)  # mm³
# Border refinement onto the images (``postprocess.refine_lesions_to_images``): (margin in mm, trim).
# Off, grow only, grow and trim; 3 mm is a voxel and a half of the 2 mm grid on either side.
DEFAULT_REFINEMENTS: tuple[tuple[float, bool], ...] = ((0.0, False), (3.0, False), (3.0, True))
Key = tuple[float, float, float, bool]  # cut-off, smallest component (mm³), refinement margin (mm), trim


@dataclass(frozen=True)
class SettingScore:
    lesion_dice: float  # mean whole-lesion Dice over the cases that have a lesion
    healthy_false_positive: float  # share of lesion-free cases where anything is left


def lesion_dice_by_setting(
    model: SegmentationModel,
    cases: Sequence[TrainingCase],
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    min_volumes_mm3: Sequence[float] = DEFAULT_MIN_VOLUMES,
    settings: InferenceSettings | None = None,
    refinements: Sequence[tuple[float, bool]] = ((0.0, False),),
) -> dict[Key, SettingScore]:
    """Per (cut-off, smallest kept component, border refinement): lesion Dice on the native grid,
    and how often a lesion-free case keeps a false positive (windows and mirroring as ``settings``
    say)."""
    import torch

    from inference.ml.metrics.segmentation import lesion_scores, mean_over_cases
    from inference.ml.postprocess import refine_lesions_to_images, remove_small_lesions
    from inference.ml.predict import images_on_grid, predict_prepared
    from inference.ml.preprocess import prepare_case
    from inference.ml.resample import NativeSampler

    keys = [(t, v, m, trim) for t in thresholds for v in min_volumes_mm3 for m, trim in refinements]
    dice: dict[Key, list[float | None]] = {key: [] for key in keys}
    false_positive: dict[Key, list[float]] = {key: [] for key in keys}
    for case in cases:
        if case.lesion is None:
            continue
        truth = np.asarray(nib.load(str(case.lesion)).dataobj) > 0
        volumes = {name: nib.load(str(path)) for name, path in case.volumes.items()}
        prepared = prepare_case(volumes, model.config)
        _, lesion_prob, _ = predict_prepared(model, prepared, settings=settings)
        sampler = NativeSampler(prepared.model_grid, prepared.native_grid)
        spacing = prepared.native_grid.spacing
        voxel_mm3 = float(np.prod(spacing))
        images = (
            images_on_grid(
                {name: image for name, image in volumes.items() if name in model.config.modalities},
                prepared.native_grid,
            )
            if any(margin > 0 for margin, _ in refinements)
            else {}
        )
        p_lesion = 1.0 - lesion_prob[0]
        for threshold in thresholds:
            predicted = sampler.labels(torch.stack([torch.full_like(p_lesion, threshold), p_lesion])) > 0
            for margin, trim in refinements:
                refined = predicted
                if margin > 0:
                    refined = refine_lesions_to_images(predicted, images, spacing, margin_mm=margin, trim=trim)
                for min_volume in min_volumes_mm3:
                    kept = remove_small_lesions(refined, voxel_volume_mm3=voxel_mm3, min_volume_mm3=min_volume)
                    key = (threshold, min_volume, margin, trim)
                    if truth.any():
                        dice[key].append(lesion_scores(kept, truth).dice)
                    else:
                        false_positive[key].append(float(kept.any()))
    return {
        key: SettingScore(mean_over_cases(dice[key]) or 0.0, float(np.mean(false_positive[key] or [0.0])))
        for key in keys
    }


TableKey = tuple[float, float, bool, float, bool]  # cut-off, smallest component, mirror, refine margin, trim


def choose(table: dict[TableKey, SettingScore], tolerance: float = 0.02) -> TableKey:
    """Best lesion Dice; among settings within ``tolerance`` of it, the fewest false alarms in
    lesion-free cases, then without the mirrored pass (it costs a second network pass), then the
    network's own borders over refined ones, then the cut-off nearest 0.5, then growing over
    trimming, then the smallest component size. Keys are ``(cut-off, size, mirror, refine margin,
    trim)``. The cut-off comes before the kind of refinement because it decides which lesions are
    found at all (a lacune's core can sit just under a raised cut-off), while trimming only moves
    a border the refinement has already bounded to its margin.

    A validation split holds about ten lesion cases, so Dice differences of a hundredth are noise:
    the tolerance keeps the choice near the untuned default unless the data clearly say otherwise.
    """
    best = max(score.lesion_dice for score in table.values())
    close = [key for key, score in table.items() if score.lesion_dice >= best - tolerance]
    return min(
        close,
        key=lambda key: (
            table[key].healthy_false_positive,
            key[2],
            key[3] > 0,
            abs(key[0] - 0.5),
            key[4],
            key[1],
        ),
    )


def describe_refinement(margin: float, trim: bool) -> str:
    """How a border setting reads in calibration and benchmark output."""
    if margin <= 0:
        return "as the network drew them"
    return f"refined onto the images within {margin:g} mm ({'grown or trimmed' if trim else 'grown only'})"


def describe(key: TableKey) -> str:
    threshold, min_volume, mirror, margin, trim = key
    return (
        f"{'mirrored, ' if mirror else ''}p(lesion) > {threshold:.2f}, components ≥ {min_volume:g} mm³, "
        f"borders {describe_refinement(margin, trim)}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.ml.calibrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True, help="dataset folder with a val split")
    parser.add_argument("--split", default="val")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--overlap", type=float, default=0.5, help="sliding-window overlap to run the model with")
    parser.add_argument(
        "--mirror",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="average the lesion head over the input and its left-right mirror image (default: score both, "
        "keep the mirrored pass only if it gains more than the tolerance)",
    )
    parser.add_argument(
        "--refine",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="move lesion borders onto the edges in the images (default: score off, grow and grow-and-trim, "
        "keep the best; --no-refine: off)",
    )
    parser.add_argument(
        "--brain-reach",
        type=float,
        default=4.0,
        metavar="MM",
        help="drop lesion components with no voxel within this distance of the predicted brain (0: keep all)",
    )
    args = parser.parse_args(argv)
    if not 0.0 <= args.overlap < 1.0:
        parser.error(f"--overlap must be at least 0 and below 1, got {args.overlap}")
    if args.brain_reach < 0:
        parser.error(f"--brain-reach must be at least 0 mm, got {args.brain_reach}")

    import torch

    from inference.ml.checkpoints import read_checkpoint, save_checkpoint
    from inference.ml.datasets import read_dataset
    from inference.ml.predict import InferenceSettings, load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model(args.model, device="cpu")
    cases = read_dataset(args.data)[args.split]
    refinements = {
        None: DEFAULT_REFINEMENTS,
        True: tuple(r for r in DEFAULT_REFINEMENTS if r[0] > 0),
        False: ((0.0, False),),
    }[args.refine]
    table: dict[TableKey, SettingScore] = {}
    for mirror in [False, True] if args.mirror is None else [args.mirror]:
        settings = InferenceSettings(overlap=args.overlap, mirror_lesion=mirror, lesion_brain_reach_mm=args.brain_reach)
        scores = lesion_dice_by_setting(model, cases, settings=settings, refinements=refinements)
        for (threshold, min_volume, margin, trim), score in scores.items():
            table[(threshold, min_volume, mirror, margin, trim)] = score
    for key, score in table.items():
        print(
            f"  {describe(key)}: lesion Dice {score.lesion_dice:.3f}, "
            f"false alarm in {score.healthy_false_positive:.0%} of lesion-free cases",
            file=sys.stderr,
        )
    best = choose(table)
    mirror, margin, trim = bool(best[2]), float(best[3]), bool(best[4])
    loaded = read_checkpoint(args.model)
    postprocess = {
        "lesion_threshold": float(best[0]),
        "min_lesion_volume_mm3": float(best[1]),
        "overlap": float(args.overlap),
        "mirror_lesion": float(mirror),
        "lesion_brain_reach_mm": float(args.brain_reach),
        "lesion_refine_margin_mm": margin,
        "lesion_refine_trim": float(trim),
        "calibration_val_lesion_dice": float(table[best].lesion_dice),
    }
    metadata = replace(loaded.metadata, postprocess=postprocess)
    save_checkpoint(args.model, metadata=metadata, model_state=loaded.model_state, training_state=loaded.training_state)
    summary = args.model.with_suffix(".json")
    if summary.is_file():  # the training command's record beside the checkpoint
        record = json.loads(summary.read_text())
        record["metadata"] = metadata.to_dict()
        record["calibration"] = {
            "split": args.split,
            "scores": {describe(key): vars(score) for key, score in table.items()},
            "chosen": {"lesion_threshold": best[0], "min_lesion_volume_mm3": best[1]},
            "inference": {
                "overlap": args.overlap,
                "mirror_lesion": mirror,
                "lesion_brain_reach_mm": args.brain_reach,
                "lesion_refine_margin_mm": margin,
                "lesion_refine_trim": trim,
            },
        }
        summary.write_text(json.dumps(record, indent=1))
    print(
        f"{args.model}: lesion_threshold {best[0]}, min_lesion_volume_mm3 {best[1]:g}, overlap {args.overlap:g}, "
        f"mirror {'on' if mirror else 'off'}, lesions within {args.brain_reach:g} mm of the brain, "
        f"borders {describe_refinement(margin, trim)} "
        f"(lesion Dice {table[best].lesion_dice:.3f} on {args.split})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
