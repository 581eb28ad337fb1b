"""Typed readers for settings that come from the environment.

Every value is read in one place (``settings.py``) through these helpers so that a bad value stops
the process with a sentence naming the variable, instead of surfacing later as an odd behaviour.
A ``NAME_FILE`` variable, when set, is read instead of ``NAME``: that is how Docker and Kubernetes
hand secrets to a container.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_UNSET = object()


def _raw(name: str) -> str | None:
    file_var = os.environ.get(f"{name}_FILE")
    if file_var:
        try:
            return Path(file_var).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE points to {file_var!r}, which cannot be read: {exc}") from exc
    return os.environ.get(name)


def env_str(name: str, default: str | None | object = _UNSET) -> str:
    value = _raw(name)
    if value is None or value == "":
        if default is _UNSET:
            raise ImproperlyConfigured(f"The environment variable {name} is required and is not set.")
        return default  # type: ignore[return-value]
    return value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean; use true or false.")


def env_int(name: str, default: int) -> int:
    value = _raw(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer.") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_url(name: str, default: str, allowed_schemes: set[str]) -> str:
    """A URL whose scheme must be one we know how to talk to; anything else is a typo to report."""
    value = env_str(name, default)
    scheme = urlsplit(value).scheme
    if scheme not in allowed_schemes:
        known = ", ".join(sorted(allowed_schemes))
        raise ImproperlyConfigured(f"{name} has the unknown scheme {scheme!r} ({value!r}); use one of: {known}.")
    return value


def redact_url(url: str) -> str:
    """The URL without its password, safe to print in an error message."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url
