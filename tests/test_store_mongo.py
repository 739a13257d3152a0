"""The MongoDB store.

Each store test runs against every backend of ``mongo_servers`` and the test id says which:
``[mongomock]`` (in-process imitation, no ``$text``), ``[secantusdb]`` (SecantusDB, a
MongoDB-wire server on WiredTiger with users and roles, no text indexes) and, when
``VIDEOKIT_TEST_MONGODB_URI`` names one, ``[mongodb-server]``. Neither mongomock nor SecantusDB
serves ``$text``: there the store's regex search runs; the ``$text`` path needs a real server.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mongomock
import pytest
from click.testing import CliRunner

from credentials import throwaway_password, with_credentials
from mongo_servers import SecantusServer
from store_contract import StoreContract, make_record
from videokit import api
from videokit._cli import main
from videokit.config import load_config
from videokit.errors import ConfigError, StoreError
from videokit.net import redact_url
from videokit.record import FileInfo, Record
from videokit.store import open_store
from videokit.store.base import Query
from videokit.store.mongo import REGEX, SCENE_CHUNK, MongoStore, hosts_of


@pytest.fixture
def make_store(mongo_client: Callable[[], Any], tmp_path: Path):
    """Stores on a fresh database, dropped afterwards (so a server stays clean)."""
    made: list[tuple[MongoStore, str]] = []

    def make(**kw: object) -> MongoStore:
        name = f"vktest_{uuid.uuid4().hex[:10]}"
        kw.setdefault("library", tmp_path)
        store = MongoStore(mongo_client(), name, "videos", **kw)
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


# -- degraded servers and users: read-only rights, no text index --------------------------------
def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("videokit") and r.levelno >= logging.WARNING]


@pytest.fixture
def filled(secantusdb_server: SecantusServer):
    """A SecantusDB database holding three records, written by the admin; dropped afterwards."""
    name = f"vktest_{uuid.uuid4().hex[:10]}"
    recs = [
        make_record("harbour", title="Harbour lights", tags=("Night",), scenes=2500),
        make_record("cat", title="Cat video", description="a kitten plays", added_at="2026-02-01T00:00:00+00:00"),
        make_record("news", title="Evening news", url="https://www.example.com/news.mp4"),
    ]
    with MongoStore.from_uri(secantusdb_server.uri(), name, "videos") as writer:
        for r in recs:
            writer.upsert(r)
        yield name, recs
        writer.client.drop_database(name)


def test_read_only_user_reads_and_searches_with_one_warning_and_writes_fail_clearly(
    secantusdb_server: SecantusServer, filled: tuple[str, list[Record]], caplog: pytest.LogCaptureFixture
) -> None:
    name, recs = filled
    uri, password = secantusdb_server.add_user(name, "read")
    caplog.clear()
    with MongoStore.from_uri(uri, name, "videos") as store:
        warned = _warnings(caplog)
        assert len(warned) == 1, warned
        assert "read-only user" in warned[0] and "indexes" in warned[0] and "readWrite" in warned[0]
        assert "\n" not in warned[0] and password not in warned[0]
        assert store.read_only is True

        harbour, cat, news = recs
        assert store.get(harbour.id).to_dict() == harbour.to_dict()  # scenes from their own collection too
        assert store.get(cat.id[:8]).id == cat.id
        assert [r.id for r in store.search(Query(text="harbour"))] == [harbour.id]
        assert [r.id for r in store.search(Query(tags=["night"]))] == [harbour.id]
        assert store.find_by_source("https://www.example.com/news.mp4").id == news.id
        assert store.count() == 3 and store.count(Query(text="kitten")) == 1
        assert [r.id for r in store.search(Query())] == [cat.id, *sorted([harbour.id, news.id])]  # newest first
        assert len(list(store.iter_records(batch=2))) == 3
        assert store.text_search_mode == REGEX  # SecantusDB has no text index to use
        assert len(_warnings(caplog)) == 1  # reading logged nothing more

        for write in (lambda: store.upsert(make_record("new")), lambda: store.delete(cat.id)):
            with pytest.raises(StoreError) as e:
                write()
            msg = str(e.value)
            assert "not allowed for this user" in msg and f"readWrite role on database '{name}'" in msg
            assert password not in msg and "\n" not in msg
    with MongoStore.from_uri(secantusdb_server.uri(), name, "videos") as admin:
        assert admin.count() == 3 and admin.get(cat.id) is not None  # nothing was changed


def test_read_only_user_reads_and_searches_through_the_command_line(
    secantusdb_server: SecantusServer, filled: tuple[str, list[Record]], tmp_path: Path
) -> None:
    name, recs = filled
    uri, password = secantusdb_server.add_user(name, "read")
    env = {"VIDEOKIT_LIBRARY_STORE": "mongodb", "VIDEOKIT_MONGODB_URI": uri, "VIDEOKIT_MONGODB_DATABASENAME": name}
    lib = str(tmp_path / "lib")
    res = CliRunner().invoke(main, ["--library", lib, "search", "kitten", "--json"], env=env)
    assert res.exit_code == 0, res.output
    found = json.loads(res.stdout)
    assert [r["id"] for r in found] == [recs[1].id]
    warned = [line for line in res.stderr.splitlines() if "read-only user" in line]
    assert len(warned) == 1 and "indexes" in warned[0] and password not in res.stderr

    res = CliRunner().invoke(main, ["--library", lib, "status", "--json"], env=env)
    assert res.exit_code == 0, res.output
    library = json.loads(res.stdout)["library"]
    assert library["store"] == "mongodb" and library["read_only"] is True and library["search"] == "regex"
    assert library["location"] == f"mongodb://{secantusdb_server.host}/{name}.videos"
    res = CliRunner().invoke(main, ["--library", lib, "status"], env=env)
    assert f"library mongodb mongodb://{secantusdb_server.host}/{name}.videos: text search by regular" in res.stdout
    assert "read-only user: writes fail" in res.stdout and password not in res.output


def test_user_without_rights_on_the_database_gets_a_clear_error(
    secantusdb_server: SecantusServer, filled: tuple[str, list[Record]]
) -> None:
    name, _ = filled
    uri, password = secantusdb_server.add_user(f"{name}_other", "read")  # read rights elsewhere only
    with MongoStore.from_uri(uri, name, "videos") as store, pytest.raises(StoreError) as e:
        store.search(Query())
    msg = str(e.value)
    assert "searching is not allowed for this user" in msg and f"read role on database '{name}'" in msg
    assert password not in msg


def test_wrong_password_is_one_line_without_it(secantusdb_server: SecantusServer) -> None:
    wrong = throwaway_password()
    with pytest.raises(StoreError) as e:
        MongoStore.from_uri(secantusdb_server.uri("admin", wrong), "vktest_x", "videos", attempts=1)
    msg = str(e.value)
    assert "refused the user and password" in msg and "check them in [MongoDB] URI" in msg
    assert secantusdb_server.host in msg
    assert wrong not in msg and "\n" not in msg


def test_refused_text_index_means_regex_search_said_once(
    secantusdb_server: SecantusServer, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"vktest_{uuid.uuid4().hex[:10]}"
    with MongoStore.from_uri(secantusdb_server.uri(), name, "videos") as store:
        try:
            warned = _warnings(caplog)
            assert len(warned) == 1 and "text search uses regular expressions" in warned[0]
            assert "text indexes are not supported" in warned[0]  # the server's own reason
            assert store.text_search_mode == REGEX and "text index" in (store.text_search_note or "")
            store.upsert(make_record("a", title="Harbour lights"))
            for _ in range(3):
                assert len(store.search(Query(text="harbour"))) == 1
            assert store.count(Query(text="harbour")) == 1
            assert len(_warnings(caplog)) == 1
        finally:
            store.client.drop_database(name)


def test_client_without_text_switches_to_regex_once(caplog: pytest.LogCaptureFixture) -> None:
    store = MongoStore(mongomock.MongoClient())
    assert _warnings(caplog) == []  # mongomock accepts the text index; $text is what it lacks
    store.upsert(make_record("a", title="Harbour lights"))
    assert [r.title for r in store.search(Query(text="harbour"))] == ["Harbour lights"]
    assert store.search(Query(text="lights")) and store.count(Query(text="harbour")) == 1
    warned = _warnings(caplog)
    assert len(warned) == 1 and "text search uses regular expressions" in warned[0]
    assert store.text_search_mode == REGEX


def test_status_names_the_library_store_and_its_search_mode(secantusdb_server: SecantusServer, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    sqlite = api.status(load_config(None, env={}, overrides={("Library", "Location"): str(lib)})).library
    assert (sqlite.store, sqlite.location, sqlite.search) == ("sqlite", str(lib / "library.sqlite"), "fts5")
    assert not lib.exists()  # status only reads

    name = f"vktest_{uuid.uuid4().hex[:10]}"
    env = {
        "VIDEOKIT_LIBRARY_STORE": "mongodb",
        "VIDEOKIT_MONGODB_URI": secantusdb_server.uri(),
        "VIDEOKIT_MONGODB_DATABASENAME": name,
    }
    st = api.status(load_config(None, env=env, overrides={("Library", "Location"): str(lib)})).library
    assert (st.store, st.search, st.read_only, st.error) == ("mongodb", "regex", False, None)
    assert "text indexes are not supported" in st.note
    text = CliRunner().invoke(main, ["--library", str(lib), "status"], env=env).stdout
    assert (
        f"library mongodb mongodb://{secantusdb_server.host}/{name}.videos: text search by regular expressions" in text
    )
    assert secantusdb_server.admin_password not in text

    port = _closed_port()
    env["VIDEOKIT_MONGODB_URI"], password = with_credentials(
        f"mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=100"
    )
    res = CliRunner().invoke(main, ["--library", str(lib), "status", "--json"], env=env)
    assert res.exit_code == 0, res.output
    down = json.loads(res.stdout)["library"]
    assert down["search"] is None and "unreachable" in down["error"] and password not in res.output
    with MongoStore.from_uri(secantusdb_server.uri(), name, "videos") as store:
        store.client.drop_database(name)
