"""Unpacking an uploaded archive (.zip, .tar, .tar.gz) of cases without trusting its member names.

A member whose name is absolute, climbs out with ``..``, is a link or a device, or an archive that
would inflate beyond the size limit, is refused before anything is written.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from annotations.importers.layouts import ImportPathError

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
MAX_MEMBERS = 100_000


def is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _check_name(name: str) -> PurePosixPath:
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ImportPathError(f"the archive member {name!r} has an absolute path; refusing the archive")
    if ".." in pure.parts:
        raise ImportPathError(f"the archive member {name!r} climbs out of the archive with '..'; refusing it")
    return pure


def safe_extract(archive: Path, dest: Path, *, max_bytes: int) -> Path:
    """Extract into ``dest`` after checking every member; returns ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    name = archive.name.lower()
    if name.endswith(".zip"):
        _extract_zip(archive, dest, max_bytes)
    elif name.endswith((".tar", ".tar.gz", ".tgz")):
        _extract_tar(archive, dest, max_bytes)
    else:
        raise ImportPathError(f"{archive.name} is not a .zip, .tar or .tar.gz archive")
    return dest


def _extract_zip(archive: Path, dest: Path, max_bytes: int) -> None:
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise ImportPathError(f"{archive.name} is not a readable zip archive ({exc})") from None
    with zf:
        members = zf.infolist()
        if len(members) > MAX_MEMBERS:
            raise ImportPathError(f"{archive.name} holds more than {MAX_MEMBERS} members")
        total = 0
        for info in members:
            _check_name(info.filename)
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise ImportPathError(f"the archive member {info.filename!r} is a symbolic link; refusing the archive")
            total += info.file_size
        if total > max_bytes:
            raise ImportPathError(
                f"{archive.name} would unpack to {total:,} bytes, more than the limit of {max_bytes:,}"
            )
        written = 0
        for info in members:
            target = dest / _check_name(info.filename)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, target.open("wb") as out:
                # The declared size can lie; count what really comes out.
                while chunk := src.read(1 << 20):
                    written += len(chunk)
                    if written > max_bytes:
                        raise ImportPathError(f"{archive.name} inflates beyond the limit of {max_bytes:,} bytes")
                    out.write(chunk)


def _extract_tar(archive: Path, dest: Path, max_bytes: int) -> None:
    try:
        tf = tarfile.open(archive)
    except tarfile.TarError as exc:
        raise ImportPathError(f"{archive.name} is not a readable tar archive ({exc})") from None
    with tf:
        total, count = 0, 0
        members = []
        for member in tf:
            count += 1
            if count > MAX_MEMBERS:
                raise ImportPathError(f"{archive.name} holds more than {MAX_MEMBERS} members")
            _check_name(member.name)
            if member.issym() or member.islnk():
                raise ImportPathError(f"the archive member {member.name!r} is a link; refusing the archive")
            if not (member.isfile() or member.isdir()):
                raise ImportPathError(f"the archive member {member.name!r} is a device or special file; refusing it")
            total += member.size
            if total > max_bytes:
                raise ImportPathError(f"{archive.name} would unpack to more than the limit of {max_bytes:,} bytes")
            members.append(member)
        for member in members:
            target = dest / _check_name(member.name)
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            src = tf.extractfile(member)
            if src is None:
                continue
            with src, target.open("wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
