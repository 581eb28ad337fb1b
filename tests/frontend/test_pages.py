"""The browser pages: who may open them, and what they embed for the scripts."""

import json
import re


def boot_data(response) -> dict:
    match = re.search(rb'<script id="case-boot" type="application/json">(.*?)</script>', response.content, re.S)
    assert match, "the case page embeds its boot data"
    return json.loads(match.group(1))


def test_pages_need_a_login(client, make_case):
    case = make_case()
    for url in (f"/projects/{case.project_id}/", f"/cases/{case.pk}/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")


def test_outsiders_cannot_tell_a_project_or_case_exists(browser_client, members, make_case):
    case = make_case()
    client = browser_client(members["outsider"])
    assert client.get(f"/projects/{case.project_id}/").status_code == 404
    assert client.get(f"/cases/{case.pk}/").status_code == 404


def test_home_links_each_project_to_its_worklist(browser_client, members, project):
    response = browser_client(members["annotator"]).get("/")
    assert f'href="/projects/{project.pk}/"'.encode() in response.content


def test_the_worklist_renders_its_filters_and_next_case(browser_client, members, project):
    response = browser_client(members["annotator"]).get(f"/projects/{project.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-project-id="{project.pk}"' in html
    assert 'id="next-case"' in html
    for name in ("status", "assignee", "split", "ordering"):
        assert f'name="{name}"' in html
    assert 'src="/static/frontend/worklist.js"' in html


def test_the_case_page_embeds_what_the_api_says(browser_client, client_for, members, make_case):
    case = make_case(orientation="LAS", modalities=("T1", "FLAIR"))
    response = browser_client(members["reviewer"]).get(f"/cases/{case.pk}/")
    assert response.status_code == 200
    boot = boot_data(response)
    api = client_for(members["reviewer"]).get(f"/api/cases/{case.pk}/").json()
    assert boot["case"] == json.loads(json.dumps(api))
    assert boot["role"] == "reviewer"
    assert boot["user"]["username"] == "reviewer"
    assert boot["schema"]["slug"] == "demo-aal3"
    assert {label["kind"] for label in boot["schema"]["labels"]} == {"lesion", "structure"}
    # The reference volume starts downloading before the scripts run.
    assert f'<link rel="preload" href="/api/cases/{case.pk}/volumes/T1" as="fetch" crossorigin="anonymous">' in (
        response.content.decode()
    )


def test_pages_run_no_inline_script(browser_client, members, make_case):
    """The Content-Security-Policy allows scripts from our origin only: every executable script has a src."""
    case = make_case()
    client = browser_client(members["annotator"])
    for url in ("/", f"/projects/{case.project_id}/", f"/cases/{case.pk}/"):
        html = client.get(url).content.decode()
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, (url, tag)
