"""Untrusted NIfTI bytes are refused with a sentence naming the problem, before decompression."""

import gzip
import struct
import time
import tracemalloc

import nibabel as nib
import numpy as np
import pytest

from annotations import nifti

LIMITS = {"max_voxels": 256**3, "max_bytes": 256**3 * 8}


def nii(data: np.ndarray, affine: np.ndarray | None = None, gz: bool = True) -> bytes:
    raw = nib.Nifti1Image(data, np.eye(4) if affine is None else affine).to_bytes()
    return gzip.compress(raw, mtime=0) if gz else raw


def test_reads_gzipped_and_plain_files_alike():
    data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    for gz in (True, False):
        vol = nifti.read_nifti(nii(data, gz=gz), **LIMITS)
        assert vol.shape == (2, 3, 4)
        assert np.array_equal(vol.data, data)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "the body is empty"),
        (b'{"not": "nifti"}' * 40, "not a NIfTI file"),
        (b"\x1f\x8b" + b"garbage" * 100, "gzip stream is damaged"),
        (b"\x00" * 10, "too short to be NIfTI"),
    ],
)
def test_non_nifti_bodies_are_named(body, message):
    with pytest.raises(nifti.NiftiError, match=message):
        nifti.read_nifti(body, **LIMITS)


def test_truncated_file_is_refused():
    raw = nii(np.ones((20, 20, 20), np.int16), gz=False)
    with pytest.raises(nifti.NiftiError, match="truncated"):
        nifti.read_nifti(raw[:-100], **LIMITS)


def test_five_dimensional_data_is_refused():
    with pytest.raises(nifti.NiftiError, match="only 3-D volumes"):
        nifti.read_nifti(nii(np.zeros((4, 4, 4, 2, 2), np.uint8)), **LIMITS)


def test_single_time_point_4d_is_accepted_as_3d():
    vol = nifti.read_nifti(nii(np.zeros((4, 4, 4, 1), np.uint8)), **LIMITS)
    assert vol.shape == (4, 4, 4)


def test_nan_affine_is_refused():
    affine = np.eye(4)
    affine[0, 3] = np.nan
    img = nib.Nifti1Image(np.zeros((4, 4, 4), np.uint8), None)
    img.header.set_sform(affine, code=1)
    img.header.set_qform(np.eye(4), code=0)
    img.header["vox_offset"] = 352
    raw = img.header.binaryblock + b"\0" * 4 + np.zeros(64, np.uint8).tobytes()
    with pytest.raises(nifti.NiftiError, match="NaN or infinite"):
        nifti.read_nifti(raw, **LIMITS)


def _header_with_dims(dims: tuple[int, ...], datatype: int = 2, bitpix: int = 8) -> bytearray:
    source = nib.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4)).header
    source["vox_offset"] = 352
    header = bytearray(source.binaryblock)
    struct.pack_into("<8h", header, 40, len(dims), *dims, *([1] * (7 - len(dims))))
    struct.pack_into("<hh", header, 70, datatype, bitpix)
    return header


def test_huge_dimensions_are_refused_from_the_header_alone():
    header = _header_with_dims((30000, 30000, 30000))
    started = time.perf_counter()
    with pytest.raises(nifti.NiftiError, match="more than the limit"):
        nifti.read_nifti(bytes(header) + b"\0" * 4, **LIMITS)
    assert time.perf_counter() - started < 1


def test_gzip_bomb_is_refused_without_inflating_it():
    # 1 GB of zeros compresses to about 1 MB; the header inside claims a huge volume.
    header = _header_with_dims((2048, 2048, 256))
    bomb = gzip.compress(bytes(header) + b"\0" * 4 + b"\0" * (64 * 1024 * 1024), compresslevel=9)
    tracemalloc.start()
    with pytest.raises(nifti.NiftiError, match="more than the limit"):
        nifti.read_nifti(bomb, **LIMITS)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 16 * 1024 * 1024


def test_wrong_vox_offset_is_refused():
    header = _header_with_dims((4, 4, 4))
    struct.pack_into("<f", header, 108, 10.0)  # inside the header
    with pytest.raises(nifti.NiftiError, match="vox_offset"):
        nifti.read_nifti(bytes(header) + b"\0" * 68, **LIMITS)


def test_datatype_and_bitpix_must_agree():
    header = _header_with_dims((4, 4, 4), datatype=4, bitpix=8)  # int16 claimed with 8 bits
    with pytest.raises(nifti.NiftiError, match="bits per voxel"):
        nifti.read_nifti(bytes(header) + b"\0" * 200, **LIMITS)


def test_unknown_datatype_code_is_refused():
    header = _header_with_dims((4, 4, 4), datatype=999, bitpix=8)
    with pytest.raises(nifti.NiftiError, match="datatype"):
        nifti.read_nifti(bytes(header) + b"\0" * 200, **LIMITS)


def test_label_values_refuse_fractions_and_negatives():
    with pytest.raises(nifti.NiftiError, match="non-integer"):
        nifti.label_values(np.array([0.0, 1.5]))
    with pytest.raises(nifti.NiftiError, match="negative"):
        nifti.label_values(np.array([0, -1], np.int16))
    assert nifti.label_values(np.array([0.0, 2.0], np.float32)).dtype == np.uint8


def test_canonical_encoding_is_deterministic_and_round_trips():
    labels = np.zeros((5, 6, 7), np.uint8)
    labels[1:3, 2:4, 3] = 4
    affine = np.diag([-1.5, 2.0, 2.5, 1.0])
    first, second = nifti.encode_labels(labels, affine), nifti.encode_labels(labels, affine)
    assert first == second
    back = nifti.read_nifti(first, **LIMITS)
    assert np.array_equal(back.data, labels)
    assert np.allclose(back.affine, affine)


def test_scrubbing_removes_text_fields_and_keeps_voxels():
    data = np.random.default_rng(0).integers(0, 1000, (6, 7, 8)).astype(np.int16)
    img = nib.Nifti1Image(data, np.diag([-1, 1, 1, 1]))
    img.header["descrip"] = b"Patient DOE^JOHN 1970-01-01"
    img.header["aux_file"] = b"MRN123456"
    img.header["db_name"] = b"HOSPITAL"
    img.header["intent_name"] = b"ACC999"
    clean = nifti.scrub_volume(nifti.read_nifti(img.to_bytes(), **LIMITS))
    back = nifti.read_nifti(clean, **LIMITS)
    raw = gzip.decompress(clean)
    for secret in (b"DOE", b"MRN123456", b"HOSPITAL", b"ACC999"):
        assert secret not in raw
    assert np.array_equal(back.data, data)
    assert np.allclose(back.affine, img.affine)


def test_label_diff_counts_added_and_removed_voxels_per_label():
    old = np.zeros((4, 4, 4), np.uint8)
    old[0, 0, :2] = 1
    new = old.copy()
    new[0, 0, 0] = 0
    new[1, 1, :3] = 2
    assert nifti.label_diff(new, old) == {"1": {"added": 0, "removed": 1}, "2": {"added": 3, "removed": 0}}
    assert nifti.label_diff(old, None) == {"1": {"added": 2, "removed": 0}}
