"""Checkpoints that say what they are, written atomically and read without pickle.

A checkpoint holds the weights plus the metadata needed to use them safely: the label schema
(slug and content digest), the structure label id of every output channel, the modalities and
spacing, the full hyperparameter config, the hash of the training data and the validation metrics.
Everything is stored as tensors and plain containers so ``torch.load(weights_only=True)`` reads it:
a checkpoint uploaded by a user can never execute code.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from inference.ml.config import SegmentationConfig
from inference.ml.schema import LabelSchema

CHECKPOINT_FORMAT = "brainscribe-segmentation"
CHECKPOINT_VERSION = 1


class CheckpointError(ValueError):
    """The file is not a checkpoint this code can use."""


class SchemaMismatchError(CheckpointError):
    """The checkpoint was trained for another label schema than the project's."""


@dataclass(frozen=True)
class CheckpointMetadata:
    config: SegmentationConfig
    schema_slug: str
    schema_digest: str
    structure_label_ids: tuple[int, ...]  # output channel c (c ≥ 1) predicts structure_label_ids[c - 1]
    lesion_label_ids: tuple[int, ...]  # likewise for the lesion head
    training_data_hash: str
    training_cases: int
    epoch: int
    metrics: dict[str, float] = field(default_factory=dict)
    created_at: str = ""
    software: dict[str, str] = field(default_factory=dict)
    parent_model_id: str | None = None  # the model this one was fine-tuned from, if any
    # Post-processing settings chosen after training on validation cases (``calibrate``), e.g.
    # ``lesion_threshold``; they change no weight, so they stay out of the config digest.
    postprocess: dict[str, float] = field(default_factory=dict)
    format_version: int = CHECKPOINT_VERSION

    @property
    def model_id(self) -> str:
        """Config digest, data hash and epoch: equal ids mean equally made weights."""
        return f"seg-{self.config.digest[:8]}-{self.training_data_hash[:8]}-e{self.epoch:03d}"

    @property
    def modalities(self) -> tuple[str, ...]:
        return self.config.modalities

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        return self.config.spacing_mm

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "format_version": self.format_version,
            "model_id": self.model_id,
            "config": self.config.to_dict(),
            "config_digest": self.config.digest,
            "schema_slug": self.schema_slug,
            "schema_digest": self.schema_digest,
            "structure_label_ids": list(self.structure_label_ids),
            "lesion_label_ids": list(self.lesion_label_ids),
            "modalities": list(self.modalities),
            "spacing_mm": list(self.spacing_mm),
            "training_data_hash": self.training_data_hash,
            "training_cases": self.training_cases,
            "epoch": self.epoch,
            "metrics": {k: float(v) for k, v in self.metrics.items()},
            "created_at": self.created_at,
            "software": dict(self.software),
            "parent_model_id": self.parent_model_id,
            "postprocess": {k: float(v) for k, v in self.postprocess.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckpointMetadata:
        return cls(
            config=SegmentationConfig.from_stored(data["config"]),
            schema_slug=data["schema_slug"],
            schema_digest=data["schema_digest"],
            structure_label_ids=tuple(int(v) for v in data["structure_label_ids"]),
            lesion_label_ids=tuple(int(v) for v in data["lesion_label_ids"]),
            training_data_hash=data["training_data_hash"],
            training_cases=int(data["training_cases"]),
            epoch=int(data["epoch"]),
            metrics={k: float(v) for k, v in data.get("metrics", {}).items()},
            created_at=data.get("created_at", ""),
            software=dict(data.get("software", {})),
            parent_model_id=data.get("parent_model_id"),
            postprocess={k: float(v) for k, v in data.get("postprocess", {}).items()},
            format_version=int(data["format_version"]),
        )


def software_versions() -> dict[str, str]:
    import monai

    return {"torch": str(torch.__version__), "monai": str(monai.__version__)}


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def save_checkpoint(
    path: str | Path,
    *,
    metadata: CheckpointMetadata,
    model_state: dict[str, torch.Tensor],
    training_state: dict[str, Any] | None = None,
) -> Path:
    """Write atomically (temp file, fsync, rename): a worker killed mid-save leaves the old file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "metadata": metadata.to_dict(),
        "model": {k: v.detach().cpu() for k, v in model_state.items()},
    }
    if training_state is not None:
        payload["training"] = training_state
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a model file is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@dataclass
class LoadedCheckpoint:
    metadata: CheckpointMetadata
    model_state: dict[str, torch.Tensor]
    training_state: dict[str, Any] | None


def read_checkpoint(path: str | Path, *, expected_schema: LabelSchema | str | None = None) -> LoadedCheckpoint:
    """Load with ``weights_only=True`` and refuse a file that is not ours or not for this schema."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's own text tells the reader to retry with weights_only=False: not advice to pass on.
        raise CheckpointError(
            f"{path.name} is not a weights-only checkpoint: it holds Python objects besides tensors and plain "
            "data, which could run code when loaded"
        ) from exc
    except Exception as exc:  # RuntimeError from a truncated zip, …
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path.name} cannot be read as a weights-only checkpoint: {reason}") from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT or "metadata" not in payload:
        raise CheckpointError(f"{path.name} is not a Brainscribe segmentation checkpoint")
    raw = payload["metadata"]
    version = raw.get("format_version")
    if version != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{path.name} uses checkpoint format version {version}; this code reads version {CHECKPOINT_VERSION}"
        )
    metadata = CheckpointMetadata.from_dict(raw)
    if expected_schema is not None:
        check_schema(metadata, expected_schema, source=path.name)
    return LoadedCheckpoint(metadata, payload["model"], payload.get("training"))


def check_schema(metadata: CheckpointMetadata, expected: LabelSchema | str, *, source: str = "the checkpoint") -> None:
    if isinstance(expected, str):
        if metadata.schema_slug != expected:
            raise SchemaMismatchError(
                f"{source} was trained for label schema '{metadata.schema_slug}', but this project uses "
                f"'{expected}'; its output channels would be read as the wrong structures. "
                f"Use a model trained for '{expected}'."
            )
        return
    if metadata.schema_slug != expected.slug:
        raise SchemaMismatchError(
            f"{source} was trained for label schema '{metadata.schema_slug}' "
            f"({len(metadata.structure_label_ids)} structures), but this project uses {expected.describe()}; "
            f"its output channels would be read as the wrong structures. Use a model trained for '{expected.slug}'."
        )
    if metadata.schema_digest != expected.digest:
        raise SchemaMismatchError(
            f"{source} was trained for an earlier version of label schema '{metadata.schema_slug}' "
            f"(digest {metadata.schema_digest[:12]}), but this project's '{expected.slug}' now has digest "
            f"{expected.digest[:12]}; retrain the model on the current label table."
        )


def export_for_inference(source: str | Path, destination: str | Path) -> Path:
    """Copy weights and metadata without optimizer state: the small file that gets committed/shipped."""
    loaded = read_checkpoint(source)
    return save_checkpoint(destination, metadata=loaded.metadata, model_state=loaded.model_state)
