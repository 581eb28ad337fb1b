"""Response headers that Django 5.2 does not set by itself."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class ContentSecurityPolicyMiddleware:
    """Sends the configured Content-Security-Policy on every response that has none.

    Hospital deployments are offline and serve every script themselves, so a strict same-origin
    policy costs nothing and stops injected markup from loading code elsewhere.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = settings.CONTENT_SECURITY_POLICY

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.policy
        return response


class LoginRateLimitMiddleware:
    """Answers 429 to a browser login POST while its (username, address) pair is locked out.

    The authentication backend already refuses such attempts; this only turns the refusal into a page
    that says why, instead of the generic "did not match" a wrong password gets.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path in _login_paths():
            from brainscribe.auth import login_locked

            if login_locked(request.POST.get("username"), request):
                from django.template.response import TemplateResponse

                response = TemplateResponse(
                    request,
                    "frontend/login.html",
                    {"locked": True, "next": request.POST.get("next", "")},
                    status=429,
                )
                response["Retry-After"] = str(settings.LOGIN_FAILURE_WINDOW)
                return response.render()
        return self.get_response(request)


def _login_paths() -> set[str]:
    from django.urls import reverse

    return {reverse("login"), reverse("admin:login")}
