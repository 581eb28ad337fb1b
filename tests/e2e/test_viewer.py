"""The viewer: background modality by key and button, hover names, crosshair millimetres, and a
modality on another grid shown resampled with painting switched off."""

import pytest

pytestmark = [pytest.mark.e2e]


def test_modalities_switch_by_key_and_button_and_hover_names_the_structure(
    open_page, e2e_case, members, nifti_bytes, until, ready
):
    from annotations.models import Volume
    from annotations.services.cases import case_create

    case = e2e_case()
    # A DWI on its own, coarser grid (the reference grid is 48×56×40).
    dwi = case_create(
        project=case.project,
        external_id="e2e-dwi",
        volumes={"T1": nifti_bytes(shape=(48, 56, 40)), "DWI": nifti_bytes(shape=(24, 28, 20))},
        user=members["admin"],
    ).case
    assert Volume.objects.get(case=dwi, modality="DWI").shape != dwi.shape

    page = open_page(members["annotator"], f"/cases/{case.pk}/")
    ready(page)
    assert page.locator("#modalities button").all_inner_texts() == ["T1", "FLAIR"]
    page.keyboard.press("m")
    until(page, "() => window.brainscribe.viewer.background === 'FLAIR'", 10)
    assert page.evaluate("() => window.brainscribe.nv.volumes[0].modality") == "FLAIR"
    assert page.get_attribute("[data-modality=FLAIR]", "aria-pressed") == "true"
    page.click("[data-modality=T1]")
    until(page, "() => window.brainscribe.viewer.background === 'T1'", 10)

    # The crosshair's world position in mm and the structure under it; hovering names the structure.
    page.evaluate("() => window.brainscribe.viewer.goToVoxel([24, 28, 20])")
    assert page.inner_text("#crosshair-mm").endswith("mm")
    assert "thalamus" in page.inner_text("#crosshair-labels")
    box = page.locator("#gl").bounding_box()
    x, y = page.evaluate("() => window.brainscribe.viewer.voxelToCanvas([12, 40, 20], 0)")
    page.mouse.move(box["x"] + x, box["y"] + y)
    until(page, "() => !document.querySelector('#hover-tip').hidden", 5, "the hover name")
    assert "frontal lobe" in page.inner_text("#hover-tip")

    # The structure opacity slider changes the overlay.
    page.fill("#opacity-structure", "0.8")
    page.dispatch_event("#opacity-structure", "input")
    until(page, "() => window.brainscribe.viewer.overlay.image.opacity === 0.8", 5)
    assert not page.errors

    other = open_page(members["annotator"], f"/cases/{dwi.pk}/")
    ready(other)
    other.click("[data-modality=DWI]")
    until(other, "() => window.brainscribe.viewer.background === 'DWI'", 10)
    assert other.evaluate("() => window.brainscribe.viewer.offGrid") == "DWI"
    assert "another grid" in other.inner_text("#edit-reason")
    assert other.locator("[data-tool=pen]").is_hidden()
    other.click("[data-modality=T1]")
    until(other, "() => window.brainscribe.viewer.offGrid === null", 10)
    assert other.locator("[data-tool=pen]").is_visible()
    assert not other.errors
