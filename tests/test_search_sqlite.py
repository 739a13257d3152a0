"""The search contract on the SQLite store, with each vector backend; the index beside the library."""

from __future__ import annotations

from pathlib import Path

import pytest

from search_contract import SearchContract, TextOnlyContract, library, q, rocket, vector
from videokit.store.base import Query
from videokit.store.sqlite import SQLiteStore


class TestSQLiteVecSearch(SearchContract):
    """The sqlite-vec index (sign bits, Hamming candidates, exact cosine re-ranking)."""

    @pytest.fixture
    def store(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
        # filters never take the exact path here: the index itself must apply them
        monkeypatch.setattr("videokit.store.sqlite_vectors.EXACT_UP_TO", 0)
        s = SQLiteStore(tmp_path / "lib" / "library.sqlite", vectors="sqlite-vec")
        yield s
        s.close()


class TestSQLiteNumpySearch(SearchContract):
    """The exact numpy scan used when neither pysqlite3 nor apsw can load sqlite-vec."""

    @pytest.fixture
    def store(self, tmp_path: Path):
        s = SQLiteStore(tmp_path / "lib" / "library.sqlite", vectors="numpy")
        yield s
        s.close()


class TestTextOnlyStore(TextOnlyContract):
    """A third-party store without vector search (the example plug-in's JSON folder store)."""

    @pytest.fixture
    def store(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
        monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "examples" / "videokit-hello"))
        from videokit_hello import JsonFolderStore

        return JsonFolderStore(tmp_path / "records")


def test_the_index_is_a_file_beside_the_library_and_follows_it(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite"
    with SQLiteStore(path, vectors="sqlite-vec") as s:
        lib = library(s)
        assert s.vectors.backend == "sqlite-vec" and s.vectors.driver in ("pysqlite3", "apsw")
        assert s.index_vectors() == 15  # every passage's vector, from scratch
        assert s.vectors.path == tmp_path / "library.vectors.sqlite" and s.vectors.path.is_file()
        assert s.index_vectors() == 0  # nothing new
        s.delete(lib["bakery"].id or "")
        assert s.index_vectors() == 2  # the two passages of the deleted video left the index
        assert s.moments(q("bread", "semantic", vector("cooking", 5)))[0].video_id == lib["cook"].id
    # a lost index is rebuilt from the library
    (tmp_path / "library.vectors.sqlite").unlink()
    with SQLiteStore(path, vectors="sqlite-vec") as s:
        assert s.moments(q("pasta", "semantic", vector("cooking", 1)))[0].text == "then the pasta boils"
        assert s.index_vectors() == 0


def test_an_index_of_another_library_is_rebuilt(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "a" / "library.sqlite", vectors="sqlite-vec") as a:
        library(a)
        a.index_vectors()
    with SQLiteStore(tmp_path / "b" / "library.sqlite", vectors="sqlite-vec") as b:
        only = rocket()
        b.upsert(only)
    # b's library with a's index file put beside it (e.g. a library.sqlite rebuilt or copied)
    (tmp_path / "b" / "library.vectors.sqlite").unlink(missing_ok=True)
    (tmp_path / "a" / "library.vectors.sqlite").rename(tmp_path / "b" / "library.vectors.sqlite")
    with SQLiteStore(tmp_path / "b" / "library.sqlite", vectors="sqlite-vec") as b:
        assert b.moments(q("orbit", "semantic", vector("space", 8)))[0].video_id == only.id
        assert b.index_vectors() == 0


def test_without_an_extension_driver_one_warning_and_exact_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import videokit.store.sqlite_vectors as sv

    monkeypatch.setattr(sv, "_extension_connect", lambda: None)
    monkeypatch.setattr(sv, "_warned", __import__("threading").Event())
    with caplog.at_level("WARNING", logger="videokit.store.sqlite_vectors"):
        with SQLiteStore(tmp_path / "library.sqlite") as s, SQLiteStore(tmp_path / "library.sqlite") as again:
            lib = library(s)
            assert s.vectors.backend == again.vectors.backend == "numpy"
            assert s.search(q("meal", "hybrid", vector("cooking", 1)))[0].id == lib["cook"].id
    warnings = [r.getMessage() for r in caplog.records if r.name == "videokit.store.sqlite_vectors"]
    assert len(warnings) == 1 and "neither pysqlite3 nor apsw" in warnings[0]
    assert not (tmp_path / "library.vectors.sqlite").exists()
    from videokit.errors import StoreError

    with pytest.raises(StoreError, match="pysqlite3-binary or apsw"):
        SQLiteStore(tmp_path / "other.sqlite", vectors="sqlite-vec")


def test_the_index_finds_what_an_exact_scan_finds(tmp_path: Path) -> None:
    """384-dimensional random vectors: the sign-bit candidates re-ranked give the exact nearest."""
    import numpy as np

    from search_contract import embeddings
    from store_contract import make_record
    from videokit.record import Passage

    rng = np.random.default_rng(7)
    data = rng.standard_normal((300, 10, 384)).astype(np.float32)
    with (
        SQLiteStore(tmp_path / "a.sqlite", vectors="sqlite-vec") as fast,
        SQLiteStore(tmp_path / "b.sqlite", vectors="numpy") as exact,
    ):
        for i in range(300):
            r = make_record(f"v{i}", title=f"video {i}")
            r.embeddings = embeddings(
                [Passage("scene", str(j), f"scene {j}", j, j + 1, data[i, j].tolist()) for j in range(10)]
            )
            r.embeddings.dim = 384
            fast.upsert(r)
            exact.upsert(r)
        for t in range(10):
            near = data[t * 17 % 300, t % 10] + 0.3 * rng.standard_normal(384).astype(np.float32)
            query = q(None, "semantic", near.tolist(), limit=5)
            query.vector_model = "test/topics-16"
            got = [(m.video_id, m.ref) for m in fast.moments(query)]
            want = [(m.video_id, m.ref) for m in exact.moments(query)]
            assert got[0] == want[0] == (make_record(f"v{t * 17 % 300}").id, str(t % 10))
            assert len(got) == len(want) == 5


def test_record_files_hold_no_vectors_and_rebuild_leaves_reindexing_to_do(tmp_path: Path) -> None:
    import json

    from videokit import api
    from videokit.config import load_config
    from videokit.store.sqlite import open_sqlite

    config = load_config(None, overrides={("Library", "Location"): str(tmp_path / "lib")})
    with open_sqlite(config) as s:
        lib = library(s)
        assert s.search(q("meal", "semantic", vector("cooking")))[0].id == lib["cook"].id
    kept = json.loads((config.processed_dir / (lib["cook"].id or "") / "record.json").read_text())
    assert [p["vector"] for p in kept["embeddings"]["passages"]] == [None] * 5
    assert api.rebuild(config).records == 5
    with open_sqlite(config) as s:
        assert s.has_vectors() is False  # the vectors were not in the files: 'videokit reindex' makes them
        assert s.get(lib["cook"].id or "").embeddings is None  # so reindex sees them missing
        assert s.search(q("meal", "semantic", vector("cooking"))) == []
        assert [r.id for r in s.search(Query(text="kitchen"))] == [lib["cook"].id]


def test_migrate_copies_the_vectors(tmp_path: Path) -> None:
    from videokit.store.migrate import migrate

    with (
        SQLiteStore(tmp_path / "a.sqlite") as src,
        SQLiteStore(tmp_path / "b.sqlite") as dst,
    ):
        lib = library(src)
        assert migrate(src, dst).copied == 5
        assert dst.search(q("meal", "semantic", vector("cooking", 1)))[0].id == lib["cook"].id
        assert dst.get(lib["cook"].id or "").to_dict() == src.get(lib["cook"].id or "").to_dict()
        assert migrate(src, dst).unchanged == 5
