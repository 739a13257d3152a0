"""The job ledger: what happened to every input of every batch, in ``<library>/ledger.sqlite``.

One row per input (its spec: URL or absolute path) with the overall status, the settings hash
it was processed with, attempts, the last error and its kind (``transient`` is worth retrying:
network, 5xx, timeouts; ``permanent`` is not: 404, not a video, corrupt), the record id, and
the record as it stood after the last finished phase (so a killed run resumes there). One row
per input and stage holds that stage's status and seconds.

Job status: ``pending`` (known, not started or not yet sent to a broker), ``queued`` (sent to
the broker), ``running``, ``done``, ``failed``. Every change is one SQLite transaction in WAL
mode, so a SIGKILL at any moment leaves the previous or the next state, never half of one.

No secret is kept in ``ledger.sqlite``: an input that holds one (``user:password@``, a
``token`` or ``X-Amz-Signature`` query value) is stored there as its redacted form plus a random
tag (``https://***@host/v.mp4?token=*** #secret:1f2e…``), and the whole input, which ``retry``
and a resumed run need, only in ``ledger.private.sqlite`` beside it, a file only its owner can
read (0600). Errors and partial records are stored redacted. The callers of :class:`Ledger`
always deal in whole inputs; :attr:`Job.shown` is the form to print.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videokit.errors import StoreError
from videokit.net import redact_input, redact_text
from videokit.record import Record, Segment, utcnow
from videokit.store.sqlite import connect, rollback, sqlite_error

if TYPE_CHECKING:
    from videokit.config import Config
    from videokit.inputs import InputItem

LEDGER_NAME = "ledger.sqlite"
LEDGER_DAMAGED = "move it aside to start afresh (stored videos stay in the library)"
STATUSES = ("pending", "queued", "running", "done", "failed")
PRIVATE_NAME = "ledger.private.sqlite"  # the whole inputs that hold a secret; owner-only (0600)
_HIDDEN_KEY = re.compile(r" #secret:[0-9a-f]{16}\Z")  # the ledger key of an input kept in the private file

_SCHEMA: list[tuple[int, list[str | Callable[[Ledger], None]]]] = [
    # (version, statements)
    (
        1,
        [
            """CREATE TABLE jobs (
                spec TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                user_fields TEXT NOT NULL DEFAULT '{}',
                via TEXT NOT NULL DEFAULT 'local',
                status TEXT NOT NULL DEFAULT 'pending',
                settings_hash TEXT,
                stage TEXT,
                attempts INTEGER NOT NULL DEFAULT 0,
                error TEXT,
                error_kind TEXT,
                error_stage TEXT,
                record_id TEXT,
                partial TEXT,
                priority TEXT,
                worker TEXT,
                task_id TEXT,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            "CREATE INDEX jobs_status ON jobs(status)",
            """CREATE TABLE job_stages (
                spec TEXT NOT NULL REFERENCES jobs(spec) ON DELETE CASCADE,
                stage TEXT NOT NULL,
                status TEXT NOT NULL,
                seconds REAL,
                updated_at TEXT NOT NULL,
                PRIMARY KEY (spec, stage)
            )""",
        ],
    ),
    (2, [lambda ledger: ledger._hide_inputs()]),
    (3, [lambda ledger: ledger._add_column("segments", "TEXT NOT NULL DEFAULT '[]'")]),  # spans of an annotation list
]


@dataclass(slots=True)
class Job:
    """One input as the ledger knows it."""

    spec: str
    kind: str
    user_fields: dict[str, str] = field(default_factory=dict)
    via: str = "local"  # local | celery
    status: str = "pending"
    settings_hash: str | None = None
    stage: str | None = None  # the stage running, or the one that failed
    attempts: int = 0
    error: str | None = None
    error_kind: str | None = None  # transient | permanent
    error_stage: str | None = None
    record_id: str | None = None
    partial: Record | None = None  # the record after the last finished phase
    priority: str | None = None
    worker: str | None = None
    task_id: str | None = None  # the broker task that carries it (distributed mode)
    updated_at: str | None = None
    stages: dict[str, str] = field(default_factory=dict)  # stage -> done | failed
    timings: dict[str, float] = field(default_factory=dict)
    # the private file no longer has this input's credentials: ``spec`` is its redacted key
    input_lost: bool = False
    segments: list[Segment] = field(default_factory=list)  # labelled spans from an annotation list

    @property
    def shown(self) -> str:
        """The input as it may be printed: credentials and tokens redacted."""
        hidden = _HIDDEN_KEY.search(self.spec)
        return self.spec[: hidden.start()] if hidden else redact_input(self.spec)


def _segments_json(segments: list[Segment]) -> str:
    return json.dumps([dataclasses.asdict(s) for s in segments], ensure_ascii=False)


def stage_results(record: Record) -> dict[str, tuple[str, float | None]]:
    """Status and seconds of every stage that ran on ``record``."""
    failed = {e.stage for e in record.errors}
    out: dict[str, tuple[str, float | None]] = {}
    for stage, seconds in record.timings.items():
        out[stage] = ("failed" if stage in failed else "done", seconds)
    for stage in failed - set(out):
        out[stage] = ("failed", None)
    return out


class Ledger:
    """The SQLite job ledger. Safe to share between threads; one writer at a time across processes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = connect(self.path, "the job ledger", LEDGER_DAMAGED)
        self._lock = threading.RLock()
        self._private = _PrivateInputs(self.path.with_name(PRIVATE_NAME))
        self._migrate()

    @classmethod
    def open(cls, config: Config) -> Ledger:
        return cls(config.library / LEDGER_NAME)

    def _migrate(self) -> None:
        with self._write():
            current = self._db.execute("PRAGMA user_version").fetchone()[0]
            for version, statements in _SCHEMA:
                if version > current:
                    for sql in statements:
                        sql(self) if callable(sql) else self._db.execute(sql)
                    self._db.execute(f"PRAGMA user_version = {version}")
        if current and current < 2:  # secrets were moved out: no old page stays in the WAL file
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _hide_inputs(self) -> None:
        """Schema 2: inputs holding a secret move to the private file; errors and partial
        records are redacted. Freed pages are zeroed (``secure_delete``), so no copy remains."""
        self._db.execute("PRAGMA secure_delete = ON")
        self._db.execute("PRAGMA defer_foreign_keys = ON")
        for row in self._db.execute("SELECT spec, error, partial FROM jobs").fetchall():
            spec, error, partial = row["spec"], row["error"], row["partial"]
            key = self._key(spec, create=True)
            new_error = redact_text(error) if error else error
            new_partial = partial
            if partial:
                try:
                    new_partial = Record.from_json(partial).to_json()  # sources and errors redact themselves
                except ValueError:  # a newer record schema: keep it as that videokit wrote it
                    new_partial = partial
            if (key, new_error, new_partial) != (spec, error, partial):
                self._db.execute(
                    "UPDATE jobs SET spec=?, error=?, partial=? WHERE spec=?", (key, new_error, new_partial, spec)
                )
                if key != spec:
                    self._db.execute("UPDATE job_stages SET spec=? WHERE spec=?", (key, spec))
        self._db.execute("PRAGMA secure_delete = OFF")

    def _add_column(self, name: str, definition: str) -> None:
        if name not in {r["name"] for r in self._db.execute("PRAGMA table_info(jobs)")}:
            self._db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {definition}")

    def _key(self, spec: str, *, create: bool = False) -> str:
        """The ledger's key for input ``spec``: the input itself, or for one holding a secret its
        redacted form and tag (made, with the private entry, when ``create``). An input holding a
        secret that the ledger does not know maps to a key no job has."""
        if _HIDDEN_KEY.search(spec) or redact_input(spec) == spec:
            return spec
        with self._lock:
            key = self._private.key_for(spec, create=create)
        return key or redact_input(spec) + " #unknown"

    def _inputs(self, keys: Iterable[str]) -> dict[str, str]:
        """The whole inputs behind the hidden ``keys`` that the private file still has."""
        hidden = [k for k in keys if _HIDDEN_KEY.search(k)]
        if not hidden:
            return {}
        with self._lock:
            return self._private.inputs(hidden)

    def _write(self) -> _Tx:
        return _Tx(self)

    def _error(self, error: BaseException, doing: str) -> StoreError:
        return sqlite_error(self.path, error, doing, "the job ledger", LEDGER_DAMAGED)

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Under the lock; a SQLite failure becomes a StoreError naming the ledger."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as e:
                raise self._error(e, "read the job ledger") from None

    # -- writes ------------------------------------------------------------------------
    def add(
        self,
        item: InputItem,
        settings_hash: str,
        *,
        via: str = "local",
        priority: str | None = None,
        status: str = "pending",
    ) -> Job:
        """Record that ``item`` is to be processed with these settings. A job done or partly
        done with other settings starts over; with the same settings its progress is kept."""
        now = utcnow()
        key = self._key(item.spec, create=True)
        with self._write():
            row = self._db.execute("SELECT settings_hash FROM jobs WHERE spec=?", (key,)).fetchone()
            if row is None:
                self._db.execute(
                    "INSERT INTO jobs (spec, kind, user_fields, segments, via, status, settings_hash, priority, "
                    "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        key,
                        item.kind,
                        json.dumps(item.user_fields),
                        _segments_json(item.segments),
                        via,
                        status,
                        settings_hash,
                        priority,
                        now,
                        now,
                    ),
                )
            else:
                same = row["settings_hash"] == settings_hash
                self._db.execute(
                    "UPDATE jobs SET kind=?, user_fields=?, segments=?, via=?, status=?, settings_hash=?, priority=?, "
                    "error=NULL, error_kind=NULL, error_stage=NULL, stage=NULL, updated_at=?, "
                    "partial=CASE WHEN ? THEN partial ELSE NULL END, "
                    "attempts=CASE WHEN ? THEN attempts ELSE 0 END WHERE spec=?",
                    (
                        item.kind,
                        json.dumps(item.user_fields),
                        _segments_json(item.segments),
                        via,
                        status,
                        settings_hash,
                        priority,
                        now,
                        same,
                        same,
                        key,
                    ),
                )
                if not same:
                    self._db.execute("DELETE FROM job_stages WHERE spec=?", (key,))
        job = self.get(item.spec)
        assert job is not None
        return job

    def start(self, spec: str, stage: str | None = None, worker: str | None = None) -> int:
        """Mark ``spec`` running; returns its attempt number."""
        spec = self._key(spec)
        with self._write():
            self._db.execute(
                "UPDATE jobs SET status='running', attempts=attempts+1, stage=?, worker=?, updated_at=? WHERE spec=?",
                (stage, worker, utcnow(), spec),
            )
            row = self._db.execute("SELECT attempts FROM jobs WHERE spec=?", (spec,)).fetchone()
        return int(row["attempts"]) if row else 0

    def save_partial(self, spec: str, record: Record) -> None:
        """Keep ``record`` as the point to resume from, with the status of the stages that ran."""
        key = self._key(spec)
        with self._write():
            cur = self._db.execute(
                "UPDATE jobs SET partial=?, record_id=COALESCE(?, record_id), updated_at=? WHERE spec=?",
                (record.to_json(), record.id, utcnow(), key),
            )
            if cur.rowcount:
                self._put_stages(key, stage_results(record))

    def finish(self, spec: str, record: Record) -> Job:
        """The input is through the pipeline: done, or failed with its first error."""
        err = next(iter(record.errors), None)
        key = self._key(spec)
        with self._write():
            cur = self._db.execute(
                "UPDATE jobs SET status=?, record_id=COALESCE(?, record_id), partial=NULL, stage=?, error=?, "
                "error_kind=?, error_stage=?, updated_at=? WHERE spec=?",
                (
                    "failed" if err else "done",
                    record.id,
                    err.stage if err else None,
                    redact_text(err.message) if err else None,
                    err.kind if err else None,
                    err.stage if err else None,
                    utcnow(),
                    key,
                ),
            )
            if cur.rowcount:
                self._put_stages(key, stage_results(record))
        job = self.get(spec)
        assert job is not None
        return job

    def update(self, spec: str, **fields: Any) -> None:
        """Set job columns (used when syncing from the broker); ``stages`` maps stage -> status."""
        stages = fields.pop("stages", None)
        allowed = {
            "status",
            "stage",
            "attempts",
            "error",
            "error_kind",
            "error_stage",
            "record_id",
            "worker",
            "via",
            "task_id",
        }
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"unknown job field(s): {', '.join(sorted(bad))}")
        if fields.get("error"):
            fields["error"] = redact_text(fields["error"])
        spec = self._key(spec)
        with self._write():
            if fields:
                sets = ", ".join(f"{k}=?" for k in fields)
                self._db.execute(
                    f"UPDATE jobs SET {sets}, updated_at=? WHERE spec=?", (*fields.values(), utcnow(), spec)
                )
            if stages:
                self._put_stages(spec, {k: (v, None) for k, v in stages.items()})

    def _put_stages(self, spec: str, results: dict[str, tuple[str, float | None]]) -> None:
        now = utcnow()
        self._db.executemany(
            "INSERT INTO job_stages (spec, stage, status, seconds, updated_at) VALUES (?,?,?,?,?) "
            "ON CONFLICT(spec, stage) DO UPDATE SET status=excluded.status, "
            "seconds=COALESCE(excluded.seconds, job_stages.seconds), updated_at=excluded.updated_at",
            [(spec, stage, status, seconds, now) for stage, (status, seconds) in results.items()],
        )

    # -- reads -------------------------------------------------------------------------
    def get(self, spec: str) -> Job | None:
        jobs = self._select("WHERE spec=?", (self._key(spec),))
        return jobs[0] if jobs else None

    def jobs(
        self, status: str | Iterable[str] | None = None, *, via: str | None = None, task_prefix: str | None = None
    ) -> list[Job]:
        """Jobs by status, by ``via``, and those whose ``task_id`` starts with ``task_prefix``."""
        where, args = [], []
        if task_prefix is not None:
            where.append("substr(task_id, 1, ?) = ?")
            args += [len(task_prefix), task_prefix]
        if status is not None:
            wanted = [status] if isinstance(status, str) else list(status)
            where.append(f"status IN ({','.join('?' * len(wanted))})")
            args += wanted
        if via is not None:
            where.append("via=?")
            args.append(via)
        return self._select(("WHERE " + " AND ".join(where)) if where else "", tuple(args))

    def counts(self) -> dict[str, int]:
        """Jobs by status."""
        with self._reading():
            rows = self._db.execute("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status").fetchall()
        return {r["status"]: r["n"] for r in rows}

    def stage_counts(self) -> dict[str, dict[str, int]]:
        """stage -> status -> number of inputs."""
        with self._reading():
            rows = self._db.execute(
                "SELECT stage, status, COUNT(*) AS n FROM job_stages GROUP BY stage, status"
            ).fetchall()
        out: dict[str, dict[str, int]] = {}
        for r in rows:
            out.setdefault(r["stage"], {})[r["status"]] = r["n"]
        return out

    def _select(self, where: str, args: tuple) -> list[Job]:
        with self._reading():
            rows = self._db.execute(f"SELECT * FROM jobs {where} ORDER BY created_at, rowid", args).fetchall()
            specs = [r["spec"] for r in rows]
            stage_rows: list[sqlite3.Row] = []
            for i in range(0, len(specs), 500):
                chunk = specs[i : i + 500]
                stage_rows += self._db.execute(
                    f"SELECT spec, stage, status, seconds FROM job_stages WHERE spec IN ({','.join('?' * len(chunk))})",
                    chunk,
                ).fetchall()
        inputs = self._inputs(specs)
        stages: dict[str, dict[str, str]] = {}
        timings: dict[str, dict[str, float]] = {}
        for s in stage_rows:
            stages.setdefault(s["spec"], {})[s["stage"]] = s["status"]
            if s["seconds"] is not None:
                timings.setdefault(s["spec"], {})[s["stage"]] = s["seconds"]
        return [
            Job(
                spec=inputs.get(r["spec"], r["spec"]),
                kind=r["kind"],
                user_fields=json.loads(r["user_fields"] or "{}"),
                via=r["via"],
                status=r["status"],
                settings_hash=r["settings_hash"],
                stage=r["stage"],
                attempts=r["attempts"],
                error=r["error"],
                error_kind=r["error_kind"],
                error_stage=r["error_stage"],
                record_id=r["record_id"],
                partial=Record.from_json(r["partial"]) if r["partial"] else None,
                priority=r["priority"],
                worker=r["worker"],
                task_id=r["task_id"],
                updated_at=r["updated_at"],
                stages=stages.get(r["spec"], {}),
                timings=timings.get(r["spec"], {}),
                input_lost=bool(_HIDDEN_KEY.search(r["spec"])) and r["spec"] not in inputs,
                segments=[Segment(**s) for s in json.loads(r["segments"] or "[]")],
            )
            for r in rows
        ]

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._private.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Tx:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` under the ledger's lock; rolls back on any error, and a
    SQLite failure (full disk, damaged file, lock timeout) becomes a StoreError naming the ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def __enter__(self) -> None:
        self.ledger._lock.acquire()
        try:
            self.ledger._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:
            self.ledger._lock.release()
            raise self.ledger._error(e, "write the job ledger (locked by another process?)") from None

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        db = self.ledger._db
        try:
            if exc_type is None:
                try:
                    db.execute("COMMIT")
                except sqlite3.Error as e:
                    rollback(db)
                    raise self.ledger._error(e, "write the job ledger") from None
                return
            rollback(db)
            if isinstance(exc, sqlite3.Error):
                raise self.ledger._error(exc, "write the job ledger") from None
        finally:
            self.ledger._lock.release()


class _PrivateInputs:
    """The whole inputs that hold a secret, by ledger key, in an SQLite file only its owner can
    read (0600; its journal inherits the mode). Created with the first such input; the ledger's
    lock serialises its use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    def _open(self, create: bool) -> sqlite3.Connection | None:
        if self._db is not None:
            return self._db
        if not create and not self.path.exists():
            return None
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                if os.fstat(fd).st_mode & 0o077:  # made readable by others since: take that back
                    os.fchmod(fd, 0o600)
            finally:
                os.close(fd)
            db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
            db.execute("CREATE TABLE IF NOT EXISTS inputs (key TEXT PRIMARY KEY, input TEXT NOT NULL UNIQUE)")
        except (OSError, sqlite3.Error) as e:
            if not create:
                return None  # reading: the inputs are shown redacted; retry cannot send them
            raise StoreError(
                f"{self.path}: cannot keep the credentials of an input there ({e}); "
                "make the library folder writable, or give the input without credentials"
            ) from None
        self._db = db
        return db

    def key_for(self, spec: str, *, create: bool) -> str | None:
        """The key of ``spec``; a new one when ``create`` and it has none; None when it is unknown."""
        db = self._open(create)
        if db is None:
            return None
        try:
            row = db.execute("SELECT key FROM inputs WHERE input=?", (spec,)).fetchone()
            if row is None and create:
                key = f"{redact_input(spec)} #secret:{secrets.token_hex(8)}"
                db.execute("INSERT OR IGNORE INTO inputs (key, input) VALUES (?, ?)", (key, spec))
                row = db.execute("SELECT key FROM inputs WHERE input=?", (spec,)).fetchone()
        except sqlite3.Error as e:
            raise StoreError(f"{self.path}: cannot read or write the kept inputs: {e}; move it aside") from None
        return row[0] if row else None

    def inputs(self, keys: list[str]) -> dict[str, str]:
        """The inputs the file has for ``keys``; those it cannot give are left out."""
        db = self._open(False)
        if db is None:
            return {}
        out: dict[str, str] = {}
        try:
            for i in range(0, len(keys), 500):
                chunk = keys[i : i + 500]
                rows = db.execute(f"SELECT key, input FROM inputs WHERE key IN ({','.join('?' * len(chunk))})", chunk)
                out.update(dict(rows.fetchall()))
        except sqlite3.Error:
            return out  # unreadable: those inputs are shown redacted
        return out

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
