"""What the library page's facets and the dashboard count: one pass over matching records.

The pages read records through :func:`videokit.api.search` (paged, so memory stays flat) and
fold them into a :class:`LibraryStats`; facets and charts are views of it. Durations and dates
are grouped into fixed ranges that map back onto :class:`~videokit.store.Query` filters, so a
facet link is an ordinary search.
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from videokit.record import Record
from videokit.store.base import RESOLUTION_ORDER


@dataclass(frozen=True, slots=True)
class Range:
    """A named range of a number (seconds), ``low <= x < high``; None: open."""

    key: str
    label: str
    low: float | None
    high: float | None

    def holds(self, x: float) -> bool:
        return (self.low is None or x >= self.low) and (self.high is None or x < self.high)


DURATIONS: tuple[Range, ...] = (
    Range("short", "under 30 s", None, 30.0),
    Range("medium", "30 s – 2 min", 30.0, 120.0),
    Range("long", "2 – 10 min", 120.0, 600.0),
    Range("longer", "10 – 30 min", 600.0, 1800.0),
    Range("longest", "over 30 min", 1800.0, None),
)

# Date added: cumulative windows ("in the last N days"), each one an ``added_after`` filter.
ADDED: tuple[tuple[str, str, int], ...] = (
    ("day", "last 24 hours", 1),
    ("week", "last 7 days", 7),
    ("month", "last 30 days", 30),
    ("year", "last 365 days", 365),
)


def duration_range(key: str) -> Range | None:
    return next((r for r in DURATIONS if r.key == key), None)


def added_after(key: str, now: _dt.datetime | None = None) -> str | None:
    """The ISO time a date-added window starts at, or None for an unknown key."""
    days = next((d for k, _, d in ADDED if k == key), None)
    if days is None:
        return None
    now = now or _dt.datetime.now(_dt.UTC)
    return (now - _dt.timedelta(days=days)).replace(microsecond=0).isoformat()


def _parse_time(value: str | None) -> _dt.datetime | None:
    if not value:
        return None
    try:
        t = _dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=_dt.UTC)


def domain_of(record: Record) -> str | None:
    """The first source domain, without a leading ``www.``."""
    for s in record.sources:
        if s.domain:
            d = s.domain.lower()
            return d[4:] if d.startswith("www.") else d
    return None


@dataclass
class LibraryStats:
    """Counts over a set of records."""

    videos: int = 0
    seconds: float = 0.0
    bytes: int = 0
    tags: Counter[str] = field(default_factory=Counter)
    categories: Counter[str] = field(default_factory=Counter)
    resolutions: Counter[str] = field(default_factory=Counter)
    durations: Counter[str] = field(default_factory=Counter)  # Range.key -> videos
    domains: Counter[str] = field(default_factory=Counter)  # "local" for files
    added: Counter[str] = field(default_factory=Counter)  # ADDED key -> videos (cumulative)
    per_day: Counter[str] = field(default_factory=Counter)  # YYYY-MM-DD -> videos added
    truncated: bool = False  # stopped counting at the limit

    def add(self, record: Record, now: _dt.datetime) -> None:
        self.videos += 1
        if record.file:
            self.bytes += record.file.size or 0
        names = {t.name for t in record.tags}
        self.tags.update(names)
        self.categories[record.classification.category if record.classification else "Unclassified"] += 1
        media = record.media
        if media and media.resolution:
            self.resolutions[media.resolution] += 1
        if media and media.duration is not None:
            self.seconds += media.duration
            for r in DURATIONS:
                if r.holds(media.duration):
                    self.durations[r.key] += 1
        self.domains[domain_of(record) or "local"] += 1
        added = _parse_time(record.added_at)
        if added is not None:
            self.per_day[added.date().isoformat()] += 1
            for key, _, days in ADDED:
                if now - added <= _dt.timedelta(days=days):
                    self.added[key] += 1

    def resolution_order(self) -> list[tuple[str, int]]:
        """Resolutions from the highest down, the unknown labels last."""
        known = [(r, self.resolutions[r]) for r in reversed(RESOLUTION_ORDER) if self.resolutions[r]]
        other = sorted((r, n) for r, n in self.resolutions.items() if r not in RESOLUTION_ORDER)
        return known + other

    def days(self, last: int = 30, today: _dt.date | None = None) -> list[tuple[str, int]]:
        """Videos added per day over the ``last`` days up to ``today`` (zeros included)."""
        today = today or _dt.datetime.now(_dt.UTC).date()
        span = [today - _dt.timedelta(days=i) for i in range(last - 1, -1, -1)]
        return [(d.isoformat(), self.per_day.get(d.isoformat(), 0)) for d in span]


def summarise(records: Iterable[Record], *, limit: int | None = None, now: _dt.datetime | None = None) -> LibraryStats:
    """Fold ``records`` into counts; stop after ``limit`` records (``truncated`` says so)."""
    now = now or _dt.datetime.now(_dt.UTC)
    stats = LibraryStats()
    for record in records:
        if limit is not None and stats.videos >= limit:
            stats.truncated = True
            break
        stats.add(record, now)
    return stats
