import threading

import pytest
from django.db import connection


def test_next_case_follows_priority_then_creation_and_assigns_it(members, client_for, project, make_case):
    from annotations.models import Case

    for name in ("first", "second", "urgent"):
        make_case(external_id=name)
    Case.objects.filter(external_id="urgent").update(priority=0.8)
    annotator = client_for(members["annotator"])
    picked = annotator.get(f"/api/projects/{project.pk}/next-case").json()
    assert picked["external_id"] == "urgent" and picked["assignee"]["username"] == "annotator"
    # Asking again returns the case still open for this annotator instead of hoarding more.
    assert annotator.get(f"/api/projects/{project.pk}/next-case").json()["external_id"] == "urgent"
    other = client_for(members["reviewer"]).get(f"/api/projects/{project.pk}/next-case?strategy=created").json()
    assert other["external_id"] == "first"


def test_empty_worklist_is_204_and_viewers_cannot_take_cases(members, client_for, project):
    assert client_for(members["annotator"]).get(f"/api/projects/{project.pk}/next-case").status_code == 204
    assert client_for(members["viewer"]).get(f"/api/projects/{project.pk}/next-case").status_code == 403


def test_unknown_strategy_is_a_400(members, client_for, project):
    response = client_for(members["annotator"]).get(f"/api/projects/{project.pk}/next-case?strategy=magic")
    assert response.status_code == 400 and "Unknown strategy" in response.json()["detail"]


@pytest.mark.django_db(transaction=True)
def test_two_annotators_asking_at_once_never_get_the_same_case(members, client_for, project, make_case, make_user):
    from annotations.models import Membership

    for i in range(3):
        make_case(external_id=f"c{i}")
    users = [members["annotator"], members["reviewer"], make_user("third")]
    Membership.objects.create(project=project, user=users[2], role="annotator")
    clients = [client_for(u) for u in users]
    barrier, results = threading.Barrier(3), [None] * 3

    def ask(i):
        try:
            barrier.wait()
            results[i] = clients[i].get(f"/api/projects/{project.pk}/next-case").json()["external_id"]
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(3)]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    assert sorted(results) == ["c0", "c1", "c2"]
