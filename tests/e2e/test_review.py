"""Review by role: an annotator submits, cannot approve (the server refuses and the page says why),
a reviewer approves and sees what changed against the model's draft."""

import pytest

pytestmark = [pytest.mark.e2e]


def test_a_reviewer_approves_and_an_annotator_is_refused(open_page, e2e_case, members, client_for, until, ready):
    case = e2e_case()
    annotator = open_page(members["annotator"], f"/cases/{case.pk}/")
    ready(annotator)
    annotator.click("[data-tab=review-panel]")
    annotator.click("[data-review=submit]")
    until(annotator, "() => document.querySelector('#case-status').textContent === 'submitted'", 10)

    # Approving is for reviewers: the button is there but disabled, with the reason...
    approve = annotator.locator("[data-review=approve]")
    assert approve.is_disabled()
    assert "Only a reviewer or above can approve" in approve.get_attribute("title")
    assert annotator.locator("#edit-reason").inner_text().startswith("Submitted for review")
    # ...and asking anyway (as a script could) is refused by the server, with its sentence shown.
    assert annotator.evaluate("() => window.brainscribe.review.act('approve')") is False
    refusal = annotator.inner_text("#review-error")
    assert "To approve a case you must be at least a reviewer" in refusal
    assert "you are an annotator" in refusal
    assert client_for(members["annotator"]).get(f"/api/cases/{case.pk}/").json()["status"] == "submitted"

    reviewer = open_page(members["reviewer"], f"/cases/{case.pk}/")
    ready(reviewer)
    reviewer.click("[data-tab=review-panel]")
    # The reviewer sees what changed from the model draft: the text diff and the mask diff overlay.
    reviewer.click("#text-diff-toggle")
    until(reviewer, "() => !document.querySelector('#text-diff').hidden", 10)
    assert "Against the model draft, version 1" in reviewer.inner_text("#text-diff")
    reviewer.click("[data-mask-diff=lesion]")
    until(reviewer, "() => document.querySelector('#mask-diff-summary').textContent.includes('voxels changed')", 10)
    assert reviewer.evaluate("() => window.brainscribe.viewer.diff !== null")
    reviewer.fill("#review-comment", "Masks and report agree.")
    reviewer.click("[data-review=approve]")
    until(reviewer, "() => document.querySelector('#case-status').textContent === 'approved'", 10)
    until(reviewer, "() => document.querySelector('#review-history').textContent.includes('Masks and report')", 10)

    reviews = client_for(members["reviewer"]).get(f"/api/cases/{case.pk}/reviews/").json()
    assert [(r["action"], r["author"]["username"]) for r in reviews] == [
        ("submit", "annotator"),
        ("approve", "reviewer"),
    ]
    # The annotator's page is read-only now.
    annotator.reload()
    ready(annotator)
    assert annotator.inner_text("#case-status") == "approved"
    assert annotator.locator("#save-mask").is_hidden()
    assert annotator.inner_text("#edit-reason").startswith("Approved")
    assert not annotator.errors and not reviewer.errors


def test_rejecting_needs_a_comment(open_page, e2e_case, members, until, ready):
    case = e2e_case(status="submitted")
    page = open_page(members["reviewer"], f"/cases/{case.pk}/")
    ready(page)
    page.click("[data-tab=review-panel]")
    page.click("[data-review=reject]")
    assert page.inner_text("#case-status") == "submitted"
    page.fill("#review-comment", "The edema extends further posteriorly.")
    page.click("[data-review=reject]")
    until(page, "() => document.querySelector('#case-status').textContent === 'rejected'", 10)
