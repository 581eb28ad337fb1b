"""Report sentences name the side and region the ground-truth mask occupies, in varied words."""

import json
import re

import nibabel as nib
import numpy as np
import pytest

from annotations.demo import findings, reports, schema


def _finding(ids, diam=(30.0, 20.0, 10.0)):
    return findings.LesionFinding(
        component=1,
        region_ids=ids,
        side="left",
        diameters_mm=diam,
        volume_ml=3.0,
        has_necrosis=True,
        has_edema=True,
        edema_ratio=2.5,
        signal={
            "T1": "slightly low",
            "T2": "high",
            "FLAIR": "high",
            "T1CE": "high",
            "DWI": "iso",
            "ADC": "slightly high",
        },
        necrosis_signal={"T1": "low", "T2": "high", "FLAIR": "slightly high"},
        edema_signal={"T1": "slightly low", "T2": "high", "FLAIR": "high"},
        enhancement="ring",
    )


def test_location_joins_lobes_and_sides_like_a_radiologist():
    assert reports.location([1]) == "left frontal lobe"
    assert reports.location([1, 3]) == "left frontal and parietal lobes"
    assert reports.location([6, 10, 20]) == "right temporal lobe, insular lobe and basal ganglia"
    assert reports.location([1, 2]) == "bilateral frontal lobes"
    assert reports.location([30]) == "brainstem"


def test_paraphrases_vary_with_the_seed():
    cf = findings.CaseFindings([_finding([1])], 4.0, "right", ["left"], {1})
    first_sentences = set()
    impressions = set()
    for seed in range(12):
        sentences, modal, paragraph, impression = reports.write_report(
            "glioma", cf, ["T1", "T1CE", "T2", "FLAIR"], {}, seed
        )
        first_sentences.add(re.sub(r"\d+", "N", sentences[0]["text"]))
        impressions.add(impression)
        assert set(modal) == {"T1", "T1CE", "T2", "FLAIR"}
        assert "left frontal lobe" in paragraph and "right" in paragraph
    assert len(first_sentences) >= 3 and len(impressions) >= 2


def test_every_sentence_is_grounded():
    cf = findings.CaseFindings([_finding([1, 3])], 0.0, None, [], {1, 3})
    sentences, *_ = reports.write_report("glioma", cf, ["T1", "FLAIR"], {}, 0)
    for s in sentences:
        assert set(s) == {"text", "region_label_ids", "lesion_component", "modality", "kind"}
        assert s["kind"] in ("lesion", "normal", "global")
        assert all(i in schema.BY_INDEX for i in s["region_label_ids"])
        if s["kind"] == "lesion":
            assert s["lesion_component"] == 1 and s["region_label_ids"] == [1, 3]


def _expected_region(case, component_mask: np.ndarray) -> int:
    struct = case.structure
    core = component_mask & np.isin(case.lesion, (1, 3, 4, 5))
    if case.kind == "meningioma":
        from scipy import ndimage

        shell = ndimage.binary_dilation(core, iterations=4) & (case.lesion == 0)
        values = struct[shell]
    else:
        values = struct[core]
    values = values[(values > 0) & ~np.isin(values, schema.CSF_SPACES)]
    return int(np.bincount(values).argmax())


@pytest.mark.slow
def test_lesion_sentences_name_the_side_and_region_of_the_mask(demo_cases):
    checked = 0
    for case in demo_cases:
        if case.kind in ("healthy", "wmh") or case.params["storage"]["orientation"] == "oblique":
            continue
        comps = findings.components(case.lesion)
        for s in case.report:
            if s["kind"] != "lesion" or s["modality"] is not None or s["lesion_component"] is None:
                continue
            if not re.search(r"\d+ ?(mm)? ?[x*] ?\d+", s["text"]):
                continue  # the sentence that gives location and size
            expected = schema.BY_INDEX[_expected_region(case, comps == s["lesion_component"])]
            text = s["text"].lower()
            stem = expected.coarse_region.replace(" lobe", "")
            assert stem in text, (case.dir.name, s["text"], expected)
            if expected.side != "midline":
                assert expected.side in text or "bilateral" in text, (case.dir.name, s["text"])
                opposite = "right" if expected.side == "left" else "left"
                assert opposite not in text or "bilateral" in text or expected.side in text
            assert expected.index in s["region_label_ids"]
            checked += 1
    assert checked >= 3


@pytest.mark.slow
def test_sizes_in_the_text_match_the_mask_in_world_millimetres(demo_cases):
    for case in demo_cases:
        measured = case.params["measured"]["lesions"]
        for m in measured:
            if m["component"] is None:
                continue
            sentence = next(s["text"] for s in case.report if s["lesion_component"] == m["component"])
            numbers = [int(v) for v in re.findall(r"(\d+) ?(?:mm)? ?[x*] ?(\d+) ?(?:mm)? ?[x*] ?(\d+)", sentence)[0]]
            assert numbers == [int(v) for v in m["diameters_mm"]]
        if case.kind in ("glioma", "infarct") and case.params["storage"]["orientation"] != "oblique":
            comps = findings.components(case.lesion)
            core = (comps == 1) & np.isin(case.lesion, (1, 3, 4))
            img = nib.as_closest_canonical(case.lesion_img)
            d = findings.diameters(core, img.affine)
            assert abs(d[0] - measured[0]["diameters_mm"][0]) <= 2


@pytest.mark.slow
def test_midline_and_modal_findings_agree_with_the_measurements(demo_dataset, demo_cases):
    modal = json.loads((demo_dataset.out_dir / "modal_wise_finding.json").read_text())
    for case in demo_cases:
        cid = case.dir.name
        assert set(modal[cid]) == set(case.params["modalities"])
        direction = case.params["measured"]["shift_direction"]
        global_text = " ".join(s["text"] for s in case.report if s["kind"] == "global")
        if direction:
            assert "midline" in global_text.lower() and direction in global_text
        else:
            assert re.search(r"no midline shift|centred|no shift", global_text.lower())
        if case.kind == "infarct":
            assert "restricted" in " ".join(s["text"] for s in case.report).lower()


@pytest.mark.parametrize("kind", ["glioma", "metastases", "meningioma", "infarct", "wmh", "healthy"])
def test_every_wording_of_every_kind_fills_its_slots(kind):
    finding = _finding([5, 9])
    finding.restricted_diffusion = kind == "infarct"
    lesions = [] if kind == "healthy" else [finding]
    for seed in range(40):
        cf = findings.CaseFindings(lesions, 3.0 if seed % 2 else 0.0, "left" if seed % 2 else None, [], {5, 9})
        params = {"fazekas": 2, "territory": "MCA"}
        sentences, modal, paragraph, impression = reports.write_report(
            kind, cf, ["T1", "T1CE", "T2", "FLAIR", "DWI", "ADC"], params, seed
        )
        assert "{" not in paragraph + impression + " ".join(modal.values())
        if lesions:
            assert "left temporal and insular lobes" in paragraph
