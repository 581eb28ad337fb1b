"""Report sentences edited in the browser are saved as a new version and are there after a reload."""

import pytest

pytestmark = [pytest.mark.e2e]


def sentence(page, text):
    return page.locator(".sentence", has_text=text).first


def test_an_edited_sentence_is_there_after_reload(open_page, e2e_case, members, client_for, until, ready):
    case = e2e_case()
    page = open_page(members["annotator"], f"/cases/{case.pk}/")
    ready(page)
    row = sentence(page, "mild edema")
    row.locator("[data-action=edit]").click()
    area = row.locator("textarea.edit-text")
    area.fill("The surrounding parenchyma shows moderate edema.")
    area.press("Enter")
    sentence(page, "parietal lobes").locator("[data-action=accept]").click()
    assert page.inner_text("#report-state").startswith("unsaved edits")
    page.click("#save-report")
    until(page, "() => document.querySelector('#report-state').textContent === 'version 2, saved'", 20)

    page.reload()
    ready(page)
    edited = sentence(page, "moderate edema")
    assert "edited" in edited.get_attribute("class")
    # The model's wording stays visible beside the edit, with the words that changed marked.
    assert "mild edema" in edited.locator(".original").inner_text()
    assert edited.locator(".original ins").first.inner_text().strip() == "moderate"
    assert "accepted" in sentence(page, "parietal lobes").get_attribute("class")

    report = client_for(members["reviewer"]).get(f"/api/cases/{case.pk}/report").json()
    by_text = {s["text"]: s for s in report["sentences"]}
    assert report["version"] == 2
    assert by_text["The surrounding parenchyma shows moderate edema."]["status"] == "edited"
    assert by_text["The surrounding parenchyma shows moderate edema."]["original_text"] == (
        "The surrounding brain parenchyma shows mild edema."
    )
    assert by_text["The parietal lobes show normal signal."]["status"] == "accepted"
    assert not page.errors


def test_an_added_sentence_keeps_the_regions_picked_for_it(open_page, e2e_case, members, client_for, until, ready):
    case = e2e_case()
    page = open_page(members["annotator"], f"/cases/{case.pk}/")
    ready(page)
    page.click("#add-sentence")
    new = page.locator(".sentence.status-added").last
    new.locator("textarea.edit-text").fill("A small focus in the right thalamus.")
    new.locator(".region-filter").fill("thalamus")
    new.locator("label:has-text('thalamus R') input").check()
    new.locator("[data-action=done]").click()
    page.click("#save-report")
    until(page, "() => document.querySelector('#report-state').textContent === 'version 2, saved'", 20)
    report = client_for(members["annotator"]).get(f"/api/cases/{case.pk}/report").json()
    added = [s for s in report["sentences"] if s["status"] == "added"]
    assert [(s["text"], s["region_label_ids"]) for s in added] == [("A small focus in the right thalamus.", [24])]
    assert not page.errors


def test_clicking_a_sentence_moves_the_crosshair_into_its_lesion(open_page, e2e_case, members, ready):
    case = e2e_case()
    page = open_page(members["annotator"], f"/cases/{case.pk}/")
    ready(page)
    sentence(page, "round mass").locator(".text").click()
    vox = page.evaluate("() => window.brainscribe.viewer.crosshairVoxel()")
    lesion = page.evaluate(
        """(v) => {
          const d = window.brainscribe.viewer.dims;
          return window.brainscribe.viewer.labelsRAS('lesion')[v[0] + v[1] * d[0] + v[2] * d[0] * d[1]];
        }""",
        vox,
    )
    assert lesion > 0
    assert page.locator(".sentence.active").count() == 1
    assert "frontal lobe L" in page.inner_text("#crosshair-labels") or "lesion" in page.inner_text("#crosshair-labels")


@pytest.fixture
def side_checker():
    """A stand-in for the model's consistency checker: flags sentences that say 'right'."""
    from annotations.services.reports import register_consistency_checker

    def check(case, sentences):
        return [
            [{"kind": "side", "message": "the sentence says right, but the lesion is on the left"}]
            if "right" in s["text"]
            else []
            for s in sentences
        ]

    register_consistency_checker(check)
    yield
    register_consistency_checker(None)


def test_consistency_warnings_are_shown_next_to_their_sentence(
    open_page, e2e_case, members, until, ready, side_checker
):
    case = e2e_case()
    page = open_page(members["annotator"], f"/cases/{case.pk}/")
    ready(page)
    row = sentence(page, "round mass")
    row.locator("[data-action=edit]").click()
    row.locator("textarea.edit-text").fill("There is a round mass in the right frontal lobe, about 10 mm in size.")
    row.locator("textarea.edit-text").press("Enter")
    page.click("#save-report")
    until(page, "() => document.querySelector('#report-state').textContent === 'version 2, saved'", 20)
    flagged = sentence(page, "right frontal lobe")
    assert flagged.locator(".warnings li").all_inner_texts() == [
        "⚠ the sentence says right, but the lesion is on the left"
    ]
    assert page.locator(".warnings li").count() == 1
