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

import dataclasses
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

import numpy as np

from videokit.errors import DamagedStoreError, DiskFullError, StoreError, UsageError, one_line
from videokit.index.fuse import best_per_group, cap_per_video, rrf
from videokit.record import Embeddings, Record
from videokit.store.base import MOMENTS_PER_VIDEO, Moment, Query, Store, record_passages
from videokit.store.recordfiles import remove_record_file, write_record_file
from videokit.store.sqlite_vectors import MAX_CANDIDATES as MAX_PASSAGES
from videokit.store.sqlite_vectors import Hit, VectorIndex, encode

if TYPE_CHECKING:
    from videokit.config import Config

DB_NAME = "library.sqlite"
LIBRARY_DAMAGED = (
    "run 'videokit check' to see what is damaged and 'videokit rebuild' to recreate it from the record.json files"
)
POOL = 50  # the results of a semantic or hybrid search without a limit: the best this many
TEXT_RANKED = 10_000  # a hybrid search ranks by BM25 at most this many text matches, the newest
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
    each record is also kept as ``<records_dir>/<id>/record.json``. Passages (and their vectors)
    are kept for moments and semantic search; ``vectors`` picks the vector search
    (:mod:`videokit.store.sqlite_vectors`: ``"index"``, the default, or ``"exact"``)."""

    vector_search = True

    def __init__(self, path: str | Path, records_dir: Path | None = None, *, vectors: str | None = None) -> None:
        self.path = Path(path)
        self.records_dir = records_dir
        self._db = connect(self.path, "the library database", LIBRARY_DAMAGED)
        self._lock = threading.RLock()
        self._migrate()
        self.vectors = VectorIndex(self.path, vectors)

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
        embedded = record.embeddings  # with the vectors, when the embed stage just made them
        with self._guard(f"read record {record.id[:12]}") as db:
            old = db.execute("SELECT embed_model, embed_digest FROM videos WHERE id=?", (record.id,)).fetchone()
        keep = _keeps_vectors(embedded, old)
        record = as_stored(record, keep)
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
            "embed_model": None,
            "embed_digest": None,
        }
        cols = ", ".join(row)
        marks = ", ".join(f":{k}" for k in row)
        updates = ", ".join(f"{k}=excluded.{k}" for k in row if k not in ("id", "added_at"))
        self._keep_file(record)
        with self._guard(f"store record {record.id[:12]}") as db:
            db.execute("BEGIN IMMEDIATE")
            row["embed_model"], row["embed_digest"] = (old[0], old[1]) if keep else _embedded_as(embedded)
            db.execute(f"INSERT INTO videos ({cols}) VALUES ({marks}) ON CONFLICT(id) DO UPDATE SET {updates}", row)
            if not keep:
                db.execute("DELETE FROM passages WHERE video_id=?", (record.id,))
                db.executemany(
                    'INSERT INTO passages (video_id, kind, ref, text, start, "end", model, vector) '
                    "VALUES (?,?,?,?,?,?,?,?)",
                    _passage_rows(record.id, embedded, record),
                )
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
            db.execute("DELETE FROM passages WHERE video_id=?", (id,))
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

    def _where(self, q: Query, text: bool = True) -> tuple[str, list[Any], bool]:
        """SQL over ``videos v`` for every filter of ``q`` (its text too, with ``text``)."""
        where: list[str] = []
        args: list[Any] = []
        fts = False
        if text and q.text and q.text.strip():
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
        self.require_vectors(query)
        if (query.mode or "text") != "text":
            return self._search_by_meaning(query)
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

    # -- search by meaning, moments, similar videos --------------------------------------------
    def _search_by_meaning(self, query: Query) -> list[Record]:
        vector, model = _query_vector(query)
        want = _pool(query)
        where, args, _ = self._where(query, text=False)
        rankings: list[list[str]] = []
        with self._guard("search the library") as db:
            if query.mode == "hybrid" and query.text and query.text.strip():
                rankings.append(self._text_ranking(db, query, want))
            nearest = self._nearest_videos(db, vector, model, where, args, want)
            floor = query.min_score
            rankings.append([video for video, score in nearest if floor is None or score >= floor])
        ranked = rrf(rankings) if len(rankings) > 1 else [(v, 0.0) for v in rankings[0]]
        end = None if query.limit is None else query.offset + query.limit
        return self._records([v for v, _ in ranked[query.offset : end]])

    def _text_ranking(self, db: sqlite3.Connection, query: Query, want: int) -> list[str]:
        """The text side of a hybrid search: BM25 order, among the newest ``TEXT_RANKED`` matches."""
        where, args, _ = self._where(query)
        since = _newest_matches(db, "videos_fts", fts_query(query.text or ""))
        sql = (
            "SELECT v.id FROM videos v JOIN videos_fts ON videos_fts.rowid = v.rowid "
            f"WHERE {where} AND videos_fts.rowid >= ? ORDER BY videos_fts.rank, v.added_at DESC LIMIT ?"
        )
        return [r[0] for r in db.execute(sql, [*args, since, want])]

    def _records(self, ids: list[str]) -> list[Record]:
        if not ids:
            return []
        with self._guard("read records") as db:
            rows = db.execute(f"SELECT id, record FROM videos WHERE id IN ({','.join('?' * len(ids))})", ids)
            found = {r[0]: r[1] for r in rows}
        return [Record.from_json(found[i]) for i in ids if i in found]

    def moments(self, query: Query) -> list[Moment]:
        self.require_vectors(query)
        mode = query.mode or "text"
        words = bool(query.text and re.search(r"\w", query.text))
        if mode == "text" and not words:
            raise UsageError("moments need a query text; give the words to look for")
        want = _pool(query)
        where, args, _ = self._where(query, text=False)
        rankings: list[list[int]] = []
        scores: dict[int, float] = {}
        with self._guard("search the library") as db:
            if mode != "semantic" and words:
                match = fts_query(query.text or "")
                since = _newest_matches(db, "passages_fts", match) if mode == "hybrid" else 0
                rows = db.execute(
                    "SELECT p.id, passages_fts.rank FROM passages_fts JOIN passages p ON p.id = passages_fts.rowid "
                    f"JOIN videos v ON v.id = p.video_id WHERE passages_fts MATCH ? AND passages_fts.rowid >= ? "
                    f"AND {where} ORDER BY passages_fts.rank, p.id LIMIT ?",
                    [match, since, *args, want],
                ).fetchall()
                rankings.append([r[0] for r in rows])
                scores.update({r[0]: -float(r[1]) for r in rows})
            if mode != "text":
                vector, model = _query_vector(query)
                hits = self._nearest_passages(db, vector, model, where, args, want)
                hits = [h for h in hits if query.min_score is None or h.score >= query.min_score]
                rankings.append([h.passage_id for h in hits])
                scores.update({h.passage_id: h.score for h in hits})
            ranked = rrf(rankings) if len(rankings) > 1 else [(p, scores[p]) for p in rankings[0]]
            found = self._moments(db, ranked)
        found = cap_per_video(found, MOMENTS_PER_VIDEO)
        end = None if query.limit is None else query.offset + query.limit
        return found[query.offset : end]

    def _moments(self, db: sqlite3.Connection, ranked: list[tuple[int, float]]) -> list[Moment]:
        if not ranked:
            return []
        ids = [p for p, _ in ranked]
        rows = db.execute(
            'SELECT p.id, p.video_id, p.kind, p.ref, p.text, p.start, p."end", v.title FROM passages p '
            f"JOIN videos v ON v.id = p.video_id WHERE p.id IN ({','.join('?' * len(ids))})",
            ids,
        ).fetchall()
        by_id = {r[0]: r for r in rows}
        return [
            Moment(r[1], r[2], r[3], r[4], score, r[5], r[6], r[7])
            for p, score in ranked
            if (r := by_id.get(p)) is not None
        ]

    def similar(self, id: str, query: Query | None = None) -> list[tuple[Record, float]]:
        q = query or Query()
        target = self.get(id)
        if target is None or not target.id:
            return []
        with self._guard("search the library") as db:
            rows = db.execute(
                "SELECT model, vector FROM passages WHERE video_id=? AND vector IS NOT NULL", (target.id,)
            ).fetchall()
            if not rows:
                return []
            models = [r[0] for r in rows]
            model = max(set(models), key=models.count)
            vectors = [np.frombuffer(r[1], dtype="<f4") for r in rows if r[0] == model]
            mean = np.mean(np.stack(vectors), axis=0)
            where, args, _ = self._where(q, text=False)
            want = _pool(q)
            ranked = self._nearest_videos(
                db, mean.tolist(), model, f"({where}) AND v.id != ?", [*args, target.id], want
            )
        end = None if q.limit is None else q.offset + q.limit
        page = ranked[q.offset : end]
        records = {r.id: r for r in self._records([v for v, _ in page])}
        return [(records[v], score) for v, score in page if v in records]

    def _nearest_videos(
        self, db: sqlite3.Connection, vector: list[float], model: str, where: str, args: list[Any], need: int
    ) -> list[tuple[str, float]]:
        """At least ``need`` videos (where there are) by their passage nearest ``vector``, best first:
        more passages are asked for while a few videos hold all the nearest ones."""
        want = need * 3
        while True:
            hits = self.vectors.nearest(db, vector, model, where, args, want)
            ranked = best_per_group(((h.video_id, h.score) for h in hits), str)
            if len(ranked) >= need or len(hits) < want or want >= MAX_PASSAGES:
                return ranked
            want = min(want * 4, MAX_PASSAGES)

    def _nearest_passages(
        self, db: sqlite3.Connection, vector: list[float], model: str, where: str, args: list[Any], need: int
    ) -> list[Hit]:
        """The passages nearest ``vector``, enough for ``need`` moments at most a few per video."""
        want = need
        while True:
            hits = self.vectors.nearest(db, vector, model, where, args, want)
            if len(cap_per_video(hits, MOMENTS_PER_VIDEO)) >= need or len(hits) < want or want >= MAX_PASSAGES:
                return hits
            want = min(want * 4, MAX_PASSAGES)

    def with_vectors(self, record: Record) -> Record:
        e = record.embeddings
        if e is None or not record.id:
            return record
        with self._guard(f"read record {record.id[:12]}") as db:
            kept = db.execute("SELECT embed_model, embed_digest FROM videos WHERE id=?", (record.id,)).fetchone()
            if kept is None or (kept[0], kept[1]) != (e.model, e.digest):
                return record
            rows = db.execute("SELECT vector FROM passages WHERE video_id=? ORDER BY id", (record.id,)).fetchall()
        if len(rows) != len(e.passages):
            return record
        passages = [
            dataclasses.replace(p, vector=np.frombuffer(r[0], dtype="<f4").tolist() if r[0] is not None else None)
            for p, r in zip(e.passages, rows, strict=True)
        ]
        return dataclasses.replace(record, embeddings=dataclasses.replace(e, passages=passages))

    def has_vectors(self) -> bool:
        with self._guard("read the library") as db:
            return db.execute("SELECT 1 FROM videos WHERE embed_model IS NOT NULL LIMIT 1").fetchone() is not None

    def vector_models(self) -> list[str]:
        with self._guard("read the library") as db:
            rows = db.execute("SELECT DISTINCT embed_model FROM videos WHERE embed_model IS NOT NULL")
            return sorted(r[0] for r in rows)

    def index_vectors(self) -> int:
        """Bring the vector index up to date with the library now (else the next search does);
        how many passages it touched."""
        with self._guard("update the vector index") as db:
            return self.vectors.sync(db)

    def ids(self) -> set[str]:
        """The content id of every stored record."""
        with self._guard("list the library") as db:
            return {r[0] for r in db.execute("SELECT id FROM videos")}

    def close(self) -> None:
        with self._lock:
            self.vectors.close()
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
    if record.transcript is not None:
        text.append(record.transcript.text)
    present = "\n".join(text)  # a transcript chunk is part of the transcript: not twice
    text += [p.text for p in record_passages(record) if p.kind != "title" and p.text not in present]
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


def as_stored(record: Record, keeps_vectors: bool) -> Record:
    """``record`` as its JSON is kept: without the vectors (they go to the index), and without
    embeddings that have no vectors behind them (e.g. a record.json read back by ``videokit
    rebuild``), so that ``videokit reindex`` sees them missing. A copy; ``record`` is unchanged."""
    e = record.embeddings
    if e is None or keeps_vectors:
        return record
    if not _has_vectors(e):
        return dataclasses.replace(record, embeddings=None)
    passages = [dataclasses.replace(p, vector=None) for p in e.passages]
    return dataclasses.replace(record, embeddings=dataclasses.replace(e, passages=passages))


def _has_vectors(embedded: Embeddings | None) -> bool:
    return embedded is not None and any(p.vector is not None for p in embedded.passages)


def _keeps_vectors(embedded: Embeddings | None, old: Any) -> bool:
    """A record read back (its embeddings without vectors) and saved again keeps the vectors
    stored for it, as long as they were made by the same model from the same texts."""
    return (
        embedded is not None
        and not _has_vectors(embedded)
        and old is not None
        and old[0] is not None
        and (old[0], old[1]) == (embedded.model, embedded.digest)
    )


def _embedded_as(embedded: Embeddings | None) -> tuple[str | None, str | None]:
    return (embedded.model, embedded.digest) if embedded is not None and _has_vectors(embedded) else (None, None)


def _passage_rows(video_id: str, embedded: Embeddings | None, record: Record) -> list[tuple[Any, ...]]:
    items = embedded.passages if embedded is not None else record_passages(record)
    rows = []
    for p in items:
        vector = None
        if embedded is not None and p.vector is not None:
            if len(p.vector) != embedded.dim:
                raise StoreError(
                    f"record {video_id[:12]}: a {p.kind} passage's vector has {len(p.vector)} numbers, "
                    f"not the {embedded.dim} of {embedded.model}; run 'videokit reindex'"
                )
            vector = encode(p.vector)
        rows.append((video_id, p.kind, p.ref, p.text, p.start, p.end, embedded.model if vector else None, vector))
    return rows


def _newest_matches(db: sqlite3.Connection, table: str, match: str) -> int:
    """The smallest rowid among the newest ``TEXT_RANKED`` rows of ``table`` matching ``match`` (0:
    fewer match). BM25 scores every match, which costs about 1.5 µs a row: a hybrid search of words
    found in more rows ranks only the newest of them by BM25 (the vector ranking still sees every
    video). A word in more than half the rows weighs almost nothing in BM25 anyway (FTS5 floors its IDF)."""
    row = db.execute(
        f"SELECT rowid FROM {table} WHERE {table} MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?",
        (match, TEXT_RANKED - 1),
    ).fetchone()
    return 0 if row is None else int(row[0])


def _query_vector(query: Query) -> tuple[list[float], str]:
    if query.vector is None or not query.vector_model:
        raise UsageError(f"{query.mode} search needs the query's embedding (Query.vector and Query.vector_model)")
    return query.vector, query.vector_model


def _pool(query: Query) -> int:
    """How many results a ranking must bring: those asked for (all of the first page and those before)."""
    return query.offset + (query.limit if query.limit is not None else POOL)


def _split_sql(sql: str) -> list[str]:
    return [
        s.strip()
        for s in sql.split(";\n")
        if s.strip() and not all(line.strip().startswith("--") or not line.strip() for line in s.strip().splitlines())
    ]


def open_sqlite(config: Config) -> SQLiteStore:
    return SQLiteStore(config.library / DB_NAME, records_dir=config.processed_dir)
