"""The search contract on the SQLite store, with each vector backend; the index beside the library."""

from __future__ import annotations

from pathlib import Path

import pytest

from search_contract import SearchContract, TextOnlyContract, library, q, rocket, vector
from videokit.store.base import Query
from videokit.store.sqlite import SQLiteStore


class TestSQLiteIndexSearch(SearchContract):
    """The index (sign bits, Hamming candidates, exact cosine re-ranking)."""

    @pytest.fixture
    def store(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
        # filters never take the exact path here: the index itself must apply them
        monkeypatch.setattr("videokit.store.sqlite_vectors.EXACT_UP_TO", 0)
        s = SQLiteStore(tmp_path / "lib" / "library.sqlite", vectors="index")
        yield s
        s.close()


class TestSQLiteExactSearch(SearchContract):
    """The exact scan (what filters leaving few passages get)."""

    @pytest.fixture
    def store(self, tmp_path: Path):
        s = SQLiteStore(tmp_path / "lib" / "library.sqlite", vectors="exact")
        yield s
        s.close()


class TestTextOnlyStore(TextOnlyContract):
    """A third-party store without vector search (the example plug-in's JSON folder store)."""

    @pytest.fixture
    def store(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
        monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "examples" / "videokit-hello"))
        from videokit_hello import JsonFolderStore

        return JsonFolderStore(tmp_path / "records")


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.npz"))


def test_the_index_is_a_file_beside_the_library_and_follows_it(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite"
    folder = tmp_path / "library.vectors"
    with SQLiteStore(path) as s:
        lib = library(s)
        assert s.vectors.backend == "index"
        assert s.index_vectors() == 15  # every passage's vector, from scratch
        assert s.vectors.folder == folder and len(_files(folder)) == 1
        assert s.index_vectors() == 0  # nothing new
        s.delete(lib["bakery"].id or "")
        assert s.index_vectors() == 2  # the two passages of the deleted video left the index
        assert len(_files(folder)) == 1  # the new file replaced the old one
        assert s.moments(q("bread", "semantic", vector("cooking", 5)))[0].video_id == lib["cook"].id
    # a lost index is rebuilt from the library
    for f in folder.iterdir():
        f.unlink()
    folder.rmdir()
    with SQLiteStore(path) as s:
        assert s.moments(q("pasta", "semantic", vector("cooking", 1)))[0].text == "then the pasta boils"
        assert len(_files(folder)) == 1
        assert s.index_vectors() == 0


def test_changes_after_the_index_file_are_found_before_it_is_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "library.sqlite"
    with SQLiteStore(path) as s:
        lib = library(s)
        s.index_vectors()
        before = _files(tmp_path / "library.vectors")
        s.delete(lib["rocket"].id or "")
        only = rocket()
        only.embeddings.passages[1].text = "a new rocket climbs to orbit"  # type: ignore[union-attr]
        only.embeddings.digest = "changed"  # type: ignore[union-attr]
        s.upsert(only)
        found = s.moments(q("orbit", "semantic", vector("space", 8)))
        assert (found[0].video_id, found[0].text) == (only.id, "a new rocket climbs to orbit")
        assert _files(tmp_path / "library.vectors") == before  # found from the change log, file untouched
        assert s.index_vectors() == 6  # three passages gone, three new
        assert _files(tmp_path / "library.vectors") != before


def test_many_changes_write_a_new_index_file_on_their_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("videokit.store.sqlite_vectors.REWRITE_AFTER", 2)
    with SQLiteStore(tmp_path / "library.sqlite") as s:
        s.upsert(rocket())
        assert s.search(q(None, "semantic", vector("space")))  # builds the first file
        before = _files(tmp_path / "library.vectors")
        lib = library(s)
        assert s.moments(q(None, "semantic", vector("music", 10)))[0].video_id == lib["concert"].id
        assert _files(tmp_path / "library.vectors") != before and len(_files(tmp_path / "library.vectors")) == 1


def test_another_process_sees_the_newer_index_and_the_pruned_log(tmp_path: Path) -> None:
    """Two stores on one library (as two processes): one writes a newer file and prunes the change
    log; the other, holding the older file, loads the newer one instead of missing changes."""
    path = tmp_path / "library.sqlite"
    with SQLiteStore(path) as writer, SQLiteStore(path) as reader:
        writer.upsert(rocket())
        assert reader.search(q(None, "semantic", vector("space")))[0].id == rocket().id
        old = reader.vectors.file
        lib = library(writer)
        assert writer.index_vectors() > 0  # a new file, the log up to it deleted
        assert writer.vectors.file != old and old is not None and not old.exists()
        assert reader.moments(q(None, "semantic", vector("football", 6)))[0].video_id == lib["match"].id
        assert reader.vectors.file == writer.vectors.file


def test_an_unreadable_index_file_is_rebuilt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "library.sqlite"
    with SQLiteStore(path) as s:
        lib = library(s)
        s.index_vectors()
        file = s.vectors.file
    assert file is not None
    file.write_bytes(b"not an index")
    (tmp_path / "library.vectors" / ".writing-abc.npz").write_bytes(b"half")  # a writer that died: ignored
    with caplog.at_level("WARNING", logger="videokit.store.sqlite_vectors"), SQLiteStore(path) as s:
        assert s.search(q(None, "semantic", vector("music")))[0].id == lib["concert"].id
    assert any("unreadable" in r.getMessage() for r in caplog.records)
    assert len(_files(tmp_path / "library.vectors")) == 1


def test_an_index_of_another_library_is_rebuilt(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "a" / "library.sqlite") as a:
        library(a)
        a.index_vectors()
    with SQLiteStore(tmp_path / "b" / "library.sqlite") as b:
        only = rocket()
        b.upsert(only)
    # b's library with a's index put beside it (e.g. a library.sqlite rebuilt or copied)
    (tmp_path / "a" / "library.vectors").rename(tmp_path / "b" / "library.vectors")
    with SQLiteStore(tmp_path / "b" / "library.sqlite") as b:
        assert b.moments(q("orbit", "semantic", vector("space", 8)))[0].video_id == only.id
        assert b.index_vectors() == 0
        assert len(_files(tmp_path / "b" / "library.vectors")) == 1  # a's file is gone


def test_without_faiss_numpy_scans_the_same_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import videokit.store.sqlite_vectors as sv

    monkeypatch.setattr(sv, "faiss", None)
    with SQLiteStore(tmp_path / "library.sqlite") as s:
        lib = library(s)
        assert s.vectors.driver == "numpy"
        assert s.search(q("meal", "hybrid", vector("cooking", 1)))[0].id == lib["cook"].id
        assert s.moments(q(None, "semantic", vector("space", 9)))[0].text == "astronauts float in the station"


def test_the_index_finds_what_an_exact_scan_finds(tmp_path: Path) -> None:
    """384-dimensional random vectors: the sign-bit candidates re-ranked give the exact nearest."""
    import numpy as np

    from search_contract import embeddings
    from store_contract import make_record
    from videokit.record import Passage

    rng = np.random.default_rng(7)
    data = rng.standard_normal((300, 10, 384)).astype(np.float32)
    with (
        SQLiteStore(tmp_path / "a.sqlite", vectors="index") as fast,
        SQLiteStore(tmp_path / "b.sqlite", vectors="exact") as exact,
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


def test_hybrid_ranks_the_text_among_its_newest_matches_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """BM25 scores every match: a hybrid search bounds its text side to the newest TEXT_RANKED
    matches (text mode is not bounded)."""
    with SQLiteStore(tmp_path / "library.sqlite") as s:
        lib = library(s)
        # a vector of a model the library does not hold: the hybrid result is the text ranking alone
        words = Query(text="the", mode="hybrid", vector=vector("music"), vector_model="other/model")
        assert len(s.search(words)) == 5
        assert len(s.moments(words)) > 2
        monkeypatch.setattr("videokit.store.sqlite.TEXT_RANKED", 2)
        assert {r.id for r in s.search(words)} == {lib["rocket"].id, lib["concert"].id}  # the two stored last
        assert {m.video_id for m in s.moments(words)} == {lib["concert"].id}  # its two passages saying "the"
        assert len(s.search(Query(text="the"))) == 5


def test_videos_beside_a_near_one_come_too_and_none_when_nothing_is_near(tmp_path: Path) -> None:
    """api.search's floor: nothing by meaning unless one video reaches MIN_SIMILARITY (0.3); then
    every video down to MIN_SIMILARITY_BESIDE (0.2)."""
    import math

    from search_contract import DIM, MODEL
    from videokit import api
    from videokit.config import load_config
    from videokit.store.sqlite import open_sqlite

    config = load_config(None, overrides={("Library", "Location"): str(tmp_path / "lib")})
    with open_sqlite(config) as s:
        lib = library(s)

    def near_cooking(cos: float) -> Query:  # cos to the cook video's title, cos / 1.118 to the bakery's
        v = [0.0] * DIM
        v[0], v[15] = cos, math.sqrt(1 - cos * cos)
        return Query(mode="semantic", vector=v, vector_model=MODEL)

    assert [r.id for r in api.search(config, near_cooking(0.32))] == [lib["cook"].id, lib["bakery"].id]  # 0.32, 0.29
    assert api.search(config, near_cooking(0.25)) == []  # 0.25 and 0.22: nothing reaches 0.3
    assert [r.id for r in api.search(config, q(None, "semantic", vector("cooking"), min_score=0.95))] == [
        lib["cook"].id
    ]


def test_a_writer_busy_elsewhere_never_blocks_a_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process writing the index (holding its lock): a search goes on from memory, finds
    the new passages, and leaves the file to that writer."""
    import fcntl

    monkeypatch.setattr("videokit.store.sqlite_vectors.REWRITE_AFTER", 1)
    with SQLiteStore(tmp_path / "library.sqlite") as s:
        s.upsert(rocket())
        s.index_vectors()
        before = _files(tmp_path / "library.vectors")
        with open(tmp_path / "library.vectors" / "lock", "a+b") as held:
            fcntl.flock(held.fileno(), fcntl.LOCK_EX)
            lib = library(s)
            assert s.moments(q(None, "semantic", vector("music", 10)))[0].video_id == lib["concert"].id
            assert _files(tmp_path / "library.vectors") == before
        assert s.index_vectors() == 18  # the lock free: written (12 new passages, rocket's 3 replaced)
        assert _files(tmp_path / "library.vectors") != before
        assert s.moments(q(None, "semantic", vector("music", 10)))[0].video_id == lib["concert"].id


def test_the_former_sqlite_vec_index_file_is_removed(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "library.sqlite") as s:
        lib = library(s)
        (tmp_path / "library.vectors.sqlite").write_bytes(b"old index")
        assert s.search(q(None, "semantic", vector("space")))[0].id == lib["rocket"].id
    assert not (tmp_path / "library.vectors.sqlite").exists()


def test_an_index_that_cannot_be_written_is_kept_in_memory(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "library.vectors").write_bytes(b"")  # a file where the folder goes: nothing can be written there
    with (
        caplog.at_level("WARNING", logger="videokit.store.sqlite_vectors"),
        SQLiteStore(tmp_path / "library.sqlite") as s,
    ):
        lib = library(s)
        assert s.search(q(None, "semantic", vector("space")))[0].id == lib["rocket"].id
        assert s.moments(q(None, "semantic", vector("cooking", 2)))[0].text == "a pan on the stove"
    warnings = [r.getMessage() for r in caplog.records if r.name == "videokit.store.sqlite_vectors"]
    assert len(warnings) == 1 and "kept in memory" in warnings[0]
