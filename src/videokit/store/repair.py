"""Checking a library, and rebuilding its SQLite database from the ``record.json`` files.

``check_library`` runs the store's own integrity check (SQLite's ``PRAGMA integrity_check``)
and counts the ``processed/<id>/record.json`` files; it writes nothing. ``rebuild_library``
writes a new database beside the old one from every readable ``record.json``, adds the rows
still readable in the old database that have no file (libraries from before the files
existed), then moves the old database aside as ``library.sqlite.damaged-<time>`` (or
``.replaced-<time>`` when it was healthy) and renames the new one into place.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from videokit.errors import StoreError, UsageError, one_line
from videokit.record import Record
from videokit.store.recordfiles import iter_record_files
from videokit.store.sqlite import DB_NAME, SQLiteStore
from videokit.tempfiles import temp_path

if TYPE_CHECKING:
    from videokit.config import Config

SALVAGE_GAP = 10_000  # row ids tried one by one past damaged pages before giving up
_SIDE_FILES = ("-wal", "-shm")


@dataclass(slots=True)
class CheckReport:
    """What :func:`videokit.api.check` found in a library (nothing is changed)."""

    database: str  # the store checked: the library.sqlite path, or a description of another store
    problems: list[str] = field(default_factory=list)  # empty when the store is healthy
    records: int | None = None  # records the store holds; None when they cannot be counted
    record_files: int = 0  # readable processed/<id>/record.json files
    unreadable_files: list[str] = field(default_factory=list)  # "path: why" for each unreadable record.json
    without_file: int = 0  # stored records with no record.json yet (written when next stored, or by rebuild)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(slots=True)
class RebuildReport:
    """What :func:`videokit.api.rebuild` did."""

    database: Path  # the new library.sqlite
    records: int  # records it holds
    from_files: int  # of them, read from record.json files
    salvaged: int  # of them, read from the old database (they had no record.json; now they do)
    unreadable_files: list[str] = field(default_factory=list)  # "path: why": record.json files left out
    kept_as: Path | None = None  # where the old database now is; None when there was none
    damaged: bool = False  # whether the old database failed its integrity check


def check_library(config: Config) -> CheckReport:
    """The store's integrity check and the record.json files of ``config``'s library."""
    from videokit.store import open_store
    from videokit.store.migrate import describe

    report = CheckReport(database=str(config.library / DB_NAME))
    on_disk: set[str] = set()
    for rf in iter_record_files(config.processed_dir):
        if rf.record is None or rf.record.id is None:
            report.unreadable_files.append(f"{rf.path}: {rf.error}")
        else:
            on_disk.add(rf.record.id)
    report.record_files = len(on_disk)
    sqlite = config.get("Library", "Store") == "sqlite"
    if sqlite and not (config.library / DB_NAME).is_file():
        what = f"{report.record_files} record.json files" if report.record_files else "no record.json files"
        report.problems.append(
            f"{report.database}: no library database here ({what}); 'videokit rebuild' recreates it from them"
        )
        return report
    try:
        with open_store(config) as store:
            if not sqlite:
                report.database = describe(store)
            report.problems += store.check()
            try:
                report.records = store.count()
                if isinstance(store, SQLiteStore):
                    report.without_file = len(store.ids() - on_disk)
            except StoreError as e:
                if not report.problems:
                    report.problems.append(str(e))
    except StoreError as e:
        report.problems.append(str(e))
    return report


def rebuild_library(config: Config) -> RebuildReport:
    """Recreate ``<library>/library.sqlite`` from the record.json files (see the module docstring)."""
    if config.get("Library", "Store") != "sqlite":
        raise UsageError(
            f"rebuild recreates the SQLite library database; [Library] Store is {config.get('Library', 'Store')!r}"
        )
    library = config.library
    if not library.is_dir():
        raise UsageError(f"{library}: no library folder here; check --library or [Library] Location")
    db_path = library / DB_NAME
    records: dict[str, Record] = {}
    unreadable: list[str] = []
    for rf in iter_record_files(config.processed_dir):
        if rf.record is None or rf.record.id is None:
            unreadable.append(f"{rf.path}: {rf.error}")
        else:
            records[rf.record.id] = rf.record
    from_files = len(records)
    damaged = False
    if db_path.exists():
        damaged = bool(_problems(db_path))
        for rid, rec in salvage(db_path).items():
            records.setdefault(rid, rec)  # a record.json is never older than its row
    tmp = temp_path(db_path)
    try:
        with SQLiteStore(tmp, records_dir=config.processed_dir) as store:
            for rec in sorted(records.values(), key=lambda r: (r.added_at or "", r.id or "")):
                store.upsert(rec)
        kept = _move_aside(db_path, "damaged" if damaged else "replaced") if db_path.exists() else None
        os.replace(tmp, db_path)
    finally:
        for suffix in ("", *_SIDE_FILES):
            Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    return RebuildReport(db_path, len(records), from_files, len(records) - from_files, unreadable, kept, damaged)


def _problems(path: Path) -> list[str]:
    """``PRAGMA quick_check`` of the SQLite file ``path``, read-only; [] when healthy."""
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as e:
        return [one_line(e)]
    try:
        rows = [str(r[0]) for r in db.execute("PRAGMA quick_check(100)").fetchall()]
    except sqlite3.Error as e:
        return [one_line(e)]
    finally:
        db.close()
    return [] if rows == ["ok"] else rows


def salvage(path: Path) -> dict[str, Record]:
    """The records still readable in the SQLite library file ``path`` (opened read-only): rows
    are read in row-id order, and past a damaged page one row id at a time."""
    found: dict[str, Record] = {}
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return found
    last, misses = 0, 0
    try:
        while misses < SALVAGE_GAP:
            try:
                rows = db.execute(
                    "SELECT rowid, record FROM videos WHERE rowid > ? ORDER BY rowid LIMIT 256", (last,)
                ).fetchall()
                if not rows:
                    break
            except sqlite3.Error:  # a damaged page ahead: step over it one row id at a time
                last += 1
                try:
                    rows = db.execute("SELECT rowid, record FROM videos WHERE rowid = ?", (last,)).fetchall()
                except sqlite3.Error:
                    rows = []
                if not rows:
                    misses += 1
                    continue
            misses = 0
            for rowid, text in rows:
                last = rowid
                try:
                    rec = Record.from_json(text)
                except (ValueError, TypeError, KeyError, AttributeError):
                    continue
                if rec.id:
                    found[rec.id] = rec
    finally:
        db.close()
    return found


def _move_aside(path: Path, why: str) -> Path:
    """``library.sqlite`` → ``library.sqlite.<why>-<UTC time>`` (its -wal/-shm files alongside)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    kept = path.with_name(f"{path.name}.{why}-{stamp}")
    n = 1
    while any(Path(f"{kept}{s}").exists() for s in ("", *_SIDE_FILES)):  # twice in one second
        n += 1
        kept = path.with_name(f"{path.name}.{why}-{stamp}-{n}")
    for suffix in _SIDE_FILES:
        side = Path(f"{path}{suffix}")
        if side.exists():
            os.replace(side, f"{kept}{suffix}")
    os.replace(path, kept)
    return kept
