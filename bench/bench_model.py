"""Benchmark the segmentation model and the report writer on held-out synthetic demo cases.

    python bench/bench_model.py --model inference/weights/demo-model.pt --cases 24 --seed 2024

Generates demo cases with a seed the model was never trained on (the demo model was trained on
seed 1), segments them, writes their reports, and prints:

- per-label Dice / precision / sensitivity (AutoRG-Brain's definitions: per case, then the mean over
  cases; a structure label counts in the cases whose ground truth holds it);
- whole-lesion Dice, precision, sensitivity and HD95 over the cases that have a lesion, and by kind;
- the mean structure Dice (per case, the mean over the labels present in the ground truth);
- report metrics of the generated reports against the reference reports, beside the same metrics
  for a baseline that emits one fixed normal report for every case and for reports written from
  the ground-truth masks (what the writer does with perfect masks);
- seconds and peak memory to segment and report one 182×218×182 four-modality case, measured in a
  fresh process that has loaded the model.

Every figure the README quotes about the model comes from this script.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import nibabel as nib
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from inference.ml.metrics.segmentation import (  # noqa: E402
    hd95,
    lesion_scores,
    mean_over_cases,
    structure_scores,
    summarise_labels,
)
from inference.ml.schema import load_schema  # noqa: E402

FIXED_NORMAL_REPORT = (
    "Midline structures are centred. The ventricular system is normal in size and configuration. "
    "The brainstem and cerebellum are unremarkable. The basal ganglia and thalami are unremarkable. "
    "Grey-white matter differentiation is preserved in the cerebral lobes."
)
MODALITIES = ("T1", "T1CE", "T2", "FLAIR", "DWI", "ADC")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "inference/weights/demo-model.pt")
    parser.add_argument("--schema", type=Path, default=ROOT / "annotations/schemas/demo-aal3.csv")
    parser.add_argument("--cases", type=int, default=24, help="held-out demo cases to generate")
    parser.add_argument("--seed", type=int, default=2024, help="generator seed (never used for training)")
    parser.add_argument("--data", type=Path, help="dataset folder (default var/bench-demo-<seed>-<cases>)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--no-embedding", action="store_true", help="skip the sentence-embedding similarity")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/out/bench_model.json")
    parser.add_argument("--time-one", type=Path, help=argparse.SUPPRESS)  # internal: timing subprocess
    return parser


def ensure_dataset(folder: Path, n_cases: int, seed: int) -> Path:
    if (folder / "train_val_test_split.json").is_file() and len(list((folder / "cases").iterdir())) >= n_cases:
        return folder
    from annotations.demo.dataset import generate_dataset

    print(f"generating {n_cases} held-out demo cases (seed {seed}) in {folder} …", file=sys.stderr)
    summary = generate_dataset(folder, n_cases, seed, workers=2, progress=True)
    print(f"  {summary.seconds:.0f} s", file=sys.stderr)
    return folder


def load_volumes(case_dir: Path) -> dict[str, nib.Nifti1Image]:
    return {m: nib.load(str(case_dir / f"{m}.nii.gz")) for m in MODALITIES if (case_dir / f"{m}.nii.gz").is_file()}


def reference_text(case_dir: Path) -> str:
    sentences = json.loads((case_dir / "report.json").read_text())
    return " ".join(s["text"] for s in sentences if s.get("modality") is None)


def time_one_case(case_dir: Path, model_path: Path, schema_path: Path, threads: int) -> dict:
    """Runs in a fresh process: load the model, then segment and report one case, timed."""
    import torch

    from inference.ml.predict import load_model, predict_case
    from inference.ml.report import generate_report

    if threads:
        torch.set_num_threads(threads)
    schema = load_schema(schema_path)
    started = time.perf_counter()
    model = load_model(model_path, expected_schema=schema, device="cpu")
    load_seconds = time.perf_counter() - started
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    volumes = load_volumes(case_dir)
    prediction = predict_case(model, volumes)
    segmented = time.perf_counter()
    report = generate_report(prediction.structure, prediction.lesion, schema, volumes)
    finished = time.perf_counter()
    return {
        "case": case_dir.name,
        "shape": list(volumes[prediction.reference_modality].shape),
        "modalities": sorted(volumes),
        "model_load_seconds": round(load_seconds, 2),
        "segmentation_seconds": round(segmented - started, 2),
        "segmentation_steps": {k: round(v, 2) for k, v in prediction.seconds.items()},
        "report_seconds": round(finished - segmented, 2),
        "total_seconds": round(finished - started, 2),
        "sentences": len(report.sentences),
        "peak_rss_mb_after_model_load": round(rss_before / 1024, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _fmt(value: float | None, scale: float = 1.0, digits: int = 3) -> str:
    return "   -  " if value is None else f"{value * scale:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.time_one is not None:
        print(json.dumps(time_one_case(args.time_one, args.model, args.schema, args.threads)))
        return 0

    import torch

    from inference.ml.calibrate import describe_refinement
    from inference.ml.metrics.text import report_metrics
    from inference.ml.predict import InferenceSettings, load_model, predict_case
    from inference.ml.report import generate_report

    if args.threads:
        torch.set_num_threads(args.threads)
    schema = load_schema(args.schema)
    names = {label.index: label.name for label in schema.labels}
    data = ensure_dataset(args.data or ROOT / f"var/bench-demo-{args.seed}-{args.cases}", args.cases, args.seed)
    model = load_model(args.model, expected_schema=schema, device="cpu")
    meta = model.metadata
    print(
        f"model {meta.model_id} (schema {meta.schema_slug}, trained on {meta.training_cases} cases, "
        f"data {meta.training_data_hash[:12]}); held-out cases: seed {args.seed}, {data}"
    )
    settings = InferenceSettings.of(meta)
    print(
        f"inference settings (from the checkpoint's calibration): p(lesion) > {settings.lesion_threshold:g}, "
        f"components ≥ {settings.min_lesion_volume_mm3:g} mm³, window overlap {settings.overlap:g}, "
        f"left-right mirrored lesion pass {'on' if settings.mirror_lesion else 'off'}, "
        f"lesions within {settings.lesion_brain_reach_mm:g} mm of the brain (0: all kept), "
        f"borders {describe_refinement(settings.lesion_refine_margin_mm, settings.lesion_refine_trim)}"
    )

    case_dirs = sorted(p for p in (data / "cases").iterdir() if p.is_dir())[: args.cases]
    per_case_labels, structure_case_dice, rows = [], [], []
    generated, generated_from_truth, references = [], [], []
    for case_dir in case_dirs:
        params = json.loads((case_dir / "params.json").read_text())
        volumes = load_volumes(case_dir)
        truth_structure = np.asarray(nib.load(str(case_dir / "structure.nii.gz")).dataobj)
        truth_lesion_img = nib.load(str(case_dir / "lesion.nii.gz"))
        truth_lesion = np.asarray(truth_lesion_img.dataobj)
        started = time.perf_counter()
        prediction = predict_case(model, volumes)
        seconds = time.perf_counter() - started
        structure = np.asarray(prediction.structure.dataobj)
        lesion = np.asarray(prediction.lesion.dataobj)
        case_scores = structure_scores(structure, truth_structure)
        per_case_labels.append(case_scores.per_label)
        structure_case_dice.append(case_scores.dice)
        lesion_case = lesion_scores(lesion, truth_lesion) if truth_lesion.any() else None
        spacing = truth_lesion_img.header.get_zooms()[:3]
        voxel_ml = float(np.prod(spacing)) / 1000.0
        rows.append(
            {
                "case": case_dir.name,
                "kind": params["kind"],
                "orientation": params["orientation"],
                "modalities": sorted(volumes),
                "structure_dice": case_scores.dice,
                "lesion_dice": lesion_case.dice if lesion_case else None,
                "lesion_precision": lesion_case.precision if lesion_case else None,
                "lesion_sensitivity": lesion_case.sensitivity if lesion_case else None,
                "lesion_hd95_mm": hd95(lesion > 0, truth_lesion > 0, spacing) if lesion_case else None,
                "false_positive_ml": None if truth_lesion.any() else float((lesion > 0).sum()) * voxel_ml,
                "seconds": round(seconds, 2),
            }
        )
        report = generate_report(prediction.structure, prediction.lesion, schema, volumes)
        truth_report = generate_report(nib.load(str(case_dir / "structure.nii.gz")), truth_lesion_img, schema, volumes)
        generated.append(report.text)
        generated_from_truth.append(truth_report.text)
        references.append(reference_text(case_dir))
        row = rows[-1]
        print(
            f"  {row['case']} {row['kind']:<10} {row['orientation']:<7} structure {row['structure_dice']:.3f} "
            f"lesion {_fmt(row['lesion_dice'])} {row['seconds']:.1f} s",
            file=sys.stderr,
        )

    print("\nPer-label scores (mean over held-out cases whose ground truth holds the label)")
    print(f"{'label':>5}  {'name':<24} {'cases':>5}  {'Dice':>6}  {'prec':>6}  {'sens':>6}")
    label_rows = summarise_labels(per_case_labels, names)
    for r in label_rows:
        print(
            f"{r['label']:>5}  {r['name']:<24} {r['cases']:>5}  {_fmt(r['dice'])}  {_fmt(r['precision'])}  "
            f"{_fmt(r['sensitivity'])}"
        )

    lesion_rows = [r for r in rows if r["lesion_dice"] is not None]
    summary = {
        "mean_structure_dice": mean_over_cases(structure_case_dice),
        "lesion_dice": mean_over_cases(r["lesion_dice"] for r in lesion_rows),
        "lesion_precision": mean_over_cases(r["lesion_precision"] or 0.0 for r in lesion_rows),
        "lesion_sensitivity": mean_over_cases(r["lesion_sensitivity"] for r in lesion_rows),
        "lesion_hd95_mm": mean_over_cases(r["lesion_hd95_mm"] for r in lesion_rows),
        "lesion_cases": len(lesion_rows),
        "healthy_false_positive_ml": mean_over_cases(r["false_positive_ml"] for r in rows),
    }
    print("\nSegmentation (AutoRG-Brain definitions, mean over cases)")
    print(f"  mean structure Dice      {_fmt(summary['mean_structure_dice'])}  ({len(rows)} cases)")
    print(f"  lesion Dice              {_fmt(summary['lesion_dice'])}  ({len(lesion_rows)} cases with a lesion)")
    print(f"  lesion precision         {_fmt(summary['lesion_precision'])}")
    print(f"  lesion sensitivity       {_fmt(summary['lesion_sensitivity'])}")
    print(f"  lesion HD95 (mm)         {_fmt(summary['lesion_hd95_mm'], digits=1)}")
    print(f"  lesion volume predicted in healthy cases (mL) {_fmt(summary['healthy_false_positive_ml'], digits=2)}")
    kinds = sorted({r["kind"] for r in lesion_rows})
    for kind in kinds:
        values = [r["lesion_dice"] for r in lesion_rows if r["kind"] == kind]
        print(f"    lesion Dice, {kind:<11} {_fmt(mean_over_cases(values))}  ({len(values)} cases)")
    for orientation in sorted({r["orientation"] for r in rows}):
        values = [r["structure_dice"] for r in rows if r["orientation"] == orientation]
        lesions = [r["lesion_dice"] for r in lesion_rows if r["orientation"] == orientation]
        print(
            f"    {orientation:<8} structure {_fmt(mean_over_cases(values))}, lesion "
            f"{_fmt(mean_over_cases(lesions))}  ({len(values)} cases)"
        )

    baseline = [FIXED_NORMAL_REPORT] * len(references)
    with_embedding = not args.no_embedding
    metrics = {
        "generated (model masks)": report_metrics(generated, references, with_embedding=with_embedding),
        "generated (true masks)": report_metrics(generated_from_truth, references, with_embedding=with_embedding),
        "fixed normal report": report_metrics(baseline, references, with_embedding=with_embedding),
    }
    keys = [k for k in metrics["generated (model masks)"] if k != "ratescore"]
    print(f"\nReports against the reference reports ({len(references)} cases; BLEU/ROUGE 0-100, others 0-1)")
    print(f"{'metric':<22}" + "".join(f"{name:>26}" for name in metrics))
    for key in keys:
        print(f"{key:<22}" + "".join(f"{_fmt(m[key], digits=3):>26}" for m in metrics.values()))
    print(f"{'ratescore':<22}" + "".join(f"{'not configured':>26}" for _ in metrics))

    four = [r for r in rows if len(r["modalities"]) == 4]
    timing_case = data / "cases" / (four[0]["case"] if four else rows[0]["case"])
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--time-one",
        str(timing_case),
        "--model",
        str(args.model),
        "--schema",
        str(args.schema),
        "--threads",
        str(args.threads),
    ]
    timing = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    print(
        f"\nOne case ({timing['case']}, {'×'.join(map(str, timing['shape']))}, {', '.join(timing['modalities'])}), "
        f"fresh process, model loaded in {timing['model_load_seconds']} s:"
    )
    print(
        f"  segmentation {timing['segmentation_seconds']} s {timing['segmentation_steps']}, "
        f"report {timing['report_seconds']} s, total {timing['total_seconds']} s; "
        f"peak memory {timing['peak_rss_mb']} MB (after model load {timing['peak_rss_mb_after_model_load']} MB)"
    )

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "model": meta.to_dict(),
                "inference_settings": asdict(settings),
                "seed": args.seed,
                "cases": rows,
                "labels": label_rows,
                "summary": summary,
                "reports": metrics,
                "timing": timing,
            },
            indent=1,
            default=float,
        )
    )
    print(f"\nwrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
