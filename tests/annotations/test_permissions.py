"""Each role against each write endpoint: outsiders get 404, too-weak roles 403, others succeed."""

import gzip

import nibabel as nib
import numpy as np
import pytest

RANK = {"viewer": 0, "annotator": 1, "reviewer": 2, "admin": 3}


def _mask_body(client, case):
    response = client.get(f"/api/cases/{case.pk}/masks/lesion")
    img = nib.Nifti1Image.from_bytes(gzip.decompress(response.content))
    data = np.asarray(img.dataobj).copy()
    data[2, 2, 2] = 1
    return gzip.compress(nib.Nifti1Image(data, img.affine, img.header).to_bytes())


def _request(name, client, project, case, nifti_bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    if name == "patch project":
        return client.patch(f"/api/projects/{project.pk}/", {"description": "x"}, format="json")
    if name == "add member":
        return client.post(
            f"/api/projects/{project.pk}/members/", {"username": "viewer", "role": "viewer"}, format="json"
        )
    if name == "upload case":
        return client.post(
            f"/api/projects/{project.pk}/cases/",
            {"external_id": "NEW", "T1": SimpleUploadedFile("a.nii.gz", nifti_bytes())},
            format="multipart",
        )
    if name == "assign case":
        return client.patch(f"/api/cases/{case.pk}/", {"assignee": None}, format="json")
    if name == "set split":
        return client.patch(f"/api/cases/{case.pk}/", {"split": "train"}, format="json")
    if name == "delete case":
        return client.delete(f"/api/cases/{case.pk}/")
    if name == "save mask":
        admin_view = _mask_body(client, case) if client.get(f"/api/cases/{case.pk}/").status_code == 200 else b"x"
        return client.put(
            f"/api/cases/{case.pk}/masks/lesion", data=admin_view, content_type="application/gzip", HTTP_IF_MATCH='"0"'
        )
    if name == "save report":
        return client.put(
            f"/api/cases/{case.pk}/report",
            {"sentences": [{"text": "No acute findings."}]},
            format="json",
            HTTP_IF_MATCH='"0"',
        )
    if name == "submit":
        return client.post(f"/api/cases/{case.pk}/review", {"action": "submit"}, format="json")
    if name == "approve":
        case.status = "submitted"
        case.save(update_fields=["status"])
        return client.post(f"/api/cases/{case.pk}/review", {"action": "approve"}, format="json")
    if name == "start import job":
        return client.post(
            f"/api/projects/{project.pk}/jobs/", {"type": "import", "params": {"path": "x"}}, format="json"
        )
    raise AssertionError(name)


# endpoint → weakest role allowed
WRITES = {
    "patch project": "admin",
    "add member": "admin",
    "upload case": "admin",
    "assign case": "reviewer",
    "set split": "admin",
    "delete case": "admin",
    "save mask": "annotator",
    "save report": "annotator",
    "submit": "annotator",
    "approve": "reviewer",
    "start import job": "admin",
}


@pytest.mark.parametrize("endpoint", sorted(WRITES))
@pytest.mark.parametrize("role", ["outsider", "viewer", "annotator", "reviewer", "admin"])
def test_role_against_write_endpoint(endpoint, role, members, client_for, project, make_case, nifti_bytes):
    case = make_case()
    response = _request(endpoint, client_for(members[role]), project, case, nifti_bytes)
    if role == "outsider":
        assert response.status_code == 404, response.content
    elif RANK[role] < RANK[WRITES[endpoint]]:
        assert response.status_code == 403, response.content
        assert "you must be at least" in response.json()["detail"]
    else:
        # Allowed: anything but a permission error (the import job's path is refused as a 400).
        assert response.status_code not in (403, 404), response.content
        assert response.status_code < 500


def test_every_read_endpoint_hides_other_projects(members, client_for, make_case):
    case = make_case()
    outsider = client_for(members["outsider"])
    for url in (
        f"/api/projects/{case.project_id}/",
        f"/api/projects/{case.project_id}/members/",
        f"/api/projects/{case.project_id}/cases/",
        f"/api/cases/{case.pk}/",
        f"/api/cases/{case.pk}/volumes/T1",
        f"/api/cases/{case.pk}/masks/lesion",
        f"/api/cases/{case.pk}/masks/lesion/versions/",
        f"/api/cases/{case.pk}/report",
        f"/api/cases/{case.pk}/report/versions/",
        f"/api/cases/{case.pk}/reviews/",
        f"/api/projects/{case.project_id}/jobs/",
    ):
        assert outsider.get(url).status_code == 404, url
