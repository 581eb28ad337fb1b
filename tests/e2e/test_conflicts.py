"""When someone else saved first, the browser says so, shows the difference, and lets the clinician
reload theirs or keep their own as a new version on top — never a silent overwrite."""

import gzip
import re

import nibabel as nib
import numpy as np
import pytest

pytestmark = [pytest.mark.e2e]

PAINT_JS = """(voxels) => {
  const nv = window.brainscribe.nv;
  const [nx, ny] = window.brainscribe.viewer.dims;
  for (const [x, y, z] of voxels) nv.drawBitmap[x + y * nx + z * nx * ny] = 3;
  nv.drawAddUndoBitmap();
  nv.refreshDrawing(true);
  window.brainscribe.masks.renderState();
}"""


def mask_of(client, case, version=None):
    url = f"/api/cases/{case.pk}/masks/lesion" + (f"?version={version}" if version else "")
    response = client.get(url)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return nib.Nifti1Image.from_bytes(gzip.decompress(body)), response["ETag"]


def test_a_second_client_saving_the_mask_first_opens_the_conflict_dialog(
    open_page, e2e_case, members, client_for, until, ready
):
    case = e2e_case(orientation="LAS")
    page = open_page(members["annotator"], f"/cases/{case.pk}/")
    ready(page)
    mine = [[3, 4, 5], [3, 5, 5]]
    page.evaluate(PAINT_JS, mine)

    # Meanwhile a reviewer saves version 2 through the API.
    reviewer = client_for(members["reviewer"])
    img, etag = mask_of(reviewer, case)
    data = np.asarray(img.dataobj).copy()
    data[40, 40, 30] = 1
    body = gzip.compress(nib.Nifti1Image(data, img.affine).to_bytes())
    saved = reviewer.put(
        f"/api/cases/{case.pk}/masks/lesion", data=body, content_type="application/gzip", HTTP_IF_MATCH=etag
    )
    assert saved.status_code == 200 and saved.json()["version"] == 2

    page.click("#save-mask")
    until(page, "() => document.querySelector('#conflict-dialog[open]')", 20, "the conflict dialog")
    dialog = page.locator("#conflict-dialog")
    text = dialog.inner_text()
    assert "saved by someone else first" in text
    assert re.search(r"You were editing version 1; reviewer at [\d: -]+ saved version 2", text)
    # Their change and where mine differs from theirs are spelled out, and shown in the viewer.
    assert "+1 necrosis" in text
    assert "+2 enhancing" in text and "−1 necrosis" in text
    assert page.evaluate("() => window.brainscribe.viewer.diff !== null")

    dialog.locator("button", has_text="Keep mine as version 3").click()
    until(page, "() => document.querySelector('#mask-state').textContent.includes('version 3')", 20)
    assert page.evaluate("() => window.brainscribe.viewer.diff === null")
    stored, etag = mask_of(reviewer, case)
    assert etag == '"3"'
    stored = np.asarray(stored.dataobj)
    nx = stored.shape[0]
    assert all(stored[nx - 1 - x, y, z] == 3 for x, y, z in mine)
    assert stored[40, 40, 30] == 0  # kept mine, on top of theirs, after seeing the difference
    versions = reviewer.get(f"/api/cases/{case.pk}/masks/lesion/versions/").json()["results"]
    assert [(v["version"], v["author"]["username"]) for v in versions[:2]] == [(3, "annotator"), (2, "reviewer")]
    assert not page.errors


def test_a_second_client_saving_the_report_first_lets_me_reload_theirs(
    open_page, e2e_case, members, client_for, until, ready
):
    case = e2e_case()
    page = open_page(members["annotator"], f"/cases/{case.pk}/")
    ready(page)
    row = page.locator(".sentence", has_text="midline shift")
    row.locator("[data-action=edit]").click()
    row.locator("textarea.edit-text").fill("There is a 2 mm midline shift to the right.")
    row.locator("textarea.edit-text").press("Enter")

    reviewer = client_for(members["reviewer"])
    current = reviewer.get(f"/api/cases/{case.pk}/report").json()
    sentences = [
        {
            "key": s["key"],
            "text": s["text"],
            "kind": s["kind"],
            "region_label_ids": s["region_label_ids"],
            "lesion_component": s["lesion_component"],
        }
        for s in current["sentences"]
    ]
    sentences[0]["text"] = "There is a round mass in the left frontal lobe, about 12 mm in size."
    saved = reviewer.put(f"/api/cases/{case.pk}/report", {"sentences": sentences}, format="json", HTTP_IF_MATCH='"1"')
    assert saved.status_code == 200

    page.click("#save-report")
    until(page, "() => document.querySelector('#conflict-dialog[open]')", 20, "the conflict dialog")
    dialog = page.locator("#conflict-dialog")
    assert re.search(r"You were editing version 1; reviewer at [\d: -]+ saved version 2", dialog.inner_text())
    assert dialog.locator("ins", has_text="2 mm").count() >= 1
    dialog.locator("button", has_text="Reload theirs").click()
    until(page, "() => document.querySelector('#report-state').textContent === 'version 2, saved'", 10)
    assert page.locator(".sentence", has_text="about 12 mm").count() == 1
    assert page.locator(".sentence", has_text="2 mm midline shift").count() == 0
    assert reviewer.get(f"/api/cases/{case.pk}/report").json()["version"] == 2
    assert not page.errors
