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
