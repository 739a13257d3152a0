"""Safe local file names for downloads.

A name from a server (Content-Disposition, URL path) is untrusted: it may hold directories,
``..``, control or bidi-override characters, reserved device names or thousands of bytes.
:func:`safe_filename` turns it into one harmless path component; :func:`candidates` yields
``name.mp4``, ``name (1).mp4``, ... for collision handling.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from urllib.parse import unquote, urlsplit

_RESERVED = re.compile(r'[<>:"/\\|?*]')
_SPACES = re.compile(r"\s+")
_EXT = re.compile(r"\.[A-Za-z0-9]{1,8}$")
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL"} | {f"COM{i}" for i in range(1, 10)} | {f"LPT{i}" for i in range(1, 10)}
_MAX_BYTES = 240  # below the 255-byte limit of common file systems, leaving room for ".part.json"

# Extensions for Content-Types, used when the name has none.
MIME_EXT = {
    "video/mp4": ".mp4",
    "application/mp4": ".mp4",
    "video/webm": ".webm",
    "video/x-matroska": ".mkv",
    "video/quicktime": ".mov",
    "video/x-msvideo": ".avi",
    "video/avi": ".avi",
    "video/x-flv": ".flv",
    "video/mpeg": ".mpg",
    "video/mp2t": ".ts",
    "video/ogg": ".ogv",
    "video/3gpp": ".3gp",
    "video/x-ms-wmv": ".wmv",
}


def safe_filename(name: str, max_len: int = 120, *, fallback: str = "video") -> str:
    """One safe path component from an untrusted ``name``.

    Keeps only the last path segment (``../../etc/passwd`` -> ``passwd``), drops control and
    format characters, replaces reserved characters with ``_``, strips leading dots and
    trailing dots/spaces, and caps the length (``max_len`` characters, 240 UTF-8 bytes) while
    keeping the extension. Returns ``fallback`` when nothing usable is left.
    """
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})
    name = _RESERVED.sub("_", name)
    name = _SPACES.sub(" ", name).strip()
    name = name.lstrip(". ").rstrip(". ")
    stem, ext = _split_ext(name)
    if not stem:
        return fallback
    if stem.split(".")[0].upper() in _WINDOWS_DEVICES:
        stem = "_" + stem
    return _cap(stem, ext, max_len)


def _split_ext(name: str) -> tuple[str, str]:
    m = _EXT.search(name)
    if m and m.start() > 0:
        return name[: m.start()], m.group(0).lower()
    return name, ""


def _cap(stem: str, ext: str, max_len: int) -> str:
    limit = max(max_len - len(ext), 1)
    stem = stem[:limit]
    while len((stem + ext).encode("utf-8")) > _MAX_BYTES:
        stem = stem[:-1]
    return stem.rstrip(". ") + ext if stem.rstrip(". ") else "video" + ext


def with_extension(name: str, content_type: str | None) -> str:
    """Add an extension from the Content-Type when ``name`` has none."""
    if _split_ext(name)[1] or not content_type:
        return name
    ext = MIME_EXT.get(content_type.split(";")[0].strip().lower())
    return name + ext if ext else name


def filename_from_disposition(header: str | None) -> str | None:
    """The file name a Content-Disposition header suggests (``filename*`` wins), unsanitised."""
    if not header:
        return None
    msg = Message()
    msg["content-disposition"] = header
    try:
        name = msg.get_filename()
    except (ValueError, LookupError):  # bad RFC 2231 charset or encoding
        name = None
    return name or None


def filename_from_url(url: str) -> str | None:
    """The percent-decoded last segment of a URL's path, unsanitised."""
    path = urlsplit(url).path
    segment = path.rsplit("/", 1)[-1]
    return unquote(segment, errors="replace") or None


def candidates(directory: Path, name: str) -> Iterator[Path]:
    """``dir/name``, then ``dir/stem (1).ext``, ``dir/stem (2).ext`` ... (never ends)."""
    stem, ext = _split_ext(name)
    yield directory / name
    n = 1
    while True:
        yield directory / f"{stem} ({n}){ext}"
        n += 1
