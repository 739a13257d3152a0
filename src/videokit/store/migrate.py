"""Copy a library from one store to another (SQLite ⇄ MongoDB), idempotently.

Records are upserted by content id, so running a migration twice copies nothing new: the
second run reports every record as unchanged. A record that cannot be written is reported
and the copy goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from videokit.errors import InputError, UsageError
from videokit.record import Record
from videokit.store.base import Query, Store

if TYPE_CHECKING:
    from videokit.config import Config

log = logging.getLogger(__name__)

MONGO_SCHEMES = ("mongodb://", "mongodb+srv://")
SQLITE_SUFFIXES = {".sqlite", ".sqlite3", ".db"}
PAGE = 200  # records per destination look-up


@dataclass(slots=True)
class MigrateReport:
    """How many records a migration copied, updated, found unchanged, or could not copy."""

    copied: int = 0  # new in the destination
    updated: int = 0  # present but different, overwritten
    unchanged: int = 0  # already identical
    failed: list[tuple[str, str]] = field(default_factory=list)  # (record id, why)

    @property
    def total(self) -> int:
        return self.copied + self.updated + self.unchanged + len(self.failed)


def migrate(
    src: Store,
    dst: Store,
    *,
    query: Query | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> MigrateReport:
    """Copy every record of ``src`` matching ``query`` into ``dst``.

    ``progress(done, total)`` is called after each record. Store-level failures on the
    destination (unreachable server) propagate as :class:`StoreError`; a single record
    the destination rejects is counted in ``failed``.
    """
    report = MigrateReport()
    total = src.count(query)
    for page in _pages(src.iter_records(query), PAGE):
        ids = [r.id for r in page if r.id]
        # one look-up per page: what the destination already holds
        existing = {r.id: r for r in dst.search(Query(ids=ids))} if ids else {}
        for record in page:
            _copy(record, existing.get(record.id), dst, report, src.with_vectors)
            if progress is not None:
                progress(report.total, total)
    return report


def _copy(
    record: Record, existing: Record | None, dst: Store, report: MigrateReport, fill: Callable[[Record], Record]
) -> None:
    """Copy ``record`` unless ``dst`` holds it already; ``fill`` adds the vectors the source keeps."""
    rid = record.id or "?"
    if existing is not None and existing.to_dict() == record.to_dict():
        report.unchanged += 1
        return
    try:
        dst.upsert(fill(record))
    except (InputError, ValueError, TypeError, OverflowError) as e:  # the record itself is unstorable
        report.failed.append((rid, f"{type(e).__name__}: {e}"))
        log.warning("migrate: record %s not copied: %s", rid[:12], e)
        return
    if existing is None:
        report.copied += 1
    else:
        report.updated += 1


def _pages(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    page: list[Record] = []
    for r in records:
        page.append(r)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


def is_mongo_uri(spec: str) -> bool:
    return spec.startswith(MONGO_SCHEMES)


def open_location(spec: str, config: Config) -> Store:
    """A store from ``mongodb://``/``mongodb+srv://`` URI, a ``.sqlite`` file or a library folder.

    MongoDB uses ``[MongoDB] DatabaseName``, ``CollectionName`` and ``StoreVideos``; relative
    video paths resolve against the configured library folder.
    """
    if is_mongo_uri(spec):
        from videokit.store.mongo import MongoStore

        return MongoStore.from_uri(
            spec,
            config.get("MongoDB", "DatabaseName"),
            config.get("MongoDB", "CollectionName"),
            store_videos=config.get("MongoDB", "StoreVideos"),
            library=config.library,
        )
    if "://" in spec:
        raise UsageError(
            f"{spec.split('://')[0]}:// is not a store; give a mongodb:// URI, a .sqlite file or a library folder"
        )
    from videokit.store.sqlite import DB_NAME, SQLiteStore

    path = Path(spec).expanduser()
    if path.suffix.lower() in SQLITE_SUFFIXES or path.is_file():
        return SQLiteStore(path)
    return SQLiteStore(path / DB_NAME)


def describe(store: Store) -> str:
    """Where a store lives, for messages (never with credentials)."""
    describe_fn = getattr(store, "describe", None)
    if callable(describe_fn):
        return str(describe_fn())
    path = getattr(store, "path", None)
    return str(Path(path).resolve()) if path is not None else type(store).__name__
