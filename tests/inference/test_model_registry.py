import io
import pickle

import pytest
import torch

from inference.models import Job, ModelStage, ModelVersion
from inference.services.models import model_promote, model_register


def upload(client, project, data, name="candidate"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        f"/api/projects/{project.pk}/models/",
        {"checkpoint": SimpleUploadedFile("model.pt", data), "name": name},
        format="multipart",
    )


def test_a_checkpoint_is_registered_once_with_its_metadata(members, client_for, project, tiny_demo_model):
    client = client_for(members["admin"])
    first = upload(client, project, tiny_demo_model)
    assert first.status_code == 201, first.json()
    body = first.json()
    assert body["stage"] == "candidate" and body["config"]["schema_slug"] == "demo-aal3"
    assert upload(client, project, tiny_demo_model).json()["id"] == body["id"]
    assert ModelVersion.objects.count() == 1


def test_a_pickle_payload_is_refused_and_never_runs(members, client_for, project, tmp_path, fault_record):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    buffer = io.BytesIO()
    torch.save(
        {"format": "brainscribe-segmentation", "evil": Payload()}, buffer, pickle_protocol=pickle.HIGHEST_PROTOCOL
    )
    response = upload(client_for(members["admin"]), project, buffer.getvalue())
    assert response.status_code == 400
    assert "weights-only" in response.json()["detail"]
    assert not marker.exists()
    assert not ModelVersion.objects.exists()
    fault_record(
        fault="checkpoint upload carrying a pickle payload",
        client_saw=f"400: {response.json()['detail']}",
        recovery="the payload never ran (its marker file does not exist)",
        data="no model version registered",
    )


def test_a_checkpoint_for_another_schema_is_refused_naming_both(members, client_for, staff, tiny_demo_model):
    from annotations.services.projects import project_create

    other = project_create(name="Hammers project", label_schema="hammers-n30r95", user=staff)
    response = upload(client_for(staff), other, tiny_demo_model)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "demo-aal3" in detail and "hammers-n30r95" in detail


def test_only_admins_register_models(members, client_for, project, tiny_demo_model):
    assert upload(client_for(members["reviewer"]), project, tiny_demo_model).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_promotion_needs_a_better_validation_score_or_an_admin_with_a_reason(
    members, client_for, project, tiny_demo_model
):
    champion = model_register(project=project, data=tiny_demo_model, name="first", metrics={"val_score": 0.8})
    model_promote(model=champion, user=members["admin"])
    weaker = ModelVersion.objects.create(
        project=project,
        name="weaker",
        label_schema=project.label_schema,
        checkpoint=champion.checkpoint,
        sha256="0" * 64,
        metrics={"val_score": 0.7},
    )
    reviewer = client_for(members["reviewer"])
    assert reviewer.post(f"/api/models/{weaker.pk}/promote", {}, format="json").status_code == 403
    refused = client_for(members["admin"]).post(f"/api/models/{weaker.pk}/promote", {}, format="json")
    assert refused.status_code == 409 and "does not beat the champion" in refused.json()["detail"]
    forced = client_for(members["admin"]).post(
        f"/api/models/{weaker.pk}/promote", {"reason": "champion fails on the new scanner"}, format="json"
    )
    assert forced.status_code == 200 and forced.json()["promotion_reason"] == "champion fails on the new scanner"
    champion.refresh_from_db()
    assert champion.stage == ModelStage.RETIRED
    # Promotion re-proposes unreviewed cases and re-ranks the worklist.
    assert set(Job.objects.values_list("type", flat=True)) >= {"inference", "scoring"}


def test_a_better_candidate_is_promoted_by_a_reviewer(members, project, tiny_demo_model):
    champion = model_register(project=project, data=tiny_demo_model, name="first", metrics={"val_score": 0.6})
    model_promote(model=champion, user=None)
    better = ModelVersion.objects.create(
        project=project,
        name="better",
        label_schema=project.label_schema,
        checkpoint=champion.checkpoint,
        sha256="1" * 64,
        metrics={"val_score": 0.9},
    )
    assert model_promote(model=better, user=members["reviewer"]).stage == ModelStage.CHAMPION
