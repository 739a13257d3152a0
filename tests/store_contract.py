"""The Store contract, written once and run against every backend.

Subclass ``StoreContract`` and provide a ``store`` fixture returning an empty store.
"""

from __future__ import annotations

import hashlib

import pytest

from videokit.record import (
    Analysis,
    Classification,
    FileInfo,
    MediaInfo,
    Record,
    Scene,
    SceneInfo,
    Source,
    Tag,
)
from videokit.store.base import Query, Store


def make_record(
    name: str,
    *,
    title: str | None = None,
    duration: float = 10.0,
    height: int = 720,
    resolution: str = "720p",
    codec: str = "h264",
    audio: bool = True,
    tags: tuple[str, ...] = (),
    category: str = "Unclassified",
    url: str | None = None,
    added_at: str = "2026-01-01T00:00:00+00:00",
    description: str | None = None,
    ocr: str | None = None,
    scenes: int = 0,
) -> Record:
    cid = hashlib.sha256(name.encode()).hexdigest()
    domain = url.split("/")[2] if url else None
    return Record(
        id=cid,
        sources=[
            Source(
                input=url or f"/videos/{name}.mp4",
                kind="url" if url else "file",
                url=url,
                domain=domain,
                title=title,
                description=description,
                user_fields={"label": name},
            )
        ],
        file=FileInfo(path=f"/videos/{name}.mp4", name=f"{name}.mp4", size=1000, sha256=cid),
        media=MediaInfo(
            duration=duration,
            width=height * 16 // 9,
            height=height,
            resolution=resolution,
            video_codec=codec,
            audio_streams=1 if audio else 0,
        ),
        scenes=SceneInfo(scenes=[Scene(i, i, i + 1, i * 25, i * 25 + 24) for i in range(scenes)], scene_count=scenes),
        analysis=Analysis(backend="builtin", description=description, ocr_text=ocr) if (description or ocr) else None,
        tags=[Tag(t, "user") for t in tags],
        classification=Classification(category=category, confidence=0.5),
        added_at=added_at,
    )


class StoreContract:
    @pytest.fixture
    def store(self) -> Store:  # pragma: no cover - provided by subclasses
        raise NotImplementedError

    def ids(self, records: list[Record]) -> set[str]:
        return {r.id for r in records}

    def test_upsert_get_roundtrip(self, store: Store) -> None:
        r = make_record("a", title="Alpha clip", tags=("Action",), scenes=3)
        store.upsert(r)
        got = store.get(r.id)
        assert got is not None
        assert got.to_dict() == r.to_dict()

    def test_get_by_prefix_and_missing(self, store: Store) -> None:
        r = make_record("a")
        store.upsert(r)
        assert store.get(r.id[:8]).id == r.id
        assert store.get("0" * 64) is None
        assert store.get("zz") is None

    def test_upsert_updates_never_duplicates(self, store: Store) -> None:
        r = make_record("a", title="First")
        store.upsert(r)
        r.sources[0].title = "Second"
        r.tags.append(Tag("New Tag", "user"))
        store.upsert(r)
        assert store.count() == 1
        got = store.get(r.id)
        assert got.title == "Second"
        assert store.search(Query(tags=["new tag"]))[0].id == r.id

    def test_find_by_source(self, store: Store) -> None:
        r = make_record("a", url="https://www.example.com/a.mp4")
        store.upsert(r)
        assert store.find_by_source("https://www.example.com/a.mp4").id == r.id
        assert store.find_by_source("https://www.example.com/b.mp4") is None

    def test_text_search(self, store: Store) -> None:
        a = make_record("a", title="Sunset over the harbour")
        b = make_record("b", title="Cat video", description="a kitten plays with yarn")
        c = make_record("c", title="Plain", ocr="BREAKING NEWS tonight")
        for r in (a, b, c):
            store.upsert(r)
        assert self.ids(store.search(Query(text="harbour"))) == {a.id}
        assert self.ids(store.search(Query(text="kitten"))) == {b.id}
        assert self.ids(store.search(Query(text="breaking"))) == {c.id}
        assert self.ids(store.search(Query(text="sunset harbour"))) == {a.id}
        assert store.search(Query(text="nonexistentword")) == []
        # punctuation and quotes never raise
        assert store.search(Query(text='"unbalanced ( AND OR*')) == []

    def test_tag_filter_case_insensitive_all_of(self, store: Store) -> None:
        a = make_record("a", tags=("Action", "Night-time Filming"))
        b = make_record("b", tags=("Action",))
        store.upsert(a)
        store.upsert(b)
        assert self.ids(store.search(Query(tags=["action"]))) == {a.id, b.id}
        assert self.ids(store.search(Query(tags=["ACTION", "night-time filming"]))) == {a.id}

    def test_numeric_and_label_filters(self, store: Store) -> None:
        a = make_record("a", duration=5, height=2160, resolution="4K", codec="hevc", audio=False, scenes=1)
        b = make_record("b", duration=700, height=1080, resolution="1080p", codec="h264", scenes=12)
        c = make_record("c", duration=60, height=480, resolution="480p", codec="H264", category="Sports")
        for r in (a, b, c):
            store.upsert(r)
        assert self.ids(store.search(Query(min_duration=60))) == {b.id, c.id}
        assert self.ids(store.search(Query(max_duration=60))) == {a.id, c.id}
        assert self.ids(store.search(Query(resolution="4k"))) == {a.id}
        assert self.ids(store.search(Query(min_height=1080))) == {a.id, b.id}
        assert self.ids(store.search(Query(max_height=1080))) == {b.id, c.id}
        assert self.ids(store.search(Query(codec="h264"))) == {b.id, c.id}
        assert self.ids(store.search(Query(has_audio=False))) == {a.id}
        assert self.ids(store.search(Query(has_audio=True))) == {b.id, c.id}
        assert self.ids(store.search(Query(category="sports"))) == {c.id}
        assert self.ids(store.search(Query(min_scenes=2))) == {b.id}
        assert self.ids(store.search(Query(max_scenes=1))) == {a.id, c.id}

    def test_domain_filter_matches_subdomains(self, store: Store) -> None:
        a = make_record("a", url="https://www.youtube.com/watch?v=1")
        b = make_record("b", url="https://notyoutube.com/v.mp4")
        c = make_record("c")
        for r in (a, b, c):
            store.upsert(r)
        assert self.ids(store.search(Query(domain="youtube.com"))) == {a.id}
        assert self.ids(store.search(Query(domain="www.youtube.com"))) == {a.id}

    def test_date_added_filter_and_order(self, store: Store) -> None:
        old = make_record("old", added_at="2025-01-01T00:00:00+00:00")
        new = make_record("new", added_at="2026-06-01T00:00:00+00:00")
        store.upsert(old)
        store.upsert(new)
        assert [r.id for r in store.search(Query())] == [new.id, old.id]
        assert self.ids(store.search(Query(added_after="2026-01-01"))) == {new.id}
        assert self.ids(store.search(Query(added_before="2026-01-01"))) == {old.id}

    def test_combined_filters_count_limit_offset(self, store: Store) -> None:
        for i in range(7):
            store.upsert(
                make_record(
                    f"r{i}", title=f"Clip number {i}", tags=("Batch",), added_at=f"2026-01-0{i + 1}T00:00:00+00:00"
                )
            )
        q = Query(text="clip", tags=["batch"])
        assert store.count(q) == 7
        assert store.count() == 7
        page = store.search(Query(tags=["batch"], limit=3, offset=2))
        assert len(page) == 3
        assert len(list(store.iter_records(Query(tags=["batch"]), batch=2))) == 7
        assert self.ids(store.search(Query(ids=[page[0].id]))) == {page[0].id}

    def test_delete(self, store: Store) -> None:
        r = make_record("a", title="Deleted clip", tags=("Gone",))
        store.upsert(r)
        assert store.delete(r.id) is True
        assert store.get(r.id) is None
        assert store.search(Query(text="deleted")) == []
        assert store.search(Query(tags=["gone"])) == []
        assert store.delete(r.id) is False

    def test_many_scenes_roundtrip(self, store: Store) -> None:
        r = make_record("long", scenes=3000)
        store.upsert(r)
        got = store.get(r.id)
        assert got.scenes.scene_count == 3000
        assert len(got.scenes.scenes) == 3000
        assert got.scenes.scenes[-1].start_frame == 2999 * 25
