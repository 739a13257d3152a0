"""Temporary files and folders named for the process that owns them.

Whatever videokit writes in two steps (a scene folder filled then swapped in, an export file,
a record.json) is first written under a hidden name beside its final place::

    .<name>.<kind>-<host>-<pid>-<random>      kind: tmp (being written) or old (being removed)

(a temporary SQLite file's ``-wal``, ``-shm`` and ``-journal`` files go with it).

A process killed with SIGKILL cannot clean up; the next run removes such an entry when its
owner is gone: written on this host by a process id that is no longer alive (or is a zombie).
An entry of a live process, or of another host sharing the folder, is never touched.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from videokit.config import Config

log = logging.getLogger(__name__)

KINDS = ("tmp", "old")
_NAME = re.compile(
    r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<host>[A-Za-z0-9._-]+)-(?P<pid>\d+)-[0-9a-f]{8}(-wal|-shm|-journal)?$"
)
_MAX_NAME = 120  # of the final name kept in a temp name (file names are at most 255 bytes)


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", socket.gethostname())[:64] or "host"


def temp_path(final: Path, kind: str = "tmp") -> Path:
    """A hidden name beside ``final`` owned by this process: ``.<name>.<kind>-<host>-<pid>-<random>``."""
    if kind not in KINDS:
        raise ValueError(f"temp kind {kind!r}: use one of {', '.join(KINDS)}")
    return final.with_name(f".{final.name[:_MAX_NAME]}.{kind}-{_host()}-{os.getpid()}-{uuid.uuid4().hex[:8]}")


@dataclass(frozen=True, slots=True)
class TempOwner:
    host: str
    pid: int


def owner(path: Path) -> TempOwner | None:
    """Who wrote the temp entry ``path``; None when the name is not one of :func:`temp_path`'s."""
    m = _NAME.match(path.name)
    return TempOwner(m["host"], int(m["pid"])) if m else None


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (a zombie, killed but not yet reaped, does not)."""
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return True
    state = stat.rsplit(")", 1)[-1].split()[:1]
    return state not in (["Z"], ["X"])


def is_stale(path: Path) -> bool:
    """A temp entry of a process of this host that is gone."""
    who = owner(path)
    return who is not None and who.host == _host() and not pid_alive(who.pid)


def remove_stale(folder: Path, name: str | None = None) -> list[Path]:
    """Remove the stale temp entries (files and folders) directly in ``folder``; with ``name``,
    only those of the final name ``name``. Returns what was removed; missing folders are fine."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    removed = []
    for entry in entries:
        path = Path(entry.path)
        m = _NAME.match(entry.name)
        if m is None or (name is not None and m["name"] != name[:_MAX_NAME]) or not is_stale(path):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
        except FileNotFoundError:
            continue
        except OSError as e:
            log.warning("%s: cannot remove the leftover of a killed run: %s", path, e)
            continue
        removed.append(path)
    if removed:
        log.info("%s: removed %d leftover(s) of killed runs", folder, len(removed))
    return removed


def remove_library_leftovers(config: Config) -> list[Path]:
    """Stale temp entries of killed runs in the library folder and its ``processed`` folder
    (scene folders being filled or removed, record.json and database files being written)."""
    return remove_stale(config.library) + remove_stale(config.processed_dir)
