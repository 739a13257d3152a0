"""The one set of H.264 encoder settings: exact-mode clips and ``videokit convert`` share it.

Video is libx264 (preset ``veryfast``, constant quality ``crf``, 4:2:0 pixels so every player and
training loader decodes it), optionally scaled down to a maximum height (the width follows, kept
even; a smaller video is never scaled up) and resampled to a frame rate; audio is AAC at 128 kb/s,
or dropped. The container is MP4.

:func:`convert_file` re-encodes one whole file with these settings (written under a hidden
temporary name and renamed when complete).
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from videokit.errors import DiskFullError, InputError, UsageError, one_line, require_tool, stops_batch
from videokit.record import MediaInfo
from videokit.tempfiles import temp_path

PRESET = "veryfast"
AUDIO_BITRATE = "128k"
DEFAULT_CRF = 23
_NO_SPACE = "No space left on device"


@dataclass(frozen=True, slots=True)
class EncodeOptions:
    """How video is re-encoded (exact-mode clips, ``videokit convert``)."""

    max_height: int | None = None  # scale down to at most this many lines; None: keep the size
    fps: float | None = None  # resample to this frame rate; None: keep the source's
    crf: int = DEFAULT_CRF  # x264 constant quality: 0 lossless .. 51 worst; 18-28 is the usual range
    audio: bool = True  # keep the first audio track (AAC), or drop audio

    def __post_init__(self) -> None:
        if self.max_height is not None and self.max_height < 16:
            raise UsageError(f"max height {self.max_height}: give at least 16 (lines)")
        if self.fps is not None and not 0 < self.fps <= 1000:
            raise UsageError(f"fps {self.fps:g}: give a frame rate above 0 and at most 1000")
        if not 0 <= self.crf <= 51:
            raise UsageError(f"crf {self.crf}: give a value from 0 (lossless) to 51")


def frame_rate(options: EncodeOptions, media: MediaInfo | None) -> Fraction | None:
    """The output frame rate: the one asked for, else the source's (30000/1001 stays exact);
    None when neither is known. Denominators are kept at most 1001: a variable-rate source's
    average (3840000/239239) as a time base gives MP4 edit lists that hide a clip's first frame."""
    if options.fps is not None:
        return Fraction(options.fps).limit_denominator(1001)
    if media is not None and media.fps_rational:
        try:
            rate = Fraction(media.fps_rational).limit_denominator(1001)
        except (ValueError, ZeroDivisionError):
            rate = None
        if rate and rate > 0:
            return rate
    if media is not None and media.fps:
        return Fraction(media.fps).limit_denominator(1001)
    return None


def video_filters(options: EncodeOptions, rate: Fraction | None = None) -> list[str]:
    """The filter chain (``fps``, ``scale``, ``format``) for these settings; ``rate``: force a
    constant frame rate (exact-mode clips always do, so frames sit on a known grid)."""
    chain = []
    if rate is not None:
        chain.append(f"fps={rate.numerator}/{rate.denominator}")
    if options.max_height is not None:
        chain.append(f"scale=-2:'min(ih\\,{options.max_height})'")
    chain.append("format=yuv420p")
    return chain


def video_codec_args(options: EncodeOptions) -> list[str]:
    """ffmpeg's video encoder arguments for these settings."""
    return ["-c:v", "libx264", "-preset", PRESET, "-crf", str(options.crf), "-pix_fmt", "yuv420p"]


def audio_codec_args() -> list[str]:
    """ffmpeg's audio encoder arguments (when audio is kept)."""
    return ["-c:a", "aac", "-b:a", AUDIO_BITRATE]


def ffmpeg_failure(source: Path, stderr: str, where: Path) -> Exception:
    """The error for an ffmpeg run over ``source`` that failed with ``stderr``: a full disk at
    ``where`` is a :class:`DiskFullError` (stops the batch), anything else an InputError naming
    the file and ffmpeg's last words."""
    if _NO_SPACE in stderr:
        return DiskFullError(where)
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    return InputError(f"{source}: ffmpeg failed: {one_line(lines[-1] if lines else 'no message', 300)}")


@dataclass(slots=True)
class ConvertReport:
    """What :func:`convert_file` wrote."""

    source: Path
    out: Path
    media: MediaInfo  # of the written file
    seconds: float  # wall time of the conversion


def default_output(path: Path) -> Path:
    """Where ``videokit convert FILE`` writes without ``--out``: ``NAME.h264.mp4`` beside FILE."""
    return path.with_name(f"{path.stem}.h264.mp4")


def convert_file(
    path: Path, out: Path | None = None, options: EncodeOptions | None = None, *, overwrite: bool = False
) -> ConvertReport:
    """Re-encode the whole video ``path`` to an H.264/AAC MP4 at ``out`` (default
    :func:`default_output`) with ``options``. The file is written under a hidden temporary name
    beside ``out`` and renamed when complete. InputError for a missing or undecodable input,
    UsageError when ``out`` is the input or exists (unless ``overwrite``), DiskFullError when
    the disk fills (nothing is left behind)."""
    from videokit.inputs import check_local
    from videokit.probe import media_info

    options = options or EncodeOptions()
    path = Path(path)
    check_local(path)
    out = Path(out) if out is not None else default_output(path)
    if out.resolve() == path.resolve():
        raise UsageError(f"{out}: the output would replace the input; give another --out")
    if out.exists() and not overwrite:
        raise UsageError(f"{out} exists; use --overwrite to replace it")
    media = media_info(path)
    chain = video_filters(options, Fraction(options.fps).limit_denominator(1001) if options.fps else None)
    cmd = [require_tool("ffmpeg"), "-nostdin", "-hide_banner", "-v", "error", "-y", "-i", f"file:{path.resolve()}"]
    cmd += ["-map", "0:V:0", "-vf", ",".join(chain), *video_codec_args(options)]
    if options.audio and media.has_audio:
        cmd += ["-map", "0:a:0", *audio_codec_args()]
    cmd += ["-sn", "-dn", "-movflags", "+faststart", "-f", "mp4"]
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise (stops_batch(e, out.parent) or InputError(f"{out.parent}: {one_line(e)}")) from None
    tmp = temp_path(out)
    started = time.monotonic()
    limit = 600 + 20 * (media.duration or 0)  # a watchdog, far above any real encode
    try:
        try:
            proc = subprocess.run([*cmd, f"file:{tmp}"], capture_output=True, check=False, timeout=limit)
        except subprocess.TimeoutExpired:
            raise InputError(f"{path}: ffmpeg did not finish within {limit:.0f} s; the file may be damaged") from None
        if proc.returncode != 0:
            raise ffmpeg_failure(path, proc.stderr.decode("utf-8", "replace"), out.parent)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return ConvertReport(path, out, media_info(out), round(time.monotonic() - started, 3))
