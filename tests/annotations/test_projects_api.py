def test_staff_creates_a_project_with_a_schema_slug_and_becomes_its_admin(staff, client_for):
    client = client_for(staff)
    response = client.post("/api/projects/", {"name": "Stroke", "label_schema": "hammers-n30r95"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["label_schema"] == "hammers-n30r95" and body["role"] == "admin"
    members = client.get(f"/api/projects/{body['id']}/members/").json()
    assert [(m["user"]["username"], m["role"]) for m in members] == [("staff", "admin")]


def test_unknown_schema_is_a_400_naming_the_known_ones(staff, client_for):
    response = client_for(staff).post("/api/projects/", {"name": "X", "label_schema": "nope"}, format="json")
    assert response.status_code == 400
    assert "hammers-n30r95" in response.json()["detail"]


def test_duplicate_project_name_is_a_409(staff, client_for, project):
    response = client_for(staff).post(
        "/api/projects/", {"name": project.name, "label_schema": "demo-aal3"}, format="json"
    )
    assert response.status_code == 409


def test_non_staff_cannot_create_projects(members, client_for):
    response = client_for(members["annotator"]).post(
        "/api/projects/", {"name": "X", "label_schema": "demo-aal3"}, format="json"
    )
    assert response.status_code == 403


def test_hammers_schema_has_95_structures_with_sides_and_regions(client_for, staff):
    schema = client_for(staff).get("/api/label-schemas/hammers-n30r95/").json()
    structures = [label for label in schema["labels"] if label["kind"] == "structure"]
    lesions = [label for label in schema["labels"] if label["kind"] == "lesion"]
    assert len(structures) == 95
    assert {label["side"] for label in structures} == {"left", "right", "midline"}
    by_index = {label["index"]: label for label in structures}
    assert by_index[40]["name"] == "thalamus L" and by_index[40]["coarse_region"] == "thalamus"
    assert by_index[3]["coarse_region"] == "amygdala"
    assert [label["name"] for label in lesions] == ["necrosis", "edema", "enhancing", "infarct", "wmh"]


def test_members_are_managed_by_project_admins(members, client_for, project, make_user):
    make_user("newcomer")
    admin = client_for(members["admin"])
    response = admin.post(
        f"/api/projects/{project.pk}/members/", {"username": "newcomer", "role": "viewer"}, format="json"
    )
    assert response.status_code == 201
    user_id = response.json()["user"]["id"]
    assert (
        admin.patch(f"/api/projects/{project.pk}/members/{user_id}/", {"role": "annotator"}, format="json").json()[
            "role"
        ]
        == "annotator"
    )
    reviewer = client_for(members["reviewer"])
    assert reviewer.delete(f"/api/projects/{project.pk}/members/{user_id}/").status_code == 403
    assert admin.delete(f"/api/projects/{project.pk}/members/{user_id}/").status_code == 204


def test_the_last_admin_cannot_be_removed(members, client_for, project):
    admin = client_for(members["admin"])
    response = admin.delete(f"/api/projects/{project.pk}/members/{members['admin'].pk}/")
    assert response.status_code == 409
    assert "at least one admin" in response.json()["detail"]


def test_project_list_shows_only_the_callers_projects_with_their_role(members, client_for, project):
    assert [p["role"] for p in client_for(members["viewer"]).get("/api/projects/").json()] == ["viewer"]
    assert client_for(members["outsider"]).get("/api/projects/").json() == []
    assert client_for(members["outsider"]).get(f"/api/projects/{project.pk}/").status_code == 404
