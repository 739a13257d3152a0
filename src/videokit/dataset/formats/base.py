"""What every dataset format shares: the format interface, safe file names, clip metadata,
and files that appear whole or not at all.

A format is a class registered in the entry-point group ``videokit.formats`` (built-ins in
videokit's own ``pyproject.toml``, plug-ins the same way) with:

* ``name``: what ``--format NAME`` selects;
* ``layout(plan, record=None) -> str``: where the clip of ``plan`` goes, relative to the
  format's output folder (POSIX separators); the builder cuts the clip there (``cut_clips``'s
  ``names``; :func:`clip_names` makes the names of a whole plan list unique);
* ``write(clips, records, out, info) -> list[str]``: the index files (CSV, lists, shards,
  Parquet) describing the cut clips, each written under a temporary name and renamed when
  whole; returns the files written, relative to ``out``;
* ``packs_clips``: True when ``write`` copies the clip files into containers of its own (tar
  shards): the loose clips at ``layout`` paths are then only its input.

A clip's file is at ``out / clip.path``. Rows are written in clip-key order, so the same clips
give the same files whatever order they come in.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any, ClassVar

from videokit.dataset.model import Clip, ClipPlan
from videokit.errors import ConfigError
from videokit.record import Record
from videokit.registry import Registry, registry
from videokit.tempfiles import remove_stale, temp_path

DEFAULT_SPLIT = "train"  # the split of a clip no split was given to
UNLABELED = "unlabeled"  # the class of a clip without a label


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset build says about itself: its classes (in label-index order), the command
    that built it, and its options (for the dataset card)."""

    classes: list[str]
    command: str
    options: dict[str, Any] = field(default_factory=dict)


class DatasetFormat(ABC):
    """A dataset layout and its index files (see the module docstring)."""

    name: ClassVar[str]
    packs_clips: ClassVar[bool] = False

    @abstractmethod
    def layout(self, plan: ClipPlan, record: Record | None = None) -> str:
        """The clip's path relative to the output folder (POSIX separators)."""

    @abstractmethod
    def write(self, clips: list[Clip], records: Mapping[str, Record], out: Path, info: DatasetInfo) -> list[str]:
        """Write the index files for ``clips`` under ``out``; the files written, relative to ``out``."""


formats: Registry[type[DatasetFormat]] = registry("formats")


def get_format(name: str) -> DatasetFormat:
    """A new instance of the format registered as ``name``; ConfigError naming the choices otherwise."""
    return formats.get(name)()


def require(module: str, what: str) -> ModuleType:
    """Import an optional dependency of the ``dataset`` extra, or say how to install it."""
    try:
        return import_module(module)
    except ImportError:
        raise ConfigError(f"{what} needs the dataset extra ({module}): pip install 'videokit[dataset]'") from None


# -- names ---------------------------------------------------------------------------------

_ILLEGAL = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]+')
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
_MAX_NAME = 100  # characters of a label kept in a file name
_MAX_BYTES = 200  # of a file-name component: well under every file system's 255


def safe_name(text: str) -> str:
    """``text`` as one file-name component valid on Linux, macOS and Windows.

    A name that is already valid is kept as it is; otherwise the characters no file system
    takes (``/ \\ : * ? " < > |``, control characters) become ``_``, leading dots and trailing
    dots and spaces go, and a short hash of the original is appended, so two labels never share
    a folder (``"a/b"`` and ``"a:b"`` differ). The original label stays in the metadata."""
    text = unicodedata.normalize("NFC", text)
    if _is_safe(text):
        return text
    cleaned = _ILLEGAL.sub("_", " ".join(text.split())).lstrip(".").rstrip(". ") or "label"
    cleaned = _truncate(cleaned[:_MAX_NAME], _MAX_BYTES - 9).rstrip(". ") or "label"
    return f"{cleaned}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:8]}"


def _is_safe(text: str) -> bool:
    return (
        bool(text)
        and not _ILLEGAL.search(text)
        and text == text.strip()
        and " ".join(text.split()) == text
        and not text.startswith(".")
        and not text.endswith(".")
        and text.split(".")[0].lower() not in _RESERVED
        and len(text) <= _MAX_NAME
        and len(text.encode("utf-8")) <= _MAX_BYTES
    )


def _truncate(text: str, max_bytes: int) -> str:
    while len(text.encode("utf-8")) > max_bytes:
        text = text[:-1]
    return text


def clips_by_split(clips: Iterable[Clip]) -> dict[str, list[Clip]]:
    """The clips of each split, in :func:`sorted_clips` order."""
    out: dict[str, list[Clip]] = {}
    for clip in sorted_clips(clips):
        out.setdefault(split_of(clip.plan), []).append(clip)
    return out


def split_of(plan: ClipPlan) -> str:
    """The clip's split (``train`` when none was given)."""
    return plan.split or DEFAULT_SPLIT


def labels_of(plan: ClipPlan) -> list[str]:
    """The clip's labels (``["unlabeled"]`` when it has none)."""
    return list(plan.labels) or [UNLABELED]


def clip_names(fmt: DatasetFormat, plans: Iterable[ClipPlan], records: Mapping[str, Record]) -> dict[str, str]:
    """``plan.key -> relative path`` for ``cut_clips``: the format's layout of every plan, made
    unique (two clips a layout would put at one path: the later keys get ``-1``, ``-2``... before
    the extension, in key order, so the names do not depend on the order of ``plans``)."""
    by_key = {p.key: p for p in plans}
    names: dict[str, str] = {}
    taken: set[str] = set()
    for key in sorted(by_key):
        plan = by_key[key]
        path = fmt.layout(plan, records.get(plan.video_id))
        if path in taken:
            stem, dot, ext = path.rpartition(".")
            if not dot or "/" in ext:
                stem, ext = path, ""
            n = 1
            while f"{stem}-{n}{dot}{ext}" in taken:
                n += 1
            path = f"{stem}-{n}{dot}{ext}"
        taken.add(path)
        names[key] = path
    return names


# -- metadata ------------------------------------------------------------------------------

_YOUTUBE_ID = re.compile(r"(?:youtube\.com/(?:watch\?(?:[^#]*&)?v=|shorts/|embed/|live/)|youtu\.be/)([\w-]{11})")


def youtube_id(record: Record | None) -> str | None:
    """The YouTube id of the record's source: the list's ``youtube_id`` column, else its URL."""
    if record is None:
        return None
    given = record.user_fields.get("youtube_id")
    if given:
        return given.strip()
    for s in record.sources:
        for url in (s.webpage_url, s.url, s.input):
            m = _YOUTUBE_ID.search(url or "")
            if m:
                return m.group(1)
    return None


def _first(record: Record | None, attr: str) -> str | None:
    if record is None:
        return None
    return next((getattr(s, attr) for s in record.sources if getattr(s, attr)), None)


def _num(x: float | None, digits: int = 6) -> float | None:
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else round(float(x), digits)


TECHNICAL = ("width", "height", "fps", "video_codec", "audio_codec", "container", "bit_rate")


def _technical(key: str, value: Any) -> Any:
    """Technical values in one type per key (numbers given as text are read; unreadable: None)."""
    if value is None or value == "":
        return None
    try:
        if key in ("width", "height", "bit_rate"):
            return int(value)
        if key == "fps":
            num, _, den = str(value).partition("/")
            return _num(float(num) / float(den) if den else float(num), 3)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return str(value)


def clip_metadata(clip: Clip, record: Record | None, out: Path | None = None) -> dict[str, Any]:
    """Everything a format says about one clip, as JSON-ready values: where it is and its
    SHA-256, labels and split, planned and real span, caption, tags with provenance, technical
    metadata (the clip's own from ``clip.meta`` when the cutter measured it, else the source
    video's) and where the video came from (URL, page, uploader, license, upload date).
    With ``out``, ``size`` is the clip file's size in bytes."""
    plan, meta = clip.plan, clip.meta
    media = record.media if record else None
    analysis = record.analysis if record else None
    first_source = record.sources[0] if record and record.sources else None
    caption = meta.get("caption") or (analysis.description if analysis else None) or (record.title if record else "")
    tags = meta.get("tags")
    if tags is None:
        tags = [
            {"name": t.name, "origin": t.origin, "confidence": t.confidence, "condition": t.condition}
            for t in (record.tags if record else [])
        ]
    technical = {k: _technical(k, meta.get(k, getattr(media, k, None) if media else None)) for k in TECHNICAL}
    size = None
    if out is not None:
        try:
            size = (out / clip.path).stat().st_size
        except OSError:
            size = None
    return {
        "key": plan.key,
        "path": clip.path,
        "sha256": clip.sha256,
        "video_id": plan.video_id,
        "kind": plan.kind,
        "index": plan.index,
        "label": labels_of(plan)[0],
        "labels": labels_of(plan),
        "split": split_of(plan),
        "start": _num(plan.start),
        "end": _num(plan.end),
        "real_start": _num(clip.real_start),
        "real_end": _num(clip.real_end),
        "duration": _num(clip.real_end - clip.real_start),
        "frames": clip.frames,
        "size": size,
        "caption": caption or "",
        "tags": tags,
        "category": record.classification.category if record and record.classification else None,
        **technical,
        "source_url": (first_source.url or first_source.input) if first_source else None,
        "page_url": _first(record, "webpage_url"),
        "title": record.title if record else None,
        "uploader": _first(record, "uploader"),
        "license": _first(record, "license"),
        "upload_date": _first(record, "upload_date"),
        "youtube_id": youtube_id(record),
    }


def class_list(info: DatasetInfo, clips: Iterable[Clip]) -> list[str]:
    """The classes in label-index order: ``info.classes``, then any label a clip has that they
    lack (``unlabeled``...), sorted."""
    known = list(dict.fromkeys(info.classes))
    seen = set(known)
    extra = sorted({label for c in clips for label in labels_of(c.plan)} - seen)
    return known + extra


def sorted_clips(clips: Iterable[Clip]) -> list[Clip]:
    """Clips in a stable order (key, then path)."""
    return sorted(clips, key=lambda c: (c.plan.key, c.path))


def relative(path: str, folder: str) -> str:
    """POSIX ``path`` relative to ``folder`` (both relative to the same output folder)."""
    return PurePosixPath(os.path.relpath(path, folder or ".")).as_posix()


# -- files that appear whole ---------------------------------------------------------------


@contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """A temporary path beside ``final`` to write; renamed to ``final`` when the block ends
    without error, removed otherwise. Stale temporaries of killed runs for ``final`` go first."""
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(final.parent, final.name)
    tmp = temp_path(final)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(final: Path, text: str) -> None:
    """``text`` (UTF-8) at ``final``, whole or not at all."""
    with atomic_path(final) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")
