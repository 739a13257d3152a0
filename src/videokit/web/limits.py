"""Rate limits, through the ``limits`` library, shared by every server process of a library.

Two budgets (which request counts against which: :mod:`videokit.web.auth`): ``api``, the
``[Server] RateLimit`` of each key (or anonymous address) calling the API, and ``browser``,
the ``[Server] BrowserRateLimit`` of the pages and API calls of a signed-in browser, per key.

The counters live in Redis when ``[Server] RedisURL`` is set; otherwise in the library itself:
``<library>/ratelimits.sqlite`` for the SQLite store, a ``<collection>_ratelimits`` collection
for MongoDB. Those two are ``limits`` storages written here (the library ships none for SQLite,
and its MongoDB storage cannot share the store's client). The strategy is a fixed window that
opens at a key's first request: a key gets RateLimit requests per window, the next ones are
answered 429 with ``Retry-After`` (seconds until the window ends).
"""

from __future__ import annotations

import math
import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from fastapi import Request
from limits import RateLimitItem, parse_many
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter

from videokit.config import Config
from videokit.errors import StoreError
from videokit.net import redact_url
from videokit.web.errors import ApiError
from videokit.web.keys import KeyInfo

LIMITS_NAME = "ratelimits.sqlite"


class SQLiteStorage(Storage):
    """A ``limits`` counter storage in one SQLite file, safe across threads and processes
    (each increment is one atomic upsert)."""

    STORAGE_SCHEME = ["videokit-sqlite"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, *, path: Path | None = None) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        if path is None:
            raise ValueError("SQLiteStorage needs a path")
        self.path = Path(path)
        self._local = threading.local()

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return sqlite3.Error

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA busy_timeout=10000")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL, expires REAL NOT NULL)"
            )
            self._local.db = db
        return db

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        db = self._db()
        (value,) = db.execute(
            "INSERT INTO counters (key, value, expires) VALUES (?1, ?2, ?3) ON CONFLICT(key) DO UPDATE SET "
            "value = CASE WHEN expires <= ?4 THEN excluded.value ELSE value + excluded.value END, "
            "expires = CASE WHEN expires <= ?4 THEN excluded.expires ELSE expires END RETURNING value",
            (key, amount, now + expiry, now),
        ).fetchone()
        if random.random() < 0.001:  # now and then, forget windows long past
            db.execute("DELETE FROM counters WHERE expires < ?", (now - 60,))
        return int(value)

    def get(self, key: str) -> int:
        row = (
            self._db()
            .execute("SELECT value FROM counters WHERE key = ? AND expires > ?", (key, time.time()))
            .fetchone()
        )
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._db().execute("SELECT expires FROM counters WHERE key = ?", (key,)).fetchone()
        return float(row[0]) if row else time.time()

    def check(self) -> bool:
        try:
            self._db().execute("SELECT 1")
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        return self._db().execute("DELETE FROM counters").rowcount

    def clear(self, key: str) -> None:
        self._db().execute("DELETE FROM counters WHERE key = ?", (key,))

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


class MongoStorage(Storage):
    """A ``limits`` counter storage in one MongoDB collection (documents ``{_id: key, value,
    expires}``), shared by every server using the same database."""

    STORAGE_SCHEME = ["videokit-mongodb"]

    def __init__(
        self, uri: str | None = None, wrap_exceptions: bool = False, *, collection: Any = None, client: Any = None
    ) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self.collection = collection
        self.client = client

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        import pymongo.errors

        return pymongo.errors.PyMongoError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        from pymongo import ReturnDocument
        from pymongo.errors import DuplicateKeyError

        for _ in range(5):
            now = time.time()
            doc = self.collection.find_one_and_update(
                {"_id": key, "expires": {"$gt": now}}, {"$inc": {"value": amount}}, return_document=ReturnDocument.AFTER
            )
            if doc is not None:
                return int(doc["value"])
            fresh = {"value": amount, "expires": now + expiry}
            if self.collection.update_one({"_id": key, "expires": {"$lte": now}}, {"$set": fresh}).modified_count:
                return amount
            try:
                self.collection.insert_one({"_id": key, **fresh})
                return amount
            except DuplicateKeyError:
                continue  # another server opened the window first: count in it
        raise StoreError("rate-limit counters: too much contention; try again")

    def get(self, key: str) -> int:
        doc = self.collection.find_one({"_id": key, "expires": {"$gt": time.time()}})
        return int(doc["value"]) if doc else 0

    def get_expiry(self, key: str) -> float:
        doc = self.collection.find_one({"_id": key})
        return float(doc["expires"]) if doc else time.time()

    def check(self) -> bool:
        try:
            self.collection.find_one({"_id": "-"})
        except Exception:
            return False
        return True

    def reset(self) -> int | None:
        return self.collection.delete_many({}).deleted_count

    def clear(self, key: str) -> None:
        self.collection.delete_one({"_id": key})

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def open_storage(config: Config, redis_url: str) -> Storage:
    """Where the counters live: Redis when ``redis_url`` is set, else the library's store."""
    if redis_url:
        from limits.storage import storage_from_string

        try:
            return storage_from_string(redis_url)
        except Exception as e:  # a bad URL, the redis package missing
            raise StoreError(f"[Server] RedisURL {redact_url(redis_url)}: cannot use it ({e})") from None
    if config.get("Library", "Store") == "mongodb":
        import pymongo

        uri = config.get("MongoDB", "URI")
        client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
        db = client[config.get("MongoDB", "DatabaseName")]
        return MongoStorage(collection=db[f"{config.get('MongoDB', 'CollectionName')}_ratelimits"], client=client)
    return SQLiteStorage(path=config.library / LIMITS_NAME)


SETTING = {"api": "RateLimit", "browser": "BrowserRateLimit"}  # the [Server] setting of each budget


class RateLimiter:
    """Counts each request against its caller's limit in one budget; :meth:`hit` answers 429
    past it."""

    def __init__(self, rate: str, storage: Storage | None, browser_rate: str = "") -> None:
        self.items: dict[str, list[RateLimitItem]] = {
            "api": parse_many(rate) if rate else [],
            "browser": parse_many(browser_rate) if browser_rate else [],
        }
        self.storage = storage
        self.strategy = FixedWindowRateLimiter(storage) if storage is not None else None

    @classmethod
    def from_config(cls, config: Config, rate: str, redis_url: str, browser_rate: str = "") -> RateLimiter:
        storage = open_storage(config, redis_url) if rate or browser_rate else None
        return cls(rate, storage, browser_rate)

    def hit(self, who: KeyInfo, request: Request, budget: str = "api") -> None:
        """Count one request of ``who`` in ``budget`` (``api`` or ``browser``; the anonymous
        reader counts by client address)."""
        items = self.items[budget]
        if self.strategy is None or not items:
            return
        ident = f"key:{who.id}" if who.id else f"{who.via}:{who.name}"
        if who.via == "anonymous":
            ident = f"anon:{request.client.host if request.client else '-'}"
        if budget != "api":
            ident = f"{budget}:{ident}"
        for item in items:
            try:
                allowed = self.strategy.hit(item, "videokit", ident)
            except StoreError:
                raise
            except Exception as e:  # the counter store does not answer
                raise StoreError(f"rate-limit counters unavailable: {e}") from None
            if not allowed:
                reset = self.strategy.get_window_stats(item, "videokit", ident).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                whose = "this key" if budget == "api" else "this browser's pages"
                raise ApiError(
                    429,
                    "rate_limited",
                    f"rate limit of {item} for {whose} reached ([Server] {SETTING[budget]}); retry in {wait} s",
                    {"Retry-After": str(wait)},
                )

    def close(self) -> None:
        close = getattr(self.storage, "close", None)
        if callable(close):
            close()
