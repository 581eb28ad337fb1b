"""Where an export's files go: a folder (the CLI) or a zip stream (the job's downloadable archive).

Exporters write through the same two calls whatever the destination, so a folder export and the
archive hold the same bytes under the same paths. Zip entries carry a fixed timestamp, mode and
compression, so the same files give the same archive bytes.
"""

from __future__ import annotations

import contextlib
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import IO

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
ZIP64_FROM = 2**31  # decided from the size, so the same file always gets the same header


def safe_relative(path: str) -> str:
    """Refuse absolute paths and ``..``: an export never writes outside its root."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or not pure.parts or any(p in ("", ".", "..") for p in pure.parts) or "\\" in path:
        raise ValueError(f"unsafe export path {path!r}")
    return str(pure)


class Sink:
    def write_bytes(self, path: str, data: bytes) -> None:
        raise NotImplementedError

    def write_chunks(self, path: str, chunks: Iterable[bytes | memoryview], size: int) -> None:
        """Write pieces as they come: each is valid only until the next is produced."""
        raise NotImplementedError

    def close(self) -> None:
        """Finish the destination (the zip's central directory); nothing more may be written."""

    def abort(self) -> None:
        """Give up after a failure; what was written is incomplete (a folder lacks manifest.json)."""


class FolderSink(Sink):
    """Files under ``root``. The caller makes sure the folder is empty: stale files would mix in."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _target(self, path: str) -> Path:
        target = self.root / safe_relative(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def write_bytes(self, path: str, data: bytes) -> None:
        with self._target(path).open("wb") as out:
            out.write(data)

    def write_chunks(self, path: str, chunks: Iterable[bytes | memoryview], size: int) -> None:
        with self._target(path).open("wb") as out:
            for chunk in chunks:
                out.write(chunk)


class ZipSink(Sink):
    """A deterministic zip on a seekable binary file. Compressed NIfTI is stored, the rest deflated."""

    def __init__(self, fileobj: IO[bytes]) -> None:
        self._zip = zipfile.ZipFile(fileobj, "w", allowZip64=True)

    @staticmethod
    def _info(path: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(safe_relative(path), date_time=ZIP_EPOCH)
        # Gzip streams do not shrink again; deflating them would only cost time.
        info.compress_type = zipfile.ZIP_STORED if path.endswith(".gz") else zipfile.ZIP_DEFLATED
        info.create_system = 3
        info.external_attr = 0o100644 << 16
        return info

    def write_bytes(self, path: str, data: bytes) -> None:
        self._zip.writestr(self._info(path), data, compresslevel=6)

    def write_chunks(self, path: str, chunks: Iterable[bytes | memoryview], size: int) -> None:
        info = self._info(path)
        info.file_size = size
        with self._zip.open(info, "w", force_zip64=size >= ZIP64_FROM) as out:
            for chunk in chunks:
                out.write(chunk)

    def close(self) -> None:
        self._zip.close()

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._zip.close()
