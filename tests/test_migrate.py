"""`videokit migrate` and ``videokit.store.migrate``: SQLite ⇄ MongoDB, idempotent.

The MongoDB side runs on each backend of ``mongo_servers``, named by the test id: ``[mongomock]``
(in-process imitation) and ``[secantusdb]`` (SecantusDB, a MongoDB-wire server on WiredTiger,
reached over loopback with a user and password; not MongoDB).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mongomock
import mongomock.gridfs
import mongomock.store
import pytest
from click.testing import CliRunner

from credentials import with_credentials
from mongo_servers import SecantusServer
from store_contract import make_record
from videokit._cli import main
from videokit.record import FileInfo, Record, Tag
from videokit.store.base import Query
from videokit.store.migrate import MigrateReport, migrate
from videokit.store.mongo import MongoStore, hosts_of
from videokit.store.sqlite import SQLiteStore

mongomock.gridfs.enable_gridfs_integration()


def _records() -> list[Record]:
    recs = [
        make_record(
            f"v{i}",
            title=f"Clip {i}",
            tags=("Batch", f"T{i}"),
            url=f"https://cdn{i}.example.com/v{i}.mp4",
            added_at=f"2026-01-{i + 1:02d}T00:00:00+00:00",
            scenes=i,
        )
        for i in range(6)
    ]
    recs.append(make_record("long", title="Long one", scenes=2500, description="many cuts"))
    recs[0].sources[0].user_fields = {"split.name": "train"}
    return recs


def _dump(store) -> dict[str, dict]:
    return {r.id: r.to_dict() for r in store.iter_records()}


@pytest.fixture
def sqlite_src(tmp_path: Path):
    s = SQLiteStore(tmp_path / "src" / "library.sqlite")
    for r in _records():
        s.upsert(r)
    yield s
    s.close()


@pytest.fixture
def mongo(mongo_client: Callable[[], Any]) -> Iterator[MongoStore]:
    """An empty MongoDB store on this test's backend; its database is dropped afterwards."""
    name = f"vktest_{uuid.uuid4().hex[:10]}"
    s = MongoStore(mongo_client(), name, "videos")
    yield s
    s.client.drop_database(name)
    s.close()


def test_sqlite_to_mongo_to_sqlite_roundtrip_idempotent(sqlite_src, mongo, tmp_path: Path) -> None:
    original = _dump(sqlite_src)
    first = migrate(sqlite_src, mongo)
    assert (first.copied, first.updated, first.unchanged, first.failed) == (7, 0, 0, [])
    again = migrate(sqlite_src, mongo)
    assert (again.copied, again.updated, again.unchanged) == (0, 0, 7)
    assert mongo.count() == 7
    assert _dump(mongo) == original

    back = SQLiteStore(tmp_path / "back" / "library.sqlite")
    rep = migrate(mongo, back)
    assert (rep.copied, rep.unchanged) == (7, 0)
    rep2 = migrate(mongo, back)
    assert (rep2.copied, rep2.updated, rep2.unchanged) == (0, 0, 7)
    assert back.count() == 7
    assert _dump(back) == original
    # the copy is searchable, not just stored
    assert {r.title for r in back.search(Query(text="long"))} == {"Long one"}
    assert len(back.search(Query(domain="example.com"))) == 6
    back.close()


def test_changed_record_is_updated_not_duplicated(sqlite_src, mongo) -> None:
    migrate(sqlite_src, mongo)
    r = sqlite_src.search(Query(tags=["t3"]))[0]
    r.tags.append(Tag("Edited", "user"))
    sqlite_src.upsert(r)
    rep = migrate(sqlite_src, mongo)
    assert (rep.copied, rep.updated, rep.unchanged) == (0, 1, 6)
    assert mongo.count() == 7
    assert [x.id for x in mongo.search(Query(tags=["edited"]))] == [r.id]


def test_query_limits_what_is_copied_and_progress_reports(sqlite_src, mongo) -> None:
    seen: list[tuple[int, int]] = []
    rep = migrate(
        sqlite_src, mongo, query=Query(tags=["batch"], min_scenes=3), progress=lambda d, t: seen.append((d, t))
    )
    assert rep.copied == 3 and mongo.count() == 3
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_record_the_destination_rejects_is_reported_and_copy_goes_on(sqlite_src, mongo) -> None:
    bad = make_record("huge-number")
    bad.timings["weird"] = 2**70  # JSON (SQLite) takes it, BSON has no such integer
    sqlite_src.upsert(bad)
    rep = migrate(sqlite_src, mongo)
    assert rep.copied == 7
    assert [rid for rid, _ in rep.failed] == [bad.id]
    assert "MongoDB" in rep.failed[0][1]
    assert rep.total == 8 and isinstance(rep, MigrateReport)


# -- CLI --------------------------------------------------------------------------------
@pytest.fixture(params=[pytest.param("mongomock", id="mongomock"), pytest.param("secantusdb", id="secantusdb")])
def mongo_server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str, Any]]:
    """(URI with a user and password for the CLI, that password, a client on the same server).

    mongomock: every pymongo client the CLI makes talks to one shared in-process mongomock.
    secantusdb: the session's server, as its admin."""
    if request.param == "mongomock":
        shared = mongomock.store.ServerStore()
        monkeypatch.setattr(
            "videokit.store.mongo.pymongo.MongoClient",
            lambda uri, **kw: mongomock.MongoClient(uri, _store=shared, **kw),
        )
        uri, password = with_credentials("mongodb://db.example.net:27017/")
        yield uri, password, mongomock.MongoClient(_store=shared)
        return
    server: SecantusServer = request.getfixturevalue("secantusdb_server")
    with server.client() as client:
        yield server.uri(), server.admin_password, client


def _cli(library: Path, *args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, ["--library", str(library), "--quiet", "migrate", *args], env=env)


def test_cli_migrate_both_ways_with_gridfs(tmp_path: Path, mongo_server: tuple[str, str, Any]) -> None:
    lib = tmp_path / "lib"
    video = lib / "downloads" / "clip.mp4"
    video.parent.mkdir(parents=True)
    video.write_bytes(os.urandom(50_000))
    with SQLiteStore(lib / "library.sqlite") as s:
        for r in _records():
            s.upsert(r)
        withfile = make_record("clip", title="Has a file")
        withfile.file = FileInfo(path="downloads/clip.mp4", name="clip.mp4", size=50_000, sha256=withfile.id)
        s.upsert(withfile)
    uri, password, client = mongo_server
    team = f"team_{uuid.uuid4().hex[:8]}"
    env = {"VIDEOKIT_MONGODB_STOREVIDEOS": "true", "VIDEOKIT_MONGODB_DATABASENAME": team}

    res = _cli(lib, "--to", uri, env=env)
    assert res.exit_code == 0, res.output
    assert "8 copied, 0 updated, 0 unchanged, 0 failed" in res.output
    assert f"mongodb://{hosts_of(uri)}/{team}.videos" in res.output and password not in res.output
    res = _cli(lib, "--to", uri, env=env)
    assert "0 copied, 0 updated, 8 unchanged, 0 failed" in res.output

    assert client[team]["videos"].count_documents({}) == 8
    assert client[team]["videos_videos.files"].count_documents({}) == 1

    other = tmp_path / "other"
    res = _cli(lib, "--from", uri, "--to", str(other), env=env)
    assert res.exit_code == 0, res.output
    assert "8 copied" in res.output
    with SQLiteStore(other / "library.sqlite") as s, SQLiteStore(lib / "library.sqlite") as orig:
        assert _dump(s) == _dump(orig)
    client.drop_database(team)


def test_cli_same_store_is_usage_error(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    res = _cli(lib, "--to", str(lib))
    assert res.exit_code == 2
    assert "same store" in res.output


def test_cli_unreachable_destination_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    uri, password = with_credentials(f"mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=100&connectTimeoutMS=100")
    res = _cli(tmp_path / "lib", "--to", uri)
    assert res.exit_code == 1
    line = [x for x in res.output.splitlines() if x.startswith("error:")]
    assert len(line) == 1 and f"127.0.0.1:{port}" in line[0]
    assert password not in res.output


def test_cli_rejects_other_schemes(tmp_path: Path) -> None:
    res = _cli(tmp_path / "lib", "--to", "postgres://h/db")
    assert res.exit_code == 2
    assert "postgres://" in res.output and "mongodb://" in res.output
