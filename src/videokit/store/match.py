"""The :class:`~videokit.store.base.Query` semantics in plain Python, for stores without a
query language of their own (a plug-in store keeping records in files, say): the same
filters, text matching and order as the built-in stores, checked by the same contract tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from videokit.record import Record
from videokit.store.base import Query, matches_domain

_WORD = re.compile(r"\w+", re.UNICODE)


def searchable_text(record: Record) -> str:
    """Everything a text query looks in: title, descriptions, tags, file name, sources, OCR, answers."""
    parts: list[str | None] = [record.title, record.file.name if record.file else None]
    for s in record.sources:
        parts += [s.input, s.url, s.title, s.description, s.uploader]
    parts += [t.name for t in record.tags]
    a = record.analysis
    if a is not None:
        parts += [a.description, a.ocr_text, *a.answers.values(), *a.scene_descriptions.values()]
    if record.classification is not None:
        parts.append(record.classification.category)
    return " ".join(p for p in parts if p)


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def text_score(record: Record, text: str) -> int:
    """How often the query's words occur in the record; 0 unless every word occurs."""
    wanted = set(words(text))
    if not wanted:
        return 0
    have = words(searchable_text(record))
    counts = {w: have.count(w) for w in wanted}
    return sum(counts.values()) if all(counts.values()) else 0


def matches(record: Record, q: Query) -> bool:
    """Whether ``record`` passes every filter of ``q`` (text included)."""
    m = record.media
    if q.ids is not None and record.id not in q.ids:
        return False
    if q.text and not text_score(record, q.text):
        return False
    names = {t.name.lower() for t in record.tags}
    if any(t.lower() not in names for t in q.tags):
        return False
    category = record.classification.category if record.classification else None
    if q.category and (category or "").lower() != q.category.lower():
        return False
    duration = m.duration if m else None
    height = m.height if m else None
    if not _within(duration, q.min_duration, q.max_duration) or not _within(height, q.min_height, q.max_height):
        return False
    if q.resolution and ((m.resolution if m else None) or "").lower() != q.resolution.lower():
        return False
    if q.codec and ((m.video_codec if m else None) or "").lower() != q.codec.lower():
        return False
    if q.has_audio is not None and bool(m and m.audio_streams) != q.has_audio:
        return False
    if q.domain and not any(matches_domain(s.domain, q.domain) for s in record.sources):
        return False
    if q.added_after and record.added_at < q.added_after:
        return False
    if q.added_before and record.added_at >= q.added_before:
        return False
    scenes = record.scenes.scene_count if record.scenes else 0
    return _within(scenes or 0, q.min_scenes, q.max_scenes)


def select(records: Iterable[Record], q: Query) -> list[Record]:
    """The records matching ``q``: best text match first with text, else newest first; then
    ``offset`` and ``limit``."""
    found = [r for r in records if matches(r, q)]
    found.sort(key=lambda r: r.added_at, reverse=True)
    if q.text:
        found.sort(key=lambda r: text_score(r, q.text or ""), reverse=True)
    end = None if q.limit is None else q.offset + q.limit
    return found[q.offset : end]


def _within(value: float | int | None, low: float | int | None, high: float | int | None) -> bool:
    if low is None and high is None:
        return True
    if value is None:
        return False
    return (low is None or value >= low) and (high is None or value <= high)
