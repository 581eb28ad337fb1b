"""The login page says why a login is refused once a user is locked out (429), not just "didn't match"."""

import pytest

LOCKED = "Too many failed logins for this user; wait a few minutes before trying again."


@pytest.fixture(autouse=True)
def _fresh_counters(settings):
    from django.core.cache import cache

    settings.LOGIN_FAILURE_LIMIT = 2
    cache.clear()
    yield
    cache.clear()


def test_wrong_passwords_get_the_generic_message_until_the_limit(client, make_user):
    make_user("alice")
    response = client.post("/login/", {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert b"didn&#x27;t match" in response.content or b"didn't match" in response.content
    assert LOCKED.encode() not in response.content


def test_a_locked_out_user_sees_why_and_when_to_retry(client, make_user):
    make_user("alice")
    for _ in range(2):
        assert client.post("/login/", {"username": "alice", "password": "wrong"}).status_code == 200
    response = client.post("/login/", {"username": "alice", "password": "pw-alice", "next": "/projects/1/"})
    assert response.status_code == 429
    html = response.content.decode()
    assert LOCKED in html
    assert "didn't match" not in html and "didn&#x27;t match" not in html
    assert 'name="next" value="/projects/1/"' in html  # the form still works once the pause is over
    assert response["Retry-After"]
