"""The library page's address: search words, mode, facet filters and page, to and from a
:class:`~videokit.store.Query`, and the links that change one of them.

Every value comes from the address bar, so nothing is trusted: an unknown duration or date
range, a page that is not a number or a mode that does not exist is ignored (the page shows
the library without that filter) rather than refused.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from videokit.store import Query
from videokit.web.ui_stats import ADDED, DURATIONS, LibraryStats, added_after, duration_range

PER_PAGE = 24
MODES: tuple[tuple[str, str], ...] = (("", "Best match"), ("text", "Exact words"), ("semantic", "By meaning"))
MAX_TEXT = 500  # longest search text taken from the address
_SINGLE = ("category", "resolution", "duration", "domain", "added")


@dataclass(frozen=True, slots=True)
class LibraryView:
    """What the library page was asked for."""

    q: str = ""
    mode: str = ""  # "" (hybrid where the library has embeddings, else text), text, semantic
    tags: tuple[str, ...] = ()
    category: str = ""
    resolution: str = ""
    duration: str = ""  # a DURATIONS key
    domain: str = ""
    added: str = ""  # an ADDED key
    page: int = 1

    @classmethod
    def from_params(cls, params: Mapping[str, str], tags: Sequence[str]) -> LibraryView:
        def one(name: str) -> str:
            return " ".join(str(params.get(name, "")).split())[:MAX_TEXT]

        mode = one("mode").lower()
        duration = one("duration")
        added = one("added")
        try:
            page = max(int(one("page") or 1), 1)
        except ValueError:
            page = 1
        return cls(
            q=one("q"),
            mode=mode if mode in {m for m, _ in MODES} else "",
            tags=tuple(dict.fromkeys(t for t in (" ".join(x.split()) for x in tags) if t)),
            category=one("category"),
            resolution=one("resolution"),
            duration=duration if duration_range(duration) else "",
            domain=one("domain"),
            added=added if any(k == added for k, _, _ in ADDED) else "",
            page=min(page, 100_000),
        )

    def query(self, *, now: _dt.datetime | None = None) -> Query:
        """The library query for this view, without paging."""
        span = duration_range(self.duration)
        return Query(
            text=self.q or None,
            mode=self.mode or None,
            tags=list(self.tags),
            category=self.category or None,
            resolution=self.resolution or None,
            min_duration=span.low if span else None,
            max_duration=span.high if span else None,
            domain=self.domain or None,
            added_after=added_after(self.added, now) if self.added else None,
        )

    def params(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.q:
            out.append(("q", self.q))
        if self.mode:
            out.append(("mode", self.mode))
        out += [("tag", t) for t in self.tags]
        out += [(name, getattr(self, name)) for name in _SINGLE if getattr(self, name)]
        if self.page > 1:
            out.append(("page", str(self.page)))
        return out

    def hidden(self) -> list[tuple[str, str]]:
        """The filters a new search from the search box keeps (not the words, mode or page)."""
        return [(k, v) for k, v in self.params() if k not in ("q", "mode", "page")]

    def href(self, **changes: object) -> str:
        """This page's address with ``changes``; any change but the page goes back to page 1."""
        if "page" not in changes:
            changes["page"] = 1
        view = replace(self, **changes)  # type: ignore[arg-type]
        params = view.params()
        return "/?" + urlencode(params) if params else "/"

    def toggle_tag(self, tag: str) -> str:
        lowered = {t.lower() for t in self.tags}
        if tag.lower() in lowered:
            return self.href(tags=tuple(t for t in self.tags if t.lower() != tag.lower()))
        return self.href(tags=(*self.tags, tag))

    def toggle(self, name: str, value: str) -> str:
        return self.href(**{name: "" if getattr(self, name) == value else value})


@dataclass(frozen=True, slots=True)
class FacetValue:
    label: str
    count: int
    href: str
    selected: bool


@dataclass(frozen=True, slots=True)
class Facet:
    name: str
    title: str
    values: list[FacetValue] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Chip:
    """An active filter, as a link that removes it."""

    label: str
    href: str


def facets(view: LibraryView, stats: LibraryStats, *, top: int = 12) -> list[Facet]:
    """The facets of the records matching ``view``, with counts; selected values first."""
    tags = _top(stats.tags, top, chosen=view.tags)
    out = [
        Facet(
            "tag",
            "Tags",
            [FacetValue(t, n, view.toggle_tag(t), t.lower() in {x.lower() for x in view.tags}) for t, n in tags],
        ),
        Facet(
            "category",
            "Category",
            [
                FacetValue(c, n, view.toggle("category", c), c == view.category)
                for c, n in _top(stats.categories, 20, chosen=(view.category,))
            ],
        ),
        Facet(
            "resolution",
            "Resolution",
            [FacetValue(r, n, view.toggle("resolution", r), r == view.resolution) for r, n in stats.resolution_order()],
        ),
        Facet(
            "duration",
            "Duration",
            [
                FacetValue(r.label, stats.durations[r.key], view.toggle("duration", r.key), r.key == view.duration)
                for r in DURATIONS
                if stats.durations[r.key] or r.key == view.duration
            ],
        ),
        Facet(
            "domain",
            "Source",
            [
                FacetValue(d, n, view.toggle("domain", d), d == view.domain)
                for d, n in _top(stats.domains, top, chosen=(view.domain,))
                if d != "local"
            ],
        ),
        Facet(
            "added",
            "Date added",
            [
                FacetValue(label, stats.added[key], view.toggle("added", key), key == view.added)
                for key, label, _ in ADDED
                if stats.added[key] or key == view.added
            ],
        ),
    ]
    return out


def chips(view: LibraryView) -> list[Chip]:
    out = [Chip(f"tag: {t}", view.toggle_tag(t)) for t in view.tags]
    labels = {
        "category": view.category,
        "resolution": view.resolution,
        "duration": next((r.label for r in DURATIONS if r.key == view.duration), ""),
        "domain": view.domain,
        "added": next((label for k, label, _ in ADDED if k == view.added), ""),
    }
    out += [Chip(f"{name}: {label}", view.href(**{name: ""})) for name, label in labels.items() if label]
    return out


def page_links(view: LibraryView, pages: int, *, around: int = 2) -> list[tuple[int, str | None]]:
    """Page numbers to show (first, last, and a few around the current one); None marks a gap."""
    wanted = sorted({1, pages, *range(view.page - around, view.page + around + 1)} & set(range(1, pages + 1)))
    out: list[tuple[int, str | None]] = []
    for i, n in enumerate(wanted):
        if i and n - wanted[i - 1] > 1:
            out.append((0, None))
        out.append((n, view.href(page=n)))
    return out


def _top(counter: Mapping[str, int], n: int, *, chosen: Sequence[str]) -> list[tuple[str, int]]:
    """The ``n`` largest counts, plus any chosen value beyond them; ties by name."""
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0].lower()))
    keep = ranked[:n]
    want = {c.lower() for c in chosen if c}
    keep += [kv for kv in ranked[n:] if kv[0].lower() in want]
    return keep
