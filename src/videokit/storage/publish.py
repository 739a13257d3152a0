"""A folder built locally, published below a cloud prefix so that it is never mistaken for complete
while half-uploaded.

:func:`publish_folder` (``videokit dataset --out s3://bucket/prefix``):

1. the marker file (a dataset's ``manifest.jsonl``) is removed from the prefix first: from then on,
   what is there is visibly unfinished;
2. every other visible file is uploaded (``concurrency`` at a time), each object whole or invisible
   and SHA-256 checked (:func:`~videokit.storage.transfer.upload`); a file whose SHA-256 is known
   beforehand (a clip listed in the manifest) must upload with that SHA-256;
3. objects an earlier publication of the same folder wrote and this one no longer holds are removed;
4. the marker is uploaded last.

A journal beside the folder (``<folder>.published.json``) remembers what was uploaded (size, mtime,
SHA-256, the object's version): publishing again sends only the files whose content changed
locally or whose object changed remotely, so an interrupted publication resumes where it stopped.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videokit.errors import InputError, TransientError
from videokit.hashing import sha256_file
from videokit.storage.files import Storage
from videokit.storage.options import StorageOptions
from videokit.storage.places import open_storage
from videokit.tempfiles import temp_path

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Published:
    """What :func:`publish_folder` did."""

    url: str  # the prefix
    uploaded: list[str] = field(default_factory=list)  # relative keys sent by this call
    unchanged: list[str] = field(default_factory=list)  # relative keys already there from an earlier call
    removed: list[str] = field(default_factory=list)  # stale keys of an earlier publication, removed
    bytes: int = 0  # sent by this call


def journal_path(local: Path) -> Path:
    """Where the publication of ``local`` is remembered (beside it, not inside)."""
    return local.with_name(local.name + ".published.json")


def visible_files(local: Path) -> Iterator[str]:
    """The relative "/"-separated paths of the files under ``local``, hidden ones (a name starting
    with ".", or inside such a folder: state, temporary files) left out, sorted."""
    for dirpath, dirnames, filenames in os.walk(local):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        base = Path(dirpath).relative_to(local)
        for name in sorted(filenames):
            if not name.startswith("."):
                yield (base / name).as_posix()


def publish_folder(
    local: Path,
    dest: str,
    options: StorageOptions,
    *,
    marker: str,
    expected: Mapping[str, str] | None = None,
) -> Published:
    """Upload the visible files of the folder ``local`` below the prefix ``dest``, ``marker``
    (a relative path) removed first and uploaded last (see the module). ``expected`` maps relative
    paths to the SHA-256 their upload must have. InputError when ``marker`` is not in ``local``;
    the provider's errors (ConfigError, InputError, TransientError) name the object."""
    local = Path(local)
    if not (local / marker).is_file():
        raise InputError(f"{local}: no {marker}; nothing complete to publish")
    storage = open_storage(dest, options)
    journal_file = journal_path(local)
    journal = _read_journal(journal_file, storage.url)
    result = Published(storage.url)
    storage.delete(marker)  # from here on, the prefix is visibly unfinished
    journal.pop(marker, None)
    _write_journal(journal_file, storage.url, journal)

    rels = [rel for rel in visible_files(local) if rel != marker]
    before = dict(journal)  # read by the threads; the journal itself changes on this one only
    saved = time.monotonic()
    failed: BaseException | None = None
    try:
        with ThreadPoolExecutor(max(1, options.concurrency), thread_name_prefix="vk-publish") as pool:
            futures = [pool.submit(_publish_one, storage, local, rel, before.get(rel)) for rel in rels]
            # in the order they finish: a file that fails never hides the files sent beside it
            for future in as_completed(futures):
                try:
                    rel, entry, sent = future.result()
                    want = (expected or {}).get(rel)
                    if want is not None and entry["sha256"] != want:
                        raise TransientError(
                            f"{storage.url_of(rel)}: uploaded with another SHA-256 than the manifest lists; "
                            "the staging copy changed, build and publish again"
                        )
                except BaseException as e:  # noqa: BLE001 - re-raised below, once the sent files are noted
                    failed = failed or e
                    for other in futures:
                        other.cancel()
                    continue
                journal[rel] = entry
                (result.uploaded if sent else result.unchanged).append(rel)
                result.bytes += entry["size"] if sent else 0
                if time.monotonic() - saved > 1.0:  # now and then: an interrupted call loses at most a second's work
                    _write_journal(journal_file, storage.url, journal)
                    saved = time.monotonic()
    finally:  # what was sent is remembered, even when a file failed
        _write_journal(journal_file, storage.url, journal)
    if failed is not None:
        raise failed

    keep = set(rels)
    for rel in sorted(set(journal) - keep):
        storage.delete(rel)
        del journal[rel]
        result.removed.append(rel)
    _write_journal(journal_file, storage.url, journal)

    entry = _send(storage, local / marker, marker)
    journal[marker] = entry
    result.uploaded.append(marker)
    result.bytes += entry["size"]
    _write_journal(journal_file, storage.url, journal)
    return result


def _publish_one(
    storage: Storage, local: Path, rel: str, known: dict[str, Any] | None
) -> tuple[str, dict[str, Any], bool]:
    """Upload one file unless the journal shows it there already, unchanged on both sides; its
    journal entry, and whether it was sent."""
    path = local / rel
    st = path.stat()
    if (
        known
        and known.get("size") == st.st_size
        and (known.get("mtime_ns") == st.st_mtime_ns or known.get("sha256") == sha256_file(path))
    ):
        try:
            remote = storage.info(rel)
        except InputError:
            remote = None
        if remote is not None and remote.size == st.st_size and remote.version == known.get("version"):
            return rel, known, False
    return rel, _send(storage, path, rel), True


def _send(storage: Storage, path: Path, rel: str) -> dict[str, Any]:
    mtime = path.stat().st_mtime_ns
    sent = storage.put(path, rel)
    version = storage.info(rel).version
    return {"size": sent.size, "mtime_ns": mtime, "sha256": sent.sha256, "version": version}


def _read_journal(path: Path, url: str) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("url") != url or not isinstance(data.get("files"), dict):
        return {}
    return {str(k): v for k, v in data["files"].items() if isinstance(v, dict)}


def _write_journal(path: Path, url: str, files: dict[str, dict[str, Any]]) -> None:
    tmp = temp_path(path)
    try:
        tmp.write_text(json.dumps({"url": url, "files": files}, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
