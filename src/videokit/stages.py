"""The spine's own stages: fetch the bytes, identify the content, probe it, store it."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import urlsplit

from videokit.errors import InputError
from videokit.hashing import sha256_file
from videokit.inputs import check_local
from videokit.pipeline import Context, Stage
from videokit.probe import media_info
from videokit.record import FileInfo, Record, Source
from videokit.store.merge import merge_stored

log = logging.getLogger(__name__)


class FetchStage(Stage):
    """Local files are hashed in place; URLs are downloaded into the library."""

    name = "fetch"
    provides = frozenset({"file", "id"})
    resources = frozenset({"io"})

    def done(self, record: Record) -> bool:
        """Fetched by an earlier run, and the file is still there, whole."""
        f = record.file
        return (
            "fetch" in record.timings
            and f is not None
            and Path(f.path).is_file()
            and Path(f.path).stat().st_size == f.size
        )

    def process(self, record: Record, ctx: Context) -> None:
        src = record.sources[-1]
        if src.kind == "file":
            path = Path(src.path or src.input)
            check_local(path)
            record.file = FileInfo(str(path), path.name, path.stat().st_size, sha256_file(path))
        else:
            from videokit.download import fetch

            got = fetch(src.input, ctx.config.download_dir, ctx.config, on_progress=ctx.on_progress)
            src.kind = got.kind
            src.url = got.url
            src.domain = got.domain or (urlsplit(got.url).hostname or None)
            for key in ("title", "uploader", "license", "webpage_url", "description", "upload_date"):
                value = got.info.get(key)
                if value:
                    setattr(src, key, str(value))
            record.file = FileInfo(str(got.path), got.path.name, got.size, got.sha256)
        record.id = record.file.sha256


class IdentifyStage(Stage):
    """Same content from another URL or path: one record listing every source."""

    name = "identify"
    after = "fetch"
    needs = frozenset({"id"})
    provides = frozenset({"sources"})
    writer = True  # reads the store; one writer process decides which copy of the bytes stays

    def process(self, record: Record, ctx: Context) -> None:
        if ctx.store is None or record.id is None:
            return
        existing = ctx.store.get(record.id)
        if existing is None:
            return
        new = record.sources[-1]
        sources = list(existing.sources)
        known = {s.input for s in sources}
        if new.input in known:
            sources = [new if s.input == new.input else s for s in sources]
        else:
            sources.append(new)
        # Keep one copy of the bytes: drop a duplicate download of content already in the library.
        old_path = Path(existing.file.path) if existing.file else None
        new_path = Path(record.file.path) if record.file else None
        if (
            old_path
            and new_path
            and old_path != new_path
            and old_path.exists()
            and new.kind != "file"
            and _inside(new_path, ctx.config.download_dir)
        ):
            os.unlink(new_path)
            record.file = existing.file
        record.sources = sources
        record.added_at = existing.added_at
        # Keep earlier results; later stages refresh what they own.
        record.scenes = existing.scenes
        record.analysis = existing.analysis
        record.tags = existing.tags
        record.classification = existing.classification


class ProbeStage(Stage):
    name = "probe"
    after = "identify"
    needs = frozenset({"file"})
    provides = frozenset({"media"})

    def process(self, record: Record, ctx: Context) -> None:
        if record.file is None:
            raise InputError("no file to probe")
        record.media = media_info(Path(record.file.path))


class StoreStage(Stage):
    """Finish a record: merge it with the stored copy (sources, first-seen time, user tags;
    the stages that derive from those run again), then upsert it. Every executor stores
    through this one path."""

    name = "store"
    after = "classify"
    needs = frozenset({"id"})
    provides = frozenset({"stored"})
    writer = True

    def process(self, record: Record, ctx: Context) -> None:
        if ctx.store is not None and record.id:
            merge_stored(record, ctx.store, ctx.rerun)
            ctx.store.upsert(record)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def new_record(spec: str, kind: str, user_fields: dict[str, str] | None = None) -> Record:
    src = Source(input=spec, kind=kind, path=spec if kind == "file" else None, user_fields=dict(user_fields or {}))
    if kind != "file":
        src.domain = (urlsplit(spec).hostname or "").lower() or None
    return Record(sources=[src])
