"""When a file holds less than its header claims, the record keeps what was measured.

A download cut short or a file copied while it was still written keeps a header that promises
the whole video (an MP4 whose index sits at the front claims every frame); a damaged header can
claim anything (49 days for 4 s of video). Two measurements correct the claims, neither of them
a second decode:

* :func:`check_end`, in the probe stage: the packets of the last seconds the streams claim,
  read by one ffprobe that seeks there (about 60 ms whatever the file's size: the same as the
  probe itself). Packets that stop well short of the claimed end mark the video damaged; only
  then are its video packets counted (demuxing, no decoding: 80 ms for 100 MB) for the frame
  count. This holds when the scene pass is skipped.
* :func:`apply_decoded`, in the scenes stage: the frames the scene pass decoded (it decodes every
  frame once anyway) against the header's frame count, and where the last one ends; the most
  exact measure, so it also replaces the packets' once the video is known to be damaged.

A damaged video's ``duration`` and ``frame_count`` are the measured values (what rules, search and
exports see), ``header_duration``/``header_frames`` keep the claims, ``decoded_fraction`` says
how much of the claimed duration is there (of the claimed frames when no duration is known).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from videokit.errors import InputError
from videokit.probe import ffprobe_json, stream_end
from videokit.record import MediaInfo

log = logging.getLogger(__name__)

TAIL_SECONDS = 5.0  # how far before the claimed end the packet check starts reading
END_SLACK_SECONDS = 0.5  # packets may stop this much short of the claimed end...
END_SLACK_FRACTION = 0.02  # ...or this share of the duration, whichever is more
FRAME_SLACK = 2  # decoded frames may miss this many of the claimed count...
FRAME_SLACK_FRACTION = 0.02  # ...or this share


def check_end(path: Path, media: MediaInfo, data: dict[str, Any], timeout: float = 60.0) -> bool:
    """Read the packets at the end the header claims; mark ``media`` damaged (measured duration,
    packet count) when they stop short, and measure the duration of one marked damaged already.
    ``data``: the file's ffprobe format and streams. True when ``media`` was marked here. A file
    the check cannot read is left as the header says; InputError when it holds no video packet."""
    fmt = data.get("format") or {}
    start = _float(fmt.get("start_time")) or 0.0
    claimed = stream_end(data) or (start + media.duration if media.duration else None)
    if not claimed:
        return False
    seek = claimed - TAIL_SECONDS
    packets = _packets(path, timeout, since=seek if seek > 0 else None)
    from_start = seek <= 0
    if packets == [] and not from_start:  # nothing where the end should be: what is there?
        packets, from_start = _packets(path, timeout, since=None), True
    if packets is None:
        return False
    pictures = {s.get("index") for s in data.get("streams") or [] if _picture(s)}
    if from_start and not any(p.get("stream_index") in pictures for p in packets):
        raise InputError(
            f"{path}: no video data: the file holds none of the {claimed - start:g} s its header claims "
            "(cut short?); get the whole file"
        )
    found = [e for e in map(_packet_end, packets) if e is not None]
    if not found:  # packets without times: the scene pass will say more
        return False
    end = max(found)
    short = claimed - end > max(END_SLACK_SECONDS, END_SLACK_FRACTION * (claimed - start))
    if not (short or media.damaged):  # damaged already: a container duration its streams deny
        return False
    frames = _count_video_packets(path, timeout) if short and media.frame_count else None
    mark(media, duration=end - start, frames=frames)
    return True


def apply_decoded(media: MediaInfo, frames: int | None, end: float | None) -> bool:
    """Compare the frames the scene pass decoded with the header's count; when fewer decode, or
    the video is damaged already, keep the decoded values (``frames``, and ``end``: where the last
    one ends, seconds from the container's start). True when ``media`` is (now) damaged."""
    if frames is None and end is None:
        return media.damaged
    if not (media.damaged or _short(media, frames)):
        return False
    mark(media, duration=end, frames=frames)
    return True


def mark(media: MediaInfo, *, duration: float | None, frames: int | None) -> None:
    """Mark ``media`` damaged with measured values; the header's first claims are kept."""
    if duration is not None:
        duration = round(max(0.0, duration), 3)
        if media.header_duration is None and media.duration and media.duration != duration:
            media.header_duration = media.duration
        media.duration = duration
    if frames is not None:
        if media.header_frames is None and media.frame_count and media.frame_count != frames:
            media.header_frames = media.frame_count
        media.frame_count = frames
    media.damaged = True
    media.decoded_fraction = _fraction(media)


def describe(media: MediaInfo) -> str:
    """One line for the log: what the header claims and what was measured."""

    def part(claim: float | int | None, got: float | int | None, unit: str) -> str | None:
        if claim is None or got is None:
            return None
        return f"{claim:.10g} {unit} claimed, {got:.10g} {unit} there"

    parts = [
        p
        for p in (
            part(media.header_duration, media.duration, "s"),
            part(media.header_frames, media.frame_count, "frames"),
        )
        if p
    ]
    f = media.decoded_fraction
    share = "" if f is None else f" ({f:.1%} of it)" if f >= 0.001 else " (less than 0.1% of it)"
    what = "; ".join(parts) or "the header disagrees with the content"
    return f"damaged: {what}{share}; the record keeps what was measured"


def _short(media: MediaInfo, frames: int | None) -> bool:
    """Fewer frames decode than the header counts. Without a count in the header (Matroska, WebM,
    MPEG-TS) the packet check decides: the decode sees only the picture, and a container's
    duration also covers sound that may go on after it."""
    if frames is None or not media.frame_count:
        return False
    return frames < media.frame_count - max(FRAME_SLACK, FRAME_SLACK_FRACTION * media.frame_count)


def _fraction(media: MediaInfo) -> float | None:
    if media.header_duration and media.duration is not None:
        share = media.duration / media.header_duration
    elif media.header_frames and media.frame_count is not None:
        share = media.frame_count / media.header_frames
    else:
        return None
    return float(f"{min(1.0, share):.3g}")


def _packets(path: Path, timeout: float, since: float | None) -> list[dict[str, Any]] | None:
    """The file's packets from ``since`` seconds (None: its start) to its end; None when ffprobe
    cannot read them."""
    args = ["-show_entries", "packet=stream_index,pts_time,dts_time,duration_time"]
    if since is not None:
        args += ["-read_intervals", f"{since:.3f}%"]
    try:
        return ffprobe_json(path, timeout, args).get("packets") or []
    except InputError as e:
        log.warning("%s: could not check the end of the file: %s", path, e)
        return None


def _count_video_packets(path: Path, timeout: float) -> int | None:
    args = ["-select_streams", "V:0", "-count_packets", "-show_entries", "stream=nb_read_packets"]
    try:
        streams = ffprobe_json(path, timeout, args).get("streams") or []
    except InputError as e:
        log.warning("%s: could not count the video packets: %s", path, e)
        return None
    count = _float(streams[0].get("nb_read_packets")) if streams else None
    return int(count) if count is not None else None


def _picture(stream: dict[str, Any]) -> bool:
    return stream.get("codec_type") == "video" and not (stream.get("disposition") or {}).get("attached_pic")


def _packet_end(p: dict[str, Any]) -> float | None:
    t = _float(p.get("pts_time"))
    if t is None:
        t = _float(p.get("dts_time"))
    return None if t is None else t + (_float(p.get("duration_time")) or 0.0)


def _float(v: Any) -> float | None:
    try:
        return float(v) if v not in (None, "", "N/A") else None
    except (TypeError, ValueError):
        return None
