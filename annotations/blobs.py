"""Content-addressed file storage on top of Django's storage API.

A blob's name is its sha256, so the same bytes are stored once and a name never changes meaning.
Edits never overwrite or delete a blob; they add a new one and a new database row points at it.
"""

from __future__ import annotations

import errno
import hashlib
from typing import IO

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from annotations.errors import StorageFull


def blob_name(sha256: str, suffix: str) -> str:
    return f"blobs/{sha256[:2]}/{sha256[2:4]}/{sha256}{suffix}"


def blob_put(data: bytes, suffix: str = ".nii.gz") -> tuple[str, str, int]:
    """Store bytes; returns (name, sha256, size). Storing the same bytes twice is free."""
    sha = hashlib.sha256(data).hexdigest()
    name = blob_name(sha, suffix)
    if not default_storage.exists(name):
        try:
            saved = default_storage.save(name, ContentFile(data))
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageFull(
                    "The file store is full; nothing was saved. Ask an administrator to free space."
                ) from exc
            raise
        name = saved
    return name, sha, len(data)


def blob_open(name: str) -> IO[bytes]:
    return default_storage.open(name, "rb")


def blob_read(name: str) -> bytes:
    with default_storage.open(name, "rb") as fh:
        return fh.read()
