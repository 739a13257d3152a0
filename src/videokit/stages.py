"""The spine's own stages: fetch the bytes, identify the content, probe it, store it."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from videokit.damage import apply_decoded, check_end, describe
from videokit.errors import InputError, VideokitError
from videokit.hashing import sha256_file
from videokit.inputs import check_local
from videokit.net import redact_input, scrub, url_secrets
from videokit.pipeline import Context, Pipeline, Stage
from videokit.probe import ProbeOptions, ffprobe_json, media_info
from videokit.record import FileInfo, Record, Segment, Source
from videokit.storage.location import is_cloud_url
from videokit.storage.sync import push_record_files
from videokit.store.merge import merge_stored

if TYPE_CHECKING:
    from videokit.config import Config
    from videokit.download import DownloadOptions

log = logging.getLogger(__name__)


class FetchStage(Stage):
    """Local files are hashed in place; URLs are downloaded into the library."""

    name = "fetch"
    provides = frozenset({"file", "id"})
    resources = frozenset({"io"})

    def __init__(self, options: DownloadOptions | None = None) -> None:
        self.options = options  # None: read from the run's config at setup

    @classmethod
    def from_config(cls, config: Config) -> FetchStage:
        from videokit.download import DownloadOptions  # httpx loads only where downloads run

        return cls(DownloadOptions.from_config(config))

    def setup(self, ctx: Context) -> None:
        if self.options is None:
            self.options = type(self).from_config(ctx.config).options

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
        elif is_cloud_url(src.fetch_input):
            _fetch_object(record, src, ctx)
        else:
            from videokit.download import fetch

            if self.options is None:
                self.setup(ctx)
            assert self.options is not None
            url = src.fetch_input  # the whole input, credentials included; the source keeps it redacted
            try:
                got = fetch(url, ctx.config.download_dir, self.options, on_progress=ctx.on_progress)
            except VideokitError as e:  # a server may quote the token it refused: not in the record
                e.args = tuple(scrub(a, url_secrets(url)) if isinstance(a, str) else a for a in e.args)
                raise
            src.kind = got.kind
            src.url = redact_input(got.url)
            src.domain = got.domain or (urlsplit(got.url).hostname or None)
            for key in ("title", "uploader", "license", "webpage_url", "description", "upload_date"):
                value = got.info.get(key)
                if value:
                    setattr(src, key, redact_input(str(value)) if key == "webpage_url" else str(value))
            record.file = FileInfo(str(got.path), got.path.name, got.size, got.sha256)
        record.id = record.file.sha256


def _fetch_object(record: Record, src: Source, ctx: Context) -> None:
    """A cloud object (s3:// gs:// az:// dropbox://) into the bounded local cache
    (:mod:`videokit.storage.cache`); the source keeps the object URL."""
    from videokit.storage import LocalCache, StorageOptions, parse_location

    url = src.fetch_input
    loc = parse_location(url)

    def progress(done: int, total: int) -> None:
        if ctx.on_progress:
            ctx.on_progress(src.input, done, total)

    got = LocalCache.from_options(StorageOptions.from_config(ctx.config)).fetch(url, on_progress=progress)
    src.url = redact_input(got.info.url)
    src.domain = f"{loc.scheme}://{loc.bucket}" if loc.bucket else loc.scheme
    record.file = FileInfo(str(got.path), loc.name or got.path.name, got.info.size, sha256_file(got.path))


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
        old_path = ctx.abspath(existing.file.path) if existing.file else None
        new_path = ctx.abspath(record.file.path) if record.file else None
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
    """ffprobe's metadata, once the file is known to be a video (``options``: what counts as one),
    and a check that the file holds the end its header claims (:mod:`videokit.damage`)."""

    name = "probe"
    after = "identify"
    needs = frozenset({"file"})
    provides = frozenset({"media"})

    def __init__(self, options: ProbeOptions | None = None) -> None:
        self.options = options or ProbeOptions()

    @classmethod
    def from_config(cls, config: Config) -> ProbeStage:
        return cls(ProbeOptions.from_config(config))

    def process(self, record: Record, ctx: Context) -> None:
        if record.file is None:
            raise InputError("no file to probe")
        path = ctx.abspath(record.file.path)
        data = ffprobe_json(path)
        media = media_info(path, data, options=self.options)
        check_end(path, media, data)
        if record.scenes is not None:  # decoded by an earlier run (same bytes): its counts still hold
            apply_decoded(media, record.scenes.frames_decoded, record.scenes.decoded_duration)
        if media.damaged:
            log.warning("%s: %s", path, describe(media))
        record.media = media


class StoreStage(Stage):
    """Finish a record: merge it with the stored copy (sources, first-seen time, user tags;
    the stages that derive from those run again), then upsert it. Every executor stores
    through this one path."""

    name = "store"
    after = "embed"
    needs = frozenset({"id"})
    provides = frozenset({"stored"})
    writer = True

    def process(self, record: Record, ctx: Context) -> None:
        push_record_files(record, ctx)  # [Storage] LibraryFiles elsewhere: the files first, then the record
        if ctx.store is not None and record.id:
            merge_stored(record, ctx.store, ctx.rerun)
            _refresh_merged(record, ctx)
            ctx.store.upsert(record)


def _refresh_merged(record: Record, ctx: Context) -> None:
    """Run again the ``rerun_on_merge`` stages whose work the merge made stale (a stored source's
    title joins the embedded text), unless they failed on this record."""
    if ctx.pipeline is None:
        return
    failed = {e.stage for e in record.errors}
    stale = [s for s in ctx.pipeline.stages if s.rerun_on_merge and s.name not in failed and not s.done(record)]
    if stale:
        Pipeline(stale).process(record, ctx)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def new_record(
    spec: str, kind: str, user_fields: dict[str, str] | None = None, segments: list[Segment] | None = None
) -> Record:
    """A record for one input, with the user fields and labelled segments its annotation list
    gave. A URL's credentials and tokens stay out of it: the source keeps the input redacted,
    and the whole input only in memory for the fetch stage."""
    src = Source(
        input=spec,
        kind=kind,
        path=spec if kind == "file" else None,
        user_fields=dict(user_fields or {}),
        segments=list(segments or []),
    )
    if kind != "file":
        src.domain = (urlsplit(spec).hostname or "").lower() or None
    return Record(sources=[src])
