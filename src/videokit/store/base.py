"""The Store contract: every library backend (SQLite, MongoDB) implements it.

No backend types leak through: callers see :class:`Record` and :class:`Query` only.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass, field

from videokit.record import Record

RESOLUTION_ORDER = ["SD", "480p", "720p", "1080p", "1440p", "4K"]


@dataclass(slots=True)
class Query:
    """Filters for searching a library; every one given must match."""

    text: str | None = None  # full-text: title, description, tags, file name, sources, OCR, answers
    tags: list[str] = field(default_factory=list)  # all must be present (case-insensitive)
    category: str | None = None
    min_duration: float | None = None
    max_duration: float | None = None
    resolution: str | None = None  # label, exact
    min_height: int | None = None
    max_height: int | None = None
    codec: str | None = None  # video codec, case-insensitive
    has_audio: bool | None = None
    domain: str | None = None  # source domain; subdomains match
    added_after: str | None = None  # ISO date/time
    added_before: str | None = None
    min_scenes: int | None = None
    max_scenes: int | None = None
    ids: list[str] | None = None
    limit: int | None = None
    offset: int = 0
    # How ``text`` is matched: "text" (full-text index), "semantic" (embeddings), "hybrid" (both,
    # fused by reciprocal rank). None means hybrid where the library has embeddings, else text.
    mode: str | None = None
    # The embedding of ``text`` (filled by the library API, which owns the model) and its model id.
    vector: list[float] | None = None
    vector_model: str | None = None


@dataclass(slots=True)
class Moment:
    """A place in a video that matches a search: a scene or a transcript chunk (with its time
    range) or a whole-video passage (title, description, OCR: no times), best first."""

    video_id: str
    kind: str  # scene | transcript | title | analysis | ocr
    ref: str
    text: str
    score: float
    start: float | None = None
    end: float | None = None
    title: str | None = None


class Store(abc.ABC):
    """A library of records keyed by content id."""

    @abc.abstractmethod
    def upsert(self, record: Record) -> None:
        """Insert or replace the record with ``record.id``. Never duplicates."""

    @abc.abstractmethod
    def get(self, id: str) -> Record | None:
        """The record with this id, or with this unique id prefix (≥ 6 chars)."""

    @abc.abstractmethod
    def find_by_source(self, source: str) -> Record | None:
        """The record one of whose sources has this input/URL/path."""

    @abc.abstractmethod
    def search(self, query: Query) -> list[Record]:
        """Records matching every given filter, newest first (best text match first with text)."""

    @abc.abstractmethod
    def count(self, query: Query | None = None) -> int: ...

    @abc.abstractmethod
    def delete(self, id: str) -> bool: ...

    def iter_records(self, query: Query | None = None, batch: int = 500) -> Iterator[Record]:
        """All matching records, in pages (memory stays flat)."""
        q = query or Query()
        offset = q.offset
        while True:
            page_q = Query(**{**_asdict(q), "limit": batch, "offset": offset})
            page = self.search(page_q)
            yield from page
            if len(page) < batch:
                return
            offset += batch

    def check(self) -> list[str]:
        """Problems the backend's own integrity check finds; [] when none, or when it has none."""
        return []

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _asdict(q: Query) -> dict:
    return {f: getattr(q, f) for f in Query.__slots__}  # type: ignore[attr-defined]


def matches_domain(domain: str | None, wanted: str) -> bool:
    """``youtube.com`` matches ``youtube.com`` and ``www.youtube.com``."""
    if not domain:
        return False
    d, w = domain.lower().rstrip("."), wanted.lower().lstrip(".").rstrip(".")
    return d == w or d.endswith("." + w)
