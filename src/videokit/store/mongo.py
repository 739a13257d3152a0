"""MongoDB library store: MongoDB Atlas, self-managed MongoDB, Azure Cosmos DB for MongoDB.

Layout
    ``<collection>``          one document per video, ``_id`` = content id. ``record`` holds
                              the Record (scene list taken out, user keys escaped); beside it
                              the denormalised query fields (tags, category, duration, height,
                              resolution, codec, has_audio, domains, sources, scene_count,
                              added_at) and ``text.*`` for the text index.
    ``<collection>_scenes``   the scene list in chunks of :data:`SCENE_CHUNK` scenes, keyed by
                              video id, revision and chunk number, so long videos never
                              approach the 16 MB document limit.
    ``<collection>_transcripts``  the transcript's segments, chunked the same way
                              (:data:`TRANSCRIPT_CHUNK` segments); the words said join
                              ``text.text`` so text search finds them.
    ``<collection>_passages`` the passages search lands on, with their vectors when embedded
                              (:mod:`videokit.store.mongo_search`); the record keeps its
                              ``embeddings`` header (model, dim, digest), the passages live here.
    ``<collection>_videos``   GridFS copies of the video files when StoreVideos is on.

Portability: only CRUD, plain indexes, one text index, ``count_documents`` and regex
filters. No ``$lookup``, no transactions. Instead, writes are ordered so a reader never
sees half a record: the scene and transcript chunks and the passages go in under a fresh
revision first, then the main document switches to that revision in one atomic write, then
the old ones are removed; readers take only what carries the document's revision.

Search modes: ``text`` as below; ``semantic`` and ``hybrid`` (both fused by reciprocal rank)
over the passages' vectors, by Atlas ``$vectorSearch`` where the server has it and an exact
numpy scan elsewhere (:attr:`MongoStore.vector_search_mode`).

Degraded servers and users
    A user who may not create indexes (the ``read`` role) still opens the library: reading
    and searching work, one WARNING line says which indexes are missing, and every write
    fails with a StoreError naming the role it needs. A server without text indexes
    (Cosmos DB RU accounts, SecantusDB, mongomock) gets text search by regular expressions
    instead; :attr:`MongoStore.text_search_mode` says which, and the switch is logged once.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote

import pymongo
from bson.errors import InvalidDocument
from pymongo import ReturnDocument
from pymongo.errors import ConfigurationError, ConnectionFailure, OperationFailure, PyMongoError

from videokit.errors import ConfigError, InputError, StoreError, UsageError, one_line
from videokit.index.fuse import cap_per_video, rrf
from videokit.net import backoff_delay, redact_url
from videokit.record import Passage, Record
from videokit.store.base import MOMENTS_PER_VIDEO, Moment, Query, Store, record_passages
from videokit.store.gridfs import VideoFiles
from videokit.store.mongo_search import (
    ATLAS,
    EXACT,
    Hit,
    PassageIndex,
    Scope,
    decode_vectors,
    ensure_vector_index,
    unit,
    vector_search_support,
)
from videokit.store.sqlite import fts_fields

if TYPE_CHECKING:
    from videokit.config import Config

log = logging.getLogger(__name__)
_WARNED: set[tuple[str, str, str, str]] = set()  # library warnings already given in this process
T = TypeVar("T")

LAYOUT = 1  # document layout version, stored on every video document
SCENE_CHUNK = 1000  # scenes per chunk document (~200 KB)
TRANSCRIPT_CHUNK = 2000  # transcript segments per chunk document (~300 KB)
TEXT_FIELDS = {"title": 10, "tags": 5, "filename": 3, "description": 2, "sources": 1, "text": 1}
# Server error codes meaning "no $text here": IndexNotFound, CommandNotSupported, NotImplemented.
_NO_TEXT_CODES = {27, 115, 238}
_UNAUTHORIZED, _AUTH_FAILED = 13, 18
_INDEXED = ("tags", "category", "duration", "height", "resolution", "domains", "sources")
# Every index the store creates: (collection suffix, index name).
_INDEXES = (
    *(("", f"vk_{f}") for f in _INDEXED),
    ("", "vk_added"),
    ("_scenes", "vk_video"),
    ("_transcripts", "vk_video"),
    ("_passages", "vk_passage_video"),
    ("_passages", "vk_passage_model"),
    ("", "vk_text"),
)
TEXT_INDEX, REGEX = "text-index", "regex"  # values of MongoStore.text_search_mode
_STALE_CHUNKS = timedelta(hours=1)
_ATLAS_PASSAGES = 1000  # passages $vectorSearch returns for a ranking of videos


class MongoStore(Store):
    """A :class:`Store` over pymongo. Pass any pymongo-compatible ``client`` (tests inject
    ``mongomock.MongoClient``); :meth:`from_uri` builds one from a connection string.

    ``uri``, when given, names the host in messages and has its credentials scrubbed from
    them; ``attempts``/``backoff`` govern retries on connection failures; ``library``
    resolves relative video paths for GridFS (``store_videos``).

    ``read_only`` is True when the user may not create indexes (opened all the same: reads
    work, writes raise StoreError); :attr:`text_search_mode` tells how text search runs,
    :attr:`vector_search_mode` how semantic search runs."""

    vector_search = True

    def __init__(
        self,
        client: Any,
        database: str = "videokit",
        collection: str = "videos",
        *,
        store_videos: bool = False,
        library: Path | None = None,
        uri: str | None = None,
        attempts: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self.client = client
        self.where = hosts_of(uri) if uri else _client_hosts(client)
        self._uri = uri or ""  # its credentials are scrubbed from every message
        self.database, self.collection = database, collection
        self.store_videos = store_videos
        self.library = library
        self._attempts, self._backoff = max(1, attempts), backoff
        db = client[database]
        self._videos = db[collection]
        self._scenes = db[f"{collection}_scenes"]
        self._transcripts = db[f"{collection}_transcripts"]
        self.passages = PassageIndex(db[f"{collection}_passages"])
        self.files = VideoFiles(db, f"{collection}_videos")
        self.read_only = False
        self._text_ok: bool | None = None  # None: $text not tried yet; False: regex from now on
        self.text_search_note: str | None = None  # why text search uses regex
        self._passage_text_ok: bool | None = None  # the same for the passages' text index
        self._vector_mode: str | None = None  # EXACT or ATLAS once asked
        self._atlas_ready_dim: int | None = None  # the dimension the vectorSearch index was found ready for
        self.vector_search_note: str | None = None  # why vector search is exact
        self.scanned = 0  # passages the last exact vector search compared
        self._call("connecting", self._ensure_indexes)

    @classmethod
    def from_uri(
        cls,
        uri: str,
        database: str = "videokit",
        collection: str = "videos",
        *,
        timeout_ms: int = 5000,
        **kw: Any,
    ) -> MongoStore:
        """Connect to ``uri``. Options in the URI (``serverSelectionTimeoutMS``...) win."""
        where = hosts_of(uri)
        opts: dict[str, Any] = {"appname": "videokit"}
        lowered = uri.lower()
        for name in ("serverSelectionTimeoutMS", "connectTimeoutMS"):
            if name.lower() + "=" not in lowered:
                opts[name] = timeout_ms
        try:
            client = pymongo.MongoClient(uri, **opts)
        except ConfigurationError as e:  # InvalidURI is a ConfigurationError
            raise ConfigError(f"[MongoDB] URI for {where}: {_scrub(str(e), uri)}") from None
        try:
            return cls(client, database, collection, uri=uri, **kw)
        except BaseException:
            client.close()
            raise

    def describe(self) -> str:
        """Where this store lives, without credentials."""
        return f"mongodb://{self.where}/{self.database}.{self.collection}"

    @property
    def text_search_mode(self) -> str:
        """``"text-index"`` when the server answers ``$text`` on the store's text index,
        ``"regex"`` when text search scans with regular expressions instead (the reason is in
        :attr:`text_search_note`). Asks the server once when no text search has run yet."""
        if self._text_ok is None:
            self._call("checking text search", self._probe_text)
        return TEXT_INDEX if self._text_ok else REGEX

    # -- connection ----------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[[], T], *, writes: bool = False) -> T:
        """Run ``fn`` with retries and backoff on connection trouble; StoreError at the end.
        ``writes``: ``fn`` changes the library (the message for a refused one names the role)."""
        for attempt in range(1, self._attempts + 1):
            try:
                return fn()
            except ConnectionFailure as e:
                if attempt == self._attempts:
                    reason = str(e).split(", Timeout:")[0].split(" (configured timeouts")[0]
                    raise StoreError(
                        f"MongoDB at {self.where} is unreachable ({what}, tried {self._attempts}x): "
                        f"{_scrub(reason, self._uri)}; check [MongoDB] URI / VIDEOKIT_MONGODB_URI and that the server is up"
                    ) from None
                delay = backoff_delay(attempt, self._backoff, 10.0)
                log.warning(
                    "MongoDB at %s: %s failed (%s); retrying in %.1fs", self.where, what, type(e).__name__, delay
                )
                time.sleep(delay)
            except OperationFailure as e:
                msg = _scrub(_errmsg(e), self._uri)
                if e.code == _AUTH_FAILED:
                    raise StoreError(
                        f"MongoDB at {self.where}: the server refused the user and password ({msg}); "
                        "check them in [MongoDB] URI / VIDEOKIT_MONGODB_URI"
                    ) from None
                if e.code == _UNAUTHORIZED:
                    role = "readWrite" if writes else "read"
                    raise StoreError(
                        f"MongoDB at {self.where}: {what} is not allowed for this user ({msg}); "
                        f"it needs the {role} role on database {self.database!r}"
                    ) from None
                raise StoreError(f"MongoDB at {self.where}: {what} failed: {msg}") from None
            except PyMongoError as e:
                raise StoreError(f"MongoDB at {self.where}: {what} failed: {_scrub(str(e), self._uri)}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _ensure_indexes(self) -> None:
        try:
            self._create_indexes()
        except OperationFailure as e:
            if e.code != _UNAUTHORIZED:
                raise
            self._open_read_only()

    def _create_indexes(self) -> None:
        v = self._videos
        for field in _INDEXED:
            v.create_index(field, name=f"vk_{field}")
        # Newest first is the default order; Cosmos DB needs a compound index for it.
        v.create_index([("added_at", -1), ("_id", 1)], name="vk_added")
        self._scenes.create_index([("video_id", 1), ("rev", 1), ("n", 1)], name="vk_video")
        self._transcripts.create_index([("video_id", 1), ("rev", 1), ("n", 1)], name="vk_video")
        self.passages.create_indexes()
        try:
            self.passages.create_text_index()
        except OperationFailure as e:
            if e.code == _UNAUTHORIZED:
                raise
            self._passage_text_ok = False
        try:
            v.create_index(
                [(f"text.{f}", "text") for f in TEXT_FIELDS],
                weights={f"text.{f}": w for f, w in TEXT_FIELDS.items()},
                default_language="english",
                name="vk_text",
            )
        except OperationFailure as e:  # e.g. Cosmos DB RU accounts, SecantusDB: no text indexes
            if e.code == _UNAUTHORIZED:
                raise
            self._no_text(f"the server refused the text index ({_scrub(_errmsg(e), self._uri)})")

    def _open_read_only(self) -> None:
        """The user may not create indexes: go on reading with those already there, and say
        so in one WARNING line (what is missing, what search does without it, the fix)."""
        self.read_only = True
        have = self._index_names()
        if have is None:
            state = "the indexes could not be listed"
        else:
            missing = [name for coll, name in _INDEXES if (coll, name) not in have]
            named = f" ({', '.join(missing)})" if missing else ""
            state = f"{len(missing)} of {len(_INDEXES)} indexes missing{named}"
        if have is not None and ("", "vk_text") not in have:
            self._text_ok = False
            self.text_search_note = "no text index, and this user may not create it"
            state += "; text search uses regular expressions"
        self._warn_once(
            "read-only",
            "MongoDB at %s: read-only user, indexes not created (%s); reading and searching work, writes will fail; "
            "open the library once as a user with the readWrite role to create them",
            self.where,
            state,
        )

    def _index_names(self) -> set[tuple[str, str]] | None:
        """(collection suffix, index name) of every index there, or None when not allowed."""
        colls = {"": self._videos, "_scenes": self._scenes, "_transcripts": self._transcripts}
        colls["_passages"] = self.passages.coll
        try:
            return {(suffix, n) for suffix, c in colls.items() for n in c.index_information()}
        except OperationFailure:
            return None

    def _probe_text(self) -> None:
        try:
            list(self._videos.find({"$text": {"$search": "videokit"}}, {"_id": 1}).limit(1))
            self._text_ok = True
        except NotImplementedError:  # mongomock implements no $text at all
            self._no_text("this client has no $text")
        except OperationFailure as e:
            if e.code not in _NO_TEXT_CODES:
                raise
            self._no_text(f"the server refused $text ({_scrub(_errmsg(e), self._uri)})")

    def _no_text(self, why: str) -> None:
        """From now on text search scans with regular expressions; logged once per store."""
        if self._text_ok is False:
            return
        self._text_ok = False
        self.text_search_note = why
        self._warn_once(
            "regex",
            "MongoDB at %s: %s; text search uses regular expressions (slower on large libraries)",
            self.where,
            why,
        )

    def _warn_once(self, kind: str, msg: str, *args: object) -> None:
        """A WARNING about the state of this library, once per process (a command or a server
        opening the store again and again says it once)."""
        key = (kind, self.where, self.database, self.collection)
        if key not in _WARNED:
            _WARNED.add(key)
            log.warning(msg, *args)

    # -- writes --------------------------------------------------------------------------
    def upsert(self, record: Record) -> None:
        if not record.id:
            raise ValueError("cannot store a record without a content id")
        if self.store_videos:
            self._call(f"storing the video of {record.id[:12]}", lambda: self._put_video(record), writes=True)
        d = record.to_dict()
        scenes: list[dict] = []
        if d.get("scenes"):
            scenes, d["scenes"]["scenes"] = d["scenes"]["scenes"], []
        segments: list[dict] = []
        if d.get("transcript"):
            segments, d["transcript"]["segments"] = d["transcript"]["segments"], []
        emb = record.embeddings
        if d.get("embeddings"):  # the passages (and their vectors) live in their own collection
            d["embeddings"]["passages"] = []
        rev = uuid.uuid4().hex
        now = datetime.now(UTC)
        chunks = _chunks(record.id, rev, now, "scenes", scenes, SCENE_CHUNK)
        tchunks = _chunks(record.id, rev, now, "segments", segments, TRANSCRIPT_CHUNK)
        has_vectors = emb is not None and any(p.vector is not None for p in emb.passages)
        passages = record_passages(record)
        pdocs = self.passages.docs(
            record.id,
            rev,
            passages,
            model=emb.model if emb is not None else None,
            digest=emb.digest if emb is not None else None,
            now=now,
        )
        doc = _query_fields(record, passages)
        header = _escape(d.get("embeddings"))
        doc.update(
            layout=LAYOUT,
            rev=rev,
            scene_chunks=len(chunks),
            transcript_chunks=len(tchunks),
            passage_count=len(pdocs),
            vectors={"model": emb.model, "dim": emb.dim, "digest": emb.digest} if emb and has_vectors else None,
            record=_escape(d),
        )

        def write() -> None:
            doc["video_stored"] = self.store_videos and self.files.exists(record.id or "")
            if emb is not None and not has_vectors:
                self._keep_vectors(record.id or "", header, pdocs, doc)
            for coll, docs in ((self._scenes, chunks), (self._transcripts, tchunks), (self.passages.coll, pdocs)):
                if docs:  # a retried write must not hit duplicate keys: clear this revision first
                    coll.delete_many({"video_id": record.id, "rev": rev})
                    coll.insert_many(docs)
            before = self._videos.find_one_and_update(
                {"_id": record.id},
                {"$set": doc, "$setOnInsert": {"added_at": record.added_at}},
                upsert=True,
                projection={"rev": 1},
                return_document=ReturnDocument.BEFORE,
            )
            old = (before or {}).get("rev")
            for coll in (self._scenes, self._transcripts, self.passages.coll):
                if old and old != rev:
                    coll.delete_many({"video_id": record.id, "rev": old})
                # what a writer that died before switching the revision left
                coll.delete_many(
                    {"video_id": record.id, "rev": {"$nin": [rev]}, "written": {"$lt": now - _STALE_CHUNKS}}
                )

        try:
            self._call(f"storing record {record.id[:12]}", write, writes=True)
        except (InvalidDocument, OverflowError) as e:  # this record, not the server, is the problem
            raise InputError(f"record {record.id[:12]} cannot be stored in MongoDB: {one_line(e)}") from None

    def _keep_vectors(self, id: str, header: dict, pdocs: list[dict], doc: dict) -> None:
        """A record saved again without its vectors (loaded, edited, saved) keeps the stored
        ones when they come from the same model and the same passages (same digest); with none
        to keep it is stored without embeddings (``videokit reindex`` makes them)."""
        model, digest = header["model"], header.get("digest")
        before = self._videos.find_one({"_id": id}, {"rev": 1, "vectors": 1})
        stored = (before or {}).get("vectors") or {}
        kept = {}
        if before and stored.get("model") == model and stored.get("digest") == digest:
            kept = self.passages.stored_vectors(id, before["rev"], model)
        for p in pdocs:
            vector = kept.get((p["kind"], p["ref"], p["text"]))
            if vector is not None:
                p.update(model=model, digest=digest, vector=vector)
        found = any("vector" in p for p in pdocs)
        doc["vectors"] = stored if found else None
        doc["record"]["embeddings"] = header if found else None

    def _put_video(self, record: Record) -> None:
        path = self._video_path(record)
        if path is None:
            if not self.files.exists(record.id or ""):
                log.warning(
                    "%s: video file not found, not stored in GridFS", record.file.path if record.file else record.id
                )
            return
        self.files.put(record.id or "", path)

    def _video_path(self, record: Record) -> Path | None:
        if not record.file:
            return None
        p = Path(record.file.path)
        if not p.is_absolute() and self.library is not None:
            p = self.library / p
        return p if p.is_file() else None

    def delete(self, id: str) -> bool:
        def run() -> bool:
            n = self._videos.delete_one({"_id": id}).deleted_count
            self._scenes.delete_many({"video_id": id})
            self._transcripts.delete_many({"video_id": id})
            self.passages.remove(id)
            self.files.delete(id)
            return n > 0

        return self._call(f"deleting {id[:12]}", run, writes=True)

    # -- reads ---------------------------------------------------------------------------
    def get(self, id: str) -> Record | None:
        def run() -> Record | None:
            doc = self._find_doc(id, {"text": 0})
            return self._assemble([doc])[0] if doc else None

        return self._call(f"reading {id[:12]}", run)

    def _find_doc(self, id: str, projection: dict) -> dict | None:
        """The video document of this id or unique id prefix (≥ 6 hex digits)."""
        doc = self._videos.find_one({"_id": id}, projection)
        if doc is None and len(id) >= 6 and re.fullmatch(r"[0-9a-fA-F]+", id):
            docs = list(self._videos.find({"_id": {"$regex": "^" + id.lower()}}, projection).limit(2))
            doc = docs[0] if len(docs) == 1 else None
        return doc

    def find_by_source(self, source: str) -> Record | None:
        def run() -> Record | None:
            doc = self._videos.find_one({"sources": source}, {"text": 0})
            return self._assemble([doc])[0] if doc else None

        return self._call("looking up a source", run)

    def open_video(self, id: str) -> Any:
        """A readable stream of the video stored in GridFS, or None."""
        return self._call(f"reading the video of {id[:12]}", lambda: self.files.open(id))

    def save_video(self, id: str, dest: Path) -> bool:
        """Copy the video stored in GridFS to ``dest``. False when none is stored."""
        return self._call(f"reading the video of {id[:12]}", lambda: self.files.save(id, dest))

    def search(self, query: Query) -> list[Record]:
        return self._call("searching", lambda: self._search(query))

    def count(self, query: Query | None = None) -> int:
        q = query or Query()
        self.require_vectors(q)
        if q.mode in ("semantic", "hybrid"):
            return self._call("counting", lambda: len(self._ranked_ids(q)))
        words = _words(q.text)
        if words is None:
            return self._call("counting", lambda: self._videos.count_documents(_filter(q)))
        if not words:
            return 0
        return self._call("counting", lambda: self._text_run(q, words, count=True))

    def iter_records(self, query: Query | None = None, batch: int = 500) -> Iterator[Record]:
        """Pages by key (added_at, _id), so memory stays flat and late pages stay fast."""
        q = query or Query()
        if q.text:
            yield from super().iter_records(q, batch)
            return
        base, left, skip = _filter(q), q.limit, q.offset
        last: tuple[str, str] | None = None
        while left is None or left > 0:
            f = base
            if last is not None:
                after = {"$or": [{"added_at": {"$lt": last[0]}}, {"added_at": last[0], "_id": {"$gt": last[1]}}]}
                f = {"$and": [base, after]} if base else after
            n = batch if left is None else min(batch, left)

            def page(f: dict = f, n: int = n, skip: int = skip) -> list[dict]:
                return list(self._videos.find(f, {"text": 0}).sort([("added_at", -1), ("_id", 1)]).skip(skip).limit(n))

            docs = self._call("reading records", page)
            if not docs:
                return
            yield from self._call("reading scenes", lambda docs=docs: self._assemble(docs))
            last, skip = (docs[-1]["added_at"], docs[-1]["_id"]), 0
            left = None if left is None else left - len(docs)
            if len(docs) < n:
                return

    def close(self) -> None:
        self.client.close()

    # -- semantic search, moments, similar -----------------------------------------------
    @property
    def vector_search_mode(self) -> str:
        """``"atlas-vector-search"`` when the server has Atlas Search (``$vectorSearch``),
        ``"exact"`` when semantic search compares the query with every candidate passage
        (the reason is in :attr:`vector_search_note`). Asks the server once."""
        if self._vector_mode is None:
            ok, why = self._call("checking vector search", lambda: vector_search_support(self.passages.coll))
            self._vector_mode = ATLAS if ok else EXACT
            self.vector_search_note = why or None
            if not ok:
                log.info(
                    "MongoDB at %s: %s; semantic search is exact (every candidate passage compared)", self.where, why
                )
        return self._vector_mode

    def with_vectors(self, record: Record) -> Record:
        def run() -> Record:
            out = copy.deepcopy(record)
            doc = self._videos.find_one({"_id": record.id}, {"rev": 1, "vectors": 1})
            if out.embeddings is None or doc is None or not doc.get("vectors"):
                return out
            stored = self.passages.stored_vectors(record.id or "", doc["rev"], doc["vectors"]["model"])
            for p in out.embeddings.passages:
                vector = stored.get((p.kind, p.ref, p.text))
                p.vector = None if vector is None else decode_vectors([vector])[0].tolist()
            return out

        return self._call(f"reading the vectors of {(record.id or '')[:12]}", run)

    def has_vectors(self) -> bool:
        return self._call("reading", lambda: self._videos.count_documents({"vectors": {"$ne": None}}, limit=1) > 0)

    def vector_models(self) -> list[str]:
        return self._call("reading", lambda: sorted(m for m in self._videos.distinct("vectors.model") if m))

    def moments(self, query: Query) -> list[Moment]:
        return self._call("searching moments", lambda: self._moments(query))

    def similar(self, id: str, query: Query | None = None) -> list[tuple[Record, float]]:
        return self._call("finding similar videos", lambda: self._similar(id, query or Query()))

    def _candidates(self, q: Query) -> tuple[Scope, dict[str, tuple[str, str]] | None]:
        """The videos passing the query's filters (all: ``Scope()``), and (when filtered) each
        one's revision and title."""
        f = _filter(q)
        if not f:
            return Scope(), None
        known = {d["_id"]: (d["rev"], _title(d)) for d in self._videos.find(f, {"rev": 1, "text.title": 1})}
        return Scope(frozenset(known), ask=self._few(len(known))), known

    def _few(self, n: int) -> bool:
        """Whether ``n`` videos are few enough to name to the server (``$in``) rather than read
        more and keep theirs here: up to a tenth of the library."""
        return n * 10 <= self._videos.estimated_document_count()

    def _ranked_ids(self, q: Query) -> list[str]:
        """Video ids best first by their best passage (semantic), or fused with the text ranking (hybrid)."""
        scope, known = self._candidates(q)
        best: dict[str, None] = {}  # video ids in order of their best passage
        for h in self._vector_hits(q, scope, known):
            if q.min_score is not None and h.score < q.min_score:
                break  # best first: the rest are further still
            best.setdefault(h.video_id)
        by_video = list(best)
        if q.mode == "semantic":
            return by_video
        words = _words(q.text) or []
        text = self._text_run(q, words, count=False, ids=True) if words else []
        return [k for k, _ in rrf([text, by_video])]

    def _vector_hits(self, q: Query, scope: Scope, known: dict[str, tuple[str, str]] | None) -> list[Hit]:
        """Passages best first by cosine similarity with ``q.vector``, of current revisions only."""
        if q.vector is None:
            raise UsageError(f"{q.mode} search needs the query's embedding (Query.vector); use --mode text")
        if scope.empty:
            return []
        if self.vector_search_mode == ATLAS and self._atlas_ready(len(q.vector)):
            hits = self.passages.atlas_hits(q.vector, q.vector_model, scope, _ATLAS_PASSAGES)
        else:
            hits, self.scanned = self.passages.exact_hits(q.vector, q.vector_model, scope)
        return self._current(hits, known)[0]

    def _atlas_ready(self, dim: int) -> bool:
        """Whether the vectorSearch index of this dimension is queryable (created when missing)."""
        if self._atlas_ready_dim == dim:
            return True
        try:
            ready = ensure_vector_index(self.passages.coll, dim)
        except OperationFailure as e:
            self._vector_mode, self.vector_search_note = EXACT, f"the vector index could not be made ({_errmsg(e)})"
            log.warning("MongoDB at %s: %s; semantic search is exact", self.where, self.vector_search_note)
            return False
        if not ready:
            log.info("MongoDB at %s: the vector search index is building; exact search meanwhile", self.where)
        self._atlas_ready_dim = dim if ready else None
        return ready

    def _current(
        self, hits: list[Hit], known: dict[str, tuple[str, str]] | None
    ) -> tuple[list[Hit], dict[str, tuple[str, str]]]:
        """``hits`` of the videos' current revisions (not a half-written or replaced one), and
        the revision and title of each video (``known`` already, or read)."""
        if known is None:
            vids = {h.video_id for h in hits}
            f = {"_id": {"$in": sorted(vids)}} if self._few(len(vids)) else {}
            known = (
                {d["_id"]: (d["rev"], _title(d)) for d in self._videos.find(f, {"rev": 1, "text.title": 1})}
                if vids
                else {}
            )
        return [h for h in hits if h.video_id in known and known[h.video_id][0] == h.rev], known

    def _passage_text_hits(self, words: list[str], scope: Scope) -> list[Hit]:
        if scope.empty:
            return []
        if self._passage_text_ok is not False and self.text_search_mode == TEXT_INDEX:
            try:
                hits = self.passages.text_hits(words, scope, use_index=True)
                self._passage_text_ok = True
                return hits
            except NotImplementedError:  # mongomock: no $text
                self._passage_text_ok = False
            except OperationFailure as e:
                if e.code not in _NO_TEXT_CODES:
                    raise
                self._passage_text_ok = False
                log.info("MongoDB at %s: moments are found by regular expressions (%s)", self.where, _errmsg(e))
        return self.passages.text_hits(words, scope, use_index=False)

    def _moments(self, q: Query) -> list[Moment]:
        self.require_vectors(q)
        mode = q.mode or "text"
        words = _words(q.text) or []
        if not words and (mode == "text" or q.vector is None):
            raise UsageError("moments need a query text; give the words to look for")
        scope, known = self._candidates(q)
        ranked: list[Hit] = []
        if mode != "semantic" and words:
            ranked = self._current(self._passage_text_hits(words, scope), known)[0]
        if mode != "text":
            vector = [h for h in self._vector_hits(q, scope, known) if q.min_score is None or h.score >= q.min_score]
            if mode == "semantic":
                ranked = vector
            else:
                hits = {h.key: h for h in vector} | {h.key: h for h in ranked}
                fused = rrf([[h.key for h in ranked], [h.key for h in vector]])
                ranked = [dataclasses.replace(hits[key], score=score) for key, score in fused]
        end = None if q.limit is None else q.offset + q.limit
        page = cap_per_video(ranked, MOMENTS_PER_VIDEO)[q.offset : end]
        titles = self._current(page, known if known is not None and all(h.video_id in known for h in page) else None)[1]
        return [Moment(h.video_id, h.kind, h.ref, h.text, h.score, h.start, h.end, titles[h.video_id][1]) for h in page]

    def _similar(self, id: str, q: Query) -> list[tuple[Record, float]]:
        """Videos ranked by the cosine of their mean passage vector with this video's (exact,
        on every server), the video itself left out."""
        doc = self._find_doc(id, {"rev": 1, "vectors": 1})
        if doc is None or not doc.get("vectors"):
            return []
        model = doc["vectors"]["model"]
        mine = self.passages.vectors_of({doc["_id"]: doc["rev"]}, model).get(doc["_id"])
        if mine is None or not len(mine):
            return []
        target = unit(unit(mine).mean(axis=0))
        f = _and(_filter(q), {"vectors.model": model, "_id": {"$ne": doc["_id"]}})
        revs = {d["_id"]: d["rev"] for d in self._videos.find(f, {"rev": 1})}
        scored = [
            (vid, float(unit(unit(m).mean(axis=0)) @ target))
            for vid, m in self.passages.vectors_of(revs, model, ask=self._few(len(revs))).items()
            if m.shape[1] == target.shape[0]
        ]
        scored.sort(key=lambda kv: (-kv[1], kv[0]))
        end = None if q.limit is None else q.offset + q.limit
        scored = scored[q.offset : end]
        records = {r.id: r for r in self._page([vid for vid, _ in scored])}
        return [(records[vid], score) for vid, score in scored if vid in records]

    # -- internals -----------------------------------------------------------------------
    def _search(self, q: Query) -> list[Record]:
        self.require_vectors(q)
        if q.mode in ("semantic", "hybrid"):
            end = None if q.limit is None else q.offset + q.limit
            return self._page(self._ranked_ids(q)[q.offset : end])
        words = _words(q.text)
        if words is None:
            cur = self._videos.find(_filter(q), {"text": 0}).sort([("added_at", -1), ("_id", 1)]).skip(q.offset)
            if q.limit is not None:
                cur = cur.limit(q.limit)
            return self._assemble(list(cur))
        return self._text_run(q, words, count=False) if words else []

    def _text_run(self, q: Query, words: list[str], *, count: bool, ids: bool = False) -> Any:
        """Text search: the count, the page of records, or (``ids``) every matching id best first."""
        if self._text_ok is not False:
            # Each word as a quoted phrase: the server requires every phrase (all words must
            # appear, as in the SQLite store) and the text index finds the candidates.
            f = _and(_filter(q), {"$text": {"$search": " ".join(f'"{w}"' for w in words)}})
            try:
                if count:
                    found: Any = self._videos.count_documents(f)
                elif ids:
                    cur = self._videos.find(f, {"_id": 1, "score": {"$meta": "textScore"}})
                    found = [
                        d["_id"] for d in cur.sort([("score", {"$meta": "textScore"}), ("added_at", -1), ("_id", 1)])
                    ]
                else:
                    cur = self._videos.find(f, {"text": 0, "score": {"$meta": "textScore"}})
                    cur = cur.sort([("score", {"$meta": "textScore"}), ("added_at", -1), ("_id", 1)]).skip(q.offset)
                    if q.limit is not None:
                        cur = cur.limit(q.limit)
                    found = self._assemble(list(cur))
                self._text_ok = True
                return found
            except NotImplementedError:  # mongomock implements no $text at all
                self._no_text("this client has no $text")
            except OperationFailure as e:
                if e.code not in _NO_TEXT_CODES:
                    raise
                self._no_text(f"the server refused $text ({_scrub(_errmsg(e), self._uri)})")
        return self._regex_run(q, words, count=count, ids=ids)

    def _regex_run(self, q: Query, words: list[str], *, count: bool, ids: bool = False) -> Any:
        """Fallback for servers without $text (mongomock, Cosmos DB RU, SecantusDB): every
        word must start a word in one of the text fields; ranked in Python by weighted hits."""
        pats = [re.compile(r"\b" + re.escape(w), re.IGNORECASE) for w in words]
        f = _and(_filter(q), {"$and": [{"$or": [{f"text.{k}": p} for k in TEXT_FIELDS]} for p in pats]})
        if count:
            return self._videos.count_documents(f)
        cands = list(self._videos.find(f, {"text": 1, "added_at": 1}))
        cands.sort(key=lambda d: d["_id"])
        cands.sort(key=lambda d: d.get("added_at") or "", reverse=True)
        cands.sort(key=lambda d: -_score(d.get("text") or {}, pats))
        if ids:
            return [d["_id"] for d in cands]
        end = None if q.limit is None else q.offset + q.limit
        return self._page([d["_id"] for d in cands[q.offset : end]])

    def _page(self, ids: list[str]) -> list[Record]:
        """The records of ``ids``, in that order."""
        docs = {d["_id"]: d for d in self._videos.find({"_id": {"$in": ids}}, {"text": 0})}
        return self._assemble([docs[i] for i in ids if i in docs])

    def _assemble(self, docs: list[dict]) -> list[Record]:
        """Documents → Records, with their scene and transcript chunks and passages put back
        (one query per page and collection)."""
        scenes = _load_chunks(self._scenes, {d["_id"]: d["rev"] for d in docs if d.get("scene_chunks")})
        segments = _load_chunks(self._transcripts, {d["_id"]: d["rev"] for d in docs if d.get("transcript_chunks")})
        embedded = {d["_id"]: d["rev"] for d in docs if d.get("passage_count") and d["record"].get("embeddings")}
        passages = self.passages.passages_of(embedded)
        out = []
        for doc in docs:
            d = _unescape(doc["record"])
            got_s, got_t = scenes.get(doc["_id"], []), segments.get(doc["_id"], [])
            got_p = passages.get(doc["_id"], [])
            if (
                len(got_s) != (doc.get("scene_chunks") or 0)
                or len(got_t) != (doc.get("transcript_chunks") or 0)
                or (doc["_id"] in embedded and len(got_p) != doc["passage_count"])
            ):  # rewritten under us: read it again
                fresh = self._videos.find_one({"_id": doc["_id"]}, {"text": 0})
                if fresh is None or fresh["rev"] == doc["rev"]:
                    raise StoreError(f"MongoDB at {self.where}: parts of {doc['_id'][:12]} are missing")
                out += self._assemble([fresh])
                continue
            if got_s:
                d["scenes"]["scenes"] = [s for c in got_s for s in _unescape(c["scenes"])]
            if got_t:
                d["transcript"]["segments"] = [s for c in got_t for s in c["segments"]]
            record = Record.from_dict(d)
            if record.embeddings is not None:
                record.embeddings.passages = got_p
            out.append(record)
        return out


def _chunks(video_id: str, rev: str, now: datetime, key: str, items: list[dict], size: int) -> list[dict]:
    """``items`` in chunk documents of ``size``, keyed by video id, revision and number."""
    return [
        {
            "_id": f"{video_id}:{rev}:{n}",
            "video_id": video_id,
            "rev": rev,
            "n": n,
            "written": now,
            key: _escape(items[i : i + size]),
        }
        for n, i in enumerate(range(0, len(items), size))
    ]


def _load_chunks(coll: Any, want: dict[str, str]) -> dict[str, list[dict]]:
    """The chunks of each video id at its revision, in order."""
    out: dict[str, list[dict]] = {}
    if want:
        for c in coll.find({"video_id": {"$in": list(want)}}).sort([("video_id", 1), ("n", 1)]):
            if c["rev"] == want[c["video_id"]]:
                out.setdefault(c["video_id"], []).append(c)
    return out


# -- query building -----------------------------------------------------------------------
def _words(text: str | None) -> list[str] | None:
    """None: no text query. []: a text query with no searchable word (matches nothing)."""
    if not text or not text.strip():
        return None
    return re.findall(r"\w+", text)


def _and(*parts: dict) -> dict:
    parts = tuple(p for p in parts if p)
    return parts[0] if len(parts) == 1 else {"$and": list(parts)} if parts else {}


def _filter(q: Query) -> dict:
    f: dict[str, Any] = {}
    if q.tags:
        f["tags"] = {"$all": [t.lower() for t in q.tags]}
    for key, value in (("category", q.category), ("resolution", q.resolution), ("codec", q.codec)):
        if value:
            f[key] = value.lower()
    for key, lo, hi in (
        ("duration", q.min_duration, q.max_duration),
        ("height", q.min_height, q.max_height),
        ("scene_count", q.min_scenes, q.max_scenes),
    ):
        rng = {op: v for op, v in (("$gte", lo), ("$lte", hi)) if v is not None}
        if rng:
            f[key] = rng
    rng = {op: v for op, v in (("$gte", q.added_after), ("$lt", q.added_before)) if v is not None}
    if rng:
        f["added_at"] = rng
    if q.has_audio is not None:
        f["has_audio"] = q.has_audio
    if q.domain:
        f["domains"] = q.domain.lower().strip(".")
    if q.ids is not None:
        f["_id"] = {"$in": list(q.ids)}
    return f


def _query_fields(record: Record, passages: list[Passage]) -> dict[str, Any]:
    m, c, s = record.media, record.classification, record.scenes
    title, description, tags, filename, sources, text = fts_fields(record)
    keys: list[str] = []
    domains: list[str] = []
    for src in record.sources:
        keys += [k for k in (src.input, src.url, src.path) if k and k not in keys]
        parts = (src.domain or "").lower().strip(".").split(".")
        domains += [d for d in (".".join(parts[i:]) for i in range(len(parts))) if d and d not in domains]
    return {
        "updated_at": record.updated_at,
        "tags": sorted({t.name.lower() for t in record.tags}),
        "category": c.category.lower() if c and c.category else None,
        "duration": m.duration if m else None,
        "height": m.height if m else None,
        "resolution": m.resolution.lower() if m and m.resolution else None,
        "codec": m.video_codec.lower() if m and m.video_codec else None,
        "has_audio": m.has_audio if m else None,
        "scene_count": s.scene_count if s else None,
        "domains": domains,
        "sources": keys,
        "text": {
            "title": title,
            "description": description,
            "tags": tags,
            "filename": filename,
            "sources": sources,
            "text": _with_said(text, record, passages),
        },
    }


def _with_said(text: str, record: Record, passages: list[Passage]) -> str:
    """The text index's catch-all field, with the words said in the video and the texts of its
    passages (scenes, transcript chunks) where not there already."""
    out, flat = text, " ".join(text.split())  # flat: for the "already there" check
    for extra in [record.transcript.text if record.transcript else "", *(p.text for p in passages)]:
        extra = " ".join(extra.split())
        if extra and extra not in flat:
            out, flat = f"{out}\n{extra}" if out else extra, f"{flat} {extra}"
    return out


def _title(doc: dict) -> str:
    return (doc.get("text") or {}).get("title") or ""


def _errmsg(e: OperationFailure) -> str:
    return str((e.details or {}).get("errmsg") or e)


def _score(text: dict, pats: list[re.Pattern]) -> int:
    return sum(w * len(p.findall(str(text.get(k) or ""))) for k, w in TEXT_FIELDS.items() for p in pats)


# -- keys ---------------------------------------------------------------------------------
# User-supplied keys (CSV columns, questions, container tags) may hold '.' or '$', which
# MongoDB and Cosmos DB reject or mis-handle in field names: percent-escape them.
def _escape(v: Any) -> Any:
    if isinstance(v, dict):
        return {_escape_key(k): _escape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_escape(x) for x in v]
    return v


def _escape_key(k: str) -> str:
    if not any(ch in k for ch in "%.$\0"):
        return k
    return k.replace("%", "%25").replace(".", "%2E").replace("$", "%24").replace("\0", "%00")


def _unescape(v: Any) -> Any:
    if isinstance(v, dict):
        return {(unquote(k) if "%" in k else k): _unescape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_unescape(x) for x in v]
    return v


# -- URIs ---------------------------------------------------------------------------------
def hosts_of(uri: str) -> str:
    """The host list of a MongoDB URI, e.g. ``h1:27017,h2`` for a URI naming those two hosts;
    any user info before the ``@`` is dropped, so the result never holds credentials."""
    rest = uri.split("://", 1)[-1]
    authority = re.split(r"[/?]", rest.rpartition("@")[2] if "@" in rest.split("/")[0] else rest, maxsplit=1)[0]
    return authority or "localhost"


def _scrub(msg: str, uri: str) -> str:
    rest = uri.split("://", 1)[-1].split("/")[0]
    if "@" in rest:
        userinfo = rest.rpartition("@")[0]
        password = userinfo.partition(":")[2]
        for secret in {userinfo, password, unquote(password)} - {""}:
            msg = msg.replace(secret, "***")
    return one_line(msg)


def _client_hosts(client: Any) -> str:
    try:
        seeds = client.topology_description.server_descriptions()
        return ",".join(f"{h}:{p}" for h, p in seeds) or "mongodb"
    except Exception:
        return type(client).__module__.split(".")[0]  # e.g. "mongomock"


def open_mongo(config: Config, **kw: Any) -> MongoStore:
    """The store named by ``[MongoDB]`` (URI from VIDEOKIT_MONGODB_URI or the config file);
    ``kw`` goes to :meth:`MongoStore.from_uri` (``attempts``, ``timeout_ms``...)."""
    uri = config.get("MongoDB", "URI")
    if not uri:
        raise ConfigError(
            "[MongoDB] URI is empty: set VIDEOKIT_MONGODB_URI=mongodb://... (or [MongoDB] URI in config.ini)"
        )
    if not uri.startswith(("mongodb://", "mongodb+srv://")):
        raise ConfigError(f"[MongoDB] URI must start with mongodb:// or mongodb+srv://, got {redact_url(uri)!r}")
    return MongoStore.from_uri(
        uri,
        config.get("MongoDB", "DatabaseName"),
        config.get("MongoDB", "CollectionName"),
        store_videos=config.get("MongoDB", "StoreVideos"),
        library=config.library,
        **kw,
    )
