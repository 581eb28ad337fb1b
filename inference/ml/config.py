"""The one hyperparameter object of the segmentation model.

Every setting that changes what a model learns or how a case is preprocessed lives here, is saved
beside the checkpoint and is hashed into the model id, so two checkpoints with the same id were made
the same way (no subclass per setting, no hidden defaults in the training loop).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from typing import Any

ALL_MODALITIES: tuple[str, ...] = ("T1", "T1CE", "T2", "FLAIR", "DWI", "ADC")
NORMALISATIONS: tuple[str, ...] = ("zscore", "clipped")

# Settings added after checkpoints already existed, with the value those checkpoints were made
# with. A stored config without the key gets this value, and the digest leaves the key out while it
# holds it, so an existing checkpoint keeps its behaviour and its model id.
LEGACY_VALUES: dict[str, Any] = {
    "normalisation": "clipped",
    "fine_tune_lr_scale": 1.0,
    "fine_tune_warmup": 0.0,
}


@dataclass(frozen=True)
class SegmentationConfig:
    # What the network sees.
    modalities: tuple[str, ...] = ALL_MODALITIES
    spacing_mm: tuple[float, float, float] = (2.0, 2.0, 2.0)
    # Normalised world coordinates as extra input channels: the grid is always RAS, so the first
    # channel says left from right, which a translation-equivariant network cannot know otherwise.
    coordinate_channels: bool = True
    grid_margin_mm: float = 6.0
    # Intensity normalisation. "zscore": z-score over the brain with statistics taken from its
    # 0.5-99.5th percentile range, values kept up to ±8 SD. "clipped" (the first models) also clipped
    # every value to that percentile range, which flattened any lesion smaller than 0.5 % of the
    # brain to the brightness of the brightest normal tissue: a 0.2 mL infarct at z 3.4 on DWI came
    # out at 2.0, as bright as a thousand normal voxels (nnU-Net does not clip MRI either).
    normalisation: str = "zscore"

    # Network (MONAI UNet trunk, two 1×1×1 heads).
    channels: tuple[int, ...] = (16, 32, 64, 128)
    strides: tuple[int, ...] = (2, 2, 2)
    num_res_units: int = 2
    head_features: int = 16
    dropout: float = 0.1

    # Training.
    patch_size: tuple[int, int, int] = (80, 96, 80)
    epochs: int = 40
    batch_size: int = 2
    learning_rate: float = 3e-3
    weight_decay: float = 1e-5
    # Fine-tuning from a parent (``train(init_from=...)``) peaks at this share of learning_rate,
    # after a linear warm-up over this share of its steps (see ``training._learning_rate``).
    fine_tune_lr_scale: float = 1.0
    fine_tune_warmup: float = 0.0
    lesion_loss_weight: float = 1.0
    modality_dropout: float = 0.3
    # Share of patches centred on a lesion voxel: lesions fill ~1 % of a brain, and a model that
    # rarely sees them learns to ignore them (nnU-Net oversamples foreground the same way).
    lesion_oversample: float = 0.5
    intensity_jitter: float = 0.1
    seed: int = 0
    # bfloat16 autocast where the hardware has it (AVX512-BF16 CPUs, GPUs): about twice as fast on
    # this project's CPUs; convolutions in bf16, losses and norms in float32.
    bf16_autocast: bool = True
    validate_every: int = 1  # epochs between validations (and best-checkpoint choices)

    # Inference and post-processing.
    overlap: float = 0.25
    min_lesion_volume_mm3: float = 20.0
    keep_largest_structure_component: bool = True

    def __post_init__(self) -> None:
        if self.normalisation not in NORMALISATIONS:
            raise ValueError(f"unknown normalisation {self.normalisation!r}; expected one of {NORMALISATIONS}")
        if not self.modalities:
            raise ValueError("a model needs at least one modality")
        unknown = set(self.modalities) - set(ALL_MODALITIES)
        if unknown:
            raise ValueError(f"unknown modalities {sorted(unknown)}; expected some of {ALL_MODALITIES}")
        if len(self.strides) != len(self.channels) - 1:
            raise ValueError("strides needs one entry fewer than channels")
        if not 0 < self.fine_tune_lr_scale <= 1:
            raise ValueError("fine_tune_lr_scale must be above 0 and at most 1")
        if not 0 <= self.fine_tune_warmup <= 1:
            raise ValueError("fine_tune_warmup must be a share of the steps, from 0 to 1")
        divisor = self.size_divisor
        if any(p % divisor for p in self.patch_size):
            raise ValueError(f"patch_size {self.patch_size} must be a multiple of {divisor}")

    @property
    def size_divisor(self) -> int:
        divisor = 1
        for stride in self.strides:
            divisor *= stride
        return divisor

    @property
    def in_channels(self) -> int:
        # One intensity channel and one availability flag per modality, plus coordinates.
        return 2 * len(self.modalities) + (3 if self.coordinate_channels else 0)

    def to_dict(self) -> dict[str, Any]:
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SegmentationConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}")
        values = {key: tuple(value) if isinstance(value, list) else value for key, value in data.items()}
        return cls(**values)

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> SegmentationConfig:
        """The config saved with a checkpoint: a key it lacks was added later, and the checkpoint
        was made with that key's legacy value, not with today's default."""
        return cls.from_dict({**LEGACY_VALUES, **data})

    @property
    def digest(self) -> str:
        data = {k: v for k, v in self.to_dict().items() if not (k in LEGACY_VALUES and v == LEGACY_VALUES[k])}
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    ARCHITECTURE_FIELDS = (
        "modalities",
        "normalisation",
        "coordinate_channels",
        "channels",
        "strides",
        "num_res_units",
        "head_features",
    )

    def same_architecture(self, other: SegmentationConfig) -> bool:
        """Whether weights of one fit the network and the inputs of the other (fine-tuning needs this)."""
        return all(getattr(self, name) == getattr(other, name) for name in self.ARCHITECTURE_FIELDS)

    def replace(self, **changes: Any) -> SegmentationConfig:
        data = self.to_dict()
        data.update(changes)
        return SegmentationConfig.from_dict(data)
