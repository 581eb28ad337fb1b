"""Case pictures: three planes through the largest lesion for every sequence, with mask outlines.

Rendered by the demo package's renderer (pure numpy/Pillow) and kept in the file store under a key
made of the inputs' checksums, so a worklist thumbnail is drawn once per mask version.
"""

from __future__ import annotations

import gzip
import hashlib
import io

import nibabel as nib
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from annotations.blobs import blob_read
from annotations.models import Case
from annotations.services.masks import mask_latest


def _image(name: str) -> nib.Nifti1Image:
    raw = blob_read(name)
    return nib.Nifti1Image.from_bytes(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)


def case_preview_key(case: Case, size: int, show_structure: bool) -> str:
    lesion, structure = mask_latest(case, "lesion"), mask_latest(case, "structure")
    parts = [f"{v.modality}:{v.sha256}" for v in case.volumes.order_by("modality")]
    parts += [f"lesion:{lesion.sha256 if lesion else '-'}", f"structure:{structure.sha256 if structure else '-'}"]
    parts += [f"size:{size}", f"structures:{show_structure}", "renderer:1"]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def case_preview_png(case: Case, *, size: int = 120, show_structure: bool = False) -> tuple[bytes, str]:
    """PNG bytes and their cache key (usable as an ETag)."""
    key = case_preview_key(case, size, show_structure)
    name = f"previews/{key[:2]}/{key}.png"
    if default_storage.exists(name):
        with default_storage.open(name, "rb") as fh:
            return fh.read(), key
    from annotations.demo.render import render_case_png

    volumes = {v.modality: _image(v.file) for v in case.volumes.all()}
    lesion, structure = mask_latest(case, "lesion"), mask_latest(case, "structure")
    buffer = io.BytesIO()
    render_case_png(
        volumes,
        _image(lesion.file) if lesion else None,
        _image(structure.file) if structure else None,
        buffer,
        size=size,
        show_structure=show_structure,
    )
    data = buffer.getvalue()
    default_storage.save(name, ContentFile(data))
    return data, key
