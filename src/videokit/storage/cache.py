"""A bounded local cache of cloud objects: cloud inputs, and what a worker without a shared disk fetches.

A copy is named for the object's URL and version (a changed object is a new copy), and the
cache never holds more than ``max_bytes``: before a copy is fetched, the least recently used
copies are evicted until it fits (copies still being fetched, by this or another process, are
counted and never evicted). An object larger than the whole cache, or one that cannot fit
beside the copies being fetched, is an :class:`~videokit.errors.InputError` naming the object,
its size and ``[Storage] CacheSizeMB``; a disk that fills anyway stops the batch
(:class:`~videokit.errors.DiskFullError`). Processes sharing the folder coordinate through a
lock file. The cache must hold the videos processed at once: a copy evicted before its record
is finished is fetched again by the next run.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from videokit.errors import DiskFullError, InputError
from videokit.storage.files import ObjectInfo
from videokit.storage.options import MIB, StorageOptions
from videokit.storage.places import open_storage
from videokit.storage.transfer import ProgressFn

log = logging.getLogger(__name__)

_LOCK = ".lock"
STALE_AFTER = 600.0  # seconds without progress after which a copy being fetched is taken as abandoned


@dataclass(frozen=True, slots=True)
class Cached:
    """A local copy of one object."""

    path: Path
    info: ObjectInfo
    hit: bool  # True when the copy was there already


class LocalCache:
    """Local copies of cloud objects in ``folder``, at most ``max_bytes`` in all."""

    def __init__(self, folder: Path, max_bytes: int, options: StorageOptions | None = None) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.options = options or StorageOptions()

    @classmethod
    def from_options(cls, options: StorageOptions) -> LocalCache:
        if options.cache_dir is None:
            raise ValueError("StorageOptions.cache_dir is not set")
        return cls(options.cache_dir, options.cache_bytes, options)

    def path_for(self, url: str, version: str) -> Path:
        digest = hashlib.sha256(f"{url}\0{version}".encode()).hexdigest()[:32]
        suffix = PurePosixPath(url).suffix.lower()[:10]
        return self.folder / digest[:2] / f"{digest}{suffix}"

    def fetch(self, url: str, *, on_progress: ProgressFn | None = None) -> Cached:
        """A local copy of the object ``url``: the cached one while the object is unchanged,
        otherwise fetched (evicting least recently used copies to make room)."""
        storage = open_storage(url, self.options)
        info = storage.info("")
        path = self.path_for(info.url, info.version)
        if _whole(path, info.size):
            os.utime(path)  # most recently used
            return Cached(path, info, hit=True)
        self.reserve(info, path)
        try:
            storage.get("", path, on_progress=on_progress)
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                raise DiskFullError(self.folder) from None
            raise
        return Cached(path, info, hit=False)

    def reserve(self, info: ObjectInfo, path: Path) -> None:
        """Make room for ``info.size`` bytes at ``path`` (its ``.part.json`` marks the reservation)."""
        size_mb = info.size / MIB
        cap_mb = self.max_bytes / MIB
        if info.size > self.max_bytes:
            raise InputError(
                f"{info.url}: {size_mb:.1f} MB does not fit in the local cache ({cap_mb:.1f} MB, "
                f"{self.folder}); raise [Storage] CacheSizeMB"
            )
        with self._locked():
            entries, busy = self._scan(exclude=path)
            used = sum(size for _, size, _ in entries) + busy
            if busy + info.size > self.max_bytes:
                raise InputError(
                    f"{info.url}: the local cache is full ({cap_mb:.1f} MB, {self.folder}, "
                    f"{busy / MIB:.1f} MB being fetched); raise [Storage] CacheSizeMB or process fewer videos at once"
                )
            for old, size, _ in sorted(entries, key=lambda e: e[2]):
                if used + info.size <= self.max_bytes:
                    break
                old.unlink(missing_ok=True)
                used -= size
                log.debug("cache: evicted %s (%d bytes)", old, size)
            path.parent.mkdir(parents=True, exist_ok=True)
            meta = path.with_name(path.name + ".part.json")
            if not meta.exists():  # the download writes the same marker; it counts as busy meanwhile
                meta.write_text(json.dumps({"url": info.url, "size": info.size, "version": ""}), encoding="utf-8")

    def usage(self) -> int:
        """Bytes held (copies and reservations)."""
        entries, busy = self._scan()
        return sum(size for _, size, _ in entries) + busy

    def _scan(self, exclude: Path | None = None) -> tuple[list[tuple[Path, int, float]], int]:
        """The whole copies (path, size, last use) and the bytes reserved by copies being fetched."""
        entries: list[tuple[Path, int, float]] = []
        busy = 0
        if not self.folder.is_dir():
            return entries, 0
        for sub in self.folder.iterdir():
            if not sub.is_dir():
                continue
            for f in sub.iterdir():
                if exclude is not None and f.name.startswith(exclude.name):
                    continue
                try:
                    if f.name.endswith(".part.json"):
                        if _abandoned(f):
                            f.unlink(missing_ok=True)
                            Path(str(f)[: -len(".json")]).unlink(missing_ok=True)
                            continue
                        busy += int(json.loads(f.read_text(encoding="utf-8")).get("size", 0))
                    elif not f.name.endswith(".part") and not f.name.startswith("."):
                        st = f.stat()
                        entries.append((f, st.st_size, st.st_mtime))
                except (OSError, ValueError):
                    continue
        return entries, busy

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / _LOCK, "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _whole(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except OSError:
        return False


def _abandoned(meta: Path) -> bool:
    """A copy being fetched whose marker and ``.part`` have not changed for :data:`STALE_AFTER` seconds."""
    part = Path(str(meta)[: -len(".json")])
    latest = max((p.stat().st_mtime for p in (meta, part) if p.exists()), default=0.0)
    return time.time() - latest > STALE_AFTER
