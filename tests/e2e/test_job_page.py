"""The job page: progress, log, and learning curves that grow while a training job runs."""

import pytest

pytestmark = [pytest.mark.e2e]

POINTS = "document.querySelectorAll('#curves circle[data-series=train_loss]').length"


def epoch(n: int) -> dict:
    return {
        "epoch": n,
        "train_loss": round(1.2 / n, 4),
        "val_lesion_dice": round(0.2 * n, 3),
        "val_structure_dice": None if n == 1 else round(0.15 * n, 3),
        "learning_rate": 1e-3,
        "seconds": 3.0,
    }


def test_training_curves_grow_on_the_next_poll_and_link_the_model_when_done(open_page, members, project, until):
    from django.utils import timezone

    from inference.models import Job, ModelVersion

    job = Job.objects.create(
        project=project,
        type="training",
        status="running",
        progress=0.3,
        message="train epoch 3/10",
        log="epoch 1 done\nepoch 2 done\nepoch 3 done",
        result={"snapshot": 7, "history": [epoch(1), epoch(2), epoch(3)]},
        created_by=members["admin"],
        started_at=timezone.now(),
        attempts=1,
    )
    page = open_page(members["reviewer"], f"/jobs/{job.pk}/")
    until(page, f"() => {POINTS} === 3", 10, "three epochs drawn")
    assert page.locator("#curves path[data-series=val_structure_dice]").count() == 1  # epoch 1 had no value
    assert page.get_attribute("#job-progress", "aria-valuenow") == "30"
    assert "epoch 3 done" in page.inner_text("#job-log")
    assert page.inner_text("#job-result dd[data-key=snapshot]") == "snapshot 7"
    assert page.is_visible("#cancel-job")

    Job.objects.filter(pk=job.pk).update(
        progress=0.4, result={"snapshot": 7, "history": [epoch(n) for n in range(1, 5)]}
    )
    until(page, f"() => {POINTS} === 4", 10, "the fourth epoch drawn on the next poll")

    model = ModelVersion.objects.create(
        project=project, name="retrained", label_schema=project.label_schema, checkpoint="m.pt", sha256="a" * 64
    )
    Job.objects.filter(pk=job.pk).update(
        status="succeeded",
        progress=1.0,
        message="Done.",
        finished_at=timezone.now(),
        result={"snapshot": 7, "model": model.pk, "history": [epoch(n) for n in range(1, 5)]},
    )
    until(page, "() => document.getElementById('job-status').textContent === 'succeeded'", 10, "the job finishing")
    assert page.get_attribute("#job-result a[href^='/models/']", "href") == f"/models/{model.pk}/"
    assert not page.is_visible("#cancel-job")
    polls = page.evaluate("() => window.brainscribe.state.polls")
    page.wait_for_timeout(2500)
    assert page.evaluate("() => window.brainscribe.state.polls") == polls  # polling stops once the job is over
    assert not page.errors

    jobs = open_page(members["viewer"], f"/projects/{project.pk}/jobs/")
    until(jobs, f"() => document.querySelector('#jobs tr[data-job-id=\"{job.pk}\"][data-status=succeeded]')", 10)
    jobs.click(f"#jobs tr[data-job-id='{job.pk}'] td:nth-child(2)")
    jobs.wait_for_url(f"**/jobs/{job.pk}/")
    assert not jobs.errors
