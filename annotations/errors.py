"""Errors the case store raises for clients to act on. The API turns each into its HTTP status."""

from __future__ import annotations


class CaseStoreError(Exception):
    status_code = 400
    code = "invalid"

    def __init__(self, message: str, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class InvalidInput(CaseStoreError):
    status_code = 400
    code = "invalid"


class NotAllowed(CaseStoreError):
    """The caller's project role does not allow this action."""

    status_code = 403
    code = "forbidden"


class StateConflict(CaseStoreError):
    """The action is not possible in the case's current state (e.g. editing an approved case)."""

    status_code = 409
    code = "conflict"


class Gone(CaseStoreError):
    """The resource existed and its record is kept, but its files were deliberately deleted."""

    status_code = 410
    code = "gone"


class StaleVersion(CaseStoreError):
    """Someone saved a newer version first; the body names it so the client can reload or rebase."""

    status_code = 409
    code = "stale"

    def __init__(self, message: str, *, current_version: int) -> None:
        super().__init__(message, current_version=current_version)
        self.current_version = current_version


class PreconditionRequired(CaseStoreError):
    status_code = 428
    code = "precondition_required"


class StorageFull(CaseStoreError):
    status_code = 507
    code = "insufficient_storage"
