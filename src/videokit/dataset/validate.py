"""Does a video file decode from start to end? ``videokit validate FILE``.

One ffmpeg pass decodes every video frame and the first audio track (to a null output) and
counts what ffmpeg reports as errors; the header's claims (ffprobe) say how many frames there
should be. A file is broken when ffmpeg stops on it, a decoder reports an error, no video frame
decodes, or fewer frames decode than the header promises (a file cut short), with the same slack
as the library's damage check (:mod:`videokit.damage`).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from videokit.damage import FRAME_SLACK, FRAME_SLACK_FRACTION
from videokit.errors import InputError, one_line, require_tool
from videokit.record import MediaInfo

MAX_MESSAGES = 10  # decoder messages kept in the report (all are counted)
_FRAME = re.compile(rb"^frame=(\d+)\s*$", re.M)


@dataclass(slots=True)
class ValidationReport:
    """What :func:`validate_file` found: the file's codecs and duration (its header), the frames
    that decoded, and the decoder's error messages; ``ok`` False says why in ``problems``."""

    path: Path
    ok: bool
    container: str | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None  # seconds, as the header says
    fps: float | None = None
    frames: int = 0  # video frames decoded
    expected_frames: int | None = None  # what the header promises (its frame count, else duration x fps)
    error_count: int = 0  # error lines ffmpeg printed while decoding
    errors: list[str] = field(default_factory=list)  # the first MAX_MESSAGES of them
    problems: list[str] = field(default_factory=list)  # one line per reason it is broken


def validate_file(path: Path, media: MediaInfo | None = None) -> ValidationReport:
    """Decode all of ``path`` and report (see the module docstring). InputError when the file
    is missing or unreadable; a file that is not a video, or not media at all, is a report with
    ``ok`` False."""
    from videokit.inputs import check_local
    from videokit.probe import media_info

    path = Path(path)
    check_local(path)
    report = ValidationReport(path, ok=False)
    if media is None:
        try:
            media = media_info(path)
        except InputError as e:
            report.problems.append(one_line(str(e).replace(f"{path}: ", "", 1)))
            return report
    report.container, report.video_codec, report.audio_codec = media.container, media.video_codec, media.audio_codec
    report.width, report.height, report.duration, report.fps = media.width, media.height, media.duration, media.fps
    report.expected_frames = media.header_frames or media.frame_count
    if report.expected_frames is None and media.duration and media.fps:
        report.expected_frames = round((media.header_duration or media.duration) * media.fps)
    cmd = [require_tool("ffmpeg"), "-nostdin", "-hide_banner", "-v", "error", "-nostats", "-progress", "pipe:1"]
    cmd += ["-i", f"file:{path.resolve()}", "-map", "0:V:0"]
    if media.has_audio:
        cmd += ["-map", "0:a:0"]
    cmd += ["-f", "null", "-"]
    limit = 600 + 20 * (media.header_duration or media.duration or 0)
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, timeout=limit, check=False)
        except subprocess.TimeoutExpired:
            report.problems.append(f"decoding did not finish within {limit:.0f} s")
            return report
        err.seek(0)
        lines = [ln.strip() for ln in err.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    found = _FRAME.findall(proc.stdout)
    report.frames = int(found[-1]) if found else 0
    report.error_count = len(lines)
    report.errors = [one_line(ln, 300) for ln in lines[:MAX_MESSAGES]]
    if proc.returncode != 0:
        report.problems.append(f"ffmpeg stopped decoding it: {report.errors[-1] if report.errors else 'no message'}")
    elif lines:
        report.problems.append(f"{len(lines)} decoder error(s), the first: {report.errors[0]}")
    if report.frames == 0:
        report.problems.append("no video frame decodes")
    elif report.expected_frames:
        slack = max(FRAME_SLACK, FRAME_SLACK_FRACTION * report.expected_frames)
        if report.frames < report.expected_frames - slack:
            report.problems.append(
                f"{report.frames} of the {report.expected_frames} frames its header promises decode: "
                "the file is cut short or damaged"
            )
    report.ok = not report.problems
    return report
