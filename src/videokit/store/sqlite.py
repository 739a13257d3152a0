"""The embedded default store: one SQLite file in the library folder.

Schema changes are numbered SQL files in ``migrations/`` applied in order and recorded in
``PRAGMA user_version``. The full record is kept as JSON; the columns beside it exist for
filtering, and an FTS5 table serves full-text search. Opened for a library (:func:`open_sqlite`),
every record is also written to ``processed/<id>/record.json`` before it is upserted
(:mod:`videokit.store.recordfiles`), which ``videokit rebuild`` recreates the database from.

No ``sqlite3`` exception leaves this module or the job ledger: :func:`sqlite_error` maps each
to a one-line :class:`StoreError` naming the file (a :class:`DiskFullError` when the disk is
full, a :class:`DamagedStoreError` when the file is damaged).
"""

from __future__ import annotations

import errno
import json
import random
import re
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videokit.errors import DamagedStoreError, DiskFullError, StoreError, one_line
from videokit.record import Record
from videokit.store.base import Query, Store
from videokit.store.recordfiles import remove_record_file, write_record_file

if TYPE_CHECKING:
    from videokit.config import Config

DB_NAME = "library.sqlite"
LIBRARY_DAMAGED = (
    "run 'videokit check' to see what is damaged and 'videokit rebuild' to recreate it from the record.json files"
)
NEARLY_FULL = 1 << 20  # bytes free under which SQLite's "disk I/O error" means a full disk
_DAMAGED = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def sqlite_error(path: Path, error: BaseException, doing: str, what: str, damaged_hint: str) -> StoreError:
    """``error`` (a ``sqlite3.Error`` or ``OSError`` met on the SQLite file ``path`` while
    ``doing`` something) as one line naming the file: DiskFullError for a full disk,
    DamagedStoreError (with ``damaged_hint``, what to do) for a damaged file, StoreError else."""
    text = one_line(error)
    code = getattr(error, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if (
        primary == sqlite3.SQLITE_FULL
        or "disk is full" in text
        or getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT)
    ):
        return DiskFullError(path.parent)
    if primary == sqlite3.SQLITE_IOERR and _nearly_full(path.parent):  # e.g. the -shm file could not grow
        return DiskFullError(path.parent)
    if primary in _DAMAGED or "malformed" in text or "not a database" in text:
        return DamagedStoreError(f"{path}: {what} is damaged ({text}); {damaged_hint}")
    return StoreError(f"{path}: cannot {doing}: {text}")


def _nearly_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < NEARLY_FULL
    except OSError:
        return False


def rollback(db: sqlite3.Connection) -> None:
    """Roll back the open transaction, if SQLite has not already (it does on a full disk)."""
    try:
        if db.in_transaction:
            db.execute("ROLLBACK")
    except sqlite3.Error:
        pass  # the connection is unusable; the error that brought us here says why


def connect(path: Path, what: str, hint: str) -> sqlite3.Connection:
    """Open (creating) a WAL-mode SQLite file; a one-line StoreError naming it when that fails
    (``hint``: what to do when it is damaged)."""
    deadline = time.monotonic() + 30
    while True:
        db = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
            db.row_factory = sqlite3.Row
            # Switching a new file to WAL takes an exclusive lock and answers "locked" at once,
            # without waiting, when another process is creating the same file: wait our turn.
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA synchronous=NORMAL")
            return db
        except (OSError, sqlite3.Error) as e:
            if db is not None:
                db.close()
            if "locked" in str(e) and time.monotonic() <= deadline:
                time.sleep(0.05 + random.random() * 0.1)
                continue
            err = sqlite_error(path, e, f"open {what}", what, hint)
            if type(err) is StoreError:  # neither full nor damaged: say what to do anyway
                err = StoreError(f"{err}; check the permissions of its folder, or pick another --library")
            raise err from None


def _migrations() -> list[tuple[int, str]]:
    out = []
    for entry in resources.files("videokit.store").joinpath("migrations").iterdir():
        m = re.match(r"(\d+)_.*\.sql$", entry.name)
        if m:
            out.append((int(m.group(1)), entry.read_text(encoding="utf-8")))
    return sorted(out)


class SQLiteStore(Store):
    """The library in one SQLite file. With ``records_dir`` (the library's ``processed`` folder)
    each record is also kept as ``<records_dir>/<id>/record.json``."""

    def __init__(self, path: str | Path, records_dir: Path | None = None) -> None:
        self.path = Path(path)
        self.records_dir = records_dir
        self._db = connect(self.path, "the library database", LIBRARY_DAMAGED)
        self._lock = threading.RLock()
        self._migrate()

    @contextmanager
    def _guard(self, doing: str) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock; any SQLite failure rolls back and becomes a StoreError."""
        with self._lock:
            try:
                yield self._db
            except sqlite3.Error as e:
                rollback(self._db)
                raise sqlite_error(self.path, e, doing, "the library database", LIBRARY_DAMAGED) from None

    # -- schema ------------------------------------------------------------------------
    def _migrate(self) -> None:
        with self._guard("read the schema version") as db:
            current = db.execute("PRAGMA user_version").fetchone()[0]
        for number, sql in _migrations():
            if number <= current:
                continue
            with self._guard(f"apply migration {number}") as db:
                db.execute("BEGIN IMMEDIATE")
                # re-check inside the write lock: another process may have migrated
                if db.execute("PRAGMA user_version").fetchone()[0] >= number:
                    db.execute("ROLLBACK")
                    continue
                for stmt in _split_sql(sql):
                    db.execute(stmt)
                db.execute(f"PRAGMA user_version = {number}")
                db.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        with self._guard("read the schema version") as db:
            return db.execute("PRAGMA user_version").fetchone()[0]

    def check(self) -> list[str]:
        """SQLite's ``PRAGMA integrity_check`` (its first 100 problems); where damage stops it
        altogether, the same check table by table, naming each damaged table."""
        with self._lock:
            try:
                problems = [str(r[0]) for r in self._db.execute("PRAGMA integrity_check(100)")]
                return [] if problems == ["ok"] else problems
            except sqlite3.Error as e:
                first = one_line(e)
            try:
                tables = [r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            except sqlite3.Error as e:
                return [f"the schema cannot be read: {one_line(e)}"]
            problems = []
            for table in sorted(tables):
                quoted = table.replace('"', '""')
                try:
                    rows = self._db.execute(f'PRAGMA integrity_check("{quoted}")').fetchall()
                except sqlite3.Error as e:
                    problems.append(f"table {table}: {one_line(e)}")
                    continue
                problems += [f"table {table}: {r[0]}" for r in rows if r[0] != "ok"]
            return problems or [first]

    # -- writes ------------------------------------------------------------------------
    def upsert(self, record: Record) -> None:
        if not record.id:
            raise ValueError("cannot store a record without a content id")
        d = record.to_dict()
        media = record.media
        scenes = record.scenes
        row = {
            "id": record.id,
            "record": json.dumps(d, ensure_ascii=False),
            "title": record.title,
            "duration": media.duration if media else None,
            "width": media.width if media else None,
            "height": media.height if media else None,
            "resolution": media.resolution if media else None,
            "video_codec": (media.video_codec or "").lower() or None if media else None,
            "has_audio": (1 if media.has_audio else 0) if media else None,
            "category": record.classification.category if record.classification else None,
            "scene_count": scenes.scene_count if scenes else None,
            "added_at": record.added_at,
            "updated_at": record.updated_at,
        }
        cols = ", ".join(row)
        marks = ", ".join(f":{k}" for k in row)
        updates = ", ".join(f"{k}=excluded.{k}" for k in row if k not in ("id", "added_at"))
        self._keep_file(record)
        with self._guard(f"store record {record.id[:12]}") as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute(f"INSERT INTO videos ({cols}) VALUES ({marks}) ON CONFLICT(id) DO UPDATE SET {updates}", row)
            db.execute("DELETE FROM video_tags WHERE video_id=?", (record.id,))
            db.executemany(
                "INSERT OR IGNORE INTO video_tags (video_id, name) VALUES (?, ?)",
                [(record.id, t.name.lower()) for t in record.tags],
            )
            db.execute("DELETE FROM video_sources WHERE video_id=?", (record.id,))
            db.executemany(
                "INSERT OR IGNORE INTO video_sources (video_id, input, url, path, domain) VALUES (?,?,?,?,?)",
                [(record.id, s.input, s.url, s.path, (s.domain or "").lower() or None) for s in record.sources],
            )
            rowid = db.execute("SELECT rowid FROM videos WHERE id=?", (record.id,)).fetchone()[0]
            db.execute("DELETE FROM videos_fts WHERE rowid=?", (rowid,))
            db.execute(
                "INSERT INTO videos_fts (rowid, title, description, tags, filename, sources, text) VALUES (?,?,?,?,?,?,?)",
                (rowid, *fts_fields(record)),
            )
            db.execute("COMMIT")

    def _keep_file(self, record: Record) -> None:
        """record.json first: the files always hold at least what the database holds."""
        if self.records_dir is None:
            return
        try:
            write_record_file(self.records_dir, record)
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                raise DiskFullError(self.records_dir.parent) from None
            raise StoreError(f"{self.records_dir}: cannot write record.json of {record.id}: {e}") from None

    def delete(self, id: str) -> bool:
        with self._guard(f"delete record {id[:12]}") as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM videos_fts WHERE rowid IN (SELECT rowid FROM videos WHERE id=?)", (id,))
            n = db.execute("DELETE FROM videos WHERE id=?", (id,)).rowcount
            db.execute("COMMIT")
        if n and self.records_dir is not None:
            remove_record_file(self.records_dir, id)
        return n > 0

    # -- reads -------------------------------------------------------------------------
    def get(self, id: str) -> Record | None:
        with self._guard(f"read record {id[:12]}") as db:
            row = db.execute("SELECT record FROM videos WHERE id=?", (id,)).fetchone()
            if row is None and len(id) >= 6 and re.fullmatch(r"[0-9a-fA-F]+", id):
                rows = db.execute("SELECT record FROM videos WHERE id LIKE ? LIMIT 2", (id.lower() + "%",)).fetchall()
                row = rows[0] if len(rows) == 1 else None
        return Record.from_json(row["record"]) if row else None

    def find_by_source(self, source: str) -> Record | None:
        with self._guard("look up a source") as db:
            row = db.execute(
                "SELECT v.record FROM video_sources s JOIN videos v ON v.id = s.video_id "
                "WHERE s.input=? OR s.url=? OR s.path=? LIMIT 1",
                (source, source, source),
            ).fetchone()
        return Record.from_json(row["record"]) if row else None

    def _where(self, q: Query) -> tuple[str, list[Any], bool]:
        where: list[str] = []
        args: list[Any] = []
        fts = False
        if q.text and q.text.strip():
            fts = True
            where.append("videos_fts MATCH ?")
            args.append(fts_query(q.text))
        for tag in q.tags:
            where.append("EXISTS (SELECT 1 FROM video_tags t WHERE t.video_id=v.id AND t.name=?)")
            args.append(tag.lower())
        if q.category:
            where.append("v.category = ? COLLATE NOCASE")
            args.append(q.category)
        for col, op, val in (
            ("duration", ">=", q.min_duration),
            ("duration", "<=", q.max_duration),
            ("height", ">=", q.min_height),
            ("height", "<=", q.max_height),
            ("scene_count", ">=", q.min_scenes),
            ("scene_count", "<=", q.max_scenes),
            ("added_at", ">=", q.added_after),
        ):
            if val is not None:
                where.append(f"v.{col} {op} ?")
                args.append(val)
        if q.added_before is not None:
            where.append("v.added_at < ?")
            args.append(q.added_before)
        if q.resolution:
            where.append("v.resolution = ? COLLATE NOCASE")
            args.append(q.resolution)
        if q.codec:
            where.append("v.video_codec = ?")
            args.append(q.codec.lower())
        if q.has_audio is not None:
            where.append("v.has_audio = ?")
            args.append(1 if q.has_audio else 0)
        if q.domain:
            d = q.domain.lower().strip(".")
            where.append(
                "EXISTS (SELECT 1 FROM video_sources s WHERE s.video_id=v.id AND (s.domain=? OR s.domain LIKE ?))"
            )
            args += [d, "%." + d]
        if q.ids is not None:
            where.append(f"v.id IN ({','.join('?' * len(q.ids)) or 'NULL'})")
            args += list(q.ids)
        return (" AND ".join(where) or "1"), args, fts

    def search(self, query: Query) -> list[Record]:
        where, args, fts = self._where(query)
        join = "JOIN videos_fts ON videos_fts.rowid = v.rowid" if fts else ""
        order = "videos_fts.rank, v.added_at DESC" if fts else "v.added_at DESC, v.id"
        sql = f"SELECT v.record FROM videos v {join} WHERE {where} ORDER BY {order}"
        if query.limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args += [query.limit, query.offset]
        elif query.offset:
            sql += " LIMIT -1 OFFSET ?"
            args.append(query.offset)
        with self._guard("search the library") as db:
            rows = db.execute(sql, args).fetchall()
        return [Record.from_json(r["record"]) for r in rows]

    def count(self, query: Query | None = None) -> int:
        where, args, fts = self._where(query or Query())
        join = "JOIN videos_fts ON videos_fts.rowid = v.rowid" if fts else ""
        with self._guard("count the library") as db:
            return db.execute(f"SELECT COUNT(*) FROM videos v {join} WHERE {where}", args).fetchone()[0]

    def ids(self) -> set[str]:
        """The content id of every stored record."""
        with self._guard("list the library") as db:
            return {r[0] for r in db.execute("SELECT id FROM videos")}

    def close(self) -> None:
        with self._lock:
            self._db.close()


def fts_fields(record: Record) -> tuple[str, str, str, str, str, str]:
    """title, description, tags, filename, sources, other text (OCR, answers, scenes)."""
    descs = [s.description for s in record.sources if s.description]
    a = record.analysis
    if a and a.description:
        descs.insert(0, a.description)
    sources = []
    for s in record.sources:
        sources += [s.input, s.url or "", s.domain or "", s.uploader or "", s.webpage_url or ""]
        sources += [str(v) for v in s.user_fields.values()]
    text: list[str] = []
    if a:
        text += [a.ocr_text or ""] + [f"{k} {v}" for k, v in a.answers.items()] + list(a.scene_descriptions.values())
    if record.media:
        text += [str(v) for v in record.media.tags.values()]
    if record.classification:
        text.append(record.classification.category)
    return (
        record.title,
        "\n".join(descs),
        " ; ".join(t.name for t in record.tags),
        record.file.name if record.file else "",
        " ".join(x for x in sources if x),
        "\n".join(x for x in text if x),
    )


def fts_query(text: str) -> str:
    """User text → FTS5 query: every word must appear (prefix match), no syntax errors."""
    words = re.findall(r"\w+", text, flags=re.UNICODE)
    return " AND ".join(f'"{w}"*' for w in words) or '""'


def _split_sql(sql: str) -> list[str]:
    return [
        s.strip()
        for s in sql.split(";\n")
        if s.strip() and not all(line.strip().startswith("--") or not line.strip() for line in s.strip().splitlines())
    ]


def open_sqlite(config: Config) -> SQLiteStore:
    return SQLiteStore(config.library / DB_NAME, records_dir=config.processed_dir)
