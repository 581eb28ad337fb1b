"""Retraining as a job: frozen snapshot, permanent splits, pseudo-labels, one candidate per run."""

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from django.db import connection

from annotations.models import Case, Split
from inference.models import Job, JobStatus, ModelStage, ModelVersion
from inference.services.inference import infer_case
from inference.services.jobs import job_create, job_execute
from inference.services.training import splits_assign

TINY = {"config": {"epochs": 2}, "max_steps_per_epoch": 2, "evaluate_embedding": False}


def _dataset(labelled_case, phantom_case, tiny_champion):
    labelled_case(
        "V0",
        lesion_x=-7.0,
        seed=9,
        split="val",
        report="There is a mass with surrounding edema in the left frontal lobe.",
    )
    for i in range(4):
        labelled_case(f"L{i}", lesion_x=(-1) ** i * 7.0, seed=i, split="train")
    for i in range(2):
        infer_case(case=phantom_case(external_id=f"U{i}", lesion_x=6.0), model_version=tiny_champion)


def test_retraining_registers_one_candidate_from_the_snapshot(project, labelled_case, phantom_case, tiny_champion):
    _dataset(labelled_case, phantom_case, tiny_champion)
    job = job_create(project=project, type="training", params=TINY, user=None)
    assert job_execute(job_id=job.pk) == JobStatus.SUCCEEDED, Job.objects.get(pk=job.pk).error
    job.refresh_from_db()
    model = ModelVersion.objects.get(pk=job.result["model"])
    assert model.stage == ModelStage.CANDIDATE and model.parent == tiny_champion
    assert model.training_job == job and model.snapshot_id == job.result["snapshot"]
    assert [h["epoch"] for h in job.result["history"]] == [1, 2]
    # Fine-tuned gently: a tenth of the champion's rate, after a warm-up.
    stored = model.config["config"]
    assert (stored["fine_tune_lr_scale"], stored["fine_tune_warmup"]) == (0.1, 0.1)
    champion_rate = tiny_champion.config["config"]["learning_rate"]
    assert max(h["learning_rate"] for h in job.result["history"]) <= 0.1 * champion_rate
    # Scored like for like against the champion on the snapshot's validation cases.
    assert "validation" in model.metrics, (job.result, model.metrics)
    assert model.metrics["validation"]["snapshot"] == job.result["snapshot"]
    assert "per_label" in model.metrics and "lesion" in model.metrics["per_label"]
    assert model.metrics["validation"]["cases"] == 1
    assert "bleu4" in model.metrics["report"] and "rouge1" in model.metrics["report"]
    tiny_champion.refresh_from_db()
    assert str(job.result["snapshot"]) in tiny_champion.metrics["evaluations"]
    assert isinstance(job.result["beats_champion"], bool)
    counts = job.result["cases"]
    assert counts == {"labelled": 4, "validation": 1, "pseudo_labelled": counts["pseudo_labelled"]}
    assert counts["pseudo_labelled"] >= 1
    # Every case now has its permanent split; validation cases were not trained on.
    splits = dict(Case.objects.values_list("external_id", "split"))
    assert Split.UNASSIGNED not in splits.values()
    snapshot_entries = {e["external_id"]: e for e in model.snapshot.manifest["cases"]}
    assert all(snapshot_entries[c]["split"] == splits[c] for c in snapshot_entries)
    # The same job delivered again registers nothing new.
    Job.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, celery_task_id="again")
    job_execute(job_id=job.pk, task_id="again")
    assert ModelVersion.objects.filter(training_job=job).count() == 1


def test_splits_are_assigned_once_and_never_move(project, labelled_case):
    for i in range(10):
        labelled_case(f"S{i}", approve=False)
    assert splits_assign(project=project) == 10
    first = dict(Case.objects.values_list("pk", "split"))
    assert splits_assign(project=project, val_fraction=0.9) == 0
    assert dict(Case.objects.values_list("pk", "split")) == first
    assert set(first.values()) <= {"train", "val"}


def test_retraining_without_approved_cases_fails_with_a_sentence(project, phantom_case, tiny_champion):
    infer_case(case=phantom_case(external_id="U0"), model_version=tiny_champion)
    job = job_create(project=project, type="training", params=TINY, user=None)
    assert job_execute(job_id=job.pk) == JobStatus.FAILED
    assert "No approved case in the training split" in Job.objects.get(pk=job.pk).error


def test_bad_training_params_are_refused(members, client_for, project):
    client = client_for(members["admin"])
    for params in (
        {"pseudo_label_weight": 3},
        {"config": {"channels": [4]}},
        {"config": {"epochs": 0}},
        {"config": {"fine_tune_lr_scale": 0}},
        {"config": {"fine_tune_warmup": "a tenth"}},
    ):
        response = client.post(
            f"/api/projects/{project.pk}/jobs/", {"type": "training", "params": params}, format="json"
        )
        assert response.status_code == 400, params
        assert response.json()["detail"], params


@pytest.mark.django_db(transaction=True)
def test_cancelling_a_running_training_stops_it_without_a_model(
    project, labelled_case, phantom_case, tiny_champion, wait
):
    _dataset(labelled_case, phantom_case, tiny_champion)
    job = job_create(
        project=project, type="training", params={"config": {"epochs": 50}, "max_steps_per_epoch": 2}, user=None
    )
    outcome = {}

    def run():
        try:
            outcome["status"] = job_execute(job_id=job.pk)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    assert wait(lambda: len((Job.objects.get(pk=job.pk).result or {}).get("history", [])) >= 1, timeout=120)
    client_job = Job.objects.get(pk=job.pk)
    Job.objects.filter(pk=client_job.pk).update(cancel_requested=True)
    thread.join(120)
    assert outcome["status"] == JobStatus.CANCELLED
    assert not ModelVersion.objects.filter(training_job=job).exists()


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_training_resumes_and_registers_exactly_one_model(
    project, labelled_case, phantom_case, tiny_champion, worker_env, tmp_path, wait, fault_record, spawn_worker
):
    from inference.ml.checkpoints import read_checkpoint

    _dataset(labelled_case, phantom_case, tiny_champion)
    log = (tmp_path / "worker.log").open("w")
    worker = spawn_worker(worker_env, log, queues="training", pool="prefork")
    try:
        job = job_create(
            project=project, type="training", params={"config": {"epochs": 6}, "max_steps_per_epoch": 3}, user=None
        )
        reached = wait(
            lambda: len((Job.objects.get(pk=job.pk).result or {}).get("history", [])) >= 2, timeout=240, interval=0.1
        )
        assert reached, (tmp_path / "worker.log").read_text()[-3000:]
        epochs_at_kill = len(Job.objects.get(pk=job.pk).result["history"])
        for pid in _children(worker.pid):
            os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        done = wait(lambda: Job.objects.get(pk=job.pk).status in (JobStatus.SUCCEEDED, JobStatus.FAILED), timeout=300)
        finished = time.monotonic() - killed
        job.refresh_from_db()
        assert done and job.status == JobStatus.SUCCEEDED, (tmp_path / "worker.log").read_text()[-3000:]
    finally:
        worker.terminate()
        worker.wait(30)
        log.close()
    assert job.attempts == 2 and job.result["resumed_from_epoch"] >= 2
    assert [h["epoch"] for h in job.result["history"]] == list(range(1, 7))
    models = ModelVersion.objects.filter(training_job=job)
    assert models.count() == 1
    from annotations.blobs import blob_read

    checkpoint = tmp_path / "registered.pt"
    checkpoint.write_bytes(blob_read(models.get().checkpoint))
    assert read_checkpoint(checkpoint).metadata.epoch >= 1  # loads: not corrupted
    fault_record(
        fault="worker process killed during training (6 epochs)",
        client_saw=f"job after epoch {epochs_at_kill}, still running, then succeeded",
        recovery=f"resumed from epoch {job.result['resumed_from_epoch']}; "
        f"finished {finished:.0f} s after the kill (2 attempts)",
        data="exactly one model version; its checkpoint loads",
    )


def test_retraining_learns_the_clinicians_phrasing(project, labelled_case, phantom_case, tiny_champion, members):
    """Clinicians rewrite the model's midline sentence; the retrained model's reports use their words."""
    from annotations.services.reports import report_latest, report_save
    from annotations.services.reviews import case_review
    from inference.ml.report.learning import identify

    def review_like_clinicians(case):
        infer_case(case=case, model_version=tiny_champion)
        draft = report_latest(case)
        sentences = []
        for s in draft.sentences.order_by("order"):
            role = identify(s.text)
            text = "No midline shift." if role and role[0] == "centred" else s.text
            sentences.append(
                {
                    "key": str(s.key),
                    "text": text,
                    "region_label_ids": s.region_label_ids,
                    "lesion_component": s.lesion_component,
                    "kind": s.kind,
                    "status": "accepted" if text == s.text else None,
                }
            )
        report_save(case=case, sentences=sentences, expected_version=draft.version, user=members["annotator"])
        case_review(case=case, action="submit", user=members["annotator"])
        case_review(case=case, action="approve", user=members["reviewer"])

    for i, split in enumerate(["train", "train", "train", "val"]):
        case = phantom_case(external_id=f"P{i}", lesion_x=(-1) ** i * 7.0)
        Case.objects.filter(pk=case.pk).update(split=split)
        case.refresh_from_db()
        review_like_clinicians(case)
    job = job_create(project=project, type="training", params=TINY, user=None)
    assert job_execute(job_id=job.pk) == JobStatus.SUCCEEDED, Job.objects.get(pk=job.pk).error
    job.refresh_from_db()
    candidate = ModelVersion.objects.get(pk=job.result["model"])
    assert "centred" in candidate.config["phrasebook"]["changed_roles"]
    assert job.result["learnt_report_roles"] == candidate.config["phrasebook"]["changed_roles"]
    # On the validation case the learnt phrasing matches the clinicians better than the default words.
    learnt, default = candidate.metrics["report"], candidate.metrics["report_default_phrasing"]
    assert learnt["bleu4"] >= default["bleu4"] and learnt["rouge1"] > default["rouge1"]
    fresh = phantom_case(external_id="new", lesion_x=7.0)
    infer_case(case=fresh, model_version=candidate)
    texts = [s.text for s in report_latest(fresh).sentences.all()]
    assert "No midline shift." in texts and "Midline structures are centred." not in texts
