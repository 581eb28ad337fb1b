import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_healthz_reports_each_component_up(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name: c["ok"] for name, c in body["components"].items()} == {
        "database": True,
        "broker": True,
        "storage": True,
    }


def test_healthz_is_503_when_the_broker_does_not_answer(client, db, monkeypatch):
    from celery import Celery

    from brainscribe import health

    # Celery lets the CELERY_BROKER_URL environment variable (set in CI) override the app's own URL.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    unreachable = Celery("unreachable", broker="redis://127.0.0.1:1/0", set_as_current=False)
    unreachable.conf.broker_transport_options = {"socket_connect_timeout": 1}
    monkeypatch.setattr(health, "celery_app", unreachable)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["components"]["broker"]["ok"] is False
    assert body["components"]["database"]["ok"] is True


def test_healthz_is_503_when_storage_cannot_be_written(client, db, settings, tmp_path):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the media folder should be")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "brainscribe.storage.AtomicFileSystemStorage", "OPTIONS": {"location": str(blocked)}},
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["components"]["storage"]["ok"] is False


def test_healthz_is_503_when_the_database_does_not_answer(tmp_path):
    script = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "r = Client().get('/healthz');"
        "print(json.dumps({'status': r.status_code, 'body': r.json()}))"
    )
    env = {
        "DJANGO_SETTINGS_MODULE": "brainscribe.settings",
        "DEBUG": "true",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/none",
        "BRAINSCRIBE_VAR_DIR": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == 503
    assert result["body"]["components"]["database"]["ok"] is False
