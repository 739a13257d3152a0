"""Nearest passages by embedding, for the SQLite store.

The vectors live in ``library.sqlite`` (``passages.vector``, float32, unit length), written in the
same transaction as their record: they are the truth. Scanning all of them for every query is too
slow for a large library (1.5 GB at a million 384-dimensional passages), so an index is derived
from them: the sign bits of every vector (48 bytes for 384 dimensions), kept in a file in the
folder ``library.vectors`` beside the library. A search scans the bits by Hamming distance (with
faiss's ``IndexBinaryFlat`` when ``faiss-cpu`` is installed, numpy otherwise: the same candidates,
slower) and ranks the best candidates again by their exact cosine read from ``library.sqlite``,
applying the filters there. When filters leave at most :data:`EXACT_UP_TO` passages they are
scanned exactly instead.

The index follows the library through the ``vector_changes`` log that triggers in
``library.sqlite`` fill (passage ids are never reused, so a changed vector is a deleted passage
and a new one). An index file is named after the library it was built for and the last change
it holds (``<library_id>-<seq>.npz``); a process loads the newest one and keeps the changes made
since in memory (new passages' bits are scanned as well, deleted ones drop out at the re-ranking).
Once :data:`REWRITE_AFTER` changes have piled up (or on :meth:`VectorIndex.sync`), one process at a
time (a ``flock``) writes a new file (a temporary file renamed into place: never half-written),
deletes the older ones and the applied part of the log; the other processes see the newer file and
load it. A missing, unreadable or foreign index (e.g. after ``videokit rebuild``) is rebuilt from
the library. Being derived, the folder can be deleted at any time.

With ``backend="exact"`` every search is the exact scan (tests compare the index with it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from videokit.errors import StoreError, one_line

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process writes at a time by convention
    fcntl = None  # type: ignore[assignment]

try:
    import faiss
except ImportError:  # pragma: no cover - exercised by the numpy scan test
    faiss = None

log = logging.getLogger(__name__)

EXACT_UP_TO = 5000  # filters leaving at most this many passages: exact search over them
MIN_CANDIDATES = 256  # Hamming candidates taken to the exact re-ranking, at least...
MAX_CANDIDATES = 4096  # ...and at most
OVERSAMPLE = 10  # candidates per passage wanted
REWRITE_AFTER = 5000  # changes kept in memory before a new index file is written
BATCH = 20_000  # rows per fetch when the index is built
BACKENDS = ("index", "exact")
_FILE = re.compile(r"^([0-9a-f]+)-(\d{12})\.npz$")


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


def sign_bits(vectors: np.ndarray) -> np.ndarray:
    """One bit per dimension (set where the number is positive), packed: ``(n, ceil(dim / 8))`` bytes."""
    return np.packbits(vectors > 0, axis=1)


class _Bits:
    """The packed sign bits of one model's passages and their ids, searchable by Hamming distance."""

    def __init__(self, ids: np.ndarray, bits: np.ndarray) -> None:
        self.ids = ids
        self.bits = bits
        self._faiss: Any = None
        if faiss is not None and len(ids):
            faiss.omp_set_num_threads(1)  # one query scans on one core: threads only wait for each other
            self._faiss = faiss.IndexBinaryFlat(bits.shape[1] * 8)
            self._faiss.add(bits)

    def nearest(self, q: np.ndarray, k: int) -> np.ndarray:
        """The ids of (at most) ``k`` entries nearest the packed query ``q``."""
        n = len(self.ids)
        if n == 0:
            return self.ids
        k = min(k, n)
        if self._faiss is not None:
            _, found = self._faiss.search(q.reshape(1, -1), k)
            return self.ids[found[0][found[0] >= 0]]
        distance = _popcount(self.bits ^ q)
        top = np.argpartition(distance, k - 1)[:k] if k < n else np.arange(n)
        return self.ids[top]


def _popcount(x: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x).sum(axis=1, dtype=np.int32)
    return np.unpackbits(x, axis=1).sum(axis=1, dtype=np.int32)  # pragma: no cover - numpy < 2


@dataclass(slots=True)
class _Loaded:
    """What a process holds of the index: a file's parts, and the changes made since in memory."""

    library_id: str
    seq: int  # the file holds every change up to this one
    parts: dict[str, _Bits]  # model -> its passages in the file
    tail: int = 0  # changes read from the log, up to this one
    changed: set[int] = field(default_factory=set)  # passages changed after seq
    added: dict[str, _Bits] = field(default_factory=dict)  # model -> passages added after seq
    unsaved: int = 0  # passages added or dropped in memory that no file holds yet (its writing failed)


class VectorIndex:
    """Nearest-passage search over ``library.sqlite``'s vectors (see the module docstring).
    ``backend``: ``"index"`` (the default) or ``"exact"``."""

    def __init__(self, library: Path, backend: str | None = None) -> None:
        if backend is not None and backend not in BACKENDS:
            raise ValueError(f"unknown vector backend {backend!r}")
        self.folder = library.with_name(library.stem + ".vectors")
        self.backend = backend or "index"
        self.driver = "faiss" if faiss is not None else "numpy"
        self._loaded: _Loaded | None = None
        self._built = 0  # vectors indexed from scratch (counted for sync())
        self._unwritable = False  # warned that the folder cannot be written
        self._lock = threading.RLock()

    @property
    def file(self) -> Path | None:
        """The index file in use (None before the first search or without one)."""
        if self._loaded is None:
            return None
        return self.folder / _name(self._loaded.library_id, self._loaded.seq)

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
        if self.backend == "exact" or (where != "1" and self._few(main, model, where, args)):
            return self._exact(main, q, dim, model, where, args, want)
        with self._lock:
            loaded = self._current(main)
            packed = sign_bits(q.reshape(1, -1))[0]
            k = min(max(want * OVERSAMPLE, MIN_CANDIDATES), MAX_CANDIDATES)
            while True:
                ids = _candidates(loaded, model, packed, k)
                hits = self._rerank(main, q, dim, model, ids, where, args)
                if len(hits) >= want or k >= MAX_CANDIDATES or len(ids) < k:
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
        while rows := cur.fetchmany(BATCH):
            ids += [r[0] for r in rows]
            videos += [r[1] for r in rows]
            scores.append(decode([r[2] for r in rows], dim) @ q)
        if not ids:
            return []
        return _best(np.array(ids), videos, np.concatenate(scores), want)

    def _rerank(
        self, main: sqlite3.Connection, q: np.ndarray, dim: int, model: str, ids: list[int], where: str, args: list[Any]
    ) -> list[Hit]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        join = "JOIN videos v ON v.id = p.video_id" if where != "1" else ""
        rows = main.execute(
            f"SELECT p.id, p.video_id, p.vector FROM passages p {join} "
            f"WHERE p.id IN ({marks}) AND +p.model = ? AND p.vector IS NOT NULL AND {where}",  # by id, not model
            [*ids, model, *args],
        ).fetchall()
        if not rows:
            return []
        scores = decode([r[2] for r in rows], dim) @ q
        return _best(np.array([r[0] for r in rows]), [r[1] for r in rows], scores, len(rows))

    # -- keeping up with the library -----------------------------------------------------------
    def sync(self, main: sqlite3.Connection) -> int:
        """Write an index file holding every change of the library now (when there is anything new);
        how many passages the new file added or dropped (every vector when built from scratch)."""
        if self.backend != "index":
            return 0
        with self._lock:
            self._built = 0
            loaded = self._current(main)
            touched = self._built
            if loaded.tail == loaded.seq and not loaded.unsaved:
                return touched
            touched += len(loaded.changed) + loaded.unsaved
            self._write(main, loaded, wait=True)
            return touched

    def _current(self, main: sqlite3.Connection) -> _Loaded:
        """The index as of the library's latest change: the newest file, and the changes after it."""
        library_id = main.execute("SELECT value FROM library_meta WHERE key = 'library_id'").fetchone()[0]
        loaded = self._loaded
        newest = self._newest(library_id)
        if loaded is None or loaded.library_id != library_id or (newest is not None and newest > loaded.seq):
            loaded = self._load(main, library_id, newest)
        if not self._catch_up(main, loaded):  # the log was pruned past what we hold: a newer file has it
            loaded = self._load(main, library_id, self._newest(library_id))
            if not self._catch_up(main, loaded):
                loaded = self._build(main, library_id)
        self._loaded = loaded
        if len(loaded.changed) > REWRITE_AFTER:
            self._write(main, loaded, wait=False)
        return self._loaded

    def _newest(self, library_id: str) -> int | None:
        try:
            names = os.listdir(self.folder)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:
            raise self._error(e, "read the vector index folder") from None
        seqs = [int(m[2]) for n in names if (m := _FILE.match(n)) and m[1] == library_id]
        return max(seqs, default=None)

    def _load(self, main: sqlite3.Connection, library_id: str, seq: int | None) -> _Loaded:
        if seq is None:
            return self._build(main, library_id)
        path = self.folder / _name(library_id, seq)
        try:
            with np.load(path, allow_pickle=False) as data:
                models = [str(m) for m in data["models"]]
                parts = {m: _Bits(data[f"ids{i}"], data[f"bits{i}"]) for i, m in enumerate(models)}
        except FileNotFoundError:  # replaced by a newer one meanwhile
            return self._load(main, library_id, self._newest(library_id))
        except (OSError, ValueError, KeyError) as e:
            log.warning("%s: unreadable (%s); rebuilding the vector index from the library", path, one_line(e))
            return self._build(main, library_id)
        return _Loaded(library_id, seq, parts, tail=seq)

    def _catch_up(self, main: sqlite3.Connection, loaded: _Loaded) -> bool:
        """Read the changes after ``loaded.tail`` into it; False when the log no longer has them."""
        rows = main.execute(
            "SELECT seq, passage_id FROM vector_changes WHERE seq > ? "
            "UNION ALL SELECT -seq, NULL FROM sqlite_sequence WHERE name = 'vector_changes' ORDER BY 1",
            (loaded.tail,),
        ).fetchall()
        last = -rows[0][0] if rows and rows[0][0] < 0 else 0  # the last change ever logged
        changes = [r for r in rows if r[0] > 0]
        if last <= loaded.tail:
            return True
        if not changes or changes[0][0] != loaded.tail + 1:
            return False
        ids = sorted({r[1] for r in changes})
        loaded.changed.update(ids)
        for model, part in _read_bits(main, "id IN ({})", ids).items():
            old = loaded.added.get(model)
            if old is not None:
                keep = ~np.isin(old.ids, part.ids)
                part = _Bits(np.concatenate([old.ids[keep], part.ids]), np.concatenate([old.bits[keep], part.bits]))
            loaded.added[model] = part
        loaded.tail = changes[-1][0]
        return True

    def _build(self, main: sqlite3.Connection, library_id: str) -> _Loaded:
        """The index from scratch, as of one snapshot of the library, written to its file."""
        own = not main.in_transaction
        if own:
            main.execute("BEGIN")
        try:
            row = main.execute("SELECT seq FROM sqlite_sequence WHERE name = 'vector_changes'").fetchone()
            seq = row[0] if row else 0
            parts = _read_bits(main, "1", [])
        finally:
            if own:
                main.execute("COMMIT")
        loaded = _Loaded(library_id, seq, parts, tail=seq)
        self._built += sum(len(p.ids) for p in parts.values())
        if not self._save(main, loaded, wait=True):
            loaded.unsaved = self._built
        for suffix in ("", "-wal", "-shm"):  # the sqlite-vec index of videokit <= 0.8, now unused
            with contextlib.suppress(OSError):
                self.folder.with_name(self.folder.name + ".sqlite" + suffix).unlink()
        return loaded

    def _write(self, main: sqlite3.Connection, loaded: _Loaded, *, wait: bool) -> None:
        """Fold the changes held in memory into the index, and write it as a new file (unless
        another process is writing one, or the folder cannot be written: then it stays in memory)."""
        parts: dict[str, _Bits] = {}
        gone = np.fromiter(loaded.changed, dtype=np.int64, count=len(loaded.changed))
        for model in set(loaded.parts) | set(loaded.added):
            old, new = loaded.parts.get(model), loaded.added.get(model)
            ids = [] if old is None else [old.ids[~np.isin(old.ids, gone)]]
            bits = [] if old is None else [old.bits[~np.isin(old.ids, gone)]]
            if new is not None:
                ids.append(new.ids)
                bits.append(new.bits)
            if ids and sum(len(i) for i in ids):
                parts[model] = _Bits(np.concatenate(ids), np.concatenate(bits))
        folded = _Loaded(loaded.library_id, loaded.tail, parts, tail=loaded.tail)
        if not self._save(main, folded, wait=wait):
            folded.unsaved = loaded.unsaved + len(loaded.changed)
        self._loaded = folded

    def _save(self, main: sqlite3.Connection, loaded: _Loaded, *, wait: bool) -> bool:
        """Write ``loaded`` as its file (temporary file, then renamed), delete the older files and the
        log it holds. False when another process holds the writer's lock and ``wait`` is False."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with _writer_lock(self.folder / "lock", wait) as got:
                if not got:
                    return False
                newest = self._newest(loaded.library_id)
                if newest is None or newest < loaded.seq:
                    models = sorted(loaded.parts)
                    arrays: dict[str, np.ndarray] = {"models": np.array(models, dtype=str)}
                    for i, m in enumerate(models):
                        arrays[f"ids{i}"] = loaded.parts[m].ids
                        arrays[f"bits{i}"] = loaded.parts[m].bits
                    fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".writing-", suffix=".npz")
                    try:
                        with os.fdopen(fd, "wb") as f:
                            np.savez(f, **arrays)
                            f.flush()
                            os.fsync(f.fileno())
                        os.replace(tmp, self.folder / _name(loaded.library_id, loaded.seq))
                    except BaseException:
                        with contextlib.suppress(OSError):
                            os.unlink(tmp)
                        raise
                for name in os.listdir(self.folder):  # older files, other libraries', dead writers' halves
                    m = _FILE.match(name)
                    if name.startswith(".writing-") or (m and (m[1] != loaded.library_id or int(m[2]) < loaded.seq)):
                        with contextlib.suppress(OSError):
                            os.unlink(self.folder / name)
                try:
                    main.execute("DELETE FROM vector_changes WHERE seq <= ?", (loaded.seq,))
                except sqlite3.Error as e:  # e.g. a library opened read-only: the log is only longer
                    log.debug("%s: the applied vector changes stay logged: %s", self.folder, one_line(e))
        except OSError as e:  # a read-only or full disk: searching goes on from memory
            if not self._unwritable:
                self._unwritable = True
                log.warning("%s: cannot write the vector index (%s); it is kept in memory", self.folder, one_line(e))
            return False
        return True

    def _error(self, e: BaseException, doing: str) -> StoreError:
        return StoreError(
            f"{self.folder}: cannot {doing}: {one_line(e)}; delete the folder to have it rebuilt from the library"
        )

    def close(self) -> None:
        self._loaded = None


def _name(library_id: str, seq: int) -> str:
    return f"{library_id}-{seq:012d}.npz"


@contextlib.contextmanager
def _writer_lock(path: Path, wait: bool) -> Iterator[bool]:
    with open(path, "a+b") as f:
        if fcntl is None:  # pragma: no cover
            yield True
            return
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _read_bits(main: sqlite3.Connection, where: str, ids: list[int]) -> dict[str, _Bits]:
    """The sign bits of the passages with a vector (all, or those of ``ids``), by model."""
    found: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}

    def take(rows: list[Any]) -> None:
        by_model: dict[str, list[Any]] = {}
        for r in rows:
            by_model.setdefault(r[1], []).append(r)
        for model, group in by_model.items():
            dim = len(group[0][2]) // 4
            same = [r for r in group if len(r[2]) == dim * 4]
            ids_, bits_ = found.setdefault(model, ([], []))
            ids_.append(np.array([r[0] for r in same], dtype=np.int64))
            bits_.append(sign_bits(decode([r[2] for r in same], dim)))

    sql = "SELECT id, model, vector FROM passages WHERE vector IS NOT NULL AND "
    if ids:
        for i in range(0, len(ids), 900):
            chunk = ids[i : i + 900]
            take(main.execute(sql + where.format(",".join("?" * len(chunk))), chunk).fetchall())
    elif where == "1":
        cur = main.execute(sql + "1 ORDER BY id")
        while rows := cur.fetchmany(BATCH):
            take(rows)
    return {m: _Bits(np.concatenate(i), np.concatenate(b)) for m, (i, b) in found.items()}


def _candidates(loaded: _Loaded, model: str, packed: np.ndarray, k: int) -> list[int]:
    ids: list[np.ndarray] = []
    for parts in (loaded.parts, loaded.added):
        part = parts.get(model)
        if part is not None and len(part.ids) and len(part.bits[0]) == len(packed):
            ids.append(part.nearest(packed, k))
    return np.unique(np.concatenate(ids)).tolist() if ids else []


def _best(ids: np.ndarray, videos: list[str], scores: np.ndarray, want: int) -> list[Hit]:
    if len(scores) > want:
        top = np.argpartition(-scores, want - 1)[:want]
    else:
        top = np.arange(len(scores))
    order = sorted(top.tolist(), key=lambda i: (-float(scores[i]), int(ids[i])))
    return [Hit(int(ids[i]), videos[i], float(scores[i])) for i in order]
