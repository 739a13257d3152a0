"""Search modes, moments and similar videos on the MongoDB store, and where its transcripts and
passages live.

Every test runs against each backend of ``mongo_servers`` and the test id names both the server and
the vector search that ran: ``[mongomock-exact]`` and ``[secantusdb-exact]`` (neither has Atlas
Search, so semantic search is the store's exact numpy scan; SecantusDB refuses ``$vectorSearch``
with code 115, as self-managed MongoDB does). Neither serves ``$text``: text ranking and text
moments use the regular-expression fallback there. With ``VIDEOKIT_TEST_MONGODB_URI`` set, also
``[mongodb-server-exact]`` or ``[mongodb-server-atlas-vector-search]``, as that server offers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mongomock
import pymongo
import pytest

from mongo_servers import BACKENDS, SERVER_URI
from search_contract import DIM, MODEL, SearchContract, cook, library, q, vector
from store_contract import make_record
from videokit.errors import UsageError
from videokit.record import Passage, Record, Transcript, TranscriptSegment
from videokit.store.base import Query
from videokit.store.mongo import TRANSCRIPT_CHUNK, MongoStore
from videokit.store.mongo_search import ATLAS, EXACT, vector_search_support


def _server_vector_search() -> str:
    """What the server named by VIDEOKIT_TEST_MONGODB_URI offers (asked once, at collection)."""
    with pymongo.MongoClient(SERVER_URI, serverSelectionTimeoutMS=5000) as client:
        return ATLAS if vector_search_support(client["videokit_probe"]["videos_passages"])[0] else EXACT


# (backend, the vector search the store runs there): the test ids name both
SEARCH_BACKENDS = [
    pytest.param((p.values[0], EXACT), id=f"{p.id}-{EXACT}") for p in BACKENDS if p.id != "mongodb-server"
]
if SERVER_URI:
    _mode = _server_vector_search()
    SEARCH_BACKENDS.append(pytest.param(("server", _mode), id=f"mongodb-server-{_mode}"))


@pytest.fixture(params=SEARCH_BACKENDS)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., MongoStore]]:
    """Stores on a fresh database of this test's backend, dropped afterwards; each checks it
    runs the vector search its test id names."""
    backend, expected = request.param
    if backend == "mongomock":
        client: Callable[[], Any] = mongomock.MongoClient
    elif backend == "secantusdb":
        client = request.getfixturevalue("secantusdb_server").client
    else:
        client = lambda: pymongo.MongoClient(SERVER_URI, serverSelectionTimeoutMS=5000)  # noqa: E731
    made: list[tuple[MongoStore, str]] = []

    def make(**kw: object) -> MongoStore:
        name = f"vksearch_{uuid.uuid4().hex[:10]}"
        kw.setdefault("library", tmp_path)
        store = MongoStore(client(), name, "videos", **kw)
        made.append((store, name))
        assert store.vector_search_mode == expected, store.vector_search_note
        return store

    yield make
    for store, name in made:
        store.client.drop_database(name)
        store.close()


class TestMongoSearchContract(SearchContract):
    @pytest.fixture
    def store(self, make_store: Callable[..., MongoStore]) -> MongoStore:
        return make_store()


# -- transcripts outside the video document ------------------------------------------------------
def long_transcript(name: str, segments: int) -> Record:
    r = make_record(name, title="A long talk")
    r.transcript = Transcript(
        origin="model:faster-whisper/tiny.en",
        language="en",
        language_probability=0.99,
        segments=[
            TranscriptSegment(i * 2.0, i * 2.0 + 1.5, f"Sentence number {i} about word{i}.", 0.9)
            for i in range(segments)
        ],
        model="tiny.en",
    )
    return r


def test_long_transcript_lives_outside_the_document_and_comes_back(make_store) -> None:
    store = make_store()
    r = long_transcript("talk", 5000)
    store.upsert(r)
    db = store.client[store.database]
    doc = db["videos"].find_one({"_id": r.id})
    assert doc["record"]["transcript"]["segments"] == []
    assert doc["record"]["transcript"]["language"] == "en"
    # the words are in the document once (for the text index), the segments with times are not
    assert len(repr(doc)) < len(r.transcript.text) + 20_000
    assert db["videos_transcripts"].count_documents({"video_id": r.id}) == -(-5000 // TRANSCRIPT_CHUNK)
    got = store.get(r.id)
    assert got is not None and got.to_dict() == r.to_dict()
    assert store.search(Query(text="talk"))[0].transcript.segments == r.transcript.segments
    # what is said is searchable, and a moment lands on the chunk that says it
    assert [x.id for x in store.search(Query(text="word4321"))] == [r.id]
    moment = store.moments(Query(text="word4321", mode="text"))[0]
    assert moment.kind == "transcript" and moment.start <= 4321 * 2.0 and 4321 * 2.0 + 1.5 <= moment.end
    assert "word4321" in moment.text


def test_shorter_transcript_and_delete_leave_no_chunks_or_passages(make_store) -> None:
    store = make_store()
    store.upsert(long_transcript("talk", 4500))
    r = long_transcript("talk", 3)
    store.upsert(r)
    db = store.client[store.database]
    assert store.get(r.id).transcript.segments == r.transcript.segments
    assert db["videos_transcripts"].count_documents({"video_id": r.id}) == 1
    assert store.search(Query(text="word4000")) == []
    assert store.moments(Query(text="word4000", mode="text")) == []
    store.delete(r.id)
    for suffix in ("transcripts", "passages", "scenes"):
        assert db[f"videos_{suffix}"].count_documents({}) == 0, suffix


# -- the passages collection ---------------------------------------------------------------------
def test_passages_hold_the_vectors_and_follow_the_record(make_store) -> None:
    store = make_store()
    r = cook()
    store.upsert(r)
    db = store.client[store.database]
    passages = db["videos_passages"]
    doc = db["videos"].find_one({"_id": r.id})
    assert doc["record"]["embeddings"]["passages"] == []
    assert doc["vectors"] == {"model": MODEL, "dim": DIM, "digest": r.embeddings.digest}
    assert "Binary" not in repr(doc)  # no vector in the video document
    stored = list(passages.find({"video_id": r.id}).sort("n", 1))
    assert [p["text"] for p in stored] == [p.text for p in r.embeddings.passages]
    assert all(p["vector"].subtype == 9 and p["model"] == MODEL for p in stored)
    assert [round(x, 5) for x in stored[1]["vector"].as_vector().data] == [round(x, 5) for x in vector("cooking", 0)]

    again = store.get(r.id)  # read back (no vectors), saved again: the same vectors stay
    store.upsert(again)
    kept = list(passages.find({"video_id": r.id}).sort("n", 1))
    assert len(kept) == len(stored) and {p["rev"] for p in kept} != {p["rev"] for p in stored}
    assert [p["vector"] for p in kept] == [p["vector"] for p in stored]

    other = store.get(r.id)
    other.embeddings.digest = "changed"  # passages of another text: the old vectors do not fit
    store.upsert(other)
    assert passages.count_documents({"video_id": r.id, "vector": {"$exists": True}}) == 0
    assert db["videos"].find_one({"_id": r.id})["vectors"] is None

    r.embeddings = None  # no embeddings: the passages stay, for text moments, without vectors
    store.upsert(r)
    assert passages.count_documents({"video_id": r.id}) == 1  # the title (make_record has no more text)
    assert passages.count_documents({"vector": {"$exists": True}}) == 0
    assert store.get(r.id).embeddings is None
    assert store.delete(r.id) and passages.count_documents({}) == 0


def test_passages_of_an_unfinished_write_are_never_found(make_store) -> None:
    store = make_store()
    lib = library(store)
    # a writer that died after writing its passages, before switching the video document
    now = datetime.now(UTC)
    stray = [Passage("scene", "7", "a chef flambes crepes", 1.0, 2.0, vector=vector("cooking", 11, weight=3.0))]
    passages = store.client[store.database]["videos_passages"]
    passages.insert_many(store.passages.docs(lib["match"].id, "deadrev", stray, model=MODEL, digest="x", now=now))
    passages.insert_many(store.passages.docs("f" * 64, "norev", stray, model=MODEL, digest="x", now=now))
    for mode in ("semantic", "hybrid"):
        query = q("chef flambes crepes", mode, vector("cooking", 11, weight=3.0))
        assert store.search(query)[0].id in (lib["cook"].id, lib["bakery"].id), mode
        assert all(m.text != "a chef flambes crepes" for m in store.moments(query)), mode
    assert store.search(q("crepes", "text")) == []
    assert store.moments(q("crepes", "text")) == []
    got = store.get(lib["match"].id)
    assert [p.text for p in got.embeddings.passages] == [p.text for p in lib["match"].embeddings.passages]


# -- exact vector search -------------------------------------------------------------------------
def test_exact_search_scans_only_the_filtered_videos(make_store) -> None:
    store = make_store()
    lib = library(store)
    assert "no Atlas Search" in store.vector_search_note  # why there is no $vectorSearch, in words
    store.search(q("meal", "semantic", vector("cooking")))
    assert store.scanned == sum(len(r.embeddings.passages) for r in lib.values())
    # a filter keeping much of the library: the passages are read and kept here
    assert [r.id for r in store.search(q("meal", "semantic", vector("cooking"), tags=["sport"]))] == [lib["match"].id]
    assert store.scanned == len(lib["match"].embeddings.passages)
    for i in range(6):  # now the one sport video is under a tenth of the library: its id goes to the server
        store.upsert(make_record(f"plain{i}", title=f"Plain {i}"))
    assert [r.id for r in store.search(q("meal", "semantic", vector("cooking"), tags=["sport"]))] == [lib["match"].id]
    assert store.scanned == len(lib["match"].embeddings.passages)
    found = store.moments(q("the", "hybrid", vector("football"), tags=["sport"]))
    assert [m.video_id for m in found] == [lib["match"].id] * 3  # its three passages


def test_semantic_search_without_a_query_vector_is_a_usage_error(make_store) -> None:
    store = make_store()
    library(store)
    with pytest.raises(UsageError, match="needs the query's embedding"):
        store.search(Query(text="meal", mode="semantic"))


def test_a_library_written_before_passages_gets_them_when_saved_again(make_store) -> None:
    store = make_store()
    r = cook()
    store.upsert(r)
    db = store.client[store.database]
    # the layout of an older videokit: no passages, no transcript chunks, no vector header
    db["videos_passages"].delete_many({})
    db["videos"].update_one(
        {"_id": r.id},
        {"$unset": {"passage_count": "", "transcript_chunks": "", "vectors": ""}, "$set": {"record.embeddings": None}},
    )
    assert [x.id for x in store.search(Query(text="kitchen"))] == [r.id]
    assert store.get(r.id).embeddings is None
    assert store.search(q("meal", "semantic", vector("cooking"))) == []
    store.upsert(cook())  # saved again (videokit reindex)
    assert [x.id for x in store.search(q("meal", "semantic", vector("cooking")))] == [r.id]
