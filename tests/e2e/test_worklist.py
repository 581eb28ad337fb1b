"""The worklist: cases with status, assignee, priority and last editor; filters; "Next case"."""

import pytest

pytestmark = [pytest.mark.e2e]


def test_filters_narrow_the_list_and_next_case_opens_the_best_case(
    open_page, e2e_case, members, client_for, until, ready
):
    low = e2e_case(external_id="case-low")
    high = e2e_case(external_id="case-high")
    done = e2e_case(external_id="case-done", status="approved")
    type(low).objects.filter(pk=low.pk).update(priority=0.2)
    type(high).objects.filter(pk=high.pk).update(priority=0.9)

    page = open_page(members["annotator"], f"/projects/{low.project_id}/")
    until(page, "() => document.querySelectorAll('#cases tbody tr[data-case-id]').length === 3", 10)
    rows = page.locator("#cases tbody tr").all_inner_texts()
    assert rows[0].startswith("case-high") and "0.900" in rows[0]  # highest priority first
    assert "\tstaff\t" in rows[0]  # the last editor (the admin who created it)

    page.select_option("select[name=status]", "approved")
    until(page, "() => document.querySelectorAll('#cases tbody tr[data-case-id]').length === 1", 10)
    assert page.locator("#cases tbody tr").inner_text().startswith("case-done")
    assert "status=approved" in page.url  # filters live in the URL

    page.click("#next-case")
    page.wait_for_url(f"**/cases/{high.pk}/")
    ready(page)
    assert page.inner_text("#case-assignee") == "assigned to annotator"
    assert client_for(members["annotator"]).get(f"/api/cases/{high.pk}/").json()["assignee"]["username"] == "annotator"
    assert done.pk != high.pk
    assert not page.errors


def test_rows_show_a_thumbnail_and_the_strategy_behind_the_priority_and_next_case_uses_the_chosen_one(
    open_page, e2e_case, members, until
):
    from annotations.models import Case

    scored = e2e_case(external_id="case-scored")
    Case.objects.filter(pk=scored.pk).update(priority=0.5, priority_strategy="inconsistency")

    page = open_page(members["annotator"], f"/projects/{scored.project_id}/")
    until(page, "() => document.querySelectorAll('#cases tbody tr[data-case-id]').length === 1", 10)
    img = page.locator("#cases tbody tr .thumb img")
    assert img.get_attribute("loading") == "lazy"
    assert img.get_attribute("src") == f"/api/cases/{scored.pk}/preview.png?size=64"
    until(page, "() => document.querySelector('.thumb img').naturalWidth > 0", 20, "the preview to load")
    assert page.inner_text("#cases tbody td.priority") == "0.500 inconsistency"

    # A strategy the server does not know (a stale page, a plug-in removed) gets the server's sentence.
    page.evaluate(
        "() => { const s = document.getElementById('next-strategy');"
        " s.add(new Option('bogus', 'bogus')); s.value = 'bogus'; }"
    )
    page.click("#next-case")
    until(page, "() => !document.getElementById('worklist-message').hidden", 10, "the 400 sentence")
    assert page.inner_text("#worklist-message").startswith("Unknown strategy 'bogus'; use one of")

    page.select_option("#next-strategy", "inconsistency")
    page.click("#next-case")
    page.wait_for_url(f"**/cases/{scored.pk}/")
    assert Case.objects.get(pk=scored.pk).priority_strategy == "inconsistency"
    assert not page.errors
