import pytest


def review(client, case, action, comment=""):
    return client.post(f"/api/cases/{case.pk}/review", {"action": action, "comment": comment}, format="json")


def test_submit_approve_workflow_records_versions(members, client_for, make_case):
    case = make_case()
    annotator, reviewer = client_for(members["annotator"]), client_for(members["reviewer"])
    assert review(annotator, case, "submit").status_code == 201
    assert review(annotator, case, "approve").status_code == 403
    approved = review(reviewer, case, "approve")
    assert approved.status_code == 201
    assert approved.json()["to_status"] == "approved"
    case.refresh_from_db()
    assert case.status == "approved"
    history = reviewer.get(f"/api/cases/{case.pk}/reviews/").json()
    assert [(r["action"], r["author"]["username"]) for r in history] == [
        ("submit", "annotator"),
        ("approve", "reviewer"),
    ]


def test_reject_needs_a_comment(members, client_for, make_case):
    case = make_case()
    review(client_for(members["annotator"]), case, "submit")
    reviewer = client_for(members["reviewer"])
    assert review(reviewer, case, "reject").status_code == 400
    rejected = review(reviewer, case, "reject", "Lesion extends into the insula; please correct.")
    assert rejected.status_code == 201
    case.refresh_from_db()
    assert case.status == "rejected"


def test_approved_case_cannot_be_edited_until_reopened(members, client_for, make_case):
    case = make_case()
    annotator, reviewer = client_for(members["annotator"]), client_for(members["reviewer"])
    review(annotator, case, "submit")
    review(reviewer, case, "approve")
    blocked = annotator.put(
        f"/api/cases/{case.pk}/report", {"sentences": [{"text": "x"}]}, format="json", HTTP_IF_MATCH="0"
    )
    assert blocked.status_code == 409 and "reopen" in blocked.json()["detail"]
    assert review(annotator, case, "reopen").status_code == 403
    assert review(reviewer, case, "reopen").status_code == 201
    ok = annotator.put(f"/api/cases/{case.pk}/report", {"sentences": [{"text": "x"}]}, format="json", HTTP_IF_MATCH="0")
    assert ok.status_code == 200


@pytest.mark.parametrize(("action", "status"), [("approve", "new"), ("reject", "in_progress"), ("reopen", "new")])
def test_actions_out_of_order_are_409(members, client_for, make_case, action, status):
    case = make_case()
    case.status = status
    case.save(update_fields=["status"])
    response = review(client_for(members["reviewer"]), case, action, "because")
    assert response.status_code == 409


def test_submitted_case_is_edited_by_reviewers_only(members, client_for, make_case):
    case = make_case()
    review(client_for(members["annotator"]), case, "submit")
    body = {"sentences": [{"text": "x"}]}
    annotator = client_for(members["annotator"]).put(
        f"/api/cases/{case.pk}/report", body, format="json", HTTP_IF_MATCH="0"
    )
    assert annotator.status_code == 403
    reviewer = client_for(members["reviewer"]).put(
        f"/api/cases/{case.pk}/report", body, format="json", HTTP_IF_MATCH="0"
    )
    assert reviewer.status_code == 200


def test_audit_trail_is_append_only(members, make_case):
    from annotations.models import AuditEvent
    from annotations.models.audit import AppendOnlyError

    make_case()
    event = AuditEvent.objects.filter(verb="case.create").get()
    event.verb = "tampered"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.update(verb="x")
