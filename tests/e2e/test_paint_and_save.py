"""What a clinician paints in the browser is stored at exactly those voxels, whatever the orientation.

NiiVue paints on the reference volume's RAS-ordered grid; the stored file keeps its own order. For
the LAS case the RAS index x is the stored index nx-1-x; for the oblique case the stored file,
brought to its closest canonical (RAS) orientation, has the painted voxels.
"""

import gzip

import nibabel as nib
import numpy as np
import pytest

pytestmark = [pytest.mark.e2e]
SHAPE = (48, 56, 40)  # the e2e_case grid

CHANGED_JS = """() => {
  const a = window._before, b = window.brainscribe.nv.drawBitmap, out = [];
  const [nx, ny] = window.brainscribe.viewer.dims;
  for (let i = 0; i < b.length; i++) {
    if (a[i] !== b[i]) out.push([i % nx, Math.floor(i / nx) % ny, Math.floor(i / (nx * ny)), b[i]]);
  }
  return out;
}"""


def stored_mask(client, case, kind="lesion", version=None):
    url = f"/api/cases/{case.pk}/masks/{kind}" + (f"?version={version}" if version else "")
    response = client.get(url)
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return nib.Nifti1Image.from_bytes(gzip.decompress(body)), int(response["ETag"].strip('"'))


def stroke(page, xs, y, z):
    """Drag the pen through the centres of voxels (x, y, z) on the axial view."""
    page.evaluate(f"() => window.brainscribe.viewer.goToVoxel([{xs[0]}, {y}, {z}])")
    page.evaluate("() => { window._before = window.brainscribe.nv.drawBitmap.slice(0); }")
    box = page.locator("#gl").bounding_box()
    # Mouse events carry whole pixels; aim half a pixel past the centre so truncation lands inside.
    points = [page.evaluate(f"() => window.brainscribe.viewer.voxelToCanvas([{x}, {y}, {z}], 0)") for x in xs]
    page.mouse.move(box["x"] + points[0][0] + 0.5, box["y"] + points[0][1] + 0.5)
    page.mouse.down()
    for px, py in points[1:]:
        page.mouse.move(box["x"] + px + 0.5, box["y"] + py + 0.5, steps=2)
    page.mouse.up()


def test_a_stroke_painted_on_a_las_case_is_stored_at_those_voxels(
    browser, live_server, e2e_case, members, client_for, until, ready
):
    case = e2e_case(orientation="LAS")
    annotator = members["annotator"]
    api = client_for(annotator)
    before, version = stored_mask(api, case)

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # Log in through the form, find the case on the project's worklist, open it.
    page.goto(live_server.url + "/login/")
    page.fill("#id_username", "annotator")
    page.fill("#id_password", "pw-annotator")
    page.click("button[type=submit]")
    page.click(f"text={case.project.name}")
    page.click(f"#cases a:has-text('{case.external_id}')")
    ready(page)
    assert page.evaluate("() => Array.from(window.brainscribe.viewer.reference.permRAS)") == [-1, 2, 3]

    page.click("[data-view=axial]")
    page.click("[data-tool=pen]")
    page.keyboard.press("2")  # the second lesion label: edema
    assert page.inner_text("#current-label") == "edema"
    xs, y, z = list(range(20, 27)), 14, 20
    stroke(page, xs, y, z)
    painted = page.evaluate(CHANGED_JS)
    assert painted == [[x, y, z, 2] for x in xs]
    until(page, "() => document.querySelector('#mask-state').dataset.dirty === 'true'", 5)

    page.click("#save-mask")
    until(page, f"() => document.querySelector('#mask-state').textContent.includes('version {version + 1}')", 20)
    after, new_version = stored_mask(api, case)
    assert new_version == version + 1
    old = np.asarray(before.dataobj)
    new = np.asarray(after.dataobj)
    assert np.allclose(after.affine, before.affine)
    changed = {tuple(int(v) for v in ijk) for ijk in np.argwhere(old != new)}
    nx = SHAPE[0]
    assert changed == {(nx - 1 - x, y, z) for x in xs}  # LAS: stored x is the mirror of the RAS x
    assert all(new[nx - 1 - x, y, z] == 2 for x in xs)
    assert not errors
    context.close()


@pytest.mark.parametrize("orientation", ["oblique", "LPS"])
def test_voxels_written_into_the_drawing_are_stored_there(
    open_page, e2e_case, members, client_for, until, ready, orientation
):
    case = e2e_case(orientation=orientation, external_id=f"e2e-{orientation}")
    api = client_for(members["annotator"])
    before, version = stored_mask(api, case)
    page = open_page(members["annotator"], f"/cases/{case.pk}/")
    ready(page)
    voxels = [(5, 7, 9), (30, 40, 12), (47, 0, 39), (0, 55, 0)]
    page.evaluate(
        """(voxels) => {
          const nv = window.brainscribe.nv;
          const [nx, ny] = window.brainscribe.viewer.dims;
          for (const [x, y, z] of voxels) nv.drawBitmap[x + y * nx + z * nx * ny] = 5;
          nv.drawAddUndoBitmap();
          nv.refreshDrawing(true);
          window.brainscribe.masks.renderState();
        }""",
        voxels,
    )
    page.click("#save-mask")
    until(page, f"() => document.querySelector('#mask-state').textContent.includes('version {version + 1}')", 20)
    after, _ = stored_mask(api, case)
    assert np.allclose(after.affine, before.affine)
    dims_ras = page.evaluate("() => window.brainscribe.viewer.dims")
    # The browser's RAS grid is the stored grid brought to its closest canonical orientation.
    canonical_before = np.asarray(nib.as_closest_canonical(before).dataobj)
    canonical_after = np.asarray(nib.as_closest_canonical(after).dataobj)
    assert list(canonical_after.shape) == dims_ras
    changed = {tuple(int(v) for v in ijk) for ijk in np.argwhere(canonical_before != canonical_after)}
    assert changed == set(voxels)
    assert all(canonical_after[v] == 5 for v in voxels)
    assert not page.errors
