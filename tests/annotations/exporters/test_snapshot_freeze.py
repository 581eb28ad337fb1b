"""A snapshot pins approved cases to the versions their approval recorded, and freezing is idempotent."""

import numpy as np
import pytest

from annotations.errors import InvalidInput, NotAllowed
from annotations.models import DatasetSnapshot
from annotations.services.masks import mask_save
from annotations.services.reviews import case_review
from annotations.services.snapshots import canonical_json, snapshot_checksum, snapshot_freeze

from .conftest import AFFINES, lesion_map, nii


def test_default_snapshot_holds_only_approved_cases(project, members, make_approved):
    make_approved("A-1", seed=1)
    make_approved("A-2", seed=2, approve=False)
    snapshot = snapshot_freeze(project=project, user=members["reviewer"])
    assert [c["external_id"] for c in snapshot.manifest["cases"]] == ["A-1"]
    assert snapshot.n_cases == 1 and snapshot.manifest["selection"] == "approved"
    entry = snapshot.manifest["cases"][0]
    assert entry["approved"] is True and entry["report_version"] == 1
    assert set(entry["volumes"]) == {"T1", "T1CE", "T2", "FLAIR"}
    assert entry["masks"]["lesion"]["version"] == 1 and entry["masks"]["structure"]["source"] == "human"
    assert snapshot.checksum == snapshot_checksum(snapshot.manifest)


def test_freezing_the_same_state_twice_returns_the_same_snapshot(project, members, make_approved):
    make_approved("A-1", seed=1)
    first = snapshot_freeze(project=project, user=members["reviewer"])
    second = snapshot_freeze(project=project, user=members["admin"])
    assert first.pk == second.pk and DatasetSnapshot.objects.count() == 1
    make_approved("A-2", seed=2)
    third = snapshot_freeze(project=project, user=members["reviewer"])
    assert third.pk != first.pk and third.n_cases == 2


def test_cases_are_pinned_to_the_versions_their_approval_recorded(project, members, make_approved):
    case = make_approved("A-1", seed=1)
    case_review(case=case, action="reopen", user=members["reviewer"])
    case.refresh_from_db()
    mask_save(
        case=case, kind="lesion", data=nii(lesion_map(9), AFFINES["RAS"]), expected_version=1, user=members["annotator"]
    )
    # Reopened and edited but not approved again: not in the approved snapshot.
    assert snapshot_freeze(project=project, user=None).n_cases == 0
    case_review(case=case, action="submit", user=members["annotator"])
    case_review(case=case, action="approve", user=members["reviewer"])
    entry = snapshot_freeze(project=project, user=None).manifest["cases"][0]
    assert entry["masks"]["lesion"]["version"] == 2 and entry["masks"]["structure"]["version"] == 1


def test_all_and_explicit_selections_pin_unapproved_cases_to_their_latest_versions(project, members, make_approved):
    approved = make_approved("A-1", seed=1)
    draft = make_approved("A-2", seed=2, approve=False, masks=("lesion",))
    everything = snapshot_freeze(project=project, user=None, cases="all")
    assert [(c["external_id"], c["approved"]) for c in everything.manifest["cases"]] == [("A-1", True), ("A-2", False)]
    assert set(everything.manifest["cases"][1]["masks"]) == {"lesion"}
    explicit = snapshot_freeze(project=project, user=None, cases=[draft, approved.pk])
    assert explicit.manifest["selection"] == "explicit" and explicit.n_cases == 2
    with pytest.raises(InvalidInput, match="not .or no longer. in project"):
        snapshot_freeze(project=project, user=None, cases=[987654])


def test_annotators_cannot_freeze_snapshots(project, members, make_approved):
    make_approved("A-1", seed=1)
    with pytest.raises(NotAllowed):
        snapshot_freeze(project=project, user=members["annotator"])


def test_the_manifest_is_content_only_so_the_checksum_is_stable(project, members, make_approved):
    make_approved("A-1", seed=1)
    snapshot = snapshot_freeze(project=project, user=members["reviewer"])
    text = canonical_json(snapshot.manifest).decode()
    assert "reviewer" not in text and "created" not in text
    labels = snapshot.manifest["label_schema"]["labels"]
    assert [lab["index"] for lab in labels["lesion"]] == [1, 2, 3, 4, 5]
    assert np.array_equal(sorted(lab["index"] for lab in labels["structure"]), np.arange(1, 33))
