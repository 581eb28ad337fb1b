"""The exports page starts an export job, follows it, and offers the archive when the job has run."""

import pytest

pytestmark = [pytest.mark.e2e]


def test_an_export_started_in_the_browser_offers_its_download(open_page, e2e_case, members, until, live_server):
    from annotations.services.reviews import case_review
    from inference.models import Job
    from inference.services.jobs import job_execute

    case = e2e_case(external_id="exp-1")
    case_review(case=case, action="submit", user=members["annotator"])
    case_review(case=case, action="approve", user=members["reviewer"])

    page = open_page(members["reviewer"], f"/projects/{case.project_id}/exports/")
    until(page, "() => document.querySelector('#exports tbody').innerText.includes('No export yet')", 10)
    assert page.input_value("#export-format") == "nnunet"
    assert page.is_visible("[data-option=mask]") and page.is_visible("[data-option=dataset_id]")
    page.select_option("#export-format", "jsonl")
    assert not page.is_visible("[data-option=mask]")  # the options follow the format
    page.click("#start-export")

    until(page, "() => document.querySelector('.export-tracker[data-job-id]')", 10, "the export's progress card")
    job = Job.objects.get(project=case.project, type="export")
    assert job.params["format"] == "jsonl" and job.params["cases"] == "approved"
    assert page.inner_text("#export-message").startswith("Started export job")

    assert job_execute(job_id=job.pk) == "succeeded"  # what a worker does; the page is polling meanwhile
    until(page, "() => document.querySelector('.export-tracker a.download')", 10, "the download link")
    href = page.get_attribute(".export-tracker a.download", "href")
    job.refresh_from_db()
    assert href == job.result["download_url"]
    until(page, "() => document.querySelector('#exports tbody a.download')", 10, "the archive in the list")
    response = page.request.get(live_server.url + href)
    assert response.status == 200 and response.headers["content-type"] == "application/zip"

    # The same export again is a new job once the first has finished; while that one waits, a third
    # request is refused with the server's sentence and a link to the waiting job.
    page.click("#start-export")
    until(page, "() => document.querySelectorAll('.export-tracker').length === 2", 10)
    again = Job.objects.filter(type="export").exclude(pk=job.pk).get()
    page.click("#start-export")
    until(page, "() => document.getElementById('export-message').dataset.kind === 'error'", 10, "the 409 sentence")
    assert "already queued" in page.inner_text("#export-message")
    assert page.get_attribute("#export-message a", "href") == f"/jobs/{again.pk}/"
    assert page.locator(".export-tracker").count() == 2
    assert not page.errors


def test_an_admin_deletes_an_archives_files_from_the_list(open_page, e2e_case, members, until):
    from annotations.models import Export
    from annotations.services.reviews import case_review
    from inference.services.jobs import job_create, job_execute

    case = e2e_case(external_id="exp-2")
    case_review(case=case, action="submit", user=members["annotator"])
    case_review(case=case, action="approve", user=members["reviewer"])
    job = job_create(project=case.project, type="export", params={"format": "nnunet"}, user=members["reviewer"])
    assert job_execute(job_id=job.pk) == "succeeded"
    export = Export.objects.get(job=job)

    reviewer_page = open_page(members["reviewer"], f"/projects/{case.project_id}/exports/")
    until(reviewer_page, "() => document.querySelector('#exports tbody a.download')", 10, "the archive in the list")
    assert reviewer_page.locator("button.delete-files").count() == 0  # admins only

    page = open_page(members["admin"], f"/projects/{case.project_id}/exports/")
    until(page, "() => document.querySelector('#exports tbody button.delete-files')", 10, "the delete button")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("button.delete-files")
    until(page, "() => document.querySelector('#exports tbody tr[data-status=deleted]')", 10, "the deleted row")
    assert f"by {members['admin'].username}" in page.inner_text("#exports tbody")
    assert page.locator("#exports tbody a.download").count() == 0
    export.refresh_from_db()
    assert export.files_deleted_at is not None and export.archive == ""
    assert not page.errors
