import gzip

import numpy as np


def upload(client, project, external_id="P001", files=None, **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = {"external_id": external_id, **fields}
    for name, content in (files or {}).items():
        data[name] = SimpleUploadedFile(f"{name}.nii.gz", content)
    return client.post(f"/api/projects/{project.pk}/cases/", data, format="multipart")


def test_multipart_upload_creates_a_case_on_the_first_modalitys_grid(members, client_for, project, nifti_bytes):
    client = client_for(members["admin"])
    files = {"FLAIR": nifti_bytes(orientation="LAS"), "T1": nifti_bytes(orientation="LAS")}
    response = upload(client, project, files=files)
    assert response.status_code == 201, response.json()
    case = response.json()
    assert case["reference_modality"] == "FLAIR"
    assert case["orientation"] == "LAS" and case["shape"] == [24, 28, 20]
    assert sorted(v["modality"] for v in case["volumes"]) == ["FLAIR", "T1"]
    assert case["modalities"] == ["T1", "FLAIR"]
    assert case["status"] == "new"


def test_reference_field_chooses_the_grid(members, client_for, project, nifti_bytes):
    files = {"T1": nifti_bytes(), "FLAIR": nifti_bytes(shape=(20, 20, 20))}
    response = upload(client_for(members["admin"]), project, files=files, reference="FLAIR")
    assert response.json()["shape"] == [20, 20, 20]


def test_masks_uploaded_with_the_case_become_version_one(members, client_for, project, nifti_bytes):
    lesion = np.zeros((24, 28, 20), np.uint8)
    lesion[10:12, 10:12, 10] = 3
    files = {"T1": nifti_bytes(), "lesion": nifti_bytes(data=lesion)}
    case = upload(client_for(members["admin"]), project, files=files).json()
    assert case["masks"]["lesion"]["version"] == 1
    assert case["masks"]["lesion"]["source"] == "import"
    assert case["masks"]["lesion"]["counts"] == {"3": 4}


def test_reuploading_the_same_images_returns_the_existing_case(members, client_for, project, nifti_bytes):
    client = client_for(members["admin"])
    files = {"T1": nifti_bytes()}
    first = upload(client, project, files=files)
    again = upload(client, project, files=files)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]


def test_same_id_with_different_images_is_a_409(members, client_for, project, nifti_bytes):
    client = client_for(members["admin"])
    upload(client, project, files={"T1": nifti_bytes()})
    response = upload(client, project, files={"T1": nifti_bytes(shape=(10, 10, 10))})
    assert response.status_code == 409


def test_bad_uploads_get_400_with_the_problem_named(members, client_for, project, nifti_bytes):
    client = client_for(members["admin"])
    assert "external_id" in upload(client, project, external_id="../etc", files={"T1": nifti_bytes()}).json()["detail"]
    assert "Unknown modality 'PET'" in upload(client, project, files={"PET": nifti_bytes()}).json()["detail"]
    bad = upload(client, project, files={"T1": b"hello"})
    assert bad.status_code == 400 and "The T1 file" in bad.json()["detail"]
    mask = upload(client, project, files={"T1": nifti_bytes(), "lesion": nifti_bytes(shape=(8, 8, 8))})
    assert mask.status_code == 400 and "does not fit" in mask.json()["detail"]


def test_header_text_fields_are_scrubbed_and_filenames_never_reach_storage(
    members, client_for, project, nifti_bytes, settings
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from annotations.models import Volume

    client = client_for(members["admin"])
    content = nifti_bytes(descrip="DOE^JANE MRN0042")
    response = client.post(
        f"/api/projects/{project.pk}/cases/",
        {"external_id": "P9", "T1": SimpleUploadedFile("DOE_JANE_MRN0042.nii.gz", content)},
        format="multipart",
    )
    volume = Volume.objects.get(case_id=response.json()["id"])
    assert "DOE" not in volume.file and volume.file.startswith("blobs/")
    served = b"".join(client.get(f"/api/cases/{response.json()['id']}/volumes/T1").streaming_content)
    assert b"DOE" not in gzip.decompress(served) and b"MRN0042" not in gzip.decompress(served)


def test_volume_download_has_etag_and_a_revisit_costs_no_bytes(members, client_for, make_case):
    case = make_case()
    client = client_for(members["viewer"])
    first = client.get(f"/api/cases/{case.pk}/volumes/T1")
    assert first.status_code == 200 and "immutable" in first["Cache-Control"]
    again = client.get(f"/api/cases/{case.pk}/volumes/T1", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""


def test_case_list_filters_orders_and_paginates(members, client_for, project, make_case):
    from annotations.models import Case

    for i in range(5):
        make_case(external_id=f"C{i}")
    Case.objects.filter(external_id="C3").update(priority=0.9, status="in_progress", assignee=members["annotator"])
    Case.objects.filter(external_id="C1").update(priority=0.5)
    client = client_for(members["annotator"])
    page = client.get(f"/api/projects/{project.pk}/cases/?ordering=priority&page_size=2").json()
    assert page["count"] == 5 and [c["external_id"] for c in page["results"]] == ["C3", "C1"]
    assert [
        c["external_id"] for c in client.get(f"/api/projects/{project.pk}/cases/?status=in_progress").json()["results"]
    ] == ["C3"]
    mine = client.get(f"/api/projects/{project.pk}/cases/?assignee=me").json()["results"]
    assert [c["external_id"] for c in mine] == ["C3"]


def test_case_list_query_count_does_not_grow_with_page_size(
    members, client_for, project, make_case, django_assert_max_num_queries
):
    from annotations.models import Case

    make_case(external_id="seed")
    seed = Case.objects.get(external_id="seed")
    Case.objects.bulk_create(
        [
            Case(
                project=project,
                external_id=f"B{i}",
                reference_modality="T1",
                shape=seed.shape,
                affine=seed.affine,
                assignee=members["annotator"],
                last_editor=members["reviewer"],
            )
            for i in range(60)
        ]
    )
    client = client_for(members["viewer"])
    for size in (5, 50):
        with django_assert_max_num_queries(8):
            assert len(client.get(f"/api/projects/{project.pk}/cases/?page_size={size}").json()["results"]) == size


def test_split_is_set_once_and_never_moves(members, client_for, make_case):
    case = make_case()
    admin = client_for(members["admin"])
    assert admin.patch(f"/api/cases/{case.pk}/", {"split": "val"}, format="json").json()["split"] == "val"
    moved = admin.patch(f"/api/cases/{case.pk}/", {"split": "train"}, format="json")
    assert moved.status_code == 409 and "never moves" in moved.json()["detail"]


def test_deleted_case_disappears_but_its_versions_stay(members, client_for, make_case):
    from annotations.models import AuditEvent, Case

    case = make_case()
    admin = client_for(members["admin"])
    assert admin.delete(f"/api/cases/{case.pk}/").status_code == 204
    assert admin.get(f"/api/cases/{case.pk}/").status_code == 404
    assert Case.objects.get(pk=case.pk).volumes.count() == 2
    assert AuditEvent.objects.filter(verb="case.delete", case_id=case.pk).exists()
