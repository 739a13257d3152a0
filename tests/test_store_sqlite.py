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
