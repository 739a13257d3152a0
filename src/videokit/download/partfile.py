"""An unfinished download on disk: ``<name>.part`` and its ``<name>.part.json`` sidecar.

The sidecar remembers which URL the bytes belong to and the server's validators (ETag,
Last-Modified, total size), so a later call, or another process, finds the ``.part`` and
resumes it. A URL holding credentials or tokens is written redacted, with its SHA-256 to
recognise it by. :func:`open_locked` keeps two processes from writing the same ``.part`` (a
last guard: :mod:`videokit.download.claim` already makes a second process wait for the first);
:func:`place` gives the finished file its final name without overwriting a different file.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

try:
    import fcntl
except ImportError:  # Windows: no advisory locks
    fcntl = None  # type: ignore[assignment]

from videokit.download.names import candidates
from videokit.errors import TransientError
from videokit.hashing import sha256_file
from videokit.net import redact_input


@dataclass(slots=True)
class PartFile:
    """``<name>.part`` plus ``<name>.part.json`` remembering which URL it belongs to."""

    path: Path
    name: str  # safe file name from the server; the final name is it or "stem (n).ext"
    url: str
    etag: str | None = None
    last_modified: str | None = None
    total: int | None = None

    @property
    def meta(self) -> Path:
        return self.path.with_name(self.path.name + ".json")

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def save(self) -> None:
        data = asdict(self)
        data["path"] = self.path.name
        if redact_input(self.url) != self.url:  # no secret on disk: the URL redacted, and its hash
            data["url"], data["url_sha256"] = redact_input(self.url), _digest(self.url)
        tmp = self.meta.with_name(self.meta.name + ".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, self.meta)

    def discard(self) -> None:
        for p in (self.path, self.meta):
            p.unlink(missing_ok=True)

    @classmethod
    def find(cls, directory: Path, url: str) -> PartFile | None:
        """The unfinished download of ``url`` in ``directory``, if any."""
        for meta in directory.glob("*.part.json"):
            try:
                data = json.loads(meta.read_text(encoding="utf-8"))
                if data.get("url") != url and data.get("url_sha256") != _digest(url):
                    continue
                return cls(
                    path=directory / Path(str(data["path"])).name,
                    name=Path(str(data["name"])).name,
                    url=url,
                    etag=data.get("etag"),
                    last_modified=data.get("last_modified"),
                    total=data.get("total"),
                )
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return None


def open_locked(path: Path, offset: int, shown: str) -> BinaryIO:
    """Open the .part for writing at ``offset`` under an exclusive lock, so two processes
    fetching the same URL into the same folder cannot interleave their bytes."""
    fh = open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644), "wb", buffering=0)  # no O_TRUNC
    if fcntl is not None:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise TransientError(f"{shown}: already being downloaded by another process; try again later") from None
    fh.seek(offset)
    fh.truncate()
    return fh


def free_name(directory: Path, name: str) -> str:
    """``name`` or ``name (n)`` such that neither the file nor its .part exists yet."""
    for cand in candidates(directory, name):
        if not cand.exists() and not cand.with_name(cand.name + ".part").exists():
            return cand.name
    raise AssertionError("unreachable")


def place(part: PartFile, directory: Path, size: int, digest: str) -> Path:
    """Give the finished .part its final name without overwriting a different file."""
    for cand in candidates(directory, part.name):
        if cand.exists():
            if cand.stat().st_size == size and sha256_file(cand) == digest:
                part.discard()  # the same bytes are already there
                return cand
            continue
        try:
            os.link(part.path, cand)
        except FileExistsError:
            continue
        except OSError:  # no hard links on this file system
            os.replace(part.path, cand)
        part.discard()
        _fsync_dir(directory)
        return cand
    raise AssertionError("unreachable")


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _digest(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()
