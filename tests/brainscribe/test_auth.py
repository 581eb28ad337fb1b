def test_token_exchange_for_username_and_password(client, make_user):
    make_user("ana")
    response = client.post("/api/auth/token/", {"username": "ana", "password": "pw-ana"})
    assert response.status_code == 200
    token = response.json()["token"]
    me = client.get("/api/projects/", HTTP_AUTHORIZATION=f"Token {token}")
    assert me.status_code == 200


def test_wrong_password_gets_no_token(client, make_user):
    make_user("ana")
    response = client.post("/api/auth/token/", {"username": "ana", "password": "nope"})
    assert response.status_code == 400
    assert "token" not in response.json()


def test_api_refuses_anonymous_requests(client, db):
    assert client.get("/api/projects/").status_code in (401, 403)


def test_token_requests_are_rate_limited(client, make_user, settings):
    from django.core.cache import cache

    cache.clear()
    make_user("ana")
    codes = [client.post("/api/auth/token/", {"username": "ana", "password": "guess"}).status_code for _ in range(12)]
    assert codes[-1] == 429
    cache.clear()


def test_login_page_and_session_for_the_browser(client, make_user):
    make_user("ana")
    assert client.get("/").status_code == 302
    page = client.get("/login/")
    assert page.status_code == 200 and b"Log in" in page.content
    response = client.post("/login/", {"username": "ana", "password": "pw-ana"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_admin_site_is_mounted(client, db):
    assert client.get("/admin/login/").status_code == 200


def test_openapi_schema_builds_without_warnings(db):
    from django.core.management import call_command

    call_command("spectacular", "--fail-on-warn", "--file", "/dev/null")


def test_swagger_docs_page_is_served(client, make_user):
    user = make_user("ana")
    client.force_login(user)
    assert client.get("/api/docs/").status_code == 200


def test_niivue_is_served_from_our_static_files(client, db):
    from django.contrib.staticfiles import finders

    path = finders.find("vendor/niivue/index.js")
    assert path is not None, "run bin/install: npm ci copies NiiVue into frontend/static/vendor"
    with open(path, encoding="utf-8") as fh:
        source = fh.read()
    assert "Niivue" in source and "export" in source


def test_repeated_failed_logins_lock_that_user_on_every_login_path(client, make_user, settings):
    from django.core.cache import cache

    cache.clear()
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"login": "1000/min"}}
    make_user("ana")
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        assert client.post("/login/", {"username": "ana", "password": "wrong"}).status_code == 200
    locked = client.post("/login/", {"username": "ana", "password": "pw-ana"})
    assert locked.status_code == 429 and locked["Retry-After"]
    token = client.post("/api/auth/token/", {"username": "ana", "password": "pw-ana"})
    assert token.status_code == 429 and "Too many failed logins" in token.json()["detail"]
    # Another user from the same address is not affected.
    make_user("ben")
    assert client.post("/login/", {"username": "ben", "password": "pw-ben"}).status_code == 302
    cache.clear()
