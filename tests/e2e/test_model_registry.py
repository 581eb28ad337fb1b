"""The model registry page: champion beside candidates, per-label metrics, promotion with an override."""

import pytest

pytestmark = [pytest.mark.e2e]


def metrics(score: float) -> dict:
    return {
        "val_score": score,
        "val_lesion_dice": score + 0.05,
        "val_structure_dice": score - 0.05,
        "per_label": {
            "lesion": {"2": {"dice": score, "precision": 0.9, "sensitivity": 0.7}, "3": {"dice": 0.5}},
            "structure": {"1": {"dice": 0.8, "precision": 0.8, "sensitivity": 0.8}},
        },
        "report": {"bleu1": 31.2, "bleu4": 6.1, "rouge1": 0.388, "entity_f1": 0.61},
    }


def test_an_admin_promotes_a_weaker_candidate_only_with_a_reason(open_page, members, project, until):
    from inference.models import ModelVersion

    def model(name, stage, score, sha):
        return ModelVersion.objects.create(
            project=project,
            name=name,
            stage=stage,
            label_schema=project.label_schema,
            checkpoint=f"{sha}.pt",
            sha256=sha * 64,
            metrics=metrics(score),
        )

    champion = model("seg-v1", "champion", 0.8, "1")
    candidate = model("seg-v2", "candidate", 0.7, "2")
    model("seg-v0", "retired", 0.6, "0")

    page = open_page(members["admin"], f"/projects/{project.pk}/models/")
    until(page, "() => document.querySelectorAll('#models tbody tr[data-model-id]').length === 3", 10)
    assert page.locator(".model-card").count() == 2  # the champion and its one candidate
    assert page.locator(".model-card.champion").inner_text().count("seg-v1") == 1
    assert "−0.100" in page.locator(f".model-card[data-model-id='{candidate.pk}']").inner_text()

    # The candidate's detail: per-label tables named from the schema, compared with the champion.
    page.click(f"#models tbody tr[data-model-id='{candidate.pk}'] a")
    until(page, "() => !document.getElementById('model-detail').hidden", 5)
    assert page.url.endswith(f"/models/{candidate.pk}/")
    lesion = page.locator(".per-label-lesion table").inner_text()
    assert "edema" in lesion and "enhancing" in lesion
    assert "BLEU-4" in page.locator(".report-metrics").inner_text()

    # Promotion: the server refuses (it does not beat the champion); the admin overrides with a reason.
    page.click(f".model-card[data-model-id='{candidate.pk}'] button[data-promote]")
    page.click("#promote-dialog button[data-value=ok]")
    until(page, "() => document.getElementById('override-reason')", 10, "the override dialog")
    assert "does not beat the champion" in page.inner_text("#promote-dialog")
    page.click("#promote-dialog button[data-value=ok]")  # no reason yet: asked again
    alert = "document.querySelector('#promote-dialog [role=alert]').textContent"
    until(page, f"() => {alert}.includes('needs a reason')", 5)
    page.fill("#override-reason", "better on the new scanner's cases")
    page.click("#promote-dialog button[data-value=ok]")
    until(page, "() => document.getElementById('job-message').dataset.kind === 'ok'", 10, "the promotion")
    candidate.refresh_from_db()
    champion.refresh_from_db()
    assert (candidate.stage, champion.stage) == ("champion", "retired")
    assert candidate.promotion_reason == "better on the new scanner's cases"
    until(page, f"() => document.querySelector('.model-card.champion').dataset.modelId === '{candidate.pk}'", 10)

    # Jobs: a refusal shows the server's sentence.
    page.select_option("#scoring-strategy", "random")
    page.click("button[data-job=scoring]")
    link = "document.querySelector('#job-message a')"
    until(page, f"() => {link} && {link}.getAttribute('href').startsWith('/jobs/')", 10, "a link to the scoring job")
    # Started, or (the promotion queued one already) refused with a link to the waiting one.
    assert page.get_attribute("#job-message a", "href").startswith("/jobs/")
    assert not page.errors


def test_a_reviewer_reads_the_server_s_refusal(open_page, members, project, until):
    from inference.models import ModelVersion

    for name, stage, score, sha in (("seg-v1", "champion", 0.8, "1"), ("seg-v2", "candidate", 0.7, "2")):
        ModelVersion.objects.create(
            project=project,
            name=name,
            stage=stage,
            label_schema=project.label_schema,
            checkpoint=f"{sha}.pt",
            sha256=sha * 64,
            metrics=metrics(score),
        )
    page = open_page(members["reviewer"], f"/projects/{project.pk}/models/")
    until(page, "() => document.querySelectorAll('.model-card button[data-promote]').length === 1", 10)
    assert not page.is_visible("button[data-job=training]")  # admins retrain
    assert page.is_visible("button[data-job=inference]")
    page.click(".model-card button[data-promote]")
    page.click("#promote-dialog button[data-value=ok]")
    until(page, "() => document.getElementById('job-message').dataset.kind === 'error'", 10)
    assert "Only an admin can promote" in page.inner_text("#job-message")
    assert not page.errors
