"""Every endpoint in the OpenAPI schema, every method: a member of project A gets 404 for project B's
objects. Generated from the schema, so a new endpoint is covered (or this test asks how to fill it)."""

import re

import pytest
from drf_spectacular.generators import SchemaGenerator

GLOBAL_PATHS = {
    "/api/auth/token/",
    "/api/projects/",
    "/api/label-schemas/",
    "/api/label-schemas/{slug}/",
    "/api/schema/",
}


@pytest.fixture
def project_b(staff, make_user, nifti_bytes):
    from annotations.models import DatasetSnapshot, Export, Membership
    from annotations.services.cases import case_create
    from annotations.services.projects import project_create
    from inference.models import Job, ModelVersion

    other = make_user("b-admin", is_staff=True)
    project = project_create(name="Project B", label_schema="demo-aal3", user=other)
    Membership.objects.create(project=project, user=make_user("b-annotator"), role="annotator")
    case = case_create(project=project, external_id="b-case", volumes={"T1": nifti_bytes()}).case
    job = Job.objects.create(project=project, type="import", params={}, created_by=other)
    snapshot = DatasetSnapshot.objects.create(project=project, checksum="0" * 64, manifest={}, n_cases=0)
    export = Export.objects.create(project=project, snapshot=snapshot, format="nnunet", archive="exports/x.zip")
    model = ModelVersion.objects.create(
        project=project, name="b-model", label_schema=project.label_schema, checkpoint="blobs/x.pt", sha256="0" * 64
    )
    return {"project": project, "case": case, "job": job, "user": other, "export_id": export.pk, "model_id": model.pk}


def _substitute(path: str, b: dict) -> str:
    values = {
        "project_id": b["project"].pk,
        "case_id": b["case"].pk,
        "job_id": b["job"].pk,
        "user_id": b["user"].pk,
        "kind": "lesion",
        "modality": "T1",
        "id": b["case"].pk,
    }
    values.update({k: v for k, v in b.items() if k.endswith("_id")})

    def fill(match: re.Match) -> str:
        name = match.group(1)
        assert name in values, f"test_object_isolation does not know how to fill {{{name}}} in {path}; add it"
        return str(values[name])

    return re.sub(r"\{(\w+)\}", fill, path)


def test_a_member_of_another_project_gets_404_everywhere(members, client_for, project_b):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    client = client_for(members["admin"])  # admin of project A, nothing in B
    checked = 0
    for path, operations in schema["paths"].items():
        if path in GLOBAL_PATHS or "{" not in path:
            continue
        url = _substitute(path, project_b)
        for method in operations:
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            response = getattr(client, method)(url, data={}, format="json")
            assert response.status_code == 404, f"{method.upper()} {url} answered {response.status_code}"
            checked += 1
    assert checked >= 20
