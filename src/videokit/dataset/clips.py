"""Clips: plan spans of a stored video, then cut them all with one ffmpeg process per video.

Planning (:func:`plan_clips`) reads only the record: ``scenes`` (the detected scenes from
``min_len`` to ``max_len`` seconds; a longer scene is split into equal windows no longer than
``max_len``), ``windows`` (``window`` seconds every ``stride`` seconds; a last shorter window is
kept when it lasts at least ``min_len``) or ``segments`` (the labelled spans of an annotation
list, their label and split kept on the plan). A segment that cannot be a clip (``end <= start``,
outside the video) is returned as a reject with the reason, and the rest goes on.

Cutting (:func:`cut_clips`) runs one ffmpeg process for all the clips of one source video. The
clips are grouped into layers of spans that do not overlap (overlapping windows need two); each
layer is one output of that process, ffmpeg's segment muxer splitting the stream at every clip
boundary (``-segment_times``, with empty segments written for boundaries that fall before the
same frame, so segment *i + 1* always begins at boundary *i*). Reading starts at the first clip
and stops shortly after the last.

* ``copy`` mode copies the streams (no re-encode): a clip starts at the first keyframe at or
  after its start and ends at the first keyframe at or after its end (or where the video ends,
  or at most ``COPY_TAIL`` seconds after the last clip's end), and those real times, from the
  segment muxer's list, are recorded (``Clip.real_start``, ``real_end``). A clip with no keyframe
  inside its span is not cut (a reason is given). Stretches between clips are written to the
  temporary folder too, then deleted.
* ``exact`` mode re-encodes to H.264 with the shared settings of :mod:`.encode` (maximum height,
  frame rate, quality, AAC audio or none). Frames are put on the constant-rate grid of the
  output frame rate, a keyframe is forced on the first frame of each clip and the frames between
  clips are dropped before encoding, so every clip holds exactly the frames of its span.

Files are written into a hidden folder of the output folder (``.clips-<id>.tmp-<host>-<pid>-…``);
each clip is checked and hashed as soon as ffmpeg has finished it, and all are renamed to their
places (``names``: the dataset format's layout) once ffmpeg has succeeded, so no half-written
clip is ever visible; the folder of a killed run is removed by the next one. A full disk is a
:class:`~videokit.errors.DiskFullError` with nothing of that run left behind. Clip bytes are
never held in memory: hashes stream from the files, frame counts come from the MP4 index
(:mod:`.mp4`).
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path, PurePosixPath

from videokit.dataset.encode import (
    EncodeOptions,
    audio_codec_args,
    ffmpeg_failure,
    frame_rate,
    video_codec_args,
    video_filters,
)
from videokit.dataset.model import Clip, ClipPlan
from videokit.dataset.mp4 import video_frames
from videokit.errors import InputError, UsageError, one_line, require_tool, stops_batch
from videokit.hashing import sha256_file
from videokit.record import MediaInfo, Record, Segment
from videokit.tempfiles import remove_stale, temp_path

log = logging.getLogger(__name__)

CLIP_KINDS = ("scenes", "windows", "segments")
MODES = ("copy", "exact")
END_SLACK = 0.5  # a segment may end this many seconds past the video's end: it is cut at the end
COPY_TAIL = 10.0  # copy mode reads this far past the last clip for the keyframe that ends it
EXACT_TAIL = 1.0  # exact mode decodes this far past the last clip
SNAP_SLACK = 0.001  # copy mode: a keyframe this many seconds before a clip boundary is taken as on it
MAX_CLIPS_PER_RUN = 2000  # more clips of one video go to successive processes (command-line length)
# audio codecs an MP4 file holds as they are; others are re-encoded to AAC in copy mode
MP4_AUDIO = frozenset({"aac", "mp3", "ac3", "eac3", "opus", "alac"})


@dataclass(frozen=True, slots=True)
class ClipOptions:
    """Which clips a dataset holds and how they are cut (``videokit dataset`` flags)."""

    clips: str = "scenes"  # scenes | windows | segments
    min_len: float = 1.0  # seconds: shorter scenes (and last windows) are not clips
    max_len: float = 10.0  # seconds: longer scenes are split into equal windows
    window: float = 5.0  # seconds, --clips windows
    stride: float | None = None  # seconds between window starts; None: back to back (= window)
    mode: str = "exact"  # copy (stream copy, keyframe-snapped) | exact (frame-accurate H.264)
    max_height: int | None = None  # exact mode: scale down to at most this height
    fps: float | None = None  # exact mode: resample to this frame rate
    crf: int = 23  # exact mode: x264 quality
    audio: bool = True  # keep audio (AAC in exact mode) or drop it

    def __post_init__(self) -> None:
        if self.clips not in CLIP_KINDS:
            raise UsageError(f"--clips {self.clips!r}: use one of {', '.join(CLIP_KINDS)}")
        if self.mode not in MODES:
            raise UsageError(f"--mode {self.mode!r}: use one of {', '.join(MODES)}")
        for name in ("min_len", "max_len", "window"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise UsageError(f"--{name.replace('_', '-')} {value:g}: give a number of seconds above 0")
        if self.min_len > self.max_len:
            raise UsageError(f"--min-len {self.min_len:g} is above --max-len {self.max_len:g}")
        if self.stride is not None and not (math.isfinite(self.stride) and self.stride > 0):
            raise UsageError(f"--stride {self.stride:g}: give a number of seconds above 0")
        self.encode  # noqa: B018 - checks max_height, fps and crf

    @property
    def encode(self) -> EncodeOptions:
        """The encoder settings of exact mode."""
        return EncodeOptions(max_height=self.max_height, fps=self.fps, crf=self.crf, audio=self.audio)


# -- planning ------------------------------------------------------------------------------------


def plan_clips(record: Record, source: Path, options: ClipOptions) -> tuple[list[ClipPlan], list[tuple[str, str]]]:
    """The clips of one stored video, in time order, and the rejects: (what, why) for each
    labelled segment that cannot be a clip (``end <= start``, outside the video's duration), or
    for the whole video when it cannot have clips of this kind (no duration, no scene list, no
    segments). Reads the record only, not the file."""
    vid = record.id or ""
    duration = record.media.duration if record.media else None
    if not duration or duration <= 0:
        return [], [("the video", "its duration is unknown: run 'videokit run' on it again")]
    rejects: list[tuple[str, str]] = []
    spans: list[tuple[float, float, list[str], str | None]] = []
    if options.clips == "scenes":
        kind = "scene"
        if record.scenes is None:
            return [], [("the video", "it has no scene list: run 'videokit run' on it without --skip scenes")]
        scenes = [(s.start, s.end) for s in record.scenes.scenes] or [(0.0, duration)]
        for start, end in scenes:
            start, end = max(0.0, start), min(end, duration)
            if end - start < options.min_len:
                continue
            pieces = max(1, math.ceil((end - start) / options.max_len - 1e-9))
            step = (end - start) / pieces
            spans += [(start + i * step, start + (i + 1) * step, [], None) for i in range(pieces)]
    elif options.clips == "windows":
        kind = "window"
        stride = options.stride or options.window
        t = 0.0
        while t + options.window <= duration + 1e-6:
            spans.append((t, min(t + options.window, duration), [], None))
            t = round(t + stride, 6)
        if t < duration and duration - t >= options.min_len and (not spans or spans[-1][1] < duration):
            spans.append((t, duration, [], None))
    else:
        kind = "segment"
        spans, rejects = _segment_spans(record, duration)
    plans = []
    for i, (start, end, labels, split) in enumerate(sorted(spans, key=lambda s: (s[0], s[1]))):
        plans.append(ClipPlan(vid, Path(source), i, round(start, 3), round(end, 3), kind, labels, split))
    return plans, rejects


def _segment_spans(
    record: Record, duration: float
) -> tuple[list[tuple[float, float, list[str], str | None]], list[tuple[str, str]]]:
    """The record's labelled segments as spans (one per distinct span, its labels merged) and
    the rejected ones with the reason."""
    segments: list[Segment] = [seg for source in record.sources for seg in source.segments]
    if not segments:
        return [], [("the video", "it has no labelled segments: give start/end columns in the --from list")]
    merged: dict[tuple[float, float], tuple[list[str], str | None]] = {}
    rejects: list[tuple[str, str]] = []
    for seg in segments:
        what = _describe(seg)
        try:
            start, end = float(seg.start), float(seg.end)
        except (TypeError, ValueError):
            rejects.append((what, "its start or end is not a number"))
            continue
        if not (math.isfinite(start) and math.isfinite(end)):
            rejects.append((what, "its start or end is not a number"))
        elif end <= start:
            rejects.append((what, f"end {end:g} s is not after start {start:g} s"))
        elif start < 0 or start >= duration:
            rejects.append((what, f"it starts outside the video (0-{duration:g} s)"))
        elif end > duration + END_SLACK:
            rejects.append((what, f"it ends at {end:g} s, past the video's end ({duration:g} s)"))
        else:
            span = (round(start, 3), round(min(end, duration), 3))
            labels, split = merged.setdefault(span, ([], seg.split))
            if seg.label and seg.label not in labels:
                labels.append(seg.label)
            if split is None and seg.split:
                merged[span] = (labels, seg.split)
    return [(s, e, labels, split) for (s, e), (labels, split) in merged.items()], rejects


def _describe(seg: Segment) -> str:
    label = f" ({seg.label})" if seg.label else ""
    try:
        return f"segment {float(seg.start):g}-{float(seg.end):g} s{label}"
    except (TypeError, ValueError):
        return f"segment {seg.start}-{seg.end}{label}"


# -- the ffmpeg command --------------------------------------------------------------------------


@dataclass(slots=True)
class _Layer:
    """Clips whose spans do not overlap: one output of the ffmpeg process."""

    plans: list[ClipPlan] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)  # per plan, in units (see CutCommand)

    @property
    def bounds(self) -> list[int]:
        return sorted({u for span in self.spans for u in span})


@dataclass(slots=True)
class CutCommand:
    """One ffmpeg run cutting clips of one video: ``argv`` run in ``workdir`` writes, for
    layer *l*, the segments ``L<l>_NNNNNN.mp4`` and their list ``L<l>.csv``. Times on the
    command line are relative to ``offset`` (seconds of the video skipped); a span is in
    microseconds (copy mode) or frames of ``rate`` (exact mode) from there."""

    argv: list[str]
    workdir: Path
    layers: list[_Layer]
    offset: float
    rate: Fraction | None
    timeout: float
    unfit: list[tuple[ClipPlan, str]]  # plans that cannot be cut at all, with the reason


def _seconds(value: float | Fraction) -> str:
    return f"{float(value):.6f}"


def _layers(plans: list[ClipPlan], spans: list[tuple[int, int]]) -> list[_Layer]:
    """Greedy interval partitioning: each span goes to the first layer it does not overlap."""
    layers: list[_Layer] = []
    ends: list[int] = []
    for plan, (a, b) in sorted(zip(plans, spans, strict=True), key=lambda ps: ps[1]):
        i = next((k for k, end in enumerate(ends) if end <= a), len(layers))
        if i == len(layers):
            layers.append(_Layer())
            ends.append(b)
        layers[i].plans.append(plan)
        layers[i].spans.append((a, b))
        ends[i] = b
    return layers


def _runs(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Spans merged where they touch: the stretches of video a layer keeps."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _segment_args(layer: int, times: Sequence[str]) -> list[str]:
    return [
        "-f",
        "segment",
        "-segment_format",
        "mp4",
        "-segment_times",
        ",".join(times),
        "-write_empty_segments",
        "1",
        "-reset_timestamps",
        "1",
        "-avoid_negative_ts",
        "disabled",
        "-segment_list",
        f"L{layer}.csv",
        "-segment_list_type",
        "csv",
        f"L{layer}_%06d.mp4",
    ]


def cut_command(
    source: Path, plans: Sequence[ClipPlan], workdir: Path, options: ClipOptions, media: MediaInfo | None = None
) -> CutCommand:
    """The one ffmpeg command that cuts ``plans`` (all of ``source``) into ``workdir`` (which
    must exist; exact mode writes its filter script there). ``media``: the source's probe
    results (the stored record's), else the file is probed (about 60 ms)."""
    source = Path(source).resolve()
    if not plans:
        raise ValueError("no clips to cut")
    start = min(p.start for p in plans)
    end = max(p.end for p in plans)
    head = [require_tool("ffmpeg"), "-nostdin", "-hide_banner", "-v", "error", "-y"]
    unfit: list[tuple[ClipPlan, str]] = []
    if media is None:  # which audio MP4 takes as it is, the frame rate: from the file
        from videokit.probe import media_info

        media = media_info(source)
    if options.mode == "copy":
        # reading starts at the first clip: the copy begins with the first keyframe at or after it
        offset = max(0.0, start - SNAP_SLACK)
        rate = None
        kept = list(plans)
        spans = [(round((p.start - offset) * 1e6), round((p.end - offset) * 1e6)) for p in kept]
        stop = end + COPY_TAIL
    else:
        rate = frame_rate(options.encode, media)
        if rate is None:
            raise InputError(f"{source}: its frame rate is unknown; give the clips one with --fps")
        first = max(0, math.floor(start * rate) - 1)  # decoding starts a frame before the first clip
        offset = float(first / rate)
        kept, spans = [], []
        for p in plans:
            a = math.ceil(p.start * rate - Fraction(1, 10**6)) - first
            b = math.ceil(p.end * rate - Fraction(1, 10**6)) - first
            if b <= a:
                unfit.append((p, f"shorter than one frame at {float(rate):g} fps"))
                continue
            kept.append(p)
            spans.append((a, b))
        stop = end + EXACT_TAIL
    cmd = list(head)
    if offset > 0:
        cmd += ["-ss", _seconds(offset)]
    cmd += ["-to", _seconds(stop), "-i", f"file:{source}"]
    layers = _layers(kept, spans) if kept else []
    audio = options.audio and media.has_audio
    if options.mode == "copy":
        audio_args = ["-c:a", "copy"]
        if media.audio_codec and media.audio_codec not in MP4_AUDIO:
            audio_args = audio_codec_args()  # e.g. Vorbis or PCM: MP4 cannot hold it as it is
        for i, layer in enumerate(layers):
            # a keyframe up to SNAP_SLACK before a boundary counts as on it: plans are rounded to the
            # millisecond, keyframes are not
            times = [_seconds(max(0.0, u / 1e6 - SNAP_SLACK)) for u in layer.bounds]
            cmd += ["-map", "0:V:0", "-c:v", "copy"]
            cmd += ["-map", "0:a:0?", *audio_args] if audio else ["-an"]
            cmd += ["-sn", "-dn", *_segment_args(i, times)]
    elif layers:
        assert rate is not None
        cmd += ["-filter_complex_script", "graph.txt"]
        (workdir / "graph.txt").write_text(_graph(layers, options.encode, rate, audio), encoding="utf-8")
        for i, layer in enumerate(layers):
            # a keyframe on the first frame of each clip; the cuts half a frame before, so the
            # muxer's comparison never depends on how a time was rounded
            keys = [_seconds(Fraction(a) / rate) for a in sorted({a for a, _ in layer.spans})]
            times = [_seconds(max(Fraction(0), (Fraction(u) - Fraction(1, 2)) / rate)) for u in layer.bounds]
            cmd += ["-map", f"[v{i}]", "-fps_mode", "passthrough", *video_codec_args(options.encode)]
            cmd += ["-force_key_frames", ",".join(keys)]
            cmd += ["-map", f"[a{i}]", *audio_codec_args()] if audio else ["-an"]
            cmd += ["-sn", "-dn", *_segment_args(i, times)]
    timeout = 120.0 + 30.0 * (stop - offset) * max(1, len(layers))
    return CutCommand(cmd, workdir, layers, offset, rate, timeout, unfit)


def _graph(layers: list[_Layer], options: EncodeOptions, rate: Fraction, audio: bool) -> str:
    """The filter graph of exact mode: one decode on the frame grid of ``rate``, split per
    layer, the frames outside the layer's clips dropped before scaling and encoding."""
    n = len(layers)
    fps, *rest = video_filters(options, rate)
    lines = [f"[0:V:0]{fps},split={n}" + "".join(f"[s{i}]" for i in range(n)) + ";" if n > 1 else ""]
    if audio and n > 1:
        lines.append(f"[0:a:0]asplit={n}" + "".join(f"[t{i}]" for i in range(n)) + ";")
    for i, layer in enumerate(layers):
        runs = _runs(layer.spans)
        keep = "+".join(f"between(pts\\,{a}\\,{b - 1})" for a, b in runs)
        src = f"[s{i}]" if n > 1 else f"[0:V:0]{fps},"
        lines.append(f"{src}select='{keep}'," + ",".join(rest) + f"[v{i}];")
        if audio:
            spans = "+".join(
                f"gte(t\\,{_seconds(Fraction(a) / rate)})*lt(t\\,{_seconds(Fraction(b) / rate)})" for a, b in runs
            )
            asrc = f"[t{i}]" if n > 1 else "[0:a:0]"
            lines.append(f"{asrc}aselect='{spans}'[a{i}];")
    return "\n".join(line for line in lines if line).rstrip(";") + "\n"


# -- cutting -------------------------------------------------------------------------------------


def cut_clips(
    source: Path,
    plans: list[ClipPlan],
    out_dir: Path,
    names: dict[str, str],
    options: ClipOptions,
    *,
    media: MediaInfo | None = None,
    skipped: list[tuple[ClipPlan, str]] | None = None,
) -> list[Clip]:
    """Cut ``plans`` (clips of the one video ``source``) into ``out_dir`` with one ffmpeg
    process, each clip at ``out_dir / names[plan.key]`` (default ``<key>.mp4``), and return them
    in time order with their real span, SHA-256 and frame count. A plan that cannot be cut (no
    keyframe inside it in copy mode, shorter than a frame, past the video's end) is left out,
    with the reason appended to ``skipped`` when given. ``media``: the source's probe results
    (the stored record's), to spare a probe. InputError (one line) when the source is missing or
    ffmpeg cannot cut it; DiskFullError when the disk fills. A failed run leaves none of its
    clips behind."""
    if not plans:
        return []
    source = Path(source)
    if not source.is_file():
        raise InputError(
            f"{source}: the video file is missing (moved or deleted): put it back, or run 'videokit run' on its "
            "new place, then this command again"
        )
    out_dir = Path(out_dir)
    ordered = sorted(plans, key=lambda p: (p.start, p.end, p.key))
    stem = f"clips-{ordered[0].video_id[:12] or 'video'}"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise (stops_batch(e, out_dir) or InputError(f"{out_dir}: {one_line(e)}")) from None
    remove_stale(out_dir, stem)
    clips: list[Clip] = []
    for i in range(0, len(ordered), MAX_CLIPS_PER_RUN):
        chunk = ordered[i : i + MAX_CLIPS_PER_RUN]
        clips += _cut_run(source, chunk, out_dir, names, options, media, skipped, stem)
    clips.sort(key=lambda c: (c.plan.start, c.plan.end, c.plan.key))
    return clips


def _cut_run(
    source: Path,
    plans: list[ClipPlan],
    out_dir: Path,
    names: dict[str, str],
    options: ClipOptions,
    media: MediaInfo | None,
    skipped: list[tuple[ClipPlan, str]] | None,
    stem: str,
) -> list[Clip]:
    work = temp_path(out_dir / stem)
    try:
        work.mkdir()
    except OSError as e:
        raise (stops_batch(e, out_dir) or InputError(f"{out_dir}: {one_line(e)}")) from None
    try:
        cmd = cut_command(source, plans, work, options, media)
        for plan, why in cmd.unfit:
            _skip(plan, why, skipped)
        if not cmd.layers:
            return []
        collector = _Collector(cmd, out_dir, names, options)
        _run(cmd, source, out_dir, collector)
        clips = collector.commit()
        for plan, why in collector.finish():
            _skip(plan, why, skipped)
        return clips
    except OSError as e:
        raise (stops_batch(e, out_dir) or InputError(f"{source}: {one_line(e)}")) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(cmd: CutCommand, source: Path, out_dir: Path, collector: _Collector) -> None:
    """Run ``cmd``; meanwhile ``collector`` takes each clip as soon as ffmpeg has finished it
    (hashing on another core while ffmpeg writes the next)."""
    # ffmpeg's messages go to the system's temporary folder: on a full output disk, a log beside
    # the clips would lose the "No space left on device" that makes the failure a DiskFullError
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd.argv, cwd=cmd.workdir, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        # the watchdog is a timer, so that the wait blocks: Popen.wait(timeout) polls in sleeps of
        # up to 50 ms, as long as a whole stream-copy cut
        expired, done = threading.Event(), threading.Event()

        def kill() -> None:
            expired.set()
            proc.kill()

        watchdog = threading.Timer(cmd.timeout, kill)
        watchdog.daemon = True
        follower = threading.Thread(target=collector.follow, args=(done,), name="clips-collect", daemon=True)
        try:
            watchdog.start()
            follower.start()
            rc = proc.wait()
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            done.set()
            if follower.is_alive():
                follower.join()
        if expired.is_set():
            raise InputError(
                f"{source}: ffmpeg did not finish cutting within {cmd.timeout:.0f} s; the file may be damaged"
            )
        err.seek(max(0, err.seek(0, os.SEEK_END) - 65536))
        text = err.read().decode("utf-8", "replace")
    if rc != 0:
        if "Could not find tag for codec" in text:
            codec = text.split("Could not find tag for codec", 1)[1].split()[0]
            raise InputError(f"{source}: its {codec} stream cannot be copied into MP4 clips; use --mode exact")
        raise ffmpeg_failure(source, text, out_dir)
    if collector.error is not None:
        raise collector.error


class _Collector:
    """Takes the clips of a running cut: each layer's segment list grows by one line as each
    segment is finished (its trailer written and flushed, then the line); segment *i + 1* of a
    layer is the clip beginning at its boundary *i*. A finished clip is checked (it holds
    frames) and hashed while ffmpeg writes the next; :meth:`commit` renames them into place once
    ffmpeg has succeeded (the muxer lists a segment even when writing its end failed, on a full
    disk). The segments between clips are left for the temporary folder's removal."""

    POLL = 0.004  # seconds between looks at the lists (a stat() each) while ffmpeg runs

    def __init__(self, cmd: CutCommand, out_dir: Path, names: dict[str, str], options: ClipOptions) -> None:
        self.cmd, self.out_dir, self.names, self.options = cmd, out_dir, names, options
        self._ready: list[tuple[ClipPlan, Path, float, float, str, int]] = []
        self.error: BaseException | None = None
        # per layer: segment index -> the plan it is, the list's unread bytes, the rows read
        self._wanted: list[dict[int, ClipPlan]] = []
        for layer in cmd.layers:
            index = {u: k for k, u in enumerate(layer.bounds)}
            self._wanted.append({index[a] + 1: plan for plan, (a, _b) in zip(layer.plans, layer.spans, strict=True)})
        self._offsets = [0] * len(cmd.layers)
        self._rows = [0] * len(cmd.layers)
        self._empty: list[ClipPlan] = []

    def follow(self, done: threading.Event) -> None:
        """Take finished clips until ``done`` is set, then the rest (run in a thread)."""
        try:
            while not done.wait(self.POLL):
                self._poll()
            self._poll()
        except BaseException as e:  # handed to the waiting thread
            self.error = e

    def commit(self) -> list[Clip]:
        """Rename the finished clips into place (after ffmpeg succeeded)."""
        clips = []
        for plan, segment, start, end, digest, frames in self._ready:
            rel = _relative(self.names.get(plan.key) or f"{plan.key}.mp4")
            final = self.out_dir / rel
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(segment, final)
            real = (round(self.cmd.offset + start, 6), round(self.cmd.offset + end, 6))
            clips.append(Clip(plan, rel, *real, digest, frames, {"mode": self.options.mode}))
        self._ready = []
        return clips

    def finish(self) -> list[tuple[ClipPlan, str]]:
        """The plans that gave no clip, with the reason (after the run)."""
        left = [p for wanted in self._wanted for p in wanted.values()] + self._empty
        self._wanted = [{} for _ in self._wanted]
        return [(p, _why_empty(p, self.options)) for p in sorted(left, key=lambda p: (p.start, p.end))]

    def _poll(self) -> None:
        """Take what the lists show finished."""
        for layer, wanted in enumerate(self._wanted):
            if wanted:
                for k, name, start, end in self._new_rows(layer):
                    plan = wanted.pop(k, None)
                    if plan is not None:
                        self._take(plan, name, start, end)

    def _new_rows(self, layer: int) -> list[tuple[int, str, float, float]]:
        path = self.cmd.workdir / f"L{layer}.csv"
        try:
            if path.stat().st_size <= self._offsets[layer]:
                return []
            with open(path, "rb") as fh:
                fh.seek(self._offsets[layer])
                data = fh.read()
        except FileNotFoundError:
            return []
        complete = data[: data.rfind(b"\n") + 1]
        self._offsets[layer] += len(complete)
        rows = []
        for row in csv.reader(io.StringIO(complete.decode("utf-8", "replace"), newline="")):
            if len(row) >= 3:
                rows.append((self._rows[layer], row[0], float(row[1]), float(row[2])))
                self._rows[layer] += 1
        return rows

    def _take(self, plan: ClipPlan, name: str, start: float, end: float) -> None:
        segment = self.cmd.workdir / name
        frames = video_frames(segment) if end > start else 0
        if frames is None:
            frames = _count_frames(segment)
        if not frames:
            self._empty.append(plan)
            return
        self._ready.append((plan, segment, start, end, sha256_file(segment), frames))


def _why_empty(plan: ClipPlan, options: ClipOptions) -> str:
    span = f"{plan.start:g}-{plan.end:g} s"
    if options.mode == "copy":
        return f"no keyframe in {span}: too short to cut without re-encoding; use --mode exact"
    return f"no frame in {span} (past the video's last frame)"


def _skip(plan: ClipPlan, why: str, skipped: list[tuple[ClipPlan, str]] | None) -> None:
    log.info("clip %s not cut: %s", plan.key, why)
    if skipped is not None:
        skipped.append((plan, why))


def _relative(name: str) -> str:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"clip name {name!r} must be a relative path inside the output folder")
    return path.as_posix()


def _count_frames(path: Path) -> int:
    """Video frames of a file the MP4 reader could not read (ffprobe counts its packets)."""
    from videokit.probe import ffprobe_json

    try:
        data = ffprobe_json(path, args=("-count_packets", "-select_streams", "V:0", "-show_streams"))
    except InputError:
        return 0
    streams = data.get("streams") or []
    try:
        return int(streams[0].get("nb_read_packets") or 0) if streams else 0
    except (TypeError, ValueError):
        return 0
