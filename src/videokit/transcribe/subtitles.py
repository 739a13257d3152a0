"""Subtitle streams a file already carries: which one is usable, and its text read with ffmpeg.

A stream is usable when it is text (not a bitmap format such as DVD or PGS subtitles) and its
language tag is the wanted language: ``[Transcription] Language`` when set, else any language
the model covers (English only for ``*.en`` models). Untagged (``und``) streams are not used:
their language is unknown. The stream marked default wins among usable ones.
"""

from __future__ import annotations

import subprocess
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from videokit.errors import InputError, one_line, require_tool
from videokit.probe import ffprobe_json
from videokit.record import Transcript
from videokit.transcribe.captions import parse_srt

TEXT_CODECS = frozenset(
    {"mov_text", "subrip", "srt", "ass", "ssa", "webvtt", "text", "microdvd", "subviewer", "sami", "realtext",
     "mpl2", "pjs", "vplayer", "jacosub", "stl", "eia_608"}
)  # fmt: skip

# ISO 639-2 (bibliographic and terminology) codes of the languages Whisper knows, to ISO 639-1.
_ISO639_2 = {
    "eng": "en", "deu": "de", "ger": "de", "fra": "fr", "fre": "fr", "spa": "es", "ita": "it", "por": "pt",
    "nld": "nl", "dut": "nl", "rus": "ru", "ukr": "uk", "pol": "pl", "ces": "cs", "cze": "cs", "slk": "sk",
    "slo": "sk", "hun": "hu", "ron": "ro", "rum": "ro", "bul": "bg", "hrv": "hr", "srp": "sr", "slv": "sl",
    "ell": "el", "gre": "el", "tur": "tr", "ara": "ar", "heb": "he", "fas": "fa", "per": "fa", "hin": "hi",
    "ben": "bn", "urd": "ur", "tam": "ta", "tel": "te", "mar": "mr", "zho": "zh", "chi": "zh", "jpn": "ja",
    "kor": "ko", "vie": "vi", "tha": "th", "ind": "id", "msa": "ms", "may": "ms", "fil": "tl", "tgl": "tl",
    "swe": "sv", "nor": "no", "nob": "no", "nno": "nn", "dan": "da", "fin": "fi", "isl": "is", "ice": "is",
    "est": "et", "lav": "lv", "lit": "lt", "cat": "ca", "eus": "eu", "baq": "eu", "glg": "gl", "cym": "cy",
    "wel": "cy", "gle": "ga", "afr": "af", "swa": "sw", "kat": "ka", "geo": "ka", "hye": "hy", "arm": "hy",
    "aze": "az", "kaz": "kk", "uzb": "uz", "mkd": "mk", "mac": "mk", "bel": "be", "bos": "bs", "sqi": "sq",
    "alb": "sq", "lat": "la", "mon": "mn", "nep": "ne", "sin": "si", "khm": "km", "lao": "lo", "mya": "my",
    "bur": "my", "yor": "yo", "som": "so", "amh": "am", "hau": "ha", "yid": "yi", "mlt": "mt", "haw": "haw",
}  # fmt: skip


def language_code(tag: str | None) -> str | None:
    """A stream's language tag as a two-letter code (``eng`` -> ``en``); None when untagged."""
    if not tag:
        return None
    s = tag.strip().lower().replace("_", "-").split("-")[0]
    if s in ("", "und", "mul", "zxx", "mis"):
        return None
    return _ISO639_2.get(s, s)


@dataclass(frozen=True, slots=True)
class SubtitleStream:
    index: int  # the stream's index in the file (ffmpeg's 0:<index>)
    codec: str
    language: str | None  # two-letter code; None when untagged
    default: bool = False

    @property
    def is_text(self) -> bool:
        return self.codec in TEXT_CODECS


def subtitle_streams(path: Path) -> list[SubtitleStream]:
    """The subtitle streams of ``path``, in file order."""
    data = ffprobe_json(path, args=("-show_streams", "-select_streams", "s"))
    out = []
    for s in data.get("streams", []):
        tags = s.get("tags") or {}
        out.append(
            SubtitleStream(
                index=int(s.get("index", 0)),
                codec=str(s.get("codec_name") or ""),
                language=language_code(tags.get("language")),
                default=bool((s.get("disposition") or {}).get("default")),
            )
        )
    return out


def pick_stream(streams: list[SubtitleStream], wanted: Collection[str]) -> SubtitleStream | None:
    """The usable stream: text, in a ``wanted`` language; the default-marked one first."""
    usable = [s for s in streams if s.is_text and s.language is not None and s.language in wanted]
    usable.sort(key=lambda s: not s.default)
    return usable[0] if usable else None


def read_subtitles(path: Path, stream: SubtitleStream, timeout: float = 120) -> Transcript:
    """The text of ``stream`` as a transcript (origin ``subtitles:<index>:<language>``)."""
    cmd = [require_tool("ffmpeg"), "-v", "error", "-nostdin", "-i", str(path), "-map", f"0:{stream.index}"]
    cmd += ["-f", "srt", "-"]
    try:
        out = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise InputError(f"{path}: reading subtitle stream {stream.index} timed out after {timeout:.0f}s") from None
    if out.returncode != 0:
        lines = out.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = one_line(lines[-1] if lines else "unknown error", 200)
        raise InputError(f"{path}: subtitle stream {stream.index} cannot be read ({reason})")
    segments = parse_srt(out.stdout.decode("utf-8", "replace"))
    return Transcript(
        origin=f"subtitles:{stream.index}:{stream.language}",
        language=stream.language,
        segments=segments,
    )
