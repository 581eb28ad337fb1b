"""Command line: train the segmentation model on a demo/RadGenome-style folder.

    python -m inference.ml.train --data var/demo-train --out inference/weights/demo-model.pt

Writes the small inference checkpoint to ``--out``, its learning curve beside it (``.png``) and its
metadata plus the exact command (``.json``). The working folder keeps the full resumable state:
run the same command again after an interruption and it continues from the last finished epoch.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path

DEFAULT_SCHEMA = Path("annotations/schemas/demo-aal3.csv")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m inference.ml.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="dataset folder (cases/ + train_val_test_split.json)")
    parser.add_argument("--out", required=True, type=Path, help="where to write the inference checkpoint (.pt)")
    parser.add_argument("--schema", type=Path, default=DEFAULT_SCHEMA, help="structure label schema CSV")
    parser.add_argument("--epochs", type=int, help="override the config's epoch count")
    parser.add_argument("--seed", type=int, help="override the config's random seed")
    parser.add_argument("--config", type=Path, help="JSON file with SegmentationConfig fields to override")
    parser.add_argument("--work-dir", type=Path, help="resumable state and cache (default var/training/<config>)")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path("var/training/cache"),
        help="preprocessed-case cache, shared by runs (keyed by file hashes and settings)",
    )
    parser.add_argument("--init-from", type=Path, help="start from this checkpoint's weights (fine-tuning)")
    parser.add_argument("--fresh", action="store_true", help="ignore an existing last.pt and start over")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument(
        "--workers", type=int, default=2, help="processes that preprocess uncached cases before training (default 2)"
    )
    parser.add_argument("--max-train-cases", type=int, help="use only the first N training cases")
    parser.add_argument("--train-splits", default="train", help="comma-separated splits to train on (e.g. train,test)")
    parser.add_argument("--max-val-cases", type=int, default=6, help="validate on at most N cases of the val split")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    import torch
    from tqdm import tqdm

    from inference.ml.checkpoints import export_for_inference
    from inference.ml.config import SegmentationConfig
    from inference.ml.curves import plot_learning_curve
    from inference.ml.datasets import read_dataset
    from inference.ml.schema import load_schema
    from inference.ml.training import TrainingProgress, train

    if args.threads:
        torch.set_num_threads(args.threads)
    overrides: dict = json.loads(args.config.read_text()) if args.config else {}
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    if args.seed is not None:
        overrides["seed"] = args.seed
    config = SegmentationConfig().replace(**overrides)
    schema = load_schema(args.schema)
    splits = read_dataset(args.data)
    train_cases = [case for name in args.train_splits.split(",") for case in splits[name.strip()]]
    if args.max_train_cases:
        train_cases = train_cases[: args.max_train_cases]
    val_cases = splits["val"][: args.max_val_cases]
    if not val_cases and len(train_cases) > 4:
        cut = max(1, len(train_cases) // 10)
        train_cases, val_cases = train_cases[:-cut], train_cases[-cut:]
    work_dir = args.work_dir or Path("var/training") / f"{schema.slug}-{config.digest[:8]}"
    print(
        f"training on {len(train_cases)} cases, validating on {len(val_cases)}; schema {schema.describe()}; "
        f"config {config.digest[:12]}; state in {work_dir}",
        file=sys.stderr,
    )

    bars: dict[str, tqdm] = {}

    def on_progress(p: TrainingProgress) -> None:
        if p.phase == "prepare":
            bar = bars.get("prepare") or bars.setdefault("prepare", tqdm(total=p.steps, desc="preprocess", unit="case"))
            bar.n = p.step
            bar.refresh()
            return
        if p.phase != "train":
            return
        if "train" not in bars:
            bars["train"] = tqdm(total=p.epochs * p.steps, desc="training", unit="step")
        bar = bars["train"]
        bar.n = (p.epoch - 1) * p.steps + p.step
        bar.set_postfix(epoch=f"{p.epoch}/{p.epochs}", loss=f"{p.loss:.3f}")
        bar.refresh()

    started = time.perf_counter()
    result = train(
        config,
        train_cases,
        work_dir,
        schema=schema,
        val_cases=val_cases,
        resume=not args.fresh,
        progress=on_progress,
        cache_dir=args.cache_dir,
        init_from=args.init_from,
        prepare_workers=args.workers,
    )
    for bar in bars.values():
        bar.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    export_for_inference(result.best_checkpoint, args.out)
    plot_learning_curve(result.history, args.out.with_suffix(".png"), title=result.metadata.model_id)
    command = "python -m inference.ml.train " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    summary = {
        "metadata": result.metadata.to_dict(),
        "command": command,
        "data": str(args.data),
        "train_cases": [c.case_id for c in train_cases],
        "val_cases": [c.case_id for c in val_cases],
        "history": [asdict(r) for r in result.history],
        "seconds_this_run": round(time.perf_counter() - started, 1),
        "seconds_training_total": round(sum(r.seconds for r in result.history), 1),
    }
    args.out.with_suffix(".json").write_text(json.dumps(summary, indent=1))
    best = result.metadata
    print(
        f"{best.model_id}: epoch {best.epoch}, metrics {json.dumps(best.metrics)}; wrote {args.out} "
        f"({args.out.stat().st_size / 1e6:.1f} MB) in {summary['seconds_this_run']:.0f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
