"""API keys, browser sessions and one-time sign-in links, in ``<library>/keys.sqlite``.

A key is shown once, when it is created (``vk_<id>_<secret>``); only its SHA-256 is stored,
so the file gives nobody a usable key. Sessions (the browser's cookie) and one-time sign-in
tokens are stored the same way, hashed. Every server process opens the same file, so keys,
sessions and revocations hold across processes at once. A revoked key ends its sessions too.

Scopes are ordered: ``read`` < ``write`` < ``admin``; a key may do what its scope and every
lower one allows.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from videokit.errors import DamagedStoreError, StoreError, UsageError

KEYS_NAME = "keys.sqlite"
SCOPES = ("read", "write", "admin")
KEY_PREFIX = "vk_"
SESSION_SECONDS = 14 * 24 * 3600
SIGNIN_LINK_SECONDS = 10 * 60

_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, scope TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL, revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
    hash TEXT PRIMARY KEY, key_id TEXT, name TEXT NOT NULL, scope TEXT NOT NULL, expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS signin_links (
    hash TEXT PRIMARY KEY, name TEXT NOT NULL, scope TEXT NOT NULL, expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def scope_allows(have: str, need: str) -> bool:
    """True when a key of scope ``have`` may do what needs ``need``."""
    return SCOPES.index(have) >= SCOPES.index(need)


def check_scope(scope: str) -> str:
    """``scope`` when it is one of :data:`SCOPES`; UsageError otherwise."""
    if scope not in SCOPES:
        raise UsageError(f"scope {scope!r}: choose one of {', '.join(SCOPES)}")
    return scope


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """An API key as stored (never the key itself), or who a request is: ``via`` says how it
    proved it (``key``, ``session``, ``anonymous``); ``id`` is None for the anonymous reader and
    for the local user of a one-time sign-in link."""

    id: str | None
    name: str
    scope: str
    created_at: str | None = None
    revoked_at: str | None = None
    via: str = "key"

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def allows(self, scope: str) -> bool:
        return not self.revoked and scope_allows(self.scope, scope)


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """A new API key: ``key`` is the secret, shown this once and stored only hashed."""

    key: str
    info: KeyInfo


ANONYMOUS = KeyInfo(None, "anonymous", "read", via="anonymous")


class KeyStore:
    """The keys, sessions and sign-in links of one library. Thread-safe: one connection per thread."""

    def __init__(self, library: Path) -> None:
        self.path = Path(library) / KEYS_NAME
        self._local = threading.local()
        self._secret: bytes | None = None

    # -- connection ------------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
                db.execute("PRAGMA busy_timeout=10000")
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.executescript(_SCHEMA)
            except sqlite3.DatabaseError as e:
                raise _store_error(self.path, e) from None
            except OSError as e:
                raise StoreError(f"{self.path}: cannot open the key file: {e.strerror or e}") from None
            self._local.db = db
        return db

    def _run(self, sql: str, args: tuple = ()) -> list[tuple]:
        try:
            return self._db().execute(sql, args).fetchall()
        except sqlite3.DatabaseError as e:
            raise _store_error(self.path, e) from None

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- keys --------------------------------------------------------------------------------
    def create(self, name: str, scope: str) -> CreatedKey:
        """A new key named ``name`` (need not be unique) with ``scope``."""
        check_scope(scope)
        name = " ".join(name.split())
        if not name:
            raise UsageError("give the key a name (who or what uses it)")
        kid = secrets.token_hex(4)
        key = f"{KEY_PREFIX}{kid}_{secrets.token_urlsafe(24)}"
        created = datetime.now(UTC).isoformat(timespec="seconds")
        self._run(
            "INSERT INTO keys (id, name, scope, hash, created_at) VALUES (?, ?, ?, ?, ?)",
            (kid, name, scope, digest(key), created),
        )
        return CreatedKey(key, KeyInfo(kid, name, scope, created))

    def list(self) -> list[KeyInfo]:
        rows = self._run("SELECT id, name, scope, created_at, revoked_at FROM keys ORDER BY created_at, id")
        return [KeyInfo(*row) for row in rows]

    def revoke(self, key_id: str) -> KeyInfo:
        """Revoke the key ``key_id`` (its id, or the whole key) and end its sessions; UsageError
        when no key has that id. Revoking twice keeps the first time."""
        kid = key_id.strip()
        if kid.startswith(KEY_PREFIX):
            kid = kid[len(KEY_PREFIX) :].split("_", 1)[0]
        now = datetime.now(UTC).isoformat(timespec="seconds")
        self._run("UPDATE keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now, kid))
        self._run("DELETE FROM sessions WHERE key_id = ?", (kid,))
        rows = self._run("SELECT id, name, scope, created_at, revoked_at FROM keys WHERE id = ?", (kid,))
        if not rows:
            raise UsageError(f"no API key with id {kid!r}; see 'videokit keys list'")
        return KeyInfo(*rows[0])

    def verify(self, key: str) -> KeyInfo | None:
        """The key's info when ``key`` is a key of this library (revoked ones included: check
        ``revoked``); None otherwise."""
        if not key.startswith(KEY_PREFIX) or len(key) > 200:
            return None
        wanted = digest(key)
        rows = self._run("SELECT id, name, scope, created_at, revoked_at, hash FROM keys WHERE hash = ?", (wanted,))
        if not rows or not hmac.compare_digest(rows[0][5], wanted):
            return None
        return KeyInfo(*rows[0][:5])

    # -- sessions ------------------------------------------------------------------------------
    def start_session(self, who: KeyInfo, seconds: float = SESSION_SECONDS) -> str:
        """A new session for ``who``; returns the cookie value (stored only hashed)."""
        token = secrets.token_urlsafe(32)
        self._run(
            "INSERT INTO sessions (hash, key_id, name, scope, expires) VALUES (?, ?, ?, ?, ?)",
            (digest(token), who.id, who.name, who.scope, time.time() + seconds),
        )
        return token

    def session(self, token: str) -> KeyInfo | None:
        """Who the session ``token`` is, while it lasts and its key is not revoked."""
        if not token or len(token) > 200:
            return None
        rows = self._run(
            "SELECT s.key_id, s.name, s.scope, k.revoked_at, s.expires FROM sessions s "
            "LEFT JOIN keys k ON k.id = s.key_id WHERE s.hash = ?",
            (digest(token),),
        )
        if not rows:
            return None
        kid, name, scope, revoked, expires = rows[0]
        if expires < time.time() or revoked is not None:
            return None
        return KeyInfo(kid, name, scope, via="session")

    def end_session(self, token: str) -> None:
        self._run("DELETE FROM sessions WHERE hash = ? OR expires < ?", (digest(token), time.time()))

    # -- one-time sign-in links ----------------------------------------------------------------
    def signin_link_token(self, name: str = "local user", scope: str = "admin") -> str:
        """A token for one sign-in within :data:`SIGNIN_LINK_SECONDS` (``/signin/once?token=...``)."""
        check_scope(scope)
        token = secrets.token_urlsafe(32)
        self._run(
            "INSERT INTO signin_links (hash, name, scope, expires) VALUES (?, ?, ?, ?)",
            (digest(token), name, scope, time.time() + SIGNIN_LINK_SECONDS),
        )
        return token

    def use_signin_link(self, token: str) -> KeyInfo | None:
        """Who the one-time ``token`` signs in, once; None when unknown, used or expired."""
        if not token or len(token) > 200:
            return None
        h = digest(token)
        db = self._db()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT name, scope, expires FROM signin_links WHERE hash = ?", (h,)).fetchone()
                db.execute("DELETE FROM signin_links WHERE hash = ? OR expires < ?", (h, time.time()))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as e:
            raise _store_error(self.path, e) from None
        if row is None or row[2] < time.time():
            return None
        return KeyInfo(None, row[0], row[1], via="session")

    # -- the server's secret (CSRF tokens) -------------------------------------------------------
    def secret(self) -> bytes:
        """A random secret shared by every server process of this library, made once."""
        if self._secret is None:
            self._run("INSERT OR IGNORE INTO meta (name, value) VALUES ('secret', ?)", (secrets.token_hex(32),))
            (value,) = self._run("SELECT value FROM meta WHERE name = 'secret'")[0]
            self._secret = bytes.fromhex(value)
        return self._secret


def _store_error(path: Path, e: sqlite3.DatabaseError) -> StoreError:
    text = str(e)
    if "malformed" in text or "not a database" in text:
        return DamagedStoreError(f"{path}: the key file is damaged ({text}); move it aside and create keys again")
    return StoreError(f"{path}: {text}")
