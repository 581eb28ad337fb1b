"""Grounded report generation: measure the masks, write sentences, check sentences against masks.

- ``features``: per lesion component, the structures it involves, side, three diameters, volume,
  signal per available sequence relative to normal-appearing white matter, oedema, enhancement,
  restricted diffusion; per case, midline shift and ventricle compression
- ``writers``: ``Sentence``, the ``ReportWriter`` protocol and its registry, the template writer
- ``slots``: how locations, sizes and signals are put into words (shared by every writer)
- ``consistency``: warnings for sentences whose side, region or size contradict the masks

Nothing here imports torch: the web process can check a clinician's edit without the model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import nibabel as nib
import numpy as np

from inference.ml.report.consistency import ConsistencyWarning, check_consistency, check_report, check_sentence
from inference.ml.report.features import CaseFeatures, LesionFeatures, extract_features
from inference.ml.report.writers import (
    WRITERS,
    Phrasebook,
    ReportWriter,
    Sentence,
    TemplateWriter,
    get_writer,
)
from inference.ml.schema import LabelSchema

__all__ = [
    "WRITERS",
    "CaseFeatures",
    "ConsistencyWarning",
    "GeneratedReport",
    "LesionFeatures",
    "Phrasebook",
    "ReportWriter",
    "Sentence",
    "TemplateWriter",
    "check_consistency",
    "check_report",
    "check_sentence",
    "extract_features",
    "generate_report",
    "get_writer",
    "volumes_on_grid",
]


@dataclass
class GeneratedReport:
    sentences: list[Sentence]
    features: CaseFeatures
    writer: str

    @property
    def text(self) -> str:
        return " ".join(sentence.text for sentence in self.sentences)


def volumes_on_grid(volumes: Mapping[str, nib.Nifti1Image], grid_image: nib.Nifti1Image) -> dict[str, np.ndarray]:
    """Intensities of each modality on the masks' grid (resampled through the affines if needed)."""
    from scipy import ndimage

    out = {}
    shape = grid_image.shape[:3]
    for name, image in volumes.items():
        data = np.asarray(image.dataobj, dtype=np.float32)
        if data.ndim == 4 and data.shape[3] == 1:
            data = data[..., 0]
        if data.shape == shape and np.allclose(image.affine, grid_image.affine, atol=1e-4):
            out[name] = data
            continue
        mapping = np.linalg.inv(image.affine) @ grid_image.affine
        out[name] = ndimage.affine_transform(
            data, mapping[:3, :3], offset=mapping[:3, 3], output_shape=shape, order=1, mode="constant", cval=0.0
        )
    return out


def generate_report(
    structure: nib.Nifti1Image,
    lesion: nib.Nifti1Image,
    schema: LabelSchema,
    volumes: Mapping[str, nib.Nifti1Image] | None = None,
    *,
    writer: str | ReportWriter = "templates",
) -> GeneratedReport:
    """Measure one case's masks (and images, for signal) and write its grounded sentences."""
    if structure.shape[:3] != lesion.shape[:3] or not np.allclose(structure.affine, lesion.affine, atol=1e-4):
        raise ValueError("structure and lesion masks must share one grid")
    arrays = volumes_on_grid(volumes, structure) if volumes else {}
    features = extract_features(
        np.asarray(structure.dataobj), np.asarray(lesion.dataobj), structure.affine, schema, arrays
    )
    chosen = get_writer(writer) if isinstance(writer, str) else writer
    return GeneratedReport(chosen.write(features, schema), features, chosen.name)
