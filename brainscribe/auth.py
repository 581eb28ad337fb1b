"""Authentication: token exchange for scripts, and a brake on password guessing for every login path.

The brake sits in the authentication backend, so the browser login, the admin login and the token
endpoint share one counter per (username, client address): after LOGIN_FAILURE_LIMIT failures
within LOGIN_FAILURE_WINDOW seconds, further attempts are refused without checking the password
until the window passes, and a 429 tells the client why.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle


class LoginLocked(PermissionDenied):
    pass


def _client_address(request: HttpRequest | None) -> str:
    if request is None:
        return "-"
    return request.META.get("REMOTE_ADDR", "-")


def _key(username: str | None, request: HttpRequest | None) -> str:
    raw = f"{(username or '').lower()}|{_client_address(request)}"
    return "login-failures:" + hashlib.sha256(raw.encode()).hexdigest()


def login_locked(username: str | None, request: HttpRequest | None) -> bool:
    return cache.get(_key(username, request), 0) >= settings.LOGIN_FAILURE_LIMIT


class RateLimitedModelBackend(ModelBackend):
    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        if username is None:
            username = kwargs.get(self._username_field())
        key = _key(username, request)
        if cache.get(key, 0) >= settings.LOGIN_FAILURE_LIMIT:
            raise LoginLocked("Too many failed logins; wait a few minutes before trying again.")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            try:
                cache.incr(key)
            except ValueError:
                cache.set(key, 1, settings.LOGIN_FAILURE_WINDOW)
        else:
            cache.delete(key)
        return user

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD


class ThrottledObtainAuthToken(ObtainAuthToken):
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if login_locked(request.data.get("username"), request._request):
            raise Throttled(detail="Too many failed logins for this user; wait a few minutes before trying again.")
        return super().post(request, *args, **kwargs)
