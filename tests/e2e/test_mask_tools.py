"""The painting tools: filled outline, eraser, pen size, undo, switching the edited mask."""

import pytest

pytestmark = [pytest.mark.e2e]

COUNT_JS = """(value) => {
  const a = window._before, b = window.brainscribe.nv.drawBitmap;
  let changed = 0, toValue = 0;
  for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) { changed++; if (b[i] === value) toValue++; }
  return [changed, toValue];
}"""


def drag(page, voxels):
    """Press at the first voxel centre, move through the others, release (axial view)."""
    box = page.locator("#gl").bounding_box()
    points = [page.evaluate(f"() => window.brainscribe.viewer.voxelToCanvas([{x}, {y}, {z}], 0)") for x, y, z in voxels]
    page.mouse.move(box["x"] + points[0][0] + 0.5, box["y"] + points[0][1] + 0.5)
    page.mouse.down()
    for px, py in points[1:]:
        page.mouse.move(box["x"] + px + 0.5, box["y"] + py + 0.5, steps=3)
    page.mouse.up()


def snapshot(page):
    page.evaluate("() => { window._before = window.brainscribe.nv.drawBitmap.slice(0); }")


def test_filled_outline_eraser_and_undo(open_page, e2e_case, members, until, ready):
    case = e2e_case()
    page = open_page(members["annotator"], f"/cases/{case.pk}/")
    ready(page)
    page.click("[data-view=axial]")
    z = 20
    page.evaluate(f"() => window.brainscribe.viewer.goToVoxel([10, 10, {z}])")

    # A closed outline with the filled-outline tool paints the square and its inside.
    page.click("[data-tool=fill]")
    page.keyboard.press("5")
    snapshot(page)
    drag(page, [(4, 4, z), (10, 4, z), (10, 10, z), (4, 10, z), (4, 4, z)])
    assert page.evaluate(COUNT_JS, 5) == [49, 49]

    # Undo takes the whole fill back; there is nothing further to undo.
    page.keyboard.press("Control+z")
    assert page.evaluate(COUNT_JS, 5) == [0, 0]
    assert page.locator("#undo").is_disabled()

    # The eraser with a 3-voxel pen clears the lesion under a click.
    page.keyboard.press("e")
    page.keyboard.press("]")
    page.keyboard.press("]")
    assert page.inner_text("#pen-size-value") == "3"
    lesion_centre = (47 - 14, 30, 20)  # the model lesion's centre, on the RAS grid of this LAS case
    page.evaluate(f"() => window.brainscribe.viewer.goToVoxel([{lesion_centre[0]}, {lesion_centre[1]}, {z}])")
    snapshot(page)
    drag(page, [lesion_centre])
    changed, erased = page.evaluate(COUNT_JS, 0)
    assert changed == erased == 9  # a 3×3 square in the axial plane, all lesion before
    until(page, "() => document.querySelector('#mask-state').dataset.dirty === 'true'", 5)

    # Switching to the structure mask asks about the unsaved lesion edits; discarding drops them.
    page.check("input[name=mask-kind][value=structure]", force=True)
    page.locator("dialog[open] button", has_text="Discard my edits").click()
    until(page, "() => window.brainscribe.masks.kind === 'structure' && !window.brainscribe.masks.dirty", 10)
    assert page.evaluate("() => window.brainscribe.viewer.overlay.kind") == "lesion"
    assert page.evaluate("() => window.brainscribe.masks.dirty") is False
    page.fill("#label-filter", "thal")
    assert page.locator("#labels li").all_inner_texts() == ["thalamus L", "thalamus R"]
    assert not page.errors
