"""SubRip (``.srt``) and WebVTT (``.vtt``) text for transcript segments, written atomically; and
the SRT reader for subtitle streams (ffmpeg converts any text subtitle codec to SRT)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from videokit.record import TranscriptSegment
from videokit.tempfiles import remove_stale, temp_path

_TIME = r"(\d+):(\d{2}):(\d{2})[,.](\d{3})"
_CUE = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}")
_TAGS = re.compile(r"<[^>]+>|\{\\[^}]*\}")  # <i>, <font ...>, ASS overrides {\an8}


def _stamp(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _cue_text(text: str) -> str:
    # a blank line would end the cue, and "-->" would start a new one
    lines = [ln.strip() for ln in text.replace("-->", "->").splitlines() if ln.strip()]
    return "\n".join(lines) or "..."


def to_srt(segments: list[TranscriptSegment]) -> str:
    cues = [
        f"{i}\n{_stamp(s.start, ',')} --> {_stamp(s.end, ',')}\n{_cue_text(s.text)}\n"
        for i, s in enumerate(segments, start=1)
    ]
    return "\n".join(cues)


def to_vtt(segments: list[TranscriptSegment]) -> str:
    cues = [f"{_stamp(s.start, '.')} --> {_stamp(s.end, '.')}\n{_cue_text(s.text)}\n" for s in segments]
    return "\n".join(["WEBVTT\n", *cues])


def parse_srt(text: str) -> list[TranscriptSegment]:
    """The cues of SubRip text as segments (markup removed, lines joined; empty cues left out)."""
    segments: list[TranscriptSegment] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")):
        lines = block.strip().split("\n")
        for i, line in enumerate(lines):
            m = _CUE.match(line)
            if m is None:
                continue
            g = [int(x) for x in m.groups()]
            start = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
            end = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
            words = " ".join(_TAGS.sub("", ln).strip() for ln in lines[i + 1 :])
            words = " ".join(words.split())
            if words:
                segments.append(TranscriptSegment(start, end, words, None))
            break
    return segments


def write_text(path: Path, text: str) -> None:
    """``text`` at ``path``, whole or not at all (a temporary file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path.parent, path.name)
    tmp = temp_path(path)
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_captions(segments: list[TranscriptSegment], folder: Path, stem: str = "transcript") -> tuple[Path, Path]:
    """``<folder>/<stem>.srt`` and ``.vtt``, each written atomically."""
    srt, vtt = folder / f"{stem}.srt", folder / f"{stem}.vtt"
    write_text(srt, to_srt(segments))
    write_text(vtt, to_vtt(segments))
    return srt, vtt
