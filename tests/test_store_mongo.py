"""The MongoDB store.

Without ``VIDEOKIT_TEST_MONGODB_URI`` these run against mongomock (an in-process imitation
of pymongo), and the test ids say so: ``[mongomock]``. mongomock has no ``$text``, so there
the store's regex fallback serves text search; the ``$text`` path runs only against a real
server (``[mongodb-server]``).
"""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import mongomock
import mongomock.gridfs
import pymongo
import pytest

from credentials import throwaway_password, with_credentials
from store_contract import StoreContract, make_record
from videokit.config import load_config
from videokit.errors import ConfigError, StoreError
from videokit.net import redact_url
from videokit.record import FileInfo, Record
from videokit.store import open_store
from videokit.store.base import Query
from videokit.store.mongo import SCENE_CHUNK, MongoStore, hosts_of

# mongomock's GridFS needs this switch (it makes gridfs accept mongomock databases).
mongomock.gridfs.enable_gridfs_integration()

# Read at import: the autouse fixture in conftest clears VIDEOKIT_* during each test.
SERVER_URI = os.environ.get("VIDEOKIT_TEST_MONGODB_URI")
BACKENDS = [pytest.param("mongomock", id="mongomock")]
if SERVER_URI:
    BACKENDS.append(pytest.param("server", id="mongodb-server"))


def _client(kind: str) -> object:
    if kind == "mongomock":
        return mongomock.MongoClient()
    return pymongo.MongoClient(SERVER_URI, serverSelectionTimeoutMS=5000)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_store(backend: str, tmp_path: Path):
    """Stores on a fresh database, dropped afterwards (so a real server stays clean)."""
    made: list[tuple[MongoStore, str]] = []

    def make(**kw: object) -> MongoStore:
        name = f"vktest_{uuid.uuid4().hex[:10]}"
        kw.setdefault("library", tmp_path)
        store = MongoStore(_client(backend), name, "videos", **kw)
        made.append((store, name))
        return store

    yield make
    for store, name in made:
        store.client.drop_database(name)
        store.close()


class TestMongoStoreContract(StoreContract):
    @pytest.fixture
    def store(self, make_store):
        return make_store()


def test_scenes_live_in_their_own_collection(make_store) -> None:
    store = make_store()
    r = make_record("long", scenes=5000, title="Long take")
    store.upsert(r)
    main = store.client[store.database]["videos"]
    doc = main.find_one({"_id": r.id})
    assert doc["record"]["scenes"]["scenes"] == []
    assert len(repr(doc)) < 20_000  # the main document stays small however many scenes
    chunks = list(store.client[store.database]["videos_scenes"].find({"video_id": r.id}))
    assert len(chunks) == -(-5000 // SCENE_CHUNK)
    got = store.get(r.id)
    assert got.to_dict() == r.to_dict()
    # search results come back whole too
    assert len(store.search(Query(text="long"))[0].scenes.scenes) == 5000


def test_rewrite_with_fewer_scenes_leaves_no_old_chunks(make_store) -> None:
    store = make_store()
    r = make_record("v", scenes=2500)
    store.upsert(r)
    r2 = make_record("v", scenes=3)
    store.upsert(r2)
    assert len(store.get(r.id).scenes.scenes) == 3
    assert store.client[store.database]["videos_scenes"].count_documents({"video_id": r.id}) == 1
    store.delete(r.id)
    assert store.client[store.database]["videos_scenes"].count_documents({}) == 0


def test_user_keys_with_dots_and_dollars_roundtrip(make_store) -> None:
    store = make_store()
    r = make_record("k")
    r.sources[0].user_fields = {"split.name": "train", "$cost": "3", "100%": "yes"}
    r.media.tags = {"com.apple.quicktime.make": "Apple"}
    store.upsert(r)
    assert store.get(r.id).to_dict() == r.to_dict()


def test_first_added_at_is_kept_for_ordering(make_store) -> None:
    store = make_store()
    first = make_record("a", added_at="2025-01-01T00:00:00+00:00")
    other = make_record("b", added_at="2025-06-01T00:00:00+00:00")
    store.upsert(first)
    store.upsert(other)
    again = make_record("a", added_at="2026-01-01T00:00:00+00:00")
    store.upsert(again)  # re-running an input must not move it to the top
    assert [r.id for r in store.search(Query())] == [other.id, first.id]


def test_text_search_ranks_title_hits_first(make_store) -> None:
    store = make_store()
    in_desc = make_record("d", title="Evening", description="a harbour at dusk", added_at="2026-02-01T00:00:00+00:00")
    in_title = make_record("t", title="Harbour lights", added_at="2025-01-01T00:00:00+00:00")
    store.upsert(in_desc)
    store.upsert(in_title)
    assert [r.id for r in store.search(Query(text="harbour"))] == [in_title.id, in_desc.id]
    assert store.count(Query(text="harbour")) == 2
    assert store.count(Query(text="harbour", has_audio=False)) == 0
    assert store.search(Query(text="!!!")) == []


def test_iter_records_pages_by_key(make_store) -> None:
    store = make_store()
    recs = [make_record(f"r{i}", added_at=f"2026-01-{1 + i % 3:02d}T00:00:00+00:00") for i in range(11)]
    for r in recs:
        store.upsert(r)
    got = [r.id for r in store.iter_records(batch=4)]
    assert got == [r.id for r in store.search(Query())]
    assert len(set(got)) == 11
    assert [r.id for r in store.iter_records(Query(offset=2, limit=5), batch=2)] == got[2:7]


def test_gridfs_stores_video_once(make_store, tmp_path: Path) -> None:
    store = make_store(store_videos=True)
    video = tmp_path / "downloads" / "clip.mp4"
    video.parent.mkdir()
    payload = os.urandom(300_000)  # more than one GridFS chunk
    video.write_bytes(payload)
    r = make_record("clip")
    r.file = FileInfo(path="downloads/clip.mp4", name="clip.mp4", size=len(payload), sha256=r.id)  # library-relative
    store.upsert(r)
    store.upsert(r)  # idempotent by content id
    files = store.client[store.database]["videos_videos.files"]
    assert files.count_documents({}) == 1
    assert store.open_video(r.id).read() == payload
    out = tmp_path / "restored" / "clip.mp4"
    assert store.save_video(r.id, out) is True
    assert out.read_bytes() == payload
    assert store.client[store.database]["videos"].find_one({"_id": r.id})["video_stored"] is True
    store.delete(r.id)
    assert files.count_documents({}) == 0
    assert store.open_video(r.id) is None


def test_gridfs_missing_file_is_a_warning_not_a_failure(make_store, caplog: pytest.LogCaptureFixture) -> None:
    store = make_store(store_videos=True)
    r = make_record("gone")  # its file path does not exist
    store.upsert(r)
    assert store.get(r.id) is not None
    assert "not stored in GridFS" in caplog.text


def test_gridfs_off_stores_no_video(make_store, tmp_path: Path) -> None:
    store = make_store()
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x" * 1000)
    r = make_record("v")
    r.file = FileInfo(path=str(video), name="v.mp4", size=1000, sha256=r.id)
    store.upsert(r)
    assert store.client[store.database]["videos_videos.files"].count_documents({}) == 0
    assert store.open_video(r.id) is None


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_is_one_line_naming_host_not_password() -> None:
    port = _closed_port()
    uri, password = with_credentials(f"mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=150")
    with pytest.raises(StoreError) as e:
        MongoStore.from_uri(uri, attempts=2, backoff=0.01)
    msg = str(e.value)
    assert f"127.0.0.1:{port}" in msg
    assert "unreachable" in msg
    assert password not in msg and "alice" not in msg
    assert "\n" not in msg


def test_open_store_from_config_env() -> None:
    port = _closed_port()
    uri, password = with_credentials(
        f"mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=100&connectTimeoutMS=100", "bob"
    )
    env = {"VIDEOKIT_LIBRARY_STORE": "mongodb", "VIDEOKIT_MONGODB_URI": uri}
    cfg = load_config(None, env=env)
    with pytest.raises(StoreError) as e:
        open_store(cfg)
    assert password not in str(e.value) and f"127.0.0.1:{port}" in str(e.value)


def test_empty_or_bad_uri_is_config_error() -> None:
    cfg = load_config(None, env={"VIDEOKIT_LIBRARY_STORE": "mongodb"})
    with pytest.raises(ConfigError, match="VIDEOKIT_MONGODB_URI"):
        open_store(cfg)
    bad_uri, password = with_credentials("http://h/", "u")
    cfg = load_config(None, env={"VIDEOKIT_LIBRARY_STORE": "mongodb", "VIDEOKIT_MONGODB_URI": bad_uri})
    with pytest.raises(ConfigError) as e:
        open_store(cfg)
    assert password not in str(e.value)


def test_uri_helpers_hide_credentials() -> None:
    uri, _ = with_credentials(
        "mongodb+srv://cluster0.abc.mongodb.net/videokit?retryWrites=true", "user", throwaway_password() + "%40x"
    )
    assert hosts_of(uri) == "cluster0.abc.mongodb.net"
    assert hosts_of("mongodb://h1:27017,h2:27018/db") == "h1:27017,h2:27018"
    assert redact_url(uri) == "mongodb+srv://***@cluster0.abc.mongodb.net/videokit?retryWrites=true"


def test_record_without_id_is_rejected(make_store) -> None:
    with pytest.raises(ValueError):
        make_store().upsert(Record())
