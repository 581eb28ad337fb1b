"""API-wide error handling: every failure a client can act on becomes a JSON answer, not a 500."""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


class ServiceUnavailable(Exception):
    """A backing service (database, broker, storage) did not answer; the client should retry."""

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    from annotations.errors import CaseStoreError

    if isinstance(exc, CaseStoreError):
        return Response({"detail": exc.message, "code": exc.code, **exc.extra}, status=exc.status_code)
    if isinstance(exc, ServiceUnavailable):
        return Response(
            {"detail": exc.message},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(exc.retry_after)},
        )
    if isinstance(exc, (OperationalError, InterfaceError)) or (
        isinstance(exc, DatabaseError) and "connection" in str(exc).lower()
    ):
        logger.warning("database unavailable during %s: %s", context.get("view"), exc)
        return Response(
            {"detail": "The database is not answering; nothing was saved. Retry in a few seconds."},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    return drf_exception_handler(exc, context)
