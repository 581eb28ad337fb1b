"""The project pages (models, jobs, exports) and the job page: who may open them, and what they offer."""

import re

import pytest


@pytest.fixture
def job(project, members):
    from inference.models import Job

    return Job.objects.create(project=project, type="training", status="running", created_by=members["admin"])


@pytest.fixture
def model(project):
    from inference.models import ModelVersion

    return ModelVersion.objects.create(
        project=project, name="seg-v1", label_schema=project.label_schema, checkpoint="x.pt", sha256="0" * 64
    )


def project_urls(project_id: int) -> list[str]:
    return [f"/projects/{project_id}/models/", f"/projects/{project_id}/jobs/", f"/projects/{project_id}/exports/"]


def test_project_pages_need_a_login(client, project, job, model):
    for url in [*project_urls(project.pk), f"/jobs/{job.pk}/", f"/models/{model.pk}/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/?next="), url


def test_outsiders_get_404_for_every_project_page(browser_client, members, project, job, model):
    client = browser_client(members["outsider"])
    for url in [*project_urls(project.pk), f"/jobs/{job.pk}/", f"/models/{model.pk}/"]:
        assert client.get(url).status_code == 404, url


def test_every_member_opens_every_project_page(browser_client, members, project, job, model):
    for role in ("viewer", "annotator", "reviewer", "admin"):
        client = browser_client(members[role])
        for url in [*project_urls(project.pk), f"/jobs/{job.pk}/", f"/models/{model.pk}/"]:
            response = client.get(url)
            assert response.status_code == 200, (role, url)
            assert f'data-role="{role}"'.encode() in response.content, (role, url)


def test_the_header_links_worklist_models_jobs_and_exports(browser_client, members, project):
    client = browser_client(members["annotator"])
    for url, current in [
        (f"/projects/{project.pk}/", "Worklist"),
        *zip(project_urls(project.pk), ("Models", "Jobs", "Exports"), strict=True),
    ]:
        html = client.get(url).content.decode()
        nav = re.search(r'<span class="project-tabs".*?>Exports</a>', html, re.S).group(0)
        hrefs = re.findall(r'href="([^"]+)"', nav)
        assert hrefs == [f"/projects/{project.pk}/", *project_urls(project.pk)]
        assert re.search(rf'aria-current="page">{current}<', nav), url


def test_a_model_page_selects_its_version_in_the_registry(browser_client, members, model):
    html = browser_client(members["viewer"]).get(f"/models/{model.pk}/").content.decode()
    assert f'data-selected="{model.pk}"' in html
    assert 'data-schema="demo-aal3"' in html
    assert 'src="/static/frontend/models.js"' in html


def test_the_registry_offers_the_server_s_scoring_strategies(browser_client, members, project):
    from inference.services.active_learning import STRATEGIES

    html = browser_client(members["admin"]).get(f"/projects/{project.pk}/models/").content.decode()
    select = re.search(r'<select id="scoring-strategy".*?</select>', html, re.S).group(0)
    assert re.findall(r'<option value="([^"]+)"', select) == sorted(STRATEGIES)
    for job_type in ("training", "scoring", "inference"):
        assert f'data-job="{job_type}"' in html


def test_a_job_without_a_project_is_visible_to_its_owner_only(browser_client, members):
    from inference.models import Job

    mine = Job.objects.create(project=None, type="healthcheck", created_by=members["admin"])
    assert browser_client(members["admin"]).get(f"/jobs/{mine.pk}/").status_code == 200
    assert browser_client(members["reviewer"]).get(f"/jobs/{mine.pk}/").status_code == 404


def test_the_exports_page_offers_every_format_and_its_options(browser_client, members, project):
    import json

    from annotations.exporters.registry import EXPORTERS

    response = browser_client(members["reviewer"]).get(f"/projects/{project.pk}/exports/")
    html = response.content.decode()
    select = re.search(r'<select name="format".*?</select>', html, re.S).group(0)
    assert re.findall(r'<option value="([^"]+)"', select) == list(EXPORTERS)
    embedded = re.search(r'<script id="export-options" type="application/json">(.*?)</script>', html, re.S)
    options = json.loads(embedded.group(1))
    assert options["formats"]["nnunet"]["mask"] == "lesion"
    assert options["formats"]["jsonl"] == {}


def test_the_worklist_offers_next_case_strategies(browser_client, members, project):
    html = browser_client(members["annotator"]).get(f"/projects/{project.pk}/").content.decode()
    select = re.search(r'<select id="next-strategy".*?</select>', html, re.S).group(0)
    names = re.findall(r'<option value="([^"]+)"', select)
    assert names[:2] == ["priority", "created"]
    assert {"random", "inconsistency", "corrected_regions"} <= set(names)


def test_project_pages_run_no_inline_script(browser_client, members, project, job, model):
    client = browser_client(members["admin"])
    for url in [*project_urls(project.pk), f"/jobs/{job.pk}/", f"/models/{model.pk}/"]:
        html = client.get(url).content.decode()
        tags = re.findall(r"<script\b[^>]*>", html)
        assert tags, url
        for tag in tags:
            assert "src=" in tag or 'type="application/json"' in tag, (url, tag)
