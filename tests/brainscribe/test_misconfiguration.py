"""A wrong setting stops the process with a sentence naming it, not a traceback."""

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/bin:/bin", "BRAINSCRIBE_VAR_DIR": str(tmp_path), "HOME": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=base | env, capture_output=True, text=True, timeout=120
    )


def test_missing_secret_key_in_production_is_a_sentence(tmp_path):
    result = manage("check", env={"DEBUG": "false"}, tmp_path=tmp_path)
    assert result.returncode == 2
    assert "SECRET_KEY is not set and DEBUG is off" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_broker_scheme_is_a_sentence(tmp_path):
    result = manage("check", env={"DEBUG": "true", "CELERY_BROKER_URL": "rabbit://localhost"}, tmp_path=tmp_path)
    assert result.returncode == 2
    assert "CELERY_BROKER_URL has the unknown scheme 'rabbit'" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_a_sentence(tmp_path):
    result = manage(
        "migrate",
        env={"DEBUG": "true", "DATABASE_URL": "postgres://brainscribe:secret@127.0.0.1:1/nowhere"},
        tmp_path=tmp_path,
    )
    assert result.returncode == 2
    assert "Cannot use the database at postgres://brainscribe:***@127.0.0.1:1/nowhere" in result.stderr
    assert "secret" not in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_boolean_is_a_sentence(tmp_path):
    result = manage("check", env={"DEBUG": "maybe"}, tmp_path=tmp_path)
    assert result.returncode == 2
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_importing_platform_from_the_repo_root_gives_the_standard_library():
    result = subprocess.run(
        [sys.executable, "-c", "import platform; print(platform.system())"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.stdout.strip() == "Linux"


def test_deploy_checks_pass_with_production_settings(tmp_path):
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={"DEBUG": "false", "SECRET_KEY": "x" * 60 + "production-like-secret-key-with-enough-entropy-123456"},
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr + result.stdout
