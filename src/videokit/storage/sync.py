"""Workers that share no disk: a record's files pulled from, and pushed to, ``[Storage] LibraryFiles``.

With the library's files in object storage (``[Storage] LibraryFiles = s3://bucket/lib``) every
machine has its own working folder (its ``[Library] Location``) and record paths are keys below
the library, valid on every machine (``downloads/3fa9c2e1d0b7a4f2_clip.mp4``,
``processed/<id>/thumb_0001.jpg``):

* :meth:`LibrarySync.pull` before a group of stages runs: what its stages read and this machine
  lacks (the video file for a stage that ``needs`` ``file``, with the analysis frames; the
  thumbnails and contact sheet for one that needs ``scenes``; the captions for ``transcript``)
  comes from object storage through the bounded :class:`~videokit.storage.cache.LocalCache`
  (``[Storage] CacheSizeMB``) and is linked into the working folder at its key. A cloud input
  whose cached copy is not on this machine is fetched from its own URL again.
* :func:`push_record_files`, the one path every executor pushes through (the store stage calls
  it before the record is stored; a worker also after each group, for the machine running the
  next): the downloaded original goes to ``<download dir>/<id:16>_<name>`` (the content id keeps
  two videos of one name apart, whichever machine fetched them) and the record is pointed at that
  key; every file under ``processed/<id>/`` goes to its key. Each object appears whole or not at
  all, SHA-256 checked (:func:`~videokit.storage.transfer.upload`); a file unchanged since this
  process pushed it is not sent again.
* :meth:`LibrarySync.release` after a worker's group: the working copies of the record's files
  are removed (they are in object storage), so a worker keeps only the bounded cache.

Nothing happens when ``LibraryFiles`` is unset or names the library folder itself.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from videokit.errors import ConfigError
from videokit.record import Record
from videokit.storage.location import is_cloud_url

if TYPE_CHECKING:
    from videokit.config import Config
    from videokit.pipeline import Context, Stage
    from videokit.storage.cache import LocalCache
    from videokit.storage.files import Storage

log = logging.getLogger(__name__)

_MEMO_LIMIT = 10_000  # files remembered as pushed by this process (path -> size, mtime)


@dataclass
class LibrarySync:
    """This machine's working folder kept in step with the library's files in ``files``."""

    files: Storage
    library: Path  # this machine's working folder ([Library] Location), resolved
    download_dir: Path
    processed_dir: Path
    cache: LocalCache
    _pushed: dict[Path, tuple[int, int]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_config(cls, config: Config) -> LibrarySync | None:
        """None when the library's files are the library folder itself (nothing to sync).
        ConfigError when a working folder that must be synced lies outside the library."""
        from videokit.storage.cache import LocalCache
        from videokit.storage.options import StorageOptions
        from videokit.storage.places import library_files

        if not config.get("Storage", "LibraryFiles"):
            return None
        files = library_files(config)
        library = config.library
        if files.is_local and Path(files.root.key).resolve() == library:
            return None
        for key, folder in (("DownloadDirectory", config.download_dir), ("ProcessedDirectory", config.processed_dir)):
            if not folder.is_relative_to(library):
                raise ConfigError(
                    f"[Paths] {key} ({folder}) is outside the library ({library}); with [Storage] LibraryFiles "
                    f"= {files.url} it must be inside it (leave it empty for the default)"
                )
        options = StorageOptions.from_config(config)
        return cls(files, library, config.download_dir, config.processed_dir, LocalCache.from_options(options))

    # -- keys ------------------------------------------------------------------------------
    def key_of(self, path: Path) -> str | None:
        """The library key of a local path, or None when the path is outside the library."""
        try:
            return Path(path).resolve().relative_to(self.library).as_posix()
        except ValueError:
            return None

    def local_of(self, key: str) -> Path:
        self.files.location(key)  # UsageError for a key that would leave the library
        return self.library.joinpath(*PurePosixPath(key).parts)

    # -- pull ------------------------------------------------------------------------------
    def pull(self, record: Record, stages: Iterable[Stage]) -> list[str]:
        """Bring what ``stages`` read of ``record`` onto this machine; the keys fetched."""
        needs: set[str] = set()
        for stage in stages:
            needs |= set(stage.needs)
        got: list[str] = []
        if "file" in needs and record.file is not None:
            self._pull_video(record, got)
        for key in _wanted_keys(record, needs):
            if self._pull_key(key):
                got.append(key)
        return got

    def _pull_video(self, record: Record, got: list[str]) -> None:
        assert record.file is not None
        path = Path(record.file.path)
        if not path.is_absolute():
            if self._pull_key(record.file.path):
                got.append(record.file.path)
            return
        if path.is_file():
            return
        cloud = next((s.fetch_input for s in record.sources if is_cloud_url(s.fetch_input)), None)
        if cloud is None:  # a local file of another machine: the stage says it is missing
            return
        copy = self.cache.fetch(cloud)  # a cloud input: its cached copy on this machine
        record.file.path = str(copy.path)
        got.append(cloud)

    def _pull_key(self, key: str) -> bool:
        local = self.local_of(key)
        if local.is_file():
            return False
        copy = self.cache.fetch(self.files.url_of(key))
        local.parent.mkdir(parents=True, exist_ok=True)
        _link_or_copy(copy.path, local)
        self._remember(local)
        return True

    # -- push ------------------------------------------------------------------------------
    def push(self, record: Record) -> list[str]:
        """Put the record's downloaded original and its ``processed/<id>/`` files in object
        storage (pointing the record at the original's key); the keys sent."""
        sent: list[str] = []
        if record.file is not None and record.id:
            self._push_original(record, sent)
        if record.id:
            folder = self.processed_dir / record.id
            if folder.is_dir():
                for path in sorted(folder.rglob("*")):
                    if path.is_file() and not _hidden(path.relative_to(folder)):
                        key = self.key_of(path)
                        if key is not None and self._push_file(path, key):
                            sent.append(key)
        return sent

    def _push_original(self, record: Record, sent: list[str]) -> None:
        assert record.file is not None and record.id is not None
        local = self.local_of(record.file.path) if not Path(record.file.path).is_absolute() else Path(record.file.path)
        if not local.resolve().is_relative_to(self.download_dir) or not local.is_file():
            return  # a user's own file, or a cached copy of a cloud input: its source is its place
        prefix = f"{record.id[:16]}_"
        name = local.name if local.name.startswith(prefix) else prefix + local.name
        key = self.key_of(local.with_name(name))
        assert key is not None
        if local.name != name:  # the working copy takes the key's name, so the record's path holds here too
            target = local.with_name(name)
            os.replace(local, target)
            local = target
        record.file.path = key
        if self._push_file(local, key):
            sent.append(key)

    def _push_file(self, local: Path, key: str) -> bool:
        st = local.stat()
        if self._pushed.get(local) == (st.st_size, st.st_mtime_ns):
            return False
        self.files.put(local, key)
        self._remember(local)
        return True

    def _remember(self, local: Path) -> None:
        if len(self._pushed) >= _MEMO_LIMIT:
            self._pushed.clear()
        st = local.stat()
        self._pushed[local] = (st.st_size, st.st_mtime_ns)

    # -- release ---------------------------------------------------------------------------
    def release(self, record: Record) -> None:
        """Remove this machine's working copies of the record's files (the cache keeps its own)."""
        if record.file is not None and not Path(record.file.path).is_absolute():
            local = self.local_of(record.file.path)
            if local.resolve().is_relative_to(self.download_dir):
                local.unlink(missing_ok=True)
                self._pushed.pop(local, None)
        if record.id:
            folder = self.processed_dir / record.id
            for path in [p for p in self._pushed if p.is_relative_to(folder)]:
                del self._pushed[path]
            shutil.rmtree(folder, ignore_errors=True)


def _wanted_keys(record: Record, needs: set[str]) -> list[str]:
    """The keys of the record's pictures and captions that a stage needing ``needs`` reads."""
    keys: list[str] = []
    if record.scenes is not None:
        if "file" in needs or "frames" in needs:
            keys += [f.path for f in record.scenes.frames]
        if "scenes" in needs:
            keys += [s.thumbnail for s in record.scenes.scenes if s.thumbnail]
            keys += [record.scenes.contact_sheet] if record.scenes.contact_sheet else []
    if "transcript" in needs and record.transcript is not None:
        keys += [p for p in (record.transcript.srt, record.transcript.vtt) if p]
    return [k for k in dict.fromkeys(keys) if not Path(k).is_absolute()]


def _hidden(relative: Path) -> bool:
    """A temporary entry (``.name.tmp-...``) or a download in progress."""
    return any(part.startswith(".") for part in relative.parts) or relative.name.endswith(".part")


def _link_or_copy(src: Path, dest: Path) -> None:
    tmp = dest.with_name(f".{dest.name}.pull-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:  # another file system, or no hard links
        shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


_syncs: dict[tuple[str, ...], LibrarySync | None] = {}


def library_sync(config: Config) -> LibrarySync | None:
    """This process's :class:`LibrarySync` for ``config`` (built once per setting values)."""
    key = (
        str(config.get("Storage", "LibraryFiles")),
        str(config.library),
        str(config.download_dir),
        str(config.processed_dir),
        str(config.get("Storage", "S3Endpoint")),
        str(config.get("Storage", "CacheDirectory")),
        str(config.get("Storage", "CacheSizeMB")),
    )
    if key not in _syncs:
        _syncs[key] = LibrarySync.from_config(config)
    return _syncs[key]


def push_record_files(record: Record, ctx: Context) -> list[str]:
    """Push ``record``'s files to ``[Storage] LibraryFiles`` when it is elsewhere than the
    library folder (see the module); the keys sent. Every executor pushes through here."""
    sync = library_sync(ctx.config)
    return sync.push(record) if sync is not None else []
