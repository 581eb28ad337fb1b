import gzip

import nibabel as nib
import numpy as np
import pytest

from annotations.models import Case, CaseStatus
from annotations.services.masks import mask_save
from annotations.services.reports import report_save
from inference.models import CaseScore, Job, JobStatus
from inference.services.active_learning import correction_weights, scores_compute
from inference.services.jobs import job_create, job_execute


def _labels(case, boxes: dict[int, tuple[slice, slice, slice]]) -> bytes:
    data = np.zeros(tuple(case.shape), np.uint8)
    for value, where in boxes.items():
        data[where] = value
    return gzip.compress(nib.Nifti1Image(data, np.asarray(case.affine)).to_bytes())


def test_random_scores_are_stable_per_case_and_different_between_cases(project, make_case):
    for i in range(4):
        make_case(external_id=f"c{i}")
    scores_compute(project=project, strategy="random")
    first = dict(CaseScore.objects.values_list("case_id", "score"))
    scores_compute(project=project, strategy="random")
    assert dict(CaseScore.objects.values_list("case_id", "score")) == first
    assert len(set(first.values())) == 4 and all(0 <= s < 1 for s in first.values())
    assert CaseScore.objects.count() == 4  # recomputing replaces, never duplicates


def test_inconsistency_ranks_cases_whose_model_report_contradicts_its_masks(project, make_case):
    calm, odd = make_case(external_id="calm"), make_case(external_id="odd")
    report_save(case=calm, expected_version=0, user=None, source="model", sentences=[{"text": "Normal."}])
    report_save(
        case=odd,
        expected_version=0,
        user=None,
        source="model",
        sentences=[{"text": "Left lesion."}, {"text": "Normal."}],
    )
    odd_sentence = odd.report_versions.get().sentences.first()
    odd_sentence.warnings = [{"code": "side", "message": "the mask is on the right"}]
    odd_sentence.save()
    scores_compute(project=project, strategy="inconsistency")
    scores = dict(CaseScore.objects.values_list("case__external_id", "score"))
    assert scores == {"calm": 0.0, "odd": 0.5}


def test_corrected_regions_prefers_proposals_where_clinicians_corrected_before(project, make_case, members):
    teacher = make_case(external_id="teacher")
    region_a, region_b = np.s_[0:6, 0:8, 0:6], np.s_[12:20, 12:20, 10:16]
    mask_save(
        case=teacher,
        kind="structure",
        data=_labels(teacher, {1: region_a, 5: region_b}),
        expected_version=0,
        user=None,
        source="model",
    )
    mask_save(
        case=teacher,
        kind="lesion",
        data=_labels(teacher, {2: np.s_[0:3, 0:3, 0:3]}),
        expected_version=0,
        user=None,
        source="model",
    )
    # The clinician had to grow the lesion inside region 1 only.
    mask_save(
        case=teacher,
        kind="lesion",
        data=_labels(teacher, {2: np.s_[0:6, 0:6, 0:6]}),
        expected_version=1,
        user=members["annotator"],
    )
    Case.objects.filter(pk=teacher.pk).update(status=CaseStatus.APPROVED)
    assert correction_weights(project) == {1: 1.0}

    hits, misses = make_case(external_id="in-a"), make_case(external_id="in-b")
    for case, where in ((hits, np.s_[1:4, 1:4, 1:4]), (misses, np.s_[13:16, 13:16, 11:14])):
        mask_save(
            case=case,
            kind="structure",
            data=_labels(case, {1: region_a, 5: region_b}),
            expected_version=0,
            user=None,
            source="model",
        )
        mask_save(
            case=case, kind="lesion", data=_labels(case, {2: where}), expected_version=0, user=None, source="model"
        )
    scores_compute(project=project, strategy="corrected_regions")
    scores = dict(CaseScore.objects.values_list("case__external_id", "score"))
    assert scores["in-a"] == 1.0 and scores["in-b"] == 0.0


def test_next_case_follows_the_requested_strategy(project, make_case, members, client_for):
    for i in range(5):
        make_case(external_id=f"c{i}")
    scores_compute(project=project, strategy="random", set_priority=False)
    best = CaseScore.objects.order_by("-score").first().case.external_id
    picked = client_for(members["annotator"]).get(f"/api/projects/{project.pk}/next-case?strategy=random").json()
    assert picked["external_id"] == best
    assert picked["priority_strategy"] == "random"


def test_scoring_job_sets_the_worklist_priority(project, make_case, members):
    for i in range(3):
        make_case(external_id=f"c{i}")
    job = job_create(project=project, type="scoring", params={"strategy": "random"}, user=members["admin"])
    assert job_execute(job_id=job.pk) == "succeeded"
    priorities = list(Case.objects.values_list("priority", "priority_strategy"))
    assert all(p is not None and s == "random" for p, s in priorities)


def test_a_scoring_job_sent_again_after_its_worker_died_scores_only_what_is_left(
    project, make_case, members, monkeypatch
):
    from inference.services import active_learning

    cases = [make_case(external_id=f"c{i}") for i in range(5)]
    asked: list[list[str]] = []

    def dies_after_two(ctx):
        asked.append([c.external_id for c in ctx.cases])
        for n, case in enumerate(ctx.cases):
            if n == 2 and len(asked) == 1:
                raise SystemExit("worker killed")  # not an Exception: the job runner cannot catch it
            yield case.pk, float(case.pk), {}

    monkeypatch.setitem(active_learning.STRATEGIES, "slow", dies_after_two)
    monkeypatch.setattr(active_learning, "STORE_EVERY_SECONDS", 0.0)  # store each score as it comes
    job = job_create(project=project, type="scoring", params={"strategy": "random"}, user=members["admin"])
    with pytest.raises(SystemExit):
        scores_compute(project=project, strategy="slow", job=job)
    # What the dead worker stored before it died is kept.
    assert sorted(CaseScore.objects.filter(job=job).values_list("case__external_id", flat=True)) == ["c0", "c1"]

    assert scores_compute(project=project, strategy="slow", job=job) == 5
    assert asked[1] == ["c2", "c3", "c4"]
    assert CaseScore.objects.filter(strategy="slow").count() == 5
    assert dict(Case.objects.values_list("pk", "priority")) == {c.pk: float(c.pk) for c in cases}
    # Another job (a new request) scores everything again and replaces the scores.
    Job.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED)
    other = job_create(project=project, type="scoring", params={"strategy": "random"}, user=members["admin"])
    assert scores_compute(project=project, strategy="slow", job=other) == 5
    assert asked[2] == [f"c{i}" for i in range(5)]
    assert set(CaseScore.objects.filter(strategy="slow").values_list("job", flat=True)) == {other.pk}


def test_entropy_scores_every_open_case_with_per_region_detail(project, phantom_case, tiny_champion):
    from inference.services.inference import infer_case

    cases = [phantom_case(external_id=f"e{i}", lesion_x=(-1) ** i * 7.0) for i in range(2)]
    infer_case(case=cases[0], model_version=tiny_champion)
    scores_compute(project=project, strategy="entropy")
    rows = {s.case.external_id: s for s in CaseScore.objects.filter(strategy="entropy")}
    assert set(rows) == {"e0", "e1"}
    for row in rows.values():
        assert row.model_version == tiny_champion and row.score >= 0
        assert row.details["samples"] == 6 and row.details["regions"]


def test_entropy_without_a_champion_is_refused_with_a_sentence(project, make_case, members, client_for):
    make_case()
    response = client_for(members["admin"]).post(
        f"/api/projects/{project.pk}/jobs/", {"type": "scoring", "params": {"strategy": "entropy"}}, format="json"
    )
    assert response.status_code == 202
    from inference.services.jobs import job_execute

    assert job_execute(job_id=response.json()["id"]) == "failed"
