"""A place for files addressed by relative key: a local folder, a bucket prefix, a Dropbox folder.

:func:`~videokit.storage.places.library_files` is where the library's files go
(``[Storage] LibraryFiles``)::

    files = library_files(config)
    files.put(Path("thumb.jpg"), "processed/3fa9.../thumb_0001.jpg")
    files.get("processed/3fa9.../thumb_0001.jpg", Path("/tmp/t.jpg"))

Every method names the object in its errors (:func:`~videokit.storage.location.cloud_error`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from videokit.errors import InputError
from videokit.storage.location import Location, filesystem
from videokit.storage.options import StorageOptions
from videokit.storage.transfer import ProgressFn, Transferred, _Retrier, download, upload
from videokit.tempfiles import temp_path

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

# What a bucket listing takes as videos (probing every object would mean downloading it; each
# is probed once fetched, and one that is not a video fails as such).
VIDEO_SUFFIXES = frozenset(
    ".mp4 .m4v .mov .mkv .webm .avi .wmv .flv .mpg .mpeg .ts .mts .m2ts .3gp .ogv .gif .mxf .vob".split()
)


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One stored file."""

    key: str  # relative to the storage's root
    url: str
    size: int
    version: str  # ETag, generation or revision: changes when the content does


class Storage:
    """Files under one root :class:`Location`, addressed by relative "/"-separated keys."""

    def __init__(self, root: Location, options: StorageOptions | None = None) -> None:
        self.root = root
        self.options = options or StorageOptions()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.root.url!r})"

    @property
    def url(self) -> str:
        return self.root.url

    @property
    def is_local(self) -> bool:
        return self.root.is_local

    def location(self, key: str) -> Location:
        return self.root.join(key) if key else self.root

    def url_of(self, key: str) -> str:
        return self.location(key).url

    def local_path(self, key: str) -> Path | None:
        """The file's path when this storage is a local folder; None otherwise."""
        return Path(self.location(key).key) if self.is_local else None

    def put(self, local: Path, key: str, *, on_progress: ProgressFn | None = None) -> Transferred:
        """Store the local file under ``key``: whole or not at all, SHA-256 checked."""
        return upload(Path(local), self.location(key), self.options, fs=self._fs(), on_progress=on_progress)

    def put_bytes(self, data: bytes, key: str) -> Transferred:
        """Store ``data`` under ``key`` (through a temporary local file)."""
        staging = self.options.state_dir or Path(os.environ.get("TMPDIR", "/tmp"))
        staging.mkdir(parents=True, exist_ok=True)
        tmp = temp_path(staging / PurePosixPath(key).name)
        try:
            tmp.write_bytes(data)
            return self.put(tmp, key)
        finally:
            tmp.unlink(missing_ok=True)

    def get(self, key: str, local: Path, *, on_progress: ProgressFn | None = None) -> Transferred:
        """Copy the file under ``key`` to ``local`` (renamed into place when whole)."""
        return download(self.location(key), Path(local), self.options, fs=self._fs(), on_progress=on_progress)

    def read_bytes(self, key: str) -> bytes:
        loc = self.location(key)
        fs = self._fs()
        return _Retrier(loc, self.options, "read")(lambda: fs.cat_file(loc.fs_path))

    def exists(self, key: str) -> bool:
        try:
            self.info(key)
        except InputError as e:
            if "no such object" in str(e):
                return False
            raise
        return True

    def info(self, key: str) -> ObjectInfo:
        loc = self.location(key)
        fs = self._fs()
        raw = _Retrier(loc, self.options, "read")(lambda: fs.info(loc.fs_path))
        if raw.get("type") == "directory":
            raise InputError(f"{loc.url}: is a folder (prefix), not a file; give a file's URL")
        return ObjectInfo(key, loc.url, int(raw.get("size") or 0), _version(raw))

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        """Every file below ``prefix`` (recursively), sorted by key. InputError when the bucket
        does not exist."""
        base = self.location(prefix)
        fs = self._fs()
        retry = _Retrier(base, self.options, "list")
        try:
            found: dict[str, Any] = retry(lambda: fs.find(base.fs_path, detail=True))
        except InputError as e:  # gcsfs: a missing bucket is a missing object
            if "no such object" not in str(e) or base.is_local:
                raise
            found = {}
        if not found and not base.is_local:
            self._check_bucket(fs)  # a missing bucket is an error, not an empty listing
        out = []
        for path, raw in found.items():
            if raw.get("type") == "directory":
                continue
            loc = _from_fs_path(self.root, path)
            out.append(ObjectInfo(loc.relative_to(self.root), loc.url, int(raw.get("size") or 0), _version(raw)))
        return sorted(out, key=lambda o: o.key)

    def _check_bucket(self, fs: AbstractFileSystem) -> None:
        bucket = Location(self.root.scheme, self.root.bucket, "")
        try:
            exists = _Retrier(bucket, self.options, "list")(lambda: fs.exists(bucket.fs_path))
        except InputError:
            exists = False
        if not exists:
            what = "container" if bucket.scheme == "az" else "bucket"
            raise InputError(
                f"{self.root.url}: the {bucket.provider} {what} {bucket.bucket!r} does not exist; "
                "check the URL or create it"
            )

    def delete(self, key: str) -> None:
        loc = self.location(key)
        fs = self._fs()
        try:
            _Retrier(loc, self.options, "delete")(lambda: fs.rm(loc.fs_path))
        except InputError as e:
            if "no such object" not in str(e):
                raise

    def _fs(self) -> AbstractFileSystem:
        return filesystem(self.root, self.options)


def _version(raw: dict[str, Any]) -> str:
    for name in ("ETag", "etag", "generation", "rev", "LastModified", "last_modified", "mtime"):
        if raw.get(name):
            return str(raw[name])
    return ""


def _from_fs_path(root: Location, path: str) -> Location:
    if root.is_local:
        return Location("file", "", path)
    bucket, _, key = path.partition("/")
    return Location(root.scheme, bucket, key)
