"""Opening a :class:`~videokit.storage.files.Storage` for a URL or path, and what is built on it:
the library's files, a bucket's videos, an export built locally and uploaded."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from videokit.storage.files import VIDEO_SUFFIXES, ObjectInfo, Storage
from videokit.storage.location import cloud_error, parse_location
from videokit.storage.options import StorageOptions

if TYPE_CHECKING:
    from videokit.config import Config


def open_storage(where: str | Path, options: StorageOptions | None = None) -> Storage:
    """The :class:`Storage` rooted at a local folder or an ``s3://`` ``gs://`` ``az://``
    ``dropbox://`` URL."""
    root = parse_location(str(where))
    if root.scheme == "dropbox":
        from videokit.storage.dropbox import DropboxStorage

        return DropboxStorage(root, options)
    return Storage(root, options)


def library_files(config: Config) -> Storage:
    """Where the library's files go: ``[Storage] LibraryFiles``, or the library folder."""
    where = config.get("Storage", "LibraryFiles") or str(config.library)
    return open_storage(where, StorageOptions.from_config(config))


def list_videos(url: str, options: StorageOptions | None = None) -> list[ObjectInfo]:
    """The objects under a bucket prefix (or the one object) whose names look like videos.
    InputError when the bucket does not exist or the credentials are refused."""
    storage = open_storage(url, options)
    root = storage.root
    if root.key and PurePosixPath(root.key).suffix.lower() in VIDEO_SUFFIXES and not url.endswith("/"):
        return [storage.info("")]
    try:
        objects = storage.list()
    except Exception as e:  # noqa: BLE001 - a provider's own exception types: one error naming the URL
        raise cloud_error(root, e, "list") from None
    return [o for o in objects if PurePosixPath(o.key).suffix.lower() in VIDEO_SUFFIXES]


def build_and_upload(dest: str, options: StorageOptions, staging: Path, build: Callable[[Path], int]) -> int:
    """Write an export locally with ``build(path)`` (in a temporary folder under ``staging``),
    then upload it to ``dest``: a file to the object ``dest``, a folder's files below the prefix
    ``dest`` (each object whole; files named ``index.*`` last, so an index never lists a missing
    file). Returns what ``build`` returned; nothing is uploaded when it fails."""
    storage = open_storage(dest, options)
    staging.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".export-", dir=staging) as tmp:
        local = Path(tmp) / (storage.root.name or "export")
        result = build(local)
        if local.is_file():
            storage.put(local, "")
            return result
        files = sorted((p for p in local.rglob("*") if p.is_file()), key=lambda p: (p.name.startswith("index."), p))
        for path in files:
            storage.put(path, path.relative_to(local).as_posix())
        shutil.rmtree(local, ignore_errors=True)
    return result
