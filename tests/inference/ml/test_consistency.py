import numpy as np
import pytest

from inference.ml.report import check_consistency, check_sentence, extract_features
from inference.ml.schema import schema_from_rows

from .conftest import TINY_SCHEMA_ROWS, make_case


@pytest.fixture(scope="module")
def left_lesion_case(tiny_schema):
    case = make_case(8, lesion_side="left")
    structure, lesion = np.asarray(case.structure.dataobj), np.asarray(case.lesion.dataobj)
    features = extract_features(structure, lesion, case.structure.affine, tiny_schema)
    return case, features


def _kinds(warnings):
    return {w.kind for w in warnings}


def test_a_true_sentence_raises_nothing(left_lesion_case, tiny_schema):
    _, features = left_lesion_case
    lesion = features.lesions[0]
    size = " x ".join(str(round(v)) for v in lesion.diameters_mm)
    region = lesion.regions[0].coarse_region
    text = f"A round mass is seen in the left {region}, measuring approximately {size} mm."
    assert check_sentence(text, lesion.region_label_ids, 1, features, tiny_schema) == []


def test_wrong_side_is_flagged(left_lesion_case, tiny_schema):
    _, features = left_lesion_case
    lesion = features.lesions[0]
    region = lesion.regions[0].coarse_region
    warnings = check_sentence(f"A mass in the right {region}.", lesion.region_label_ids, 1, features, tiny_schema)
    assert _kinds(warnings) == {"side"}
    assert "left" in warnings[0].message


def test_wrong_region_is_flagged(left_lesion_case, tiny_schema):
    _, features = left_lesion_case
    lesion = features.lesions[0]
    # The schema knows an occipital lobe; the synthetic head has none, so no lesion can reach it.
    schema = schema_from_rows("tiny-test", [*TINY_SCHEMA_ROWS, (5, "occipital lobe L", "left", "occipital lobe")])
    warnings = check_sentence("A mass in the left occipital lobe.", lesion.region_label_ids, 1, features, schema)
    assert _kinds(warnings) == {"region"}
    assert "occipital lobe" in warnings[0].message


def test_wrong_size_is_flagged(left_lesion_case, tiny_schema):
    _, features = left_lesion_case
    lesion = features.lesions[0]
    big = " x ".join(str(round(3 * v)) for v in lesion.diameters_mm)
    warnings = check_sentence(f"A mass measuring {big} mm.", lesion.region_label_ids, 1, features, tiny_schema)
    assert _kinds(warnings) == {"size"}
    cm = check_sentence("A mass measuring 5 cm.", lesion.region_label_ids, 1, features, tiny_schema)
    assert _kinds(cm) == {"size"}


def test_normal_sentence_over_the_lesion_is_flagged(left_lesion_case, tiny_schema):
    _, features = left_lesion_case
    ids = features.lesions[0].region_label_ids
    warnings = check_sentence("The left cerebral hemisphere is unremarkable.", ids, None, features, tiny_schema)
    assert _kinds(warnings) == {"normal"}
    right_ids = [lab.index for lab in tiny_schema.labels if lab.side == "right"]
    assert check_sentence("The right hemisphere is unremarkable.", right_ids, None, features, tiny_schema) == []


def test_missing_component_and_wrong_midline_are_flagged(left_lesion_case, tiny_schema):
    case, features = left_lesion_case
    structure, lesion = np.asarray(case.structure.dataobj), np.asarray(case.lesion.dataobj)
    warnings = check_consistency(
        "A mass.", [1], 4, structure=structure, lesion=lesion, affine=case.structure.affine, schema=tiny_schema
    )
    assert _kinds(warnings) == {"grounding"}
    shift = check_sentence("There is a midline shift of 12 mm to the right.", [], None, features, tiny_schema)
    assert "midline" in _kinds(shift)
