"""A read-only view of one record in the shape conditions ask about.

Built once per record and shared by every rule and category signal; each part is computed
on first use. ``None`` means unknown: a condition on an unknown value does not fire.
"""

from __future__ import annotations

import re
from typing import Any

from videokit.record import Record
from videokit.tagging.keywords import fold

# Field -> kind. "number" compares numerically, "text" case-insensitively, "label" by
# resolution order, "flag" takes true/false, "list" holds several texts.
FIELDS: dict[str, str] = {
    "duration": "number",
    "bit_rate": "number",
    "fps": "number",
    "width": "number",
    "height": "number",
    "size": "number",
    "frame_count": "number",
    "sample_rate": "number",
    "audio_channels": "number",
    "audio_streams": "number",
    "subtitle_streams": "number",
    "rotation": "number",
    "aspect_ratio": "number",
    "scene_count": "number",
    "cuts_per_minute": "number",
    "decoded_fraction": "number",
    "resolution": "label",
    "codec": "text",
    "video_codec": "text",
    "audio_codec": "text",
    "profile": "text",
    "pix_fmt": "text",
    "channel_layout": "text",
    "orientation": "text",
    "container": "list",
    "subtitle_languages": "list",
    "has_audio": "flag",
    "has_subtitles": "flag",
    "silent": "flag",
    "damaged": "flag",
}

_MEDIA_ATTRS = (
    "duration bit_rate fps width height size frame_count sample_rate audio_channels audio_streams "
    "subtitle_streams rotation resolution video_codec audio_codec profile pix_fmt channel_layout "
    "damaged decoded_fraction"
).split()  # a damaged file's duration and frame_count are the measured ones (videokit.damage)


class RecordView:
    """What rules see of a record: metadata fields, texts, tags, file names, domains, user fields."""

    __slots__ = ("record", "_fields", "_texts", "_joined", "_ai_tags", "_tags", "_names", "_domains", "_user")

    def __init__(self, record: Record) -> None:
        self.record = record
        self._fields: dict[str, Any] | None = None
        self._texts: list[tuple[str, str]] | None = None
        self._joined: str | None = None
        self._ai_tags: dict[str, str] | None = None
        self._tags: dict[str, str] | None = None
        self._names: list[str] | None = None
        self._domains: list[str] | None = None
        self._user: dict[str, str] | None = None

    # -- metadata ------------------------------------------------------------------------
    def field(self, name: str) -> Any:
        if self._fields is None:
            self._fields = _metadata(self.record)
        return self._fields.get(name)

    # -- text --------------------------------------------------------------------------
    def texts(self) -> list[tuple[str, str]]:
        """(label, casefolded text) for every text keywords are searched in."""
        if self._texts is None:
            self._texts = [(label, fold(text)) for label, text in _texts(self.record) if text and text.strip()]
        return self._texts

    def joined_text(self) -> str:
        """All texts in one string, separated so no match spans two of them."""
        if self._joined is None:
            self._joined = "\n\n".join(text for _, text in self.texts())
        return self._joined

    # -- tags --------------------------------------------------------------------------
    def ai_tags(self) -> dict[str, str]:
        """Normalised name -> name of the analyzer's tags."""
        if self._ai_tags is None:
            a = self.record.analysis
            self._ai_tags = {tag_key(t.name): t.name for t in (a.tags if a else [])}
        return self._ai_tags

    def tags(self) -> dict[str, str]:
        """Normalised name -> name of the tags on the record (for category signals)."""
        if self._tags is None:
            self._tags = {tag_key(t.name): t.name for t in self.record.tags}
        return self._tags

    # -- where it came from ------------------------------------------------------------
    def file_names(self) -> list[str]:
        if self._names is None:
            names: list[str] = []
            if self.record.file and self.record.file.name:
                names.append(self.record.file.name)
            for s in self.record.sources:
                for p in (s.path, s.input if s.kind == "file" else None):
                    if p:
                        base = re.split(r"[\\/]", p.rstrip("/\\"))[-1]
                        if base and base not in names:
                            names.append(base)
            self._names = names
        return self._names

    def domains(self) -> list[str]:
        if self._domains is None:
            self._domains = [s.domain for s in self.record.sources if s.domain]
        return self._domains

    def user_fields(self) -> dict[str, str]:
        """Casefolded column name -> value."""
        if self._user is None:
            self._user = {k.casefold(): str(v) for k, v in self.record.user_fields.items()}
        return self._user


def tag_key(name: str) -> str:
    """Tag names compare case-insensitively, with '-', '_' and spaces alike ("High-Intensity")."""
    return " ".join(re.split(r"[\s_\-]+", name.casefold())).strip()


def _metadata(record: Record) -> dict[str, Any]:
    out: dict[str, Any] = {}
    m = record.media
    if m is not None:
        for attr in _MEDIA_ATTRS:
            out[attr] = getattr(m, attr)
        out["codec"] = m.video_codec
        out["container"] = [p.strip() for p in m.container.split(",")] if m.container else None
        out["subtitle_languages"] = list(m.subtitle_languages)
        out["has_audio"] = m.has_audio
        out["has_subtitles"] = m.has_subtitles
        if m.width and m.height:
            w, h = (m.height, m.width) if abs(m.rotation or 0) % 180 == 90 else (m.width, m.height)
            out["aspect_ratio"] = round(w / h, 4)
            out["orientation"] = "portrait" if h > w else "landscape" if w > h else "square"
        out["silent"] = True if not m.has_audio else _analysis_silent(record)
    if record.scenes is not None:
        out["scene_count"] = record.scenes.scene_count
        out["cuts_per_minute"] = record.scenes.cuts_per_minute
    return out


def _analysis_silent(record: Record) -> bool | None:
    """The analyzer's loudness verdict (``facts["audio"]["silent"]``); None when it has none."""
    facts = record.analysis.facts if record.analysis else {}
    audio = facts.get("audio") if isinstance(facts, dict) else None
    silent = audio.get("silent") if isinstance(audio, dict) else None
    return silent if isinstance(silent, bool) else None


def _texts(record: Record) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    a = record.analysis
    if a is not None:
        out.append(("AI description", a.description))
        out += [(f"scene {k} description", v) for k, v in a.scene_descriptions.items()]
        out += [(f"answer to {q!r}", v) for q, v in a.answers.items()]
        out.append(("on-screen text", a.ocr_text))
    if record.scenes is not None:
        out += [(f"scene {s.index} description", s.description) for s in record.scenes.scenes if s.description]
    if record.transcript is not None:
        out.append(("transcript", record.transcript.text))
    for s in record.sources:
        out.append(("source title", s.title))
        out.append(("source description", s.description))
    if record.media is not None:
        for key in ("title", "description", "comment", "synopsis"):
            out.append((f"container tag {key}", record.media.tags.get(key)))
    return out
