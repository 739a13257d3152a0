from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from store_contract import StoreContract, make_record
from videokit.store.sqlite import SQLiteStore


class TestSQLiteStoreContract(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path):
        s = SQLiteStore(tmp_path / "lib" / "library.sqlite")
        yield s
        s.close()


def test_created_on_first_use_with_migrations(tmp_path: Path) -> None:
    path = tmp_path / "new" / "library.sqlite"
    s = SQLiteStore(path)
    assert path.exists()
    assert s.schema_version >= 1
    s.close()
    # reopening does not re-run migrations
    s2 = SQLiteStore(path)
    s2.upsert(make_record("a"))
    assert s2.count() == 1
    s2.close()


def test_persists_across_connections(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite"
    r = make_record("a", title="Persistent")
    with SQLiteStore(path) as s:
        s.upsert(r)
    with SQLiteStore(path) as s:
        assert s.get(r.id).title == "Persistent"


def test_not_a_database_is_clear_error(tmp_path: Path) -> None:
    from videokit.errors import StoreError

    path = tmp_path / "library.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="library.sqlite"):
        SQLiteStore(path)
    assert sqlite3  # keep import for clarity of failure type


def _open_together(path: str, barrier, results) -> None:  # noqa: ANN001 - multiprocessing objects
    barrier.wait()
    try:
        with SQLiteStore(path) as s:
            results.put(s.count())
    except Exception as e:  # reported to the parent test
        results.put(str(e))


def test_many_processes_creating_the_same_library_at_once(tmp_path: Path) -> None:
    # two `videokit worker` processes starting together on a new library got "database is locked"
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    n = 6
    for round_ in range(5):
        path = str(tmp_path / f"lib{round_}" / "library.sqlite")
        barrier, results = ctx.Barrier(n), ctx.Queue()
        procs = [ctx.Process(target=_open_together, args=(path, barrier, results)) for _ in range(n)]
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=60) for _ in procs]
        for p in procs:
            p.join()
        assert outcomes == [0] * n
