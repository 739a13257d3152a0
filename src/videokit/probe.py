"""Technical metadata through ffprobe (JSON output, no shell)."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path
from typing import Any

from videokit.errors import InputError, require_tool
from videokit.record import MediaInfo

# Codecs ffprobe reports for still images / cover art: not a video.
_IMAGE_CODECS = {"mjpeg", "png", "bmp", "gif", "webp", "tiff", "jpegls"}


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


def ffprobe_json(path: Path, timeout: float = 60) -> dict[str, Any]:
    """ffprobe's JSON for ``path`` (format and all streams); the one place videokit runs ffprobe."""
    cmd = [require_tool("ffprobe"), "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]
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


def is_video_stream(s: dict[str, Any]) -> bool:
    if s.get("codec_type") != "video":
        return False
    if (s.get("disposition") or {}).get("attached_pic"):
        return False
    return s.get("codec_name") not in _IMAGE_CODECS or _num(s.get("nb_frames"), int) not in (None, 0, 1)


def media_info(path: Path, data: dict[str, Any] | None = None, *, stills: bool = False) -> MediaInfo:
    """MediaInfo for a video file; InputError when it has no video stream. ``stills``: a file
    whose only picture is a still image (PNG, JPEG, cover art) counts as a one-frame video."""
    data = data if data is not None else ffprobe_json(path)
    streams = data.get("streams") or []
    fmt = data.get("format") or {}
    videos = [s for s in streams if is_video_stream(s)]
    if not videos and stills:
        videos = [s for s in streams if s.get("codec_type") == "video"]
    audios = [s for s in streams if s.get("codec_type") == "audio"]
    subs = [s for s in streams if s.get("codec_type") == "subtitle"]
    if not videos:
        what = "audio-only file" if audios else "no video stream"
        raise InputError(f"{path}: not a video ({what}); give a video file")
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
    frame_count = _num(v.get("nb_frames"), int)
    if not frame_count:
        nb = (v.get("tags") or {}).get("NUMBER_OF_FRAMES") or (v.get("tags") or {}).get("NUMBER_OF_FRAMES-eng")
        frame_count = _num(nb, int)
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
    )


def is_video_file(path: Path) -> bool:
    """True when ffprobe finds a real video stream (used to pick files from folders)."""
    try:
        media_info(path)
        return True
    except InputError:
        return False
