"""PUT/GET of masks: If-Match versions, counts and diffs, and every way a body can be wrong."""

import gzip

import nibabel as nib
import numpy as np
import pytest

from annotations import nifti
from annotations.models import MaskVersion


def get_mask(client, case_id, kind="lesion", **params):
    response = client.get(f"/api/cases/{case_id}/masks/{kind}", params)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def put_mask(client, case_id, body, if_match=None, kind="lesion", content_type="application/gzip"):
    headers = {"HTTP_IF_MATCH": if_match} if if_match is not None else {}
    return client.put(f"/api/cases/{case_id}/masks/{kind}", data=body, content_type=content_type, **headers)


def edit(body: bytes, fn) -> bytes:
    """What a client does: load the GET bytes with nibabel, change voxels, save again on the same header."""
    img = nib.Nifti1Image.from_bytes(gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body)
    data = np.asarray(img.dataobj).copy()
    fn(data)
    return gzip.compress(nib.Nifti1Image(data, img.affine, img.header).to_bytes())


def test_an_empty_case_serves_an_empty_mask_as_version_zero(members, client_for, make_case):
    case = make_case()
    response, body = get_mask(client_for(members["viewer"]), case.pk)
    assert response.status_code == 200 and response["ETag"] == '"0"'
    vol = nifti.read_nifti(body, max_voxels=10**7, max_bytes=10**8)
    assert vol.shape == tuple(case.shape) and not vol.data.any()
    assert np.allclose(vol.affine, case.affine)


def test_save_returns_version_counts_and_diff_and_get_returns_it(members, client_for, make_case):
    case = make_case()
    client = client_for(members["annotator"])
    _, body = get_mask(client, case.pk)
    edited = edit(body, lambda d: d.__setitem__((slice(3, 5), 4, 6), 2))
    response = put_mask(client, case.pk, edited, if_match='"0"')
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "version": 1,
        "counts": {"2": 2},
        "diff": {"2": {"added": 2, "removed": 0}},
        "created": True,
    }
    again, body = get_mask(client, case.pk)
    assert again["ETag"] == '"1"'
    second = edit(body, lambda d: (d.__setitem__((3, 4, 6), 0), d.__setitem__((7, 7, 7), 4)))
    result = put_mask(client, case.pk, second, if_match='"1"').json()
    assert result["version"] == 2
    assert result["diff"] == {"2": {"added": 0, "removed": 1}, "4": {"added": 1, "removed": 0}}
    old, old_body = get_mask(client, case.pk, version=1)
    assert old["ETag"] == '"1"'
    assert nifti.read_nifti(old_body, max_voxels=10**7, max_bytes=10**8).data[3, 4, 6] == 2
    case.refresh_from_db()
    assert case.status == "in_progress" and case.last_editor == members["annotator"]


def test_plain_nii_and_octet_stream_are_accepted(members, client_for, make_case):
    case = make_case()
    client = client_for(members["annotator"])
    _, body = get_mask(client, case.pk)
    img = nib.Nifti1Image.from_bytes(gzip.decompress(body))
    data = np.asarray(img.dataobj).copy()
    data[1, 1, 1] = 1
    raw = nib.Nifti1Image(data, img.affine, img.header).to_bytes()
    response = put_mask(client, case.pk, raw, if_match="0", content_type="application/octet-stream")
    assert response.status_code == 200 and response.json()["counts"] == {"1": 1}


def test_stale_if_match_gets_409_with_the_current_version(members, client_for, make_case):
    case = make_case()
    client = client_for(members["annotator"])
    _, body = get_mask(client, case.pk)
    put_mask(client, case.pk, edit(body, lambda d: d.__setitem__((1, 1, 1), 1)), if_match='"0"')
    stale = put_mask(client, case.pk, edit(body, lambda d: d.__setitem__((2, 2, 2), 1)), if_match='"0"')
    assert stale.status_code == 409
    assert stale.json()["current_version"] == 1
    assert MaskVersion.objects.filter(case=case).count() == 1


def test_missing_if_match_gets_428(members, client_for, make_case):
    case = make_case()
    client = client_for(members["annotator"])
    _, body = get_mask(client, case.pk)
    response = put_mask(client, case.pk, body)
    assert response.status_code == 428 and "If-Match" in response.json()["detail"]


def test_saving_identical_voxels_creates_no_new_version(members, client_for, make_case):
    case = make_case()
    client = client_for(members["annotator"])
    _, body = get_mask(client, case.pk)
    first = put_mask(client, case.pk, edit(body, lambda d: d.__setitem__((1, 1, 1), 1)), if_match="0").json()
    _, body = get_mask(client, case.pk)
    same = put_mask(client, case.pk, body, if_match="1").json()
    assert same["version"] == first["version"] == 1 and same["created"] is False


def _with_affine(body: bytes, affine: np.ndarray) -> bytes:
    img = nib.Nifti1Image.from_bytes(gzip.decompress(body))
    return nib.Nifti1Image(np.asarray(img.dataobj), affine).to_bytes()


@pytest.mark.parametrize(
    ("make_body", "message"),
    [
        (lambda body, case: b"not a nifti at all" * 30, "not a NIfTI file"),
        (lambda body, case: nib.Nifti1Image(np.zeros((5, 5, 5), np.uint8), np.eye(4)).to_bytes(), "shape"),
        (lambda body, case: _with_affine(body, np.asarray(case.affine) @ np.diag([-1, 1, 1, 1])), "affine differs"),
        (
            lambda body, case: nib.Nifti1Image(
                np.full(case.shape, 0.5, np.float32), np.asarray(case.affine)
            ).to_bytes(),
            "non-integer",
        ),
        (
            lambda body, case: nib.Nifti1Image(np.full(case.shape, 77, np.uint8), np.asarray(case.affine)).to_bytes(),
            "not in the demo-aal3 schema: 77",
        ),
        (
            lambda body, case: nib.Nifti1Image(
                np.zeros((*case.shape, 2), np.uint8), np.asarray(case.affine)
            ).to_bytes(),
            "only 3-D",
        ),
    ],
    ids=["not-nifti", "wrong-shape", "flipped-affine", "non-integer", "outside-schema", "4d"],
)
def test_bad_bodies_get_400_naming_the_problem(members, client_for, make_case, make_body, message):
    case = make_case()
    client = client_for(members["annotator"])
    _, body = get_mask(client, case.pk)
    response = put_mask(client, case.pk, make_body(body, case), if_match="0")
    assert response.status_code == 400, response.content
    assert message in response.json()["detail"]
    assert not MaskVersion.objects.filter(case=case).exists()


def test_structure_labels_are_checked_against_the_structure_table(members, client_for, make_case):
    case = make_case()
    client = client_for(members["annotator"])
    _, body = get_mask(client, case.pk, kind="structure")
    ok = put_mask(client, case.pk, edit(body, lambda d: d.__setitem__((1, 1, 1), 30)), if_match="0", kind="structure")
    assert ok.status_code == 200
    bad = put_mask(client, case.pk, edit(body, lambda d: d.__setitem__((1, 1, 1), 200)), if_match="1", kind="structure")
    assert bad.status_code == 400 and "200" in bad.json()["detail"]


def test_version_history_lists_author_source_and_diff(members, client_for, make_case):
    case = make_case()
    client = client_for(members["annotator"])
    _, body = get_mask(client, case.pk)
    put_mask(client, case.pk, edit(body, lambda d: d.__setitem__((1, 1, 1), 1)), if_match="0")
    history = client.get(f"/api/cases/{case.pk}/masks/lesion/versions/").json()["results"]
    assert [(h["version"], h["author"]["username"], h["source"], h["diff"]) for h in history] == [
        (1, "annotator", "human", {"1": {"added": 1, "removed": 0}})
    ]


def test_the_stored_file_is_never_rewritten_by_a_later_save(members, client_for, make_case):
    from annotations.blobs import blob_read

    case = make_case()
    client = client_for(members["annotator"])
    _, body = get_mask(client, case.pk)
    put_mask(client, case.pk, edit(body, lambda d: d.__setitem__((1, 1, 1), 1)), if_match="0")
    first = MaskVersion.objects.get(case=case, version=1)
    before = blob_read(first.file)
    _, body = get_mask(client, case.pk)
    put_mask(client, case.pk, edit(body, lambda d: d.__setitem__((1, 1, 1), 2)), if_match="1")
    assert blob_read(first.file) == before
