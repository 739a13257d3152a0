"""The typed record that flows through the pipeline.

One :class:`Record` per distinct video content. Stages fill in their part; a failing
stage appends a :class:`StageError` instead of raising. ``Record.to_dict`` /
``Record.from_dict`` round-trip through JSON and carry ``schema_version``.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import json
from dataclasses import dataclass, field
from typing import Any, TypeVar

from videokit.net import redact_input, redact_text

SCHEMA_VERSION = 1

T = TypeVar("T")


def utcnow() -> str:
    """ISO-8601 UTC timestamp with seconds precision."""
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


@dataclass(slots=True)
class Segment:
    """A labelled time span of a video, from an annotation list (action recognition)."""

    start: float  # seconds
    end: float
    label: str | None = None
    split: str | None = None  # train/val/test when the list says so


@dataclass(slots=True)
class Source:
    """Where a video came from: a URL or a local path, plus what the source says about it."""

    input: str  # what the user gave: URL or path
    kind: str = "file"  # file | url | page
    url: str | None = None  # final URL after redirects (url/page)
    domain: str | None = None
    path: str | None = None  # local path for kind=file
    title: str | None = None
    uploader: str | None = None
    license: str | None = None
    webpage_url: str | None = None
    description: str | None = None
    upload_date: str | None = None
    user_fields: dict[str, str] = field(default_factory=dict)  # CSV columns (label, split...)
    segments: list[Segment] = field(default_factory=list)  # labelled spans from an annotation list
    added_at: str = field(default_factory=utcnow)
    # The whole input when ``input`` had to be redacted (credentials, tokens): in memory only,
    # for the fetch stage; never serialised, so no library, ledger or export holds it.
    private_input: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Secrets never enter a source: ``input``, ``url`` and ``webpage_url`` are kept redacted."""
        shown = redact_input(self.input) if isinstance(self.input, str) else self.input
        if shown != self.input:
            self.private_input = self.private_input or self.input
            self.input = shown
        if self.url:
            self.url = redact_input(self.url)
        if self.webpage_url:
            self.webpage_url = redact_input(self.webpage_url)

    @property
    def fetch_input(self) -> str:
        """What to fetch: the whole input when this process still has it."""
        return self.private_input or self.input


@dataclass(slots=True)
class FileInfo:
    path: str  # where the video file lives now (library download dir or user's file)
    name: str
    size: int
    sha256: str


@dataclass(slots=True)
class MediaInfo:
    """Technical metadata from ffprobe. Missing streams give None."""

    container: str | None = None
    duration: float | None = None
    size: int | None = None
    bit_rate: int | None = None
    width: int | None = None
    height: int | None = None
    resolution: str | None = None  # 4K, 1440p, 1080p, 720p, 480p, SD
    display_aspect_ratio: str | None = None
    rotation: int = 0
    fps: float | None = None
    fps_rational: str | None = None
    frame_count: int | None = None
    video_codec: str | None = None
    profile: str | None = None
    pix_fmt: str | None = None
    start_time: float | None = None
    audio_codec: str | None = None
    sample_rate: int | None = None
    audio_channels: int | None = None
    channel_layout: str | None = None
    audio_streams: int = 0
    subtitle_streams: int = 0
    subtitle_languages: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)  # container tags: title, creation_time...
    # When the file holds less than its header claims (cut short, or a header that lies), duration
    # and frame_count are what was measured (decoded frames, or the file's last packets when the
    # scene pass did not run); the header's claims are kept here, and the video is marked damaged.
    damaged: bool = False
    decoded_fraction: float | None = None  # measured / claimed (duration, else frames); None: not damaged
    header_duration: float | None = None  # what the header claimed, when it differs from ``duration``
    header_frames: int | None = None  # what the header claimed, when it differs from ``frame_count``

    @property
    def has_audio(self) -> bool:
        return self.audio_streams > 0

    @property
    def has_subtitles(self) -> bool:
        return self.subtitle_streams > 0


@dataclass(slots=True)
class Boundary:
    kind: str  # cut | dissolve | fade | wipe
    start: float
    end: float


@dataclass(slots=True)
class Scene:
    index: int
    start: float
    end: float
    start_frame: int
    end_frame: int
    boundary: Boundary | None = None  # what opened this scene; None for the first
    thumbnail: str | None = None  # path relative to the library folder
    description: str | None = None  # per-scene analysis (Step 4)


@dataclass(slots=True)
class Frame:
    """A sampled analysis frame stored as a small image file (path relative to library)."""

    path: str
    time: float
    scene: int


@dataclass(slots=True)
class SceneInfo:
    scenes: list[Scene] = field(default_factory=list)
    scene_count: int = 0
    cuts_per_minute: float | None = None
    contact_sheet: str | None = None  # path relative to library
    frames: list[Frame] = field(default_factory=list)
    decode_errors: int = 0
    frames_decoded: int | None = None
    decoded_duration: float | None = None  # end of the last decoded frame, seconds from the container start
    mode: str | None = None
    threshold: float | None = None


@dataclass(slots=True)
class Tag:
    name: str
    origin: str  # rule:<id> | builtin:<id> | analyzer:<backend>/<model> | user
    confidence: float = 1.0
    condition: str | None = None  # for rules: the condition that fired


@dataclass(slots=True)
class Classification:
    category: str = "Unclassified"
    confidence: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class Sentiment:
    label: str  # positive | neutral | negative
    score: float
    reason: str | None = None
    source: str | None = None  # e.g. "text-derived" for the builtin analyzer


@dataclass(slots=True)
class Analysis:
    backend: str
    model: str | None = None
    description: str | None = None
    answers: dict[str, str] = field(default_factory=dict)  # question -> answer
    sentiment: Sentiment | None = None
    tags: list[Tag] = field(default_factory=list)
    category: str | None = None
    ocr_text: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)  # builtin measurements
    scene_descriptions: dict[str, str] = field(default_factory=dict)  # scene index -> text
    usage: dict[str, int] = field(default_factory=dict)  # prompt/completion tokens
    warnings: list[str] = field(default_factory=list)
    cache_key: str | None = None
    instruction: str | None = None


@dataclass(slots=True)
class TranscriptSegment:
    """One time-stamped piece of what is said (seconds from the start of the video)."""

    start: float
    end: float
    text: str
    confidence: float | None = None  # 0..1 (exp of the mean token log-probability); None for subtitles


@dataclass(slots=True)
class Transcript:
    """What is said in a video: from a speech model or from a subtitle stream of the file."""

    origin: str  # "model:faster-whisper/<model>" | "subtitles:<stream index>:<language>"
    language: str | None = None  # ISO 639-1 where known
    language_probability: float | None = None
    segments: list[TranscriptSegment] = field(default_factory=list)
    model: str | None = None
    srt: str | None = None  # path relative to the library folder
    vtt: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())


@dataclass(slots=True)
class Passage:
    """A piece of a record's text that search can land on: the title and description, the
    analysis description, one scene's description, a transcript chunk, the OCR text.
    ``start``/``end`` (seconds) are set for scenes and transcript chunks (moments)."""

    kind: str  # title | analysis | scene | transcript | ocr
    ref: str  # scene index, chunk index, or "" for whole-video passages
    text: str
    start: float | None = None
    end: float | None = None
    vector: list[float] | None = None  # only in flight; stores keep vectors in their index


@dataclass(slots=True)
class Embeddings:
    """The record's passages and which model embedded them (the store keeps the vectors)."""

    model: str
    dim: int
    passages: list[Passage] = field(default_factory=list)
    digest: str | None = None  # hash of the passages' texts: a changed text means re-embedding


@dataclass(slots=True)
class StageError:
    stage: str
    message: str
    kind: str = "permanent"  # transient | permanent
    at: str = field(default_factory=utcnow)

    def __post_init__(self) -> None:
        if isinstance(self.message, str):  # whoever wrote it, no secret is kept
            self.message = redact_text(self.message)


@dataclass(slots=True)
class Record:
    """Everything known about one video, keyed by its content id; stored as JSON."""

    id: str | None = None  # content id: SHA-256 of the file bytes
    sources: list[Source] = field(default_factory=list)
    file: FileInfo | None = None
    media: MediaInfo | None = None
    scenes: SceneInfo | None = None
    analysis: Analysis | None = None
    tags: list[Tag] = field(default_factory=list)
    classification: Classification | None = None
    transcript: Transcript | None = None
    embeddings: Embeddings | None = None
    errors: list[StageError] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    added_at: str = field(default_factory=utcnow)
    updated_at: str = field(default_factory=utcnow)
    # what plug-in stages add: one JSON-serialisable value per stage name
    extra: dict[str, Any] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    # -- convenience -------------------------------------------------------------------
    @property
    def title(self) -> str:
        for s in self.sources:
            if s.title:
                return s.title
        if self.media and self.media.tags.get("title"):
            return self.media.tags["title"]
        if self.file:
            return self.file.name.rsplit(".", 1)[0]
        return self.sources[0].input if self.sources else ""

    @property
    def user_fields(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for s in self.sources:
            merged.update(s.user_fields)
        return merged

    @property
    def ok(self) -> bool:
        return not self.errors

    def tag_names(self) -> list[str]:
        return [t.name for t in self.tags]

    # -- serialisation -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for source in d["sources"]:
            del source["private_input"]
        d["title"] = self.title
        return d

    def to_json(self, **kw: Any) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kw)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Record:
        version = d.get("schema_version", SCHEMA_VERSION)
        if version > SCHEMA_VERSION:
            raise ValueError(
                f"record schema_version {version} is newer than this videokit ({SCHEMA_VERSION}); upgrade videokit"
            )
        return _build(cls, d)

    @classmethod
    def from_json(cls, text: str) -> Record:
        return cls.from_dict(json.loads(text))


@functools.cache
def _fields_of(tp: type) -> tuple[tuple[str, type | None], ...]:
    """(field name, its nested dataclass type or None) of ``tp``, worked out once per type."""
    return tuple((f.name, _FIELD_TYPES.get((tp, f.name))) for f in dataclasses.fields(tp))


def _build(tp: type[T], data: Any) -> T:
    """Rebuild a dataclass tree from plain dicts, ignoring unknown keys (forward compat)."""
    if data is None:
        return None  # type: ignore[return-value]
    kwargs = {}
    for name, sub in _fields_of(tp):
        if name not in data:
            continue
        value = data[name]
        if sub is not None and value is not None:
            if isinstance(value, list):
                value = [_build(sub, v) for v in value]
            else:
                value = _build(sub, value)
        kwargs[name] = value
    return tp(**kwargs)  # type: ignore[call-arg]


_FIELD_TYPES: dict[tuple[type, str], type] = {
    (Record, "sources"): Source,
    (Source, "segments"): Segment,
    (Record, "file"): FileInfo,
    (Record, "media"): MediaInfo,
    (Record, "scenes"): SceneInfo,
    (Record, "analysis"): Analysis,
    (Record, "tags"): Tag,
    (Record, "classification"): Classification,
    (Record, "errors"): StageError,
    (SceneInfo, "scenes"): Scene,
    (SceneInfo, "frames"): Frame,
    (Scene, "boundary"): Boundary,
    (Analysis, "sentiment"): Sentiment,
    (Analysis, "tags"): Tag,
    (Record, "transcript"): Transcript,
    (Transcript, "segments"): TranscriptSegment,
    (Record, "embeddings"): Embeddings,
    (Embeddings, "passages"): Passage,
}
