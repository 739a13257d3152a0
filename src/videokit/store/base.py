"""The Store contract: every library backend (SQLite, MongoDB) implements it.

No backend types leak through: callers see :class:`Record` and :class:`Query` only.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from videokit.errors import StoreError, UsageError
from videokit.record import Passage, Record

RESOLUTION_ORDER = ["SD", "480p", "720p", "1080p", "1440p", "4K"]
MODES = ("text", "semantic", "hybrid")
MOMENTS_PER_VIDEO = 3  # at most this many moments of one video in a list of moments


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
    # search() in semantic/hybrid mode: videos whose nearest passage is less similar (cosine) than
    # this are left out of the vector ranking (the text ranking still brings its own); None: none are
    min_score: float | None = None


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
    """A library of records keyed by content id.

    Search modes (:attr:`Query.mode`): every store does ``text``; a store with
    ``vector_search = True`` also does ``semantic`` and ``hybrid`` (reciprocal-rank fusion of the
    two, :func:`videokit.index.fuse.rrf`) from ``Query.vector``. Filters apply in every mode.
    The defaults below serve third-party stores that only do text."""

    #: whether :meth:`search`, :meth:`moments` and :meth:`similar` use embeddings
    vector_search: bool = False

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
        """Records matching every given filter, newest first (best match first with text): in
        ``text`` mode (and mode None) every word of ``text`` must occur; in ``semantic`` mode the
        videos whose passages are nearest ``vector`` (same ``vector_model``); in ``hybrid`` both
        rankings fused. A store without vector search answers ``semantic``/``hybrid`` with
        :meth:`require_vectors`'s StoreError."""

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

    def moments(self, query: Query) -> list[Moment]:
        """The passages (scenes, transcript chunks, whole-video texts) best matching ``query.text``
        (and ``vector`` in the semantic/hybrid modes) in videos passing every filter, best first,
        at most :data:`MOMENTS_PER_VIDEO` per video; ``limit``/``offset`` page them.

        Default (text only): every word of the text must occur in the passage; more occurrences
        rank first."""
        self.require_vectors(query)
        wanted = set(_words(query.text or ""))
        if not wanted:
            raise UsageError("moments need a query text; give the words to look for")
        from videokit.index.fuse import cap_per_video

        found: list[Moment] = []
        videos = Query(**{**_asdict(query), "text": None, "limit": None, "offset": 0, "mode": None})
        for record in self.iter_records(videos):  # the filters; the words are looked for in the passages
            for p in record_passages(record):
                have = _words(p.text)
                if wanted <= set(have):
                    score = float(sum(have.count(w) for w in wanted))
                    found.append(Moment(record.id or "", p.kind, p.ref, p.text, score, p.start, p.end, record.title))
        found.sort(key=lambda m: -m.score)
        found = cap_per_video(found, MOMENTS_PER_VIDEO)
        end = None if query.limit is None else query.offset + query.limit
        return found[query.offset : end]

    def similar(self, id: str, query: Query | None = None) -> list[tuple[Record, float]]:
        """Videos like video ``id`` by their embeddings (best first, the video itself left out),
        each with a score (higher is nearer); the filters and ``limit`` of ``query`` apply.
        StoreError when the store has no vector search; [] when ``id`` has no embeddings."""
        raise StoreError(f"store {type(self).__name__} has no vector search; 'similar' needs one")

    def with_vectors(self, record: Record) -> Record:
        """``record`` (as read from this store) with the vectors the store keeps for its passages
        filled in, for copying it to another store (``videokit migrate``); a copy. The default
        (a store keeping no vectors) returns ``record`` as it is."""
        return record

    def has_vectors(self) -> bool:
        """Whether any stored passage has a vector (the mode default is hybrid then, else text)."""
        return False

    def vector_models(self) -> list[str]:
        """The embedding model ids of the stored vectors."""
        return []

    def require_vectors(self, query: Query) -> None:
        """A one-line StoreError when ``query`` asks for a mode this store cannot do."""
        if query.mode is not None and query.mode not in MODES:
            raise UsageError(f"unknown search mode {query.mode!r}; use one of {', '.join(MODES)}")
        if query.mode in ("semantic", "hybrid") and not self.vector_search:
            raise StoreError(f"store {type(self).__name__} has no vector search; use --mode text")

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


def record_passages(record: Record) -> list[Passage]:
    """What search can land on in ``record``: its embedded passages when it has embeddings, else
    the passages :func:`videokit.index.passages.passages` takes from it."""
    if record.embeddings is not None:
        return list(record.embeddings.passages)
    from videokit.index.passages import passages

    return passages(record)


def _words(text: str) -> list[str]:
    return [w.lower() for w in re.findall(r"\w+", text, flags=re.UNICODE)]


def matches_domain(domain: str | None, wanted: str) -> bool:
    """``youtube.com`` matches ``youtube.com`` and ``www.youtube.com``."""
    if not domain:
        return False
    d, w = domain.lower().rstrip("."), wanted.lower().lstrip(".").rstrip(".")
    return d == w or d.endswith("." + w)
