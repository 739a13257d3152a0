"""One download of a URL into a folder at a time, across threads and processes.

:func:`claim` holds an exclusive lock on ``.<hash of the URL>.lock`` in the download folder for
the whole download. Another ``videokit`` process (or thread) fetching the same URL into the
same folder waits for it, up to its own ``[Download] Deadline``. The holder, when it succeeds,
writes what it downloaded into the lock file before removing it; the waiter, still holding
the removed file open, reads that note and uses the finished file instead of downloading it
again. When the holder failed (or was killed), the waiter takes over and resumes its ``.part``;
:func:`sweep` removes the lock files of killed processes.

Without ``fcntl`` (Windows) there is no lock: every caller downloads on its own.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks
    fcntl = None  # type: ignore[assignment]

from videokit.download.http import Downloaded
from videokit.download.options import DownloadOptions
from videokit.errors import InputError, TransientError
from videokit.net import redact_url

log = logging.getLogger(__name__)

POLL = 0.1  # seconds between looks at a lock another process holds
_LOCK_NAME = re.compile(r"^\.[0-9a-f]{16}\.lock$")
_NOTE_MAX = 1 << 20


@dataclass(slots=True)
class Claim:
    """The right to download one URL into one folder. ``done``: the file another process
    finished while this one waited (then there is nothing to download)."""

    done: Downloaded | None = None
    result: Downloaded | None = None  # set by the holder on success: told to any waiter


def lock_path(dest_dir: Path, url: str) -> Path:
    return dest_dir / f".{_digest(url)[:16]}.lock"


def _digest(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


@contextmanager
def claim(
    dest_dir: Path,
    url: str,
    options: DownloadOptions,
    *,
    started: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Claim]:
    """Hold the download of ``url`` into ``dest_dir``; wait while another process holds it.
    ``started``: when the caller's download began (its deadline bounds the wait)."""
    if fcntl is None:
        yield Claim()
        return
    path = lock_path(dest_dir, url)
    fd, done = _acquire(path, url, options, started, clock, sleep)
    if done is not None:
        yield Claim(done=done)
        return
    held = Claim()
    try:
        yield held
    finally:
        try:
            if held.result is not None:
                _write_note(fd, held.result, url)
            path.unlink(missing_ok=True)  # waiters see the file is gone, read the note, move on
        except OSError:
            pass  # a waiter that cannot tell then downloads on its own (and finds the same bytes)
        finally:
            os.close(fd)  # releases the lock


def sweep(dest_dir: Path) -> None:
    """Remove the lock files that killed processes left in ``dest_dir`` (nobody holds them).
    Safe beside live ones: a process that finds its lock file removed under it starts over."""
    if fcntl is None:
        return
    for path in dest_dir.glob(".*.lock"):
        if not _LOCK_NAME.match(path.name):
            continue
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            if _try_lock(fd) and _same_file(fd, path):
                path.unlink(missing_ok=True)
        except OSError:
            pass
        finally:
            os.close(fd)


def _acquire(
    path: Path,
    url: str,
    options: DownloadOptions,
    started: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> tuple[int, Downloaded | None]:
    """``(fd, None)`` with the lock held on ``path``, or ``(-1, result)`` when the process that
    held it finished the download meanwhile."""
    shown = redact_url(url)
    told = False
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as e:
            raise InputError(f"{shown}: cannot create {path}: {e.strerror or e}") from None
        try:
            while not _try_lock(fd):
                if not told:
                    log.info("%s: another process is downloading it; waiting for it to finish", shown)
                    told = True
                if options.deadline > 0 and clock() - started >= options.deadline:
                    raise TransientError(
                        f"{shown}: another process is downloading it and did not finish within "
                        f"[Download] Deadline={options.deadline:g}s; run it again later"
                    )
                sleep(POLL)
            if _same_file(fd, path):
                return fd, None
            done = _read_note(fd, url)  # the holder is through and removed the lock file
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
        if done is not None:
            log.info("%s: downloaded by another process meanwhile (%s)", shown, done.path.name)
            return -1, done
        # the holder gave up: take over, with a fresh lock file


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _write_note(fd: int, result: Downloaded, url: str) -> None:
    """What was downloaded, for a waiter; no secret of the URL in it (the waiter's record
    keeps URLs redacted anyway)."""
    st = result.path.stat()
    note = {
        "url_sha256": _digest(url),
        "path": str(result.path),
        "sha256": result.sha256,
        "size": result.size,
        "mtime_ns": st.st_mtime_ns,
        "final_url": redact_url(result.url),
        "domain": result.domain,
        "kind": result.kind,
        "info": result.info,
    }
    os.pwrite(fd, json.dumps(note).encode(), 0)


def _read_note(fd: int, url: str) -> Downloaded | None:
    """What the holder downloaded, if its note is there and the file is still as it left it."""
    try:
        note = json.loads(os.pread(fd, _NOTE_MAX, 0) or b"null")
        if not isinstance(note, dict) or note.get("url_sha256") != _digest(url):
            return None
        path = Path(note["path"])
        st = path.stat()
        if st.st_size != note["size"] or st.st_mtime_ns != note["mtime_ns"]:
            return None
        info = {str(k): None if v is None else str(v) for k, v in dict(note["info"]).items()}
        return Downloaded(
            path=path,
            sha256=str(note["sha256"]),
            size=int(note["size"]),
            bytes_fetched=0,
            url=str(note["final_url"]),
            domain=note["domain"],
            kind=str(note["kind"]),
            info=info,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
