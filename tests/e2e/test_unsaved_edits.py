"""Unsaved mask edits are noticed however they were made, and leaving the page asks first."""

import pytest

pytestmark = [pytest.mark.e2e]

WRITE_JS = """() => {
  const nv = window.brainscribe.nv;
  nv.drawBitmap[100] = 4;  // a direct write: NiiVue fires no drawingChanged event for it
}"""


def test_leaving_with_unsaved_edits_asks_first(open_page, e2e_case, members, until, ready):
    case = e2e_case()
    page = open_page(members["annotator"], f"/cases/{case.pk}/")
    ready(page)
    assert page.evaluate("() => window.brainscribe.masks.dirty") is False
    page.evaluate(WRITE_JS)
    assert page.evaluate("() => window.brainscribe.masks.dirty") is True

    # Switching to the other mask offers to save first; cancelling keeps the edits.
    page.check("input[name=mask-kind][value=structure]", force=True)
    until(page, "() => document.querySelector('dialog[open]')", 5, "the unsaved-edits question")
    page.locator("dialog[open] button", has_text="Cancel").click()
    assert page.evaluate("() => window.brainscribe.masks.kind") == "lesion"
    assert page.is_checked("input[name=mask-kind][value=lesion]")
    assert page.evaluate("() => window.brainscribe.masks.dirty") is True

    # Closing the tab triggers the browser's own "leave site?" question.
    page.click("#gl")  # a user gesture: browsers only ask after one
    asked = []
    page.on("dialog", lambda d: (asked.append(d.type), d.dismiss()))
    page.close(run_before_unload=True)
    for _ in range(50):
        if asked:
            break
        page.wait_for_timeout(100)
    assert asked == ["beforeunload"]
    assert not page.is_closed()  # dismissed: the clinician stays with the edits
