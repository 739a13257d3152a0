"""What the pages show, built from records: plain values for the templates (which escape them).

Nothing here touches the request or the library; :mod:`videokit.web.ui` reads both and passes
records in. Links to media go to the REST API's media endpoints (``/api/v1/videos/{id}/...``),
named in one place: :class:`Media`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from videokit.record import Record, Sentiment, StageError
from videokit.store.base import Moment


def clock(seconds: float | None) -> str:
    """``75.4`` -> ``1:15``; ``3725`` -> ``1:02:05``; None -> ``""``."""
    if seconds is None:
        return ""
    s = max(int(seconds), 0)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def size_text(n: int | None) -> str:
    """Bytes for people: ``1536`` -> ``1.5 KB``."""
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # not reached


def hours_text(seconds: float) -> str:
    h, rest = divmod(int(seconds), 3600)
    return f"{h} h {rest // 60:02d} min" if h else f"{rest // 60} min {rest % 60:02d} s"


class Media:
    """URLs of a record's media on the REST API (served from the library only, with Range)."""

    @staticmethod
    def base(video_id: str) -> str:
        return f"/api/v1/videos/{quote(video_id, safe='')}"

    @classmethod
    def video(cls, record: Record) -> str | None:
        return f"{cls.base(record.id or '')}/file" if record.id and record.file else None

    @classmethod
    def thumbnail(cls, record: Record, scene: int) -> str | None:
        if not record.id or not record.scenes:
            return None
        shots = [s for s in record.scenes.scenes if s.index == scene and s.thumbnail]
        return f"{cls.base(record.id)}/thumbnails/{scene}" if shots else None

    @classmethod
    def poster(cls, record: Record) -> str | None:
        """The first scene's thumbnail that exists."""
        if not record.scenes:
            return None
        for s in record.scenes.scenes:
            if s.thumbnail:
                return cls.thumbnail(record, s.index)
        return None

    @classmethod
    def contact_sheet(cls, record: Record) -> str | None:
        if record.id and record.scenes and record.scenes.contact_sheet:
            return f"{cls.base(record.id)}/contact-sheet"
        return None


def video_href(video_id: str, at: float | None = None) -> str:
    href = f"/videos/{quote(video_id, safe='')}"
    return f"{href}?t={at:g}" if at is not None else href


@dataclass(frozen=True, slots=True)
class Card:
    """One video in a grid."""

    href: str
    title: str
    thumb: str | None
    duration: str
    meta: str
    tags: tuple[str, ...]


def card(record: Record, *, tags: int = 4) -> Card:
    media = record.media
    bits = [media.resolution if media and media.resolution else None]
    if record.classification and record.classification.category != "Unclassified":
        bits.append(record.classification.category)
    domain = next((s.domain for s in record.sources if s.domain), None)
    bits.append(domain)
    names = [t.name for t in record.tags]
    return Card(
        video_href(record.id or ""),
        record.title,
        Media.poster(record),
        clock(media.duration) if media and media.duration is not None else "",
        " · ".join(b for b in bits if b),
        tuple(names[:tags]),
    )


@dataclass(frozen=True, slots=True)
class MomentLink:
    href: str
    when: str
    kind: str
    title: str
    text: str


def moment_link(m: Moment, *, width: int = 160) -> MomentLink:
    text = " ".join(m.text.split())
    if len(text) > width:
        text = text[: width - 1].rstrip() + "…"
    when = clock(m.start) if m.start is not None else ""
    if m.start is not None and m.end is not None:
        when = f"{clock(m.start)}–{clock(m.end)}"
    return MomentLink(video_href(m.video_id, m.start), when, m.kind, m.title or m.video_id[:12], text)


@dataclass(frozen=True, slots=True)
class SceneView:
    index: int
    start: float
    end: float
    when: str
    thumb: str | None
    description: str | None


@dataclass(frozen=True, slots=True)
class SegmentView:
    start: float
    end: float
    when: str
    text: str


@dataclass(frozen=True, slots=True)
class TagView:
    name: str
    origin: str
    kind: str  # user | rule | builtin | analyzer (a CSS class)
    confidence: float
    condition: str | None
    user: bool  # the person may remove it here


@dataclass(frozen=True, slots=True)
class SourceView:
    label: str
    href: str | None  # http(s) only: never a javascript: or file: link
    note: str | None


@dataclass
class VideoView:
    """Everything the video page shows about one record."""

    id: str
    href: str
    title: str
    src: str | None
    poster: str | None
    sheet: str | None
    start: float
    scenes: list[SceneView] = field(default_factory=list)
    segments: list[SegmentView] = field(default_factory=list)
    transcript_note: str | None = None
    description: str | None = None
    analyzer: str | None = None
    answers: list[tuple[str, str]] = field(default_factory=list)
    sentiment: Sentiment | None = None
    category: str | None = None
    category_confidence: float | None = None
    tags: list[TagView] = field(default_factory=list)
    metadata: list[tuple[str, str]] = field(default_factory=list)
    sources: list[SourceView] = field(default_factory=list)
    errors: list[StageError] = field(default_factory=list)


def video_view(record: Record, start: float = 0.0) -> VideoView:
    rid = record.id or ""
    view = VideoView(
        rid,
        video_href(rid),
        record.title,
        Media.video(record),
        Media.poster(record),
        Media.contact_sheet(record),
        start,
        errors=list(record.errors),
    )
    if record.scenes:
        descriptions = record.analysis.scene_descriptions if record.analysis else {}
        for s in record.scenes.scenes:
            view.scenes.append(
                SceneView(
                    s.index,
                    s.start,
                    s.end,
                    clock(s.start),
                    Media.thumbnail(record, s.index),
                    s.description or descriptions.get(str(s.index)),
                )
            )
    if record.transcript:
        t = record.transcript
        view.segments = [SegmentView(g.start, g.end, clock(g.start), g.text.strip()) for g in t.segments]
        where = "subtitles" if t.origin.startswith("subtitles:") else (t.model or t.origin.split("/")[-1])
        view.transcript_note = " · ".join(x for x in (t.language, where) if x)
    if record.analysis:
        a = record.analysis
        view.description = a.description
        view.analyzer = f"{a.backend}/{a.model}" if a.model else a.backend
        view.answers = list(a.answers.items())
        view.sentiment = a.sentiment
    if record.classification:
        view.category = record.classification.category
        view.category_confidence = record.classification.confidence
    view.tags = [
        TagView(t.name, t.origin, t.origin.split(":", 1)[0], t.confidence, t.condition, t.origin == "user")
        for t in record.tags
    ]
    view.metadata = metadata(record)
    view.sources = [source_view(s.url or s.webpage_url or s.input, s.domain, s.kind) for s in record.sources]
    return view


def source_view(where: str, domain: str | None, kind: str) -> SourceView:
    scheme = urlsplit(where).scheme.lower() if "://" in where else ""
    href = where if scheme in ("http", "https") else None
    return SourceView(where, href, kind if kind != "url" else None)


def metadata(record: Record) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = [("Id", record.id or "")]
    m = record.media
    if m:
        if m.duration is not None:
            rows.append(("Duration", f"{clock(m.duration)} ({m.duration:.1f} s)"))
        if m.width and m.height:
            rows.append(("Size", f"{m.width}×{m.height}" + (f" ({m.resolution})" if m.resolution else "")))
        if m.fps:
            rows.append(("Frame rate", f"{m.fps:.3g} fps"))
        codecs = " / ".join(c for c in (m.video_codec, m.audio_codec) if c)
        if codecs:
            rows.append(("Codecs", codecs))
        if m.container:
            rows.append(("Container", m.container))
        if m.bit_rate:
            rows.append(("Bit rate", f"{m.bit_rate / 1000:.0f} kb/s"))
        channels = {1: "mono", 2: "stereo"}.get(m.audio_channels or 0, f"{m.audio_channels} channels")
        rows.append(("Audio", f"{m.audio_codec or 'yes'}, {channels}" if m.has_audio else "none"))
        if m.damaged:
            rows.append(("Damaged", f"{(m.decoded_fraction or 0) * 100:.0f}% readable"))
    if record.scenes:
        rows.append(("Scenes", str(record.scenes.scene_count)))
    if record.file:
        rows.append(("File", f"{record.file.name} ({size_text(record.file.size)})"))
    for name, value in record.user_fields.items():
        rows.append((name, value))
    rows.append(("Added", record.added_at.replace("T", " ").split("+")[0]))
    return rows
