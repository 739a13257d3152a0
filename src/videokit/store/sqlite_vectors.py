"""Nearest passages by embedding, for the SQLite store.

The vectors themselves live in ``library.sqlite`` (``passages.vector``, float32, unit length),
written in the same transaction as their record: they are the truth. Searching all of them exactly
is too slow for a large library, so an index sits beside it, ``library.vectors.sqlite``: the sign
bits of every vector in a sqlite-vec ``vec0`` table (48 bytes for 384 dimensions), searched by
Hamming distance (``MATCH ... AND k = ?``), whose best candidates are then ranked again by their
exact cosine from ``library.sqlite``. Python's own ``sqlite3`` cannot load extensions, so that file
is opened with ``pysqlite3`` (or ``apsw``): a second SQLite library in the process, which is why it
is a separate file (two SQLite libraries must never open the same file in one process).

The index follows the library through the ``vector_changes`` log that triggers in
``library.sqlite`` fill: before each search the changes it has not applied yet are applied (a
library it has never seen, e.g. after ``videokit rebuild``, is indexed from scratch). Being derived,
it can be deleted at any time. Without ``pysqlite3``/``apsw`` (or with ``backend="numpy"``) every
search is an exact numpy scan of the vectors in ``library.sqlite``: the same answers, slower.

When filters leave few passages (:data:`EXACT_UP_TO`), they are searched exactly whatever the backend.
"""

from __future__ import annotations

import importlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from videokit.errors import StoreError, one_line

log = logging.getLogger(__name__)

EXACT_UP_TO = 5000  # filters leaving at most this many passages: exact search over them
MIN_CANDIDATES = 64  # Hamming candidates asked of the index, at least...
MAX_CANDIDATES = 4096  # ...and at most (sqlite-vec's own limit on k)
BATCH = 2000  # rows per statement when the index is filled
BACKENDS = ("sqlite-vec", "numpy")

_warned = threading.Event()


@dataclass(slots=True, frozen=True)
class Hit:
    """A passage near the query: its row id in ``passages``, its video, its cosine similarity."""

    passage_id: int
    video_id: str
    score: float


def encode(vector: list[float] | np.ndarray) -> bytes:
    """A vector as stored: float32 little-endian, scaled to unit length (a zero vector as is)."""
    v = np.asarray(vector, dtype="<f4")
    n = float(np.linalg.norm(v))
    return (v / n if n > 0 else v).astype("<f4").tobytes()


def decode(blobs: list[bytes], dim: int) -> np.ndarray:
    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dim)


def _extension_connect() -> tuple[str, Callable[[Path], Any]] | None:
    """A way to open a SQLite file that can load sqlite-vec, and its name; None when there is none."""
    try:
        import sqlite_vec
    except ImportError:
        return None
    try:
        dbapi2 = importlib.import_module("pysqlite3.dbapi2")

        def with_pysqlite3(path: Path) -> Any:
            db = dbapi2.connect(str(path), timeout=30, check_same_thread=False, isolation_level=None)
            db.enable_load_extension(True)
            sqlite_vec.load(db)
            db.enable_load_extension(False)
            return db

        return "pysqlite3", with_pysqlite3
    except ImportError:
        pass
    try:
        apsw = importlib.import_module("apsw")
    except ImportError:
        return None

    def with_apsw(path: Path) -> Any:
        db = apsw.Connection(str(path))
        db.setbusytimeout(30_000)
        db.enable_load_extension(True)
        sqlite_vec.load(db)
        db.enable_load_extension(False)
        return db

    return "apsw", with_apsw


def _driver_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [sqlite3.Error]
    for name, attr in (("pysqlite3.dbapi2", "Error"), ("apsw", "Error")):
        try:
            errors.append(getattr(importlib.import_module(name), attr))
        except ImportError:
            continue
    return tuple(errors)


class VectorIndex:
    """Nearest-passage search over ``library.sqlite``'s vectors (see the module docstring).
    ``backend``: ``"sqlite-vec"``, ``"numpy"`` (exact), or None (sqlite-vec when it can load)."""

    def __init__(self, library: Path, backend: str | None = None) -> None:
        if backend is not None and backend not in BACKENDS:
            raise ValueError(f"unknown vector backend {backend!r}")
        self.path = library.with_name(library.stem + ".vectors" + library.suffix)
        connect = _extension_connect() if backend != "numpy" else None
        if connect is None and backend == "sqlite-vec":
            raise StoreError("the sqlite-vec index needs pysqlite3-binary or apsw; install videokit[search]")
        if connect is None and backend is None and not _warned.is_set():
            _warned.set()
            log.warning(
                "neither pysqlite3 nor apsw can be imported: semantic search scans every vector exactly "
                "(correct, slower on large libraries); install videokit[search] for the sqlite-vec index"
            )
        self.backend = "sqlite-vec" if connect is not None else "numpy"
        self.driver = connect[0] if connect else None
        self._connect = connect[1] if connect else None
        self._db: Any = None
        self._errors = _driver_errors()

    # -- search --------------------------------------------------------------------------------
    def nearest(
        self,
        main: sqlite3.Connection,
        vector: list[float],
        model: str,
        where: str = "1",
        args: list[Any] | None = None,
        want: int = 100,
    ) -> list[Hit]:
        """The ``want`` passages (of videos ``videos v`` passing ``where``) nearest ``vector``
        among those embedded with ``model``, best first (ties: older passage first)."""
        args = list(args or [])
        dim = self._dim(main, model)
        if dim is None:
            return []
        if len(vector) != dim:
            raise StoreError(
                f"the query's embedding has {len(vector)} numbers but the library's vectors of {model} have {dim}; "
                "embed the query with the same model"
            )
        q = np.frombuffer(encode(vector), dtype="<f4")
        filtered = where != "1"
        if self.backend == "numpy" or (filtered and self._few(main, model, where, args)) or dim % 8:
            return self._exact(main, q, dim, model, where, args, want)
        self.sync(main)
        k = min(max(want, MIN_CANDIDATES), MAX_CANDIDATES)
        while True:
            ids = self._candidates(q, dim, model, k)
            hits = self._rerank(main, q, dim, model, ids, where, args)
            if len(ids) < k or len(hits) >= want or k >= MAX_CANDIDATES:
                return hits[:want]
            k = min(k * 4, MAX_CANDIDATES)

    def _dim(self, main: sqlite3.Connection, model: str) -> int | None:
        row = main.execute(
            "SELECT length(vector) FROM passages WHERE model = ? AND vector IS NOT NULL LIMIT 1", (model,)
        ).fetchone()
        return None if row is None else row[0] // 4

    def _few(self, main: sqlite3.Connection, model: str, where: str, args: list[Any]) -> bool:
        n = main.execute(
            "SELECT count(*) FROM (SELECT 1 FROM passages p JOIN videos v ON v.id = p.video_id "
            f"WHERE p.model = ? AND p.vector IS NOT NULL AND {where} LIMIT ?)",
            [model, *args, EXACT_UP_TO + 1],
        ).fetchone()[0]
        return n <= EXACT_UP_TO

    def _exact(
        self, main: sqlite3.Connection, q: np.ndarray, dim: int, model: str, where: str, args: list[Any], want: int
    ) -> list[Hit]:
        join = "JOIN videos v ON v.id = p.video_id" if where != "1" else ""
        ids: list[int] = []
        videos: list[str] = []
        scores: list[np.ndarray] = []
        cur = main.execute(
            f"SELECT p.id, p.video_id, p.vector FROM passages p {join} "
            f"WHERE p.model = ? AND p.vector IS NOT NULL AND {where}",
            [model, *args],
        )
        while rows := cur.fetchmany(20_000):
            ids += [r[0] for r in rows]
            videos += [r[1] for r in rows]
            scores.append(decode([r[2] for r in rows], dim) @ q)
        if not ids:
            return []
        return _best(np.array(ids), videos, np.concatenate(scores), want)

    def _candidates(self, q: np.ndarray, dim: int, model: str, k: int) -> list[int]:
        bits = np.packbits(q > 0).tobytes()
        try:
            rows = (
                self._acc()
                .execute(
                    f"SELECT pid FROM bits_{dim} WHERE v MATCH vec_bit(?) AND k = ? AND model = ?", (bits, k, model)
                )
                .fetchall()
            )
        except self._errors as e:
            if "no such table" in str(e):
                return []
            raise self._error(e, "search the vector index") from None
        return [r[0] for r in rows]

    def _rerank(
        self, main: sqlite3.Connection, q: np.ndarray, dim: int, model: str, ids: list[int], where: str, args: list[Any]
    ) -> list[Hit]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        join = "JOIN videos v ON v.id = p.video_id" if where != "1" else ""
        rows = main.execute(
            f"SELECT p.id, p.video_id, p.vector FROM passages p {join} "
            f"WHERE p.id IN ({marks}) AND p.model = ? AND p.vector IS NOT NULL AND {where}",
            [*ids, model, *args],
        ).fetchall()
        if not rows:
            return []
        scores = decode([r[2] for r in rows], dim) @ q
        return _best(np.array([r[0] for r in rows]), [r[1] for r in rows], scores, len(rows))

    # -- keeping up with the library -----------------------------------------------------------
    def sync(self, main: sqlite3.Connection) -> int:
        """Apply the library's vector changes the index has not seen; how many passages it touched."""
        if self.backend != "sqlite-vec":
            return 0
        library_id = main.execute("SELECT value FROM library_meta WHERE key = 'library_id'").fetchone()[0]
        row = main.execute("SELECT seq FROM sqlite_sequence WHERE name = 'vector_changes'").fetchone()
        last = row[0] if row else 0
        try:
            acc = self._acc()
            if self._state(acc) == (library_id, last):
                return 0
            acc.execute("BEGIN IMMEDIATE")
            try:
                touched = self._apply(acc, main, library_id, last)
                acc.execute("COMMIT")
            except BaseException:
                acc.execute("ROLLBACK")
                raise
        except self._errors as e:
            raise self._error(e, "update the vector index") from None
        return touched

    def _state(self, acc: Any) -> tuple[str | None, int]:
        state = dict(acc.execute("SELECT key, value FROM state").fetchall())
        return state.get("library_id"), int(state.get("applied", 0))

    def _apply(self, acc: Any, main: sqlite3.Connection, library_id: str, last: int) -> int:
        seen, applied = self._state(acc)
        if seen == library_id and applied >= last:
            return 0
        if seen != library_id or applied == 0:  # never indexed, or another library: from scratch
            for table in self._tables(acc):
                acc.execute(f"DROP TABLE {table}")
            touched = 0
            for batch in _batches(main.execute("SELECT id, model, vector FROM passages WHERE vector IS NOT NULL")):
                touched += self._insert(acc, batch)
        else:
            changed = [
                r[0]
                for r in main.execute(
                    "SELECT DISTINCT passage_id FROM vector_changes WHERE seq > ? AND seq <= ?", (applied, last)
                )
            ]
            tables = self._tables(acc)
            touched = 0
            for i in range(0, len(changed), BATCH):
                chunk = changed[i : i + BATCH]
                marks = ",".join("?" * len(chunk))
                for table in tables:
                    acc.execute(f"DELETE FROM {table} WHERE pid IN ({marks})", chunk)
                rows = main.execute(
                    f"SELECT id, model, vector FROM passages WHERE id IN ({marks}) AND vector IS NOT NULL", chunk
                ).fetchall()
                touched += len(chunk)
                self._insert(acc, rows)
        acc.execute(
            "INSERT OR REPLACE INTO state (key, value) VALUES ('library_id', ?), ('applied', ?)",
            (library_id, str(last)),
        )
        return touched

    def _tables(self, acc: Any) -> list[str]:
        rows = acc.execute("SELECT name FROM sqlite_master WHERE name GLOB 'bits_*' AND sql LIKE 'CREATE VIRTUAL%'")
        return [r[0] for r in rows.fetchall()]

    def _insert(self, acc: Any, rows: list[Any]) -> int:
        by_dim: dict[int, list[Any]] = {}
        for r in rows:
            by_dim.setdefault(len(r[2]) // 4, []).append(r)
        for dim, group in by_dim.items():
            if dim % 8:
                continue  # sign bits need whole bytes: these are searched exactly
            acc.execute(
                f"CREATE VIRTUAL TABLE IF NOT EXISTS bits_{dim} USING vec0("
                f"pid INTEGER PRIMARY KEY, model TEXT PARTITION KEY, v BIT[{dim}])"
            )
            bits = np.packbits(decode([r[2] for r in group], dim) > 0, axis=1)
            acc.executemany(
                f"INSERT INTO bits_{dim} (pid, model, v) VALUES (?, ?, vec_bit(?))",
                [(r[0], r[1], bits[i].tobytes()) for i, r in enumerate(group)],
            )
        return len(rows)

    def prune(self, main: sqlite3.Connection) -> None:
        """Forget the changes the index has applied (the log only grows otherwise)."""
        if self.backend != "sqlite-vec" or self._db is None:
            return
        _, applied = self._state(self._db)
        if applied:
            main.execute("DELETE FROM vector_changes WHERE seq <= ?", (applied,))

    # -- the index file ------------------------------------------------------------------------
    def _acc(self) -> Any:
        if self._db is None:
            assert self._connect is not None
            try:
                db = self._connect(self.path)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            except self._errors as e:
                raise self._error(e, "open the vector index") from None
            self._db = db
        return self._db

    def _error(self, e: BaseException, doing: str) -> StoreError:
        return StoreError(
            f"{self.path}: cannot {doing}: {one_line(e)}; delete the file to have it rebuilt from the library"
        )

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _best(ids: np.ndarray, videos: list[str], scores: np.ndarray, want: int) -> list[Hit]:
    if len(scores) > want:
        top = np.argpartition(-scores, want - 1)[:want]
    else:
        top = np.arange(len(scores))
    order = sorted(top.tolist(), key=lambda i: (-float(scores[i]), int(ids[i])))
    return [Hit(int(ids[i]), videos[i], float(scores[i])) for i in order]


def _batches(cur: sqlite3.Cursor) -> Iterator[list[Any]]:
    while rows := cur.fetchmany(BATCH):
        yield rows
