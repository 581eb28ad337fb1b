import nibabel as nib
import numpy as np
import pytest

from inference.ml.report import generate_report

from .conftest import make_case, oblique_affine, resample_onto, to_las


def _lesion_sentences(report):
    return [s for s in report.sentences if s.kind == "lesion"]


@pytest.mark.parametrize("side", ["left", "right"])
def test_lesion_sentence_names_the_side_and_region_it_lies_in(side, tiny_schema):
    case = make_case(3, lesion_side=side)
    report = generate_report(case.structure, case.lesion, tiny_schema, case.volumes)
    first = _lesion_sentences(report)[0]
    assert first.lesion_component == 1
    assert f"{side} " in first.text
    assert ("frontal" in first.text) or ("parietal" in first.text)
    named = {tiny_schema.label(i) for i in first.region_label_ids}
    assert {label.side for label in named} == {side}
    lesion = report.features.lesions[0]
    assert lesion.side == side
    truth = np.asarray(case.structure.dataobj)[np.asarray(case.lesion.dataobj) == 3]
    assert int(np.bincount(truth).argmax()) in first.region_label_ids


def test_sizes_and_signal_come_from_the_masks(tiny_schema):
    case = make_case(4)
    report = generate_report(case.structure, case.lesion, tiny_schema, case.volumes)
    lesion = report.features.lesions[0]
    core_ml = float((np.asarray(case.lesion.dataobj) == 3).sum()) / 1000.0
    assert lesion.volume_ml == pytest.approx(core_ml)
    assert lesion.edema_ml > 0
    assert 5.0 < lesion.diameters_mm[0] < 12.0  # core radius 3-4.5 mm
    assert lesion.signal["T2"] in ("high", "slightly high")
    assert lesion.signal["T1"] in ("low", "slightly low")
    assert any("edema" in s.text for s in _lesion_sentences(report))
    sizes = f"{round(lesion.diameters_mm[0])} x"
    assert sizes in report.sentences[0].text


def test_every_sentence_is_grounded(tiny_schema):
    case = make_case(5)
    report = generate_report(case.structure, case.lesion, tiny_schema, case.volumes)
    kinds = {s.kind for s in report.sentences}
    assert {"lesion", "global", "normal"} <= kinds
    for sentence in report.sentences:
        data = sentence.to_dict()
        assert set(data) == {"text", "region_label_ids", "lesion_component", "kind", "features"}
        assert all(tiny_schema.get(i) is not None for i in data["region_label_ids"])
        if sentence.kind == "lesion":
            assert data["lesion_component"] == 1 and data["region_label_ids"]


def test_a_healthy_case_gets_only_normal_and_global_sentences(tiny_schema):
    case = make_case(6)
    empty = nib.Nifti1Image(np.zeros(case.lesion.shape, dtype=np.uint8), case.lesion.affine)
    report = generate_report(case.structure, empty, tiny_schema, case.volumes)
    assert {s.kind for s in report.sentences} <= {"normal", "global"}
    assert any("preserved in the cerebral lobes" in s.text for s in report.sentences)


def test_stored_orientation_does_not_change_side_or_size(tiny_schema):
    case = make_case(7, lesion_side="left")
    ras = generate_report(case.structure, case.lesion, tiny_schema).features.lesions[0]
    las = generate_report(to_las(case.structure), to_las(case.lesion), tiny_schema).features.lesions[0]
    affine = oblique_affine(case.structure.affine)
    oblique = generate_report(
        resample_onto(case.structure, affine, case.structure.shape, 0),
        resample_onto(case.lesion, affine, case.lesion.shape, 0),
        tiny_schema,
    ).features.lesions[0]
    assert ras.side == las.side == oblique.side == "left"
    assert las.diameters_mm == pytest.approx(ras.diameters_mm)
    assert oblique.volume_ml == pytest.approx(ras.volume_ml, rel=0.15)


def test_white_matter_hyperintensities_are_reported_together(tiny_schema):
    case = make_case(9)
    wmh = np.zeros(case.lesion.shape, dtype=np.uint8)
    for centre in ((14, 20, 24), (34, 20, 24), (14, 36, 20), (34, 36, 28)):
        x, y, z = centre
        wmh[x - 2 : x + 2, y - 2 : y + 2, z - 2 : z + 2] = 5
    report = generate_report(case.structure, nib.Nifti1Image(wmh, case.lesion.affine), tiny_schema, case.volumes)
    lesion_sentences = _lesion_sentences(report)
    assert len(report.features.lesions) == 4
    assert "white matter hyperintensities" in lesion_sentences[0].text
    assert "bilateral" in lesion_sentences[0].text or (
        "left" in lesion_sentences[0].text and "right" in lesion_sentences[0].text
    )
    assert all(s.lesion_component is None for s in lesion_sentences)
    assert lesion_sentences[0].features["components"] == [1, 2, 3, 4]
