"""Technical metadata through ffprobe (JSON output, no shell), and what counts as a video.

ffprobe opens far more than videos: it reads a text file (``.txt``, ``.nfo``, ``.asc``...) as an
``ansi`` "video" a fraction of a second long, a photo as a one-frame video, a subtitle file as a
subtitle stream. A file is a video when one of its streams is what a user means by one: a real
video codec, not text drawn as pictures, not a still image or cover art, and more than one frame
(by the stream's frame count, or its duration times its frame rate). Animated GIFs and APNGs
count only with ``[Library] AnimatedGifs`` on (:class:`ProbeOptions`).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videokit.errors import InputError, require_tool
from videokit.record import MediaInfo

if TYPE_CHECKING:
    from videokit.config import Config

# Codecs ffprobe reports for still images / cover art.
_IMAGE_CODECS = frozenset({"mjpeg", "png", "bmp", "gif", "webp", "tiff", "jpegls", "jpeg2000", "pam", "pgm", "ppm"})
# Text drawn as pictures: ffmpeg's tty/bintext/xbin/idf demuxers read text files as "video".
_TEXT_CODECS = frozenset({"ansi", "bintext", "xbin", "idf"})
_TEXT_FORMATS = frozenset({"tty", "bin", "xbin", "adf", "idf"})
# Animated picture formats: videos only with [Library] AnimatedGifs.
_ANIMATED_FORMATS = frozenset({"gif", "apng"})
_ANIMATED = "an animated GIF"
# The container claims this much more than its streams hold: the claim is not believed.
_ABSURD_SECONDS = 1.0
_ABSURD_FRACTION = 0.1


@dataclass(frozen=True, slots=True)
class ProbeOptions:
    """What counts as a video (``[Library]`` settings)."""

    animated_gifs: bool = False  # animated GIFs and APNGs are videos

    @classmethod
    def from_config(cls, cfg: Config) -> ProbeOptions:
        return cls(animated_gifs=bool(cfg.get("Library", "AnimatedGifs")))


def resolution_label(width: int | None, height: int | None) -> str | None:
    """Label by the short side, so vertical videos get the label of their quality."""
    if not width or not height:
        return None
    short, long = min(width, height), max(width, height)
    # Either side qualifies: 1920x800 scope footage is 1080p, 1080x1920 vertical is 1080p.
    for label, min_short, min_long in (
        ("4K", 2160, 3840),
        ("1440p", 1440, 2560),
        ("1080p", 1080, 1920),
        ("720p", 720, 1280),
        ("480p", 480, 854),
    ):
        if short >= min_short or long >= min_long:
            return label
    return "SD"


def ffprobe_json(
    path: Path, timeout: float = 60, args: Sequence[str] = ("-show_format", "-show_streams")
) -> dict[str, Any]:
    """ffprobe's JSON for ``path`` (by default format and all streams); the one place videokit
    runs ffprobe (``args``: other sections, e.g. packets)."""
    cmd = [require_tool("ffprobe"), "-v", "error", "-print_format", "json", *args, str(path)]
    try:
        out = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise InputError(f"{path}: ffprobe timed out after {timeout:.0f}s; the file may be damaged") from None
    if out.returncode != 0:
        err = out.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = err[-1] if err else "unknown error"
        reason = reason.replace(str(path) + ": ", "")
        raise InputError(f"{path}: not a readable media file ({reason})")
    return json.loads(out.stdout.decode("utf-8", "replace") or "{}")


def _num(v: Any, tp: type = float) -> Any:
    try:
        return tp(v) if v not in (None, "", "N/A") else None
    except (TypeError, ValueError):
        return None


def _rate(s: str | None) -> tuple[float | None, str | None]:
    if not s or s in ("0/0", "0/1"):
        return None, None
    try:
        f = Fraction(s)
    except (ValueError, ZeroDivisionError):
        return None, None
    if f <= 0:
        return None, None
    return round(float(f), 3), f"{f.numerator}/{f.denominator}"


def _rotation(stream: dict[str, Any]) -> int:
    for sd in stream.get("side_data_list", []) or []:
        if "rotation" in sd:
            return int(round(float(sd["rotation"]))) % 360
    rot = (stream.get("tags") or {}).get("rotate")
    return int(rot) % 360 if rot and rot.lstrip("-").isdigit() else 0


def is_video_stream(
    s: dict[str, Any], fmt: dict[str, Any] | None = None, *, options: ProbeOptions | None = None
) -> bool:
    """Whether stream ``s`` (of a file whose ffprobe format section is ``fmt``) is a video."""
    return not_a_video(s, fmt or {}, options=options) is None


def not_a_video(
    s: dict[str, Any], fmt: dict[str, Any], *, options: ProbeOptions | None = None, stills: bool = False
) -> str | None:
    """Why stream ``s`` is not a video, in a few words; None when it is one. ``stills``: any
    picture counts (a still image, cover art, one frame, an animated GIF), text never does."""
    if s.get("codec_type") != "video":
        return f"{s.get('codec_type') or 'unknown'} stream"
    codec = s.get("codec_name")
    container = {p.strip() for p in (fmt.get("format_name") or "").split(",")}
    if codec in _TEXT_CODECS or container & _TEXT_FORMATS:
        return "a text file"
    if stills:
        return None
    if (s.get("disposition") or {}).get("attached_pic"):
        return "cover art"
    if any(c == "image2" or c.endswith("_pipe") for c in container):
        return "a still image"
    frames = _frames(s, fmt)
    if container & _ANIMATED_FORMATS or codec in ("gif", "apng"):
        if frames is not None and frames < 2:
            return "a still image"
        if not (options or ProbeOptions()).animated_gifs:
            return _ANIMATED
        return None
    if frames is not None and frames < 2:
        return "a still image" if codec in _IMAGE_CODECS else "a single frame"
    return None


def _frames(s: dict[str, Any], fmt: dict[str, Any]) -> float | None:
    """The stream's frame count: its header's, else its duration times its frame rate."""
    count = _header_frames(s)
    if count is not None:
        return count
    duration = _num(s.get("duration")) or _tag_seconds(s) or _num(fmt.get("duration"))
    fps = _rate(s.get("avg_frame_rate"))[0] or _rate(s.get("r_frame_rate"))[0]
    return round(duration * fps, 1) if duration and fps else None


def _header_frames(s: dict[str, Any]) -> int | None:
    tags = s.get("tags") or {}
    return _num(s.get("nb_frames"), int) or _num(tags.get("NUMBER_OF_FRAMES") or tags.get("NUMBER_OF_FRAMES-eng"), int)


_CLOCK = re.compile(r"^(\d+):(\d\d):(\d\d(?:\.\d+)?)$")


def _tag_seconds(s: dict[str, Any]) -> float | None:
    """A Matroska track's ``DURATION`` tag (``00:00:04.023000000``) in seconds."""
    tags = s.get("tags") or {}
    m = _CLOCK.match(str(tags.get("DURATION") or tags.get("DURATION-eng") or ""))
    return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3)) if m else None


def stream_end(data: dict[str, Any]) -> float | None:
    """Where the streams' own headers say the file ends (start + duration, the latest stream;
    seconds on the container's clock); None when no stream says."""
    ends = []
    for s in data.get("streams") or []:
        duration = _num(s.get("duration"))
        if duration:
            ends.append((_num(s.get("start_time")) or 0.0) + duration)
        else:
            tag = _tag_seconds(s)  # Matroska's DURATION tag is where the track ends
            if tag:
                ends.append(tag)
    return max(ends) if ends else None


def media_info(
    path: Path, data: dict[str, Any] | None = None, *, stills: bool = False, options: ProbeOptions | None = None
) -> MediaInfo:
    """MediaInfo for a video file; InputError ("not a video (why)") when no stream is a video
    (see the module docstring; ``options``: whether animated GIFs are). ``stills``: a file whose
    only picture is a still image (PNG, JPEG, cover art) or one frame counts as a one-frame video.

    A container duration far beyond what its own streams claim (a header saying 49 days for 4 s
    of video) is not believed: ``duration`` is the streams', the claim is kept in
    ``header_duration`` and the video is marked ``damaged``."""
    data = data if data is not None else ffprobe_json(path)
    streams = data.get("streams") or []
    fmt = data.get("format") or {}
    reasons = [not_a_video(s, fmt, options=options) for s in streams]
    videos = [s for s, why in zip(streams, reasons, strict=True) if why is None]
    if not videos and stills:
        videos = [s for s in streams if not_a_video(s, fmt, stills=True) is None]
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    subs = [s for s in streams if s.get("codec_type") == "subtitle"]
    if not videos:
        pictures = [why for s, why in zip(streams, reasons, strict=True) if why and s.get("codec_type") == "video"]
        pictures = [why for why in pictures if why != "cover art"]
        what = pictures[0] if pictures else "audio-only file" if audios else "subtitles" if subs else "no video stream"
        todo = "set [Library] AnimatedGifs = true to take them as videos" if what == _ANIMATED else "give a video file"
        raise InputError(f"{path}: not a video ({what}); {todo}")
    v = max(
        videos,
        key=lambda s: (s.get("disposition", {}).get("default", 0), (s.get("width") or 0) * (s.get("height") or 0)),
    )
    a = audios[0] if audios else {}
    rotation = _rotation(v)
    w, h = _num(v.get("width"), int), _num(v.get("height"), int)
    if rotation in (90, 270) and w and h:
        w, h = h, w  # what the viewer sees
    dar = v.get("display_aspect_ratio") if v.get("display_aspect_ratio") not in (None, "0:1", "N/A") else None
    if dar and rotation in (90, 270) and ":" in dar:
        dar = ":".join(reversed(dar.split(":")))
    fps, fps_rational = _rate(v.get("avg_frame_rate"))
    if fps is None:
        fps, fps_rational = _rate(v.get("r_frame_rate"))
    duration = _num(fmt.get("duration")) or _num(v.get("duration"))
    header_duration = None
    streams_end = stream_end(data)
    if duration and streams_end and duration > streams_end + max(_ABSURD_SECONDS, _ABSURD_FRACTION * streams_end):
        header_duration, duration = duration, streams_end - (_num(fmt.get("start_time")) or 0.0)
    frame_count = _header_frames(v)
    tags = {str(k).lower(): str(val) for k, val in (fmt.get("tags") or {}).items()}
    size = _num(fmt.get("size"), int)
    return MediaInfo(
        container=fmt.get("format_name"),
        duration=round(duration, 3) if duration else None,
        size=size,
        bit_rate=_num(fmt.get("bit_rate"), int),
        width=w,
        height=h,
        resolution=resolution_label(w, h),
        display_aspect_ratio=dar,
        rotation=rotation,
        fps=fps,
        fps_rational=fps_rational,
        frame_count=frame_count,
        video_codec=v.get("codec_name"),
        profile=v.get("profile"),
        pix_fmt=v.get("pix_fmt"),
        start_time=_num(v.get("start_time")) if v.get("start_time") is not None else _num(fmt.get("start_time")),
        audio_codec=a.get("codec_name"),
        sample_rate=_num(a.get("sample_rate"), int),
        audio_channels=_num(a.get("channels"), int),
        channel_layout=a.get("channel_layout"),
        audio_streams=len(audios),
        subtitle_streams=len(subs),
        subtitle_languages=[(s.get("tags") or {}).get("language", "und") for s in subs],
        tags=tags,
        damaged=header_duration is not None,
        header_duration=round(header_duration, 3) if header_duration else None,
    )


def is_video_file(path: Path, options: ProbeOptions | None = None) -> bool:
    """True when ffprobe finds a real video stream (used to pick files from folders)."""
    try:
        media_info(path, options=options)
        return True
    except InputError:
        return False
