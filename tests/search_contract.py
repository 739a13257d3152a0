"""The search contract (modes, moments, similar videos), written once and run against every store
with vector search (SQLite, MongoDB).

Subclass ``SearchContract`` and provide a ``store`` fixture returning an empty store. The vectors
are built without a model: each passage points at its topic (cooking, football, space, music) with
a smaller component of its own, so which passage and video is nearest a query is known.
"""

from __future__ import annotations

import hashlib
import math

import pytest

from store_contract import make_record
from videokit.errors import StoreError
from videokit.record import Embeddings, Passage, Record, Tag
from videokit.store.base import MOMENTS_PER_VIDEO, Moment, Query, Store

DIM = 16
MODEL = "test/topics-16"
TOPICS = {"cooking": 0, "football": 1, "space": 2, "music": 3}
MODES = ["text", "semantic", "hybrid"]


def vector(topic: str, detail: int | None = None, *, weight: float = 0.5) -> list[float]:
    """A unit vector on ``topic``'s axis, leaning ``weight`` towards axis ``4 + detail``."""
    v = [0.0] * DIM
    v[TOPICS[topic]] = 1.0
    if detail is not None:
        v[4 + detail] = weight
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def embeddings(passages: list[Passage], model: str = MODEL) -> Embeddings:
    digest = hashlib.sha256("\n".join(f"{p.kind}:{p.ref}:{p.text}" for p in passages).encode()).hexdigest()
    return Embeddings(model=model, dim=DIM, passages=passages, digest=digest)


def cook() -> Record:
    r = make_record("cook", title="Evening kitchen", tags=("Food",), duration=30, added_at="2026-01-05T00:00:00+00:00")
    r.embeddings = embeddings(
        [
            Passage("title", "", "Evening kitchen", vector=vector("cooking")),
            Passage("transcript", "0", "we slice onions and garlic", 0.0, 10.0, vector("cooking", 0)),
            Passage("transcript", "1", "then the pasta boils", 10.0, 20.0, vector("cooking", 1)),
            Passage("scene", "2", "a pan on the stove", 20.0, 30.0, vector("cooking", 2)),
            Passage("scene", "3", "steam rises over the pot", 24.0, 30.0, vector("cooking", 3)),
        ]
    )
    return r


def bakery() -> Record:
    r = make_record("bakery", title="Bread at dawn", tags=("Food",), duration=45, added_at="2026-01-04T00:00:00+00:00")
    r.embeddings = embeddings(
        [
            Passage("title", "", "Bread at dawn", vector=vector("cooking", 4)),
            Passage("transcript", "0", "kneading the dough for bread", 3.0, 9.0, vector("cooking", 5)),
        ]
    )
    return r


def match() -> Record:
    r = make_record(
        "match", title="Saturday highlights", tags=("Sport",), duration=120, added_at="2026-01-03T00:00:00+00:00"
    )
    r.embeddings = embeddings(
        [
            Passage("title", "", "Saturday highlights", vector=vector("football")),
            Passage("transcript", "0", "the striker scores a late goal", 30.0, 45.0, vector("football", 6)),
            Passage("scene", "4", "crowd cheering in the stadium", 60.0, 70.0, vector("football", 7)),
        ]
    )
    return r


def rocket() -> Record:
    r = make_record("rocket", title="Launch day", tags=("Science",), duration=300, added_at="2026-01-02T00:00:00+00:00")
    r.embeddings = embeddings(
        [
            Passage("title", "", "Launch day", vector=vector("space")),
            Passage("transcript", "3", "the rocket lifts off into orbit", 100.0, 110.0, vector("space", 8)),
            Passage("scene", "9", "astronauts float in the station", 200.0, 210.0, vector("space", 9)),
        ]
    )
    return r


def concert() -> Record:
    r = make_record(
        "concert", title="Live at the hall", tags=("Music",), duration=200, added_at="2026-01-01T00:00:00+00:00"
    )
    r.embeddings = embeddings(
        [
            Passage("title", "", "Live at the hall", vector=vector("music")),
            Passage("transcript", "0", "the orchestra plays a symphony", 5.0, 15.0, vector("music", 10)),
        ]
    )
    return r


def library(store: Store) -> dict[str, Record]:
    records = {f.__name__: f() for f in (cook, bakery, match, rocket, concert)}
    for r in records.values():
        store.upsert(r)
    return records


def q(text: str | None, mode: str, vec: list[float] | None = None, **kw: object) -> Query:
    """A query in ``mode``; the vector (what the API's embedder would give) only where the mode uses it."""
    use = vec if mode != "text" else None
    return Query(text=text, mode=mode, vector=use, vector_model=MODEL if use is not None else None, **kw)  # type: ignore[arg-type]


class SearchContract:
    @pytest.fixture
    def store(self) -> Store:  # pragma: no cover - provided by subclasses
        raise NotImplementedError

    def ids(self, records: list[Record]) -> list[str]:
        return [r.id or "" for r in records]

    # -- videos --------------------------------------------------------------------------------
    def test_store_declares_vector_search(self, store: Store) -> None:
        assert store.vector_search is True
        assert store.has_vectors() is False
        lib = library(store)
        assert store.has_vectors() is True
        assert store.vector_models() == [MODEL]
        assert lib

    @pytest.mark.parametrize("mode", ["semantic", "hybrid"])
    def test_meaning_finds_videos_without_the_words(self, store: Store, mode: str) -> None:
        lib = library(store)
        found = store.search(q("preparing a meal", mode, vector("cooking")))
        assert self.ids(found)[:2] in ([lib["cook"].id, lib["bakery"].id], [lib["bakery"].id, lib["cook"].id])
        assert store.search(q("preparing a meal", "text")) == []

    @pytest.mark.parametrize("mode", MODES)
    def test_spoken_words_are_found_in_every_mode(self, store: Store, mode: str) -> None:
        lib = library(store)
        found = store.search(q("striker", mode, vector("football", 6)))
        assert self.ids(found)[0] == lib["match"].id
        if mode == "text":
            assert self.ids(found) == [lib["match"].id]

    def test_hybrid_fuses_the_text_and_the_vector_rankings(self, store: Store) -> None:
        lib = library(store)
        text = self.ids(store.search(q("symphony", "text")))
        semantic = self.ids(store.search(q("symphony", "semantic", vector("space", 8))))
        hybrid = self.ids(store.search(q("symphony", "hybrid", vector("space", 8))))
        assert text == [lib["concert"].id]
        assert semantic[0] == lib["rocket"].id
        # the concert is first by text and also in the vector ranking; the rocket is first by vector only
        assert hybrid[:2] == [lib["concert"].id, lib["rocket"].id]
        assert set(hybrid) == set(semantic) | set(text)

    @pytest.mark.parametrize("mode", MODES)
    def test_filters_apply_in_every_mode(self, store: Store, mode: str) -> None:
        lib = library(store)
        assert self.ids(store.search(q("the", mode, vector("cooking"), tags=["sport"]))) == [lib["match"].id]
        short = self.ids(store.search(q("the", mode, vector("space"), max_duration=60)))
        assert sorted(short) == sorted([lib["cook"].id, lib["bakery"].id])
        assert store.search(q("the", mode, vector("cooking"), tags=["no such tag"])) == []
        assert self.ids(store.search(q("the", mode, vector("music"), ids=[lib["rocket"].id]))) == [lib["rocket"].id]

    @pytest.mark.parametrize("mode", ["semantic", "hybrid"])
    def test_semantic_limit_offset_and_order(self, store: Store, mode: str) -> None:
        lib = library(store)
        leaning = [1.0, 0.3, 0.2, 0.1] + [0.0] * (DIM - 4)  # cooking, then football, space, music
        norm = math.sqrt(sum(x * x for x in leaning))
        v = [x / norm for x in leaning]
        everything = self.ids(store.search(q("kitchen", mode, v)))
        order = ["cook", "bakery", "match", "rocket", "concert"]
        assert everything == [lib[name].id for name in order]
        assert self.ids(store.search(q("kitchen", mode, v, limit=2))) == everything[:2]
        assert self.ids(store.search(q("kitchen", mode, v, limit=2, offset=2))) == everything[2:4]

    @pytest.mark.parametrize("mode", ["semantic", "hybrid"])
    def test_min_score_leaves_out_videos_not_near_enough(self, store: Store, mode: str) -> None:
        lib = library(store)
        near = self.ids(store.search(q("stadium", mode, vector("cooking"), min_score=0.5)))
        if mode == "semantic":
            assert sorted(near) == sorted([lib["cook"].id, lib["bakery"].id])  # 1.0 and 0.89; the rest 0
        else:  # the text ranking still brings the video that has the word
            assert sorted(near) == sorted([lib["cook"].id, lib["bakery"].id, lib["match"].id])
        assert store.search(q("stadium", "semantic", vector("cooking"), min_score=1.01)) == []

    def test_with_vectors_gives_the_stored_vectors_back(self, store: Store) -> None:
        lib = library(store)
        got = store.get(lib["match"].id or "")
        assert got is not None
        full = store.with_vectors(got)
        assert full.embeddings is not None and got.embeddings is not None
        for p, want in zip(full.embeddings.passages, lib["match"].embeddings.passages, strict=True):
            assert p.vector is not None and want.vector is not None
            assert max(abs(a - b) for a, b in zip(p.vector, want.vector, strict=True)) < 1e-6
        assert all(p.vector is None for p in got.embeddings.passages)  # the record read is unchanged
        other = Store.with_vectors(store, got)  # the default: a store keeping no vectors
        assert other is got

    def test_text_mode_and_no_mode_keep_the_text_search(self, store: Store) -> None:
        lib = library(store)
        assert self.ids(store.search(Query(text="stadium"))) == [lib["match"].id]  # a scene's words
        assert self.ids(store.search(Query(text="kneading"))) == [lib["bakery"].id]  # transcript words
        assert self.ids(store.search(Query(text="stadium", mode="text"))) == [lib["match"].id]

    # -- moments -------------------------------------------------------------------------------
    @pytest.mark.parametrize("mode", MODES)
    def test_moment_lands_on_the_time_range(self, store: Store, mode: str) -> None:
        lib = library(store)
        found = store.moments(q("pasta boils", mode, vector("cooking", 1)))
        assert found, mode
        best = found[0]
        assert isinstance(best, Moment)
        assert (best.video_id, best.kind, best.ref) == (lib["cook"].id, "transcript", "1")
        assert (best.start, best.end) == (10.0, 20.0)
        assert best.text == "then the pasta boils"
        assert best.title == "Evening kitchen"
        assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)

    @pytest.mark.parametrize("mode", ["semantic", "hybrid"])
    def test_moments_by_meaning_at_most_a_few_per_video(self, store: Store, mode: str) -> None:
        lib = library(store)
        found = store.moments(q("what happens at the stove", mode, vector("cooking")))
        per_video: dict[str, int] = {}
        for m in found:
            per_video[m.video_id] = per_video.get(m.video_id, 0) + 1
        assert per_video[lib["cook"].id] == MOMENTS_PER_VIDEO
        assert found[0].video_id == lib["cook"].id
        whole = [m for m in found if m.kind == "title"]
        assert whole and all(m.start is None and m.end is None for m in whole)
        assert len(store.moments(q("what happens at the stove", mode, vector("cooking"), limit=2))) == 2

    @pytest.mark.parametrize("mode", MODES)
    def test_moment_filters_apply_in_every_mode(self, store: Store, mode: str) -> None:
        lib = library(store)
        found = store.moments(q("the", mode, vector("space"), tags=["science"]))
        assert found and {m.video_id for m in found} == {lib["rocket"].id}
        assert store.moments(q("the", mode, vector("cooking"), min_duration=1000)) == []

    # -- similar videos ------------------------------------------------------------------------
    def test_similar_videos(self, store: Store) -> None:
        lib = library(store)
        found = store.similar(lib["cook"].id, Query())
        ids = [r.id for r, _ in found]
        assert ids[0] == lib["bakery"].id
        assert lib["cook"].id not in ids
        assert set(ids) == {lib[n].id for n in ("bakery", "match", "rocket", "concert")}
        scores = [s for _, s in found]
        assert scores == sorted(scores, reverse=True)
        assert [r.id for r, _ in store.similar(lib["cook"].id, Query(tags=["music"]))] == [lib["concert"].id]
        assert [r.id for r, _ in store.similar(lib["cook"].id, Query(limit=1))] == [lib["bakery"].id]

    def test_similar_without_embeddings_is_empty(self, store: Store) -> None:
        library(store)
        plain = make_record("plain", title="No vectors here")
        store.upsert(plain)
        assert store.similar(plain.id or "", Query()) == []

    # -- the index follows the records ---------------------------------------------------------
    def test_vectors_are_not_kept_in_the_record(self, store: Store) -> None:
        lib = library(store)
        got = store.get(lib["cook"].id or "")
        assert got is not None and got.embeddings is not None
        assert got.embeddings.model == MODEL
        assert [p.text for p in got.embeddings.passages] == [p.text for p in lib["cook"].embeddings.passages]
        assert all(p.vector is None for p in got.embeddings.passages)

    @pytest.mark.parametrize("mode", ["semantic", "hybrid"])
    def test_saving_a_record_read_back_keeps_its_vectors(self, store: Store, mode: str) -> None:
        lib = library(store)
        got = store.get(lib["cook"].id or "")
        assert got is not None
        got.tags.append(Tag("Dinner", "user"))  # a tag edit: read, change, save
        store.upsert(got)
        found = store.search(q("preparing a meal", mode, vector("cooking", 1), tags=["dinner"]))
        assert self.ids(found) == [lib["cook"].id]
        assert store.moments(q("preparing a meal", mode, vector("cooking", 1)))[0].ref == "1"

    def test_embeddings_without_vectors_behind_them_are_not_kept(self, store: Store) -> None:
        # a record.json read back (no vectors in it) into a library that has none for it, as
        # 'videokit rebuild' does: stored without embeddings, so that 'videokit reindex' makes them
        r = cook()
        assert r.embeddings is not None
        for p in r.embeddings.passages:
            p.vector = None
        store.upsert(r)
        got = store.get(r.id or "")
        assert got is not None and got.embeddings is None
        assert store.has_vectors() is False
        assert self.ids(store.search(Query(text="kitchen"))) == [r.id]

    def test_record_without_embeddings_loses_its_vectors(self, store: Store) -> None:
        lib = library(store)
        r = cook()
        r.embeddings = None
        store.upsert(r)
        assert lib["cook"].id not in self.ids(store.search(q("meal", "semantic", vector("cooking"))))
        assert self.ids(store.search(Query(text="kitchen"))) == [lib["cook"].id]

    def test_changed_passages_replace_the_old_ones(self, store: Store) -> None:
        lib = library(store)
        r = cook()
        r.embeddings = embeddings([Passage("transcript", "0", "now a football chant", 0.0, 5.0, vector("football", 6))])
        store.upsert(r)
        assert store.search(q("onions", "text")) == []
        found = store.moments(q("chant", "semantic", vector("football", 6)))
        assert [(m.video_id, m.ref) for m in found[:2]] in (
            [(lib["cook"].id, "0"), (lib["match"].id, "0")],
            [(lib["match"].id, "0"), (lib["cook"].id, "0")],
        )
        assert all(m.text != "we slice onions and garlic" for m in store.moments(q("x", "semantic", vector("cooking"))))

    @pytest.mark.parametrize("mode", MODES)
    def test_delete_removes_everything(self, store: Store, mode: str) -> None:
        lib = library(store)
        assert store.delete(lib["cook"].id or "") is True
        assert lib["cook"].id not in self.ids(store.search(q("pasta", mode, vector("cooking", 1))))
        assert all(m.video_id != lib["cook"].id for m in store.moments(q("pasta", mode, vector("cooking", 1))))
        assert lib["cook"].id not in [r.id for r, _ in store.similar(lib["bakery"].id or "", Query())]

    def test_a_query_of_another_model_finds_nothing_by_meaning(self, store: Store) -> None:
        lib = library(store)
        other = Query(text="meal", mode="semantic", vector=vector("cooking"), vector_model="test/other")
        assert store.search(other) == []
        assert store.moments(other) == []
        r = cook()
        assert r.embeddings is not None
        r.embeddings = embeddings(r.embeddings.passages, model="test/other")  # re-embedded with another model
        store.upsert(r)
        assert self.ids(store.search(other)) == [lib["cook"].id]
        assert lib["cook"].id not in self.ids(store.search(q("meal", "semantic", vector("cooking"))))
        assert sorted(store.vector_models()) == sorted([MODEL, "test/other"])

    def test_unknown_mode_is_a_usage_error(self, store: Store) -> None:
        from videokit.errors import UsageError

        library(store)
        with pytest.raises(UsageError, match="mode"):
            store.search(Query(text="x", mode="fuzzy"))


class TextOnlyContract:
    """What a store without vector search (``vector_search = False``) does: text moments, and a
    one-line StoreError for the other modes."""

    @pytest.fixture
    def store(self) -> Store:  # pragma: no cover - provided by subclasses
        raise NotImplementedError

    def test_text_moments(self, store: Store) -> None:
        lib = library(store)
        found = store.moments(Query(text="pasta", mode="text"))
        assert [(m.video_id, m.start, m.end) for m in found] == [(lib["cook"].id, 10.0, 20.0)]

    @pytest.mark.parametrize("mode", ["semantic", "hybrid"])
    def test_vector_modes_are_refused_in_one_line(self, store: Store, mode: str) -> None:
        library(store)
        with pytest.raises(StoreError, match="no vector search; use --mode text"):
            store.moments(q("pasta", mode, vector("cooking")))
        with pytest.raises(StoreError, match="no vector search"):
            store.similar(cook().id or "", Query())
