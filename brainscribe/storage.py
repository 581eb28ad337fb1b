"""Local file storage that never leaves a half-written file behind and never overwrites one.

Volumes and masks are stored under their sha256, so a name that exists already holds exactly the
bytes being saved: saving it again is a no-op, not an overwrite. New files are written to a
temporary name in the target folder, flushed to disk with fsync, then renamed into place, so a
crash or a full disk leaves either the whole file or nothing under the final name.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.core.files.base import File
from django.core.files.storage import FileSystemStorage


class AtomicFileSystemStorage(FileSystemStorage):
    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        # Content-addressed names are unique by construction; keep them as given.
        return name

    def _save(self, name: str, content: File) -> str:
        full_path = Path(self.path(name))
        if full_path.exists():
            return name
        full_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=full_path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                if hasattr(content, "seek"):
                    content.seek(0)
                for chunk in content.chunks():
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o644)
            # link() fails if a concurrent writer got there first; their bytes are the same.
            try:
                os.link(tmp, full_path)
            except FileExistsError:
                pass
        finally:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        dir_fd = os.open(full_path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return name
