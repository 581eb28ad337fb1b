"""Reading untrusted NIfTI bytes safely and writing canonical ones.

Uploads are checked from the header before anything is decompressed: a gzip bomb or a header that
promises a 10⁹-voxel volume is refused after reading a few hundred bytes. Voxel data are then
decompressed with a hard cap of exactly what the header promised.

Files written by the platform are canonical: a fresh header carrying only geometry and datatype (no
free-text fields, no extensions, which can hold patient identifiers) and a gzip stream with a zero
timestamp, so the same voxels always give the same bytes and therefore the same sha256.

No Django imports: importers, the ML worker and tests use this module directly.
"""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass

import nibabel as nib
import numpy as np

GZIP_MAGIC = b"\x1f\x8b"
NIFTI1_HEADER_SIZE = 348
NIFTI2_HEADER_SIZE = 540
TEXT_FIELDS = ("descrip", "aux_file", "db_name", "intent_name")
# Affines written by browsers and other tools pass through float32: allow that much disagreement.
AFFINE_ATOL_MM = 1e-3


class NiftiError(ValueError):
    """The bytes are not a NIfTI volume this platform accepts; the message says why, for a human."""


@dataclass(frozen=True)
class NiftiHeaderInfo:
    header: nib.Nifti1Header
    shape: tuple[int, ...]
    dtype: np.dtype
    affine: np.ndarray
    vox_offset: int
    data_nbytes: int


@dataclass(frozen=True)
class NiftiVolume:
    info: NiftiHeaderInfo
    raw: bytes  # the uncompressed file: header, extensions and voxel data
    data: np.ndarray  # voxel values as stored (unscaled), Fortran order, shape == info.shape

    @property
    def shape(self) -> tuple[int, ...]:
        return self.info.shape

    @property
    def affine(self) -> np.ndarray:
        return self.info.affine


def is_gzip(data: bytes) -> bool:
    return data[:2] == GZIP_MAGIC


def _decompress_prefix(data: bytes, n: int) -> bytes:
    """At most ``n`` bytes from the start of a gzip stream, decompressing nothing more."""
    decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        return decomp.decompress(data, n)
    except zlib.error as exc:
        raise NiftiError(f"the gzip stream is damaged ({exc})") from None


def parse_header(prefix: bytes) -> NiftiHeaderInfo:
    """Validate a header (the first 540 bytes or fewer) and return the geometry it describes."""
    if len(prefix) < NIFTI1_HEADER_SIZE:
        raise NiftiError(f"the file is too short to be NIfTI ({len(prefix)} bytes; a header alone is 348)")
    sizeof_hdr_le = int.from_bytes(prefix[:4], "little")
    sizeof_hdr_be = int.from_bytes(prefix[:4], "big")
    if NIFTI2_HEADER_SIZE in (sizeof_hdr_le, sizeof_hdr_be):
        header_class: type[nib.Nifti1Header] = nib.Nifti2Header
        if len(prefix) < NIFTI2_HEADER_SIZE:
            raise NiftiError("the file is too short for the NIfTI-2 header it starts with")
    elif NIFTI1_HEADER_SIZE in (sizeof_hdr_le, sizeof_hdr_be):
        header_class = nib.Nifti1Header
    else:
        raise NiftiError("not a NIfTI file: the first four bytes are not a NIfTI header size (348 or 540)")
    try:
        header = header_class.from_fileobj(io.BytesIO(prefix), check=False)
    except Exception as exc:  # noqa: BLE001 - nibabel raises several types for bad headers
        raise NiftiError(f"the NIfTI header cannot be read ({exc})") from None
    magic = bytes(header["magic"]).rstrip(b"\x00")
    if magic in (b"ni1", b"ni2"):
        raise NiftiError("this is the header of a .hdr/.img pair; upload a single-file .nii or .nii.gz")
    if magic not in (b"n+1", b"n+2"):
        raise NiftiError(f"not a NIfTI file: the header magic is {magic!r}, expected 'n+1'")

    dim = [int(d) for d in header["dim"]]
    ndim = dim[0]
    if ndim < 1 or ndim > 7:
        raise NiftiError(f"the header declares {ndim} dimensions; NIfTI allows 1 to 7")
    sizes = dim[1 : ndim + 1]
    if any(s < 1 for s in sizes):
        raise NiftiError(f"the header declares a dimension of size {min(sizes)}; every size must be positive")
    if ndim > 3 and any(s != 1 for s in sizes[3:]):
        raise NiftiError(
            f"the image has {ndim} dimensions {tuple(sizes)}; only 3-D volumes are accepted (one time point)"
        )
    shape = tuple(sizes[:3]) + (1,) * (3 - min(ndim, 3))

    try:
        dtype = header.get_data_dtype()
    except Exception:  # noqa: BLE001
        raise NiftiError(f"the header's datatype code {int(header['datatype'])} is not a NIfTI datatype") from None
    if dtype.kind not in "iufb" or dtype.fields is not None:
        raise NiftiError(f"voxel datatype {dtype} is not supported (integers or floats only)")
    bitpix = int(header["bitpix"])
    if bitpix != dtype.itemsize * 8:
        raise NiftiError(f"the header says {bitpix} bits per voxel but its datatype {dtype} has {dtype.itemsize * 8}")

    vox_offset = int(header["vox_offset"])
    if vox_offset < len(header.binaryblock) or vox_offset > 64 * 1024 * 1024:
        raise NiftiError(f"the header's vox_offset {vox_offset} points inside the header or far past it")

    affine = header.get_best_affine()
    if not np.all(np.isfinite(affine)):
        raise NiftiError("the header's affine (voxel to world transform) contains NaN or infinite values")
    if abs(np.linalg.det(affine[:3, :3])) < 1e-9:
        raise NiftiError("the header's affine is singular (zero voxel size or collapsed axes)")

    nvox = int(np.prod(shape, dtype=np.int64))
    return NiftiHeaderInfo(
        header=header,
        shape=shape,
        dtype=dtype,
        affine=affine,
        vox_offset=vox_offset,
        data_nbytes=nvox * dtype.itemsize,
    )


def read_nifti(data: bytes, *, max_voxels: int, max_bytes: int) -> NiftiVolume:
    """Parse untrusted bytes (.nii or .nii.gz) into a checked volume.

    The size limits are enforced from the header, before decompression, so memory stays bounded
    by what the limits allow whatever the upload claims.
    """
    if not data:
        raise NiftiError("the body is empty; send the NIfTI file's bytes")
    gz = is_gzip(data)
    prefix = _decompress_prefix(data, NIFTI2_HEADER_SIZE) if gz else data[:NIFTI2_HEADER_SIZE]
    info = parse_header(prefix)
    nvox = info.data_nbytes // info.dtype.itemsize
    if nvox > max_voxels:
        raise NiftiError(f"the header promises {info.shape} = {nvox:,} voxels, more than the limit of {max_voxels:,}")
    total = info.vox_offset + info.data_nbytes
    if total > max_bytes:
        raise NiftiError(
            f"the header promises {total:,} bytes of uncompressed data, more than the limit of {max_bytes:,}"
        )
    if gz:
        decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            raw = decomp.decompress(data, total)
        except zlib.error as exc:
            raise NiftiError(f"the gzip stream is damaged ({exc})") from None
    else:
        raw = data[:total]
    if len(raw) < total:
        raise NiftiError(
            f"the file is truncated: the header promises {info.data_nbytes:,} bytes of voxel data "
            f"from offset {info.vox_offset}, but only {max(0, len(raw) - info.vox_offset):,} are there"
        )
    arr = np.frombuffer(raw, dtype=info.dtype, count=nvox, offset=info.vox_offset).reshape(info.shape, order="F")
    return NiftiVolume(info=info, raw=raw, data=arr)


def orientation_codes(affine: np.ndarray) -> str:
    return "".join(nib.aff2axcodes(affine))


def voxel_spacing(affine: np.ndarray) -> list[float]:
    return [float(v) for v in np.sqrt((affine[:3, :3] ** 2).sum(axis=0))]


def same_grid(
    shape_a: tuple[int, ...], affine_a: np.ndarray, shape_b: tuple[int, ...], affine_b: np.ndarray
) -> str | None:
    """None when the grids match; otherwise a sentence saying how they differ."""
    if tuple(shape_a) != tuple(shape_b):
        return f"its shape {tuple(shape_a)} differs from the case's reference grid {tuple(shape_b)}"
    diff = np.abs(np.asarray(affine_a, dtype=float) - np.asarray(affine_b, dtype=float))
    if diff.max() > AFFINE_ATOL_MM:
        return (
            f"its affine differs from the case's reference grid by up to {diff.max():.4g} mm "
            f"(tolerance {AFFINE_ATOL_MM} mm); it is on a different grid or orientation"
        )
    return None


def label_values(data: np.ndarray) -> np.ndarray:
    """Labels as a non-negative integer array; refuses fractional, negative or non-finite voxels."""
    if data.dtype.kind == "f":
        if not np.all(np.isfinite(data)):
            raise NiftiError("the mask holds NaN or infinite values; labels must be whole numbers")
        rounded = np.rint(data)
        if not np.array_equal(rounded, data):
            raise NiftiError("the mask holds non-integer values; labels must be whole numbers")
        data = rounded
    if data.dtype.kind == "b":
        data = data.astype(np.uint8)
    if data.size and data.min() < 0:
        raise NiftiError(f"the mask holds the negative label {int(data.min())}")
    top = int(data.max()) if data.size else 0
    if top > 65535:
        raise NiftiError(f"the mask holds the label {top}, larger than any schema label")
    target = np.uint8 if top < 256 else np.uint16
    return data.astype(target, copy=False)


def _memory_order(labels: np.ndarray) -> np.ndarray:
    """A 1-D view in Fortran (NIfTI) order, so two maps of one grid line up element by element."""
    return np.asfortranarray(labels).ravel(order="K")


def label_counts(labels: np.ndarray) -> dict[str, int]:
    """Voxels per non-zero label. Counting only the non-zero voxels keeps this fast on sparse masks."""
    flat = _memory_order(labels)
    counts = np.bincount(flat[flat != 0])
    return {str(i): int(c) for i, c in enumerate(counts) if i > 0 and c > 0}


def label_diff(new: np.ndarray, old: np.ndarray | None) -> dict[str, dict[str, int]]:
    """Per label, voxels that gained it and voxels that lost it, against the previous version."""
    if old is None:
        return {k: {"added": v, "removed": 0} for k, v in label_counts(new).items()}
    flat_new, flat_old = _memory_order(new), _memory_order(old)
    changed = np.flatnonzero(flat_new != flat_old)
    if changed.size == 0:
        return {}
    added = np.bincount(flat_new[changed])
    removed = np.bincount(flat_old[changed])
    out: dict[str, dict[str, int]] = {}
    for label in range(1, max(len(added), len(removed))):
        a = int(added[label]) if label < len(added) else 0
        r = int(removed[label]) if label < len(removed) else 0
        if a or r:
            out[str(label)] = {"added": a, "removed": r}
    return out


def _gzip(raw: bytes, level: int) -> bytes:
    return gzip.compress(raw, compresslevel=level, mtime=0)


def encode_labels(labels: np.ndarray, affine: np.ndarray, *, level: int = 1) -> bytes:
    """A canonical .nii.gz for a label map on the given grid."""
    header = nib.Nifti1Header()
    header.set_data_shape(labels.shape)
    header.set_data_dtype(labels.dtype)
    header.set_sform(affine, code=1)
    header.set_qform(affine, code=1)
    header.set_xyzt_units("mm")
    header["vox_offset"] = 352
    header["scl_slope"] = 1.0
    header["scl_inter"] = 0.0
    raw = header.binaryblock + b"\x00\x00\x00\x00" + np.asarray(labels).tobytes(order="F")
    return _gzip(raw, level)


def scrub_volume(volume: NiftiVolume, *, level: int = 6) -> bytes:
    """The same voxel bytes and geometry, without free-text header fields or extensions."""
    header = volume.info.header.copy()
    for field in TEXT_FIELDS:
        header[field] = b""
    block = header.binaryblock
    offset = len(block) + 4
    header["vox_offset"] = offset
    block = header.binaryblock
    start = volume.info.vox_offset
    voxels = volume.raw[start : start + volume.info.data_nbytes]
    return _gzip(block + b"\x00\x00\x00\x00" + voxels, level)


def decode_stored(data: bytes) -> NiftiVolume:
    """Read a file the platform wrote itself (already validated), without size limits."""
    return read_nifti(data, max_voxels=2**40, max_bytes=2**62)
