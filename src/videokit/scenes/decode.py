"""One ffmpeg process decodes a video once and feeds two raw streams.

* the detection stream: every frame, scaled to a few dozen pixels (planar YUV 4:4:4). A ``tee``
  muxer writes it twice: the raw frames on stdout, and a ``framecrc`` listing on a pipe of its own
  (one short line per frame) that gives each frame's exact presentation time in the stream's time base (so
  variable frame rate, rotation and non-zero start times come out right: times are relative to
  the container start, as ``ffmpeg -ss`` and players count them);
* the picture stream: every ``picture_every``-th frame at thumbnail/analysis size, used for
  thumbnails, the contact sheet and the sampled analysis frames. It stays YUV 4:2:0 (half the
  bytes of RGB, and no colour conversion in ffmpeg for pictures nobody keeps); a
  :class:`Picture` becomes RGB only when it is written.

Nothing here keeps more than a bounded number of frames. Decoder error lines are counted
(corrupt packets do not stop the decode) and a watchdog bounds the run: a total time
proportional to the duration and a stall limit when no frame arrives.
"""

from __future__ import annotations

import fcntl
import functools
import io
import logging
import os
import queue
import re
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from videokit.errors import InputError, TransientError, require_tool
from videokit.probe import media_info
from videokit.record import MediaInfo

log = logging.getLogger(__name__)

BATCH = 32  # detection frames read per pipe read
PIPE_BYTES = 1 << 20  # pipe buffer asked for (Linux's default pipe-max-size)
STALL_SECONDS = 60.0  # no frame for this long: the decoder is stuck
FAST_CODECS = frozenset({"h264", "hevc"})  # where ``fast`` skips the deblocking filter
_LEVEL = re.compile(r"\[(fatal|error|warning)\]")


@dataclass(frozen=True, slots=True)
class VideoProbe:
    """What the decode needs to know before it starts (from ffprobe)."""

    width: int  # display width, after rotation
    height: int
    fps: float | None
    duration: float | None  # container duration, seconds; None when the container has none
    rotation: int = 0
    codec: str | None = None


def probe(path: Path) -> VideoProbe:
    """The decode's facts for ``path`` from ffprobe, read by the pipeline's own parser
    (:func:`videokit.probe.media_info`), so both always agree. A still image decodes as one frame."""
    info = probe_from_media(media_info(path, stills=True))
    if info is None:
        raise InputError(f"{path}: the video stream has no picture size or codec; the file may be damaged")
    return info


def probe_from_media(media: MediaInfo | None) -> VideoProbe | None:
    """The decode's facts from the pipeline's earlier ffprobe run (``record.media``), so the
    decode starts without a second ffprobe; None when a fact the decode needs is missing.

    ``MediaInfo`` already swaps width/height (and the aspect ratio) for rotation but keeps the
    coded width; the display width comes back from its display aspect ratio."""
    if media is None or not media.width or not media.height or not media.video_codec:
        return None
    w, h = media.width, media.height
    dar = _ratio(media.display_aspect_ratio)
    if dar:
        if media.rotation % 180 == 90:
            h = max(2, round(w / dar))
        else:
            w = max(2, round(h * dar))
    fps = _ratio(media.fps_rational) or media.fps
    return VideoProbe(w, h, fps if fps and 0 < fps < 1000 else None, media.duration, media.rotation, media.video_codec)


def _ratio(v: object) -> float | None:
    if not v or not isinstance(v, str):
        return None
    try:
        r = Fraction(v.replace(":", "/"))
    except (ValueError, ZeroDivisionError):
        return None
    return float(r) if r > 0 else None


def scaled_size(width: int, height: int, target_width: int) -> tuple[int, int]:
    """Even-sized ``target_width`` x h keeping the display aspect."""
    w = max(2, target_width - target_width % 2)
    h = max(2, round(w * height / width / 2) * 2)
    return w, h


# BT.601 limited range (what ffmpeg's RGB conversion uses by default) to the full range that
# PIL's YCbCr mode (JPEG's) expects
_Y_LUT = [min(255, max(0, round((v - 16) * 255 / 219))) for v in range(256)]
_C_LUT = [min(255, max(0, round((v - 128) * 255 / 224 + 128))) for v in range(256)]


@dataclass(frozen=True, slots=True)
class Picture:
    """One frame of the picture stream: planar YUV 4:2:0, ``width`` x ``height`` (even)."""

    yuv: np.ndarray  # flat uint8, width*height*3/2
    width: int
    height: int

    def image(self) -> Image.Image:
        """The picture as an RGB PIL image."""
        w, h = self.width, self.height
        n, q = w * h, (w // 2) * (h // 2)
        buf = self.yuv
        y = Image.frombuffer("L", (w, h), buf[:n], "raw", "L", 0, 1).point(_Y_LUT)
        u, v = (
            Image.frombuffer("L", (w // 2, h // 2), buf[n + k * q : n + (k + 1) * q], "raw", "L", 0, 1)
            .resize((w, h), Image.Resampling.BILINEAR)
            .point(_C_LUT)
            for k in (0, 1)
        )
        return Image.merge("YCbCr", (y, u, v)).convert("RGB")


@dataclass(slots=True)
class Batch:
    """Consecutive detection frames: ``det`` is (n, 3, h, w) uint8 Y/U/V planes."""

    first: int  # index of det[0] in decode order
    det: np.ndarray
    pts: np.ndarray  # seconds, float64, one per frame
    # (frame index, seconds, picture); a picture may come a batch later than its frame
    pictures: list[tuple[int, float, Picture]] = field(default_factory=list)


class Decoder:
    """Runs ffmpeg once; iterate :meth:`batches`; read ``errors`` afterwards."""

    def __init__(
        self,
        path: Path,
        info: VideoProbe,
        *,
        det_width: int = 64,
        picture_width: int | None = None,
        picture_every: int = 1,
        timeout: float | None = None,
        fast: bool = False,
    ) -> None:
        self.path = Path(path)
        self.ffmpeg = require_tool("ffmpeg")
        self.info = info
        self.det_size = scaled_size(info.width, info.height, det_width)
        self.picture_size = scaled_size(info.width, info.height, picture_width) if picture_width else None
        self.picture_every = max(1, picture_every)
        self.timeout = timeout
        self.fast = fast
        self.errors = 0  # decoder error lines (corrupt packets, concealment)
        self.error_samples: list[str] = []
        self.frames = 0
        self._times: _Times | None = None
        self._pictures: queue.Queue[Picture | None] = queue.Queue(maxsize=BATCH + 8)
        self._last_progress = time.monotonic()
        self._killed: str | None = None
        self._tail: list[str] = []
        self._last_pts: float | None = None
        self._pic_next = 0  # frame index of the next picture off the pipe
        self._pic_waiting: deque[Picture] = deque()  # pictures whose detection frame is not read yet
        self._recent: deque[tuple[int, np.ndarray]] = deque(maxlen=16)  # (first, pts) of recent batches

    def command(self, times_fd: int, picture_fd: int | None) -> list[str]:
        dw, dh = self.det_size
        det = f"scale={dw}:{dh}:flags=fast_bilinear,format=yuv444p"
        cmd = [self.ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-loglevel", "level+warning"]
        # one filter thread: the graph's work is small, and a thread pool that wakes for every
        # frame competes with the decoder's threads (720p: 1.20x -> 1.12x the bare decode)
        cmd += ["-err_detect", "ignore_err", "-filter_complex_threads", "1"]
        if self.fast and self.info.codec in FAST_CODECS:
            # the decoder skips the in-loop deblocking filter: ~20 % less decode work at 720p;
            # the reference frames drift slightly from the true picture, which the 64-px detection
            # frames barely see. Not for VP8 or VP9: on VP8 the drift made two false dissolves in
            # big_buck_bunny_0_30 (adaptive mode).
            cmd += ["-skip_loop_filter", "all"]
        cmd += ["-i", str(self.path), "-an", "-sn", "-dn"]
        pictures = self.picture_size if picture_fd is not None else None
        if pictures:
            pw, ph = pictures
            k = self.picture_every
            graph = (
                f"[0:v:0]split=2[a][b];[a]{det}[d];"
                f"[b]select='not(mod(n\\,{k}))',scale={pw}:{ph}:flags=bilinear,format=yuv420p[p]"
            )
        else:
            graph = f"[0:v:0]{det}[d]"
        # the detection frames (buffered: ~5 frames per pipe write) and their times (flushed per
        # frame, so a frame's time is on its pipe by the time the frame is read); the encoder keeps
        # the graph's time base, so the listed pts are the decoder's, unrounded
        tee = f"[f=rawvideo:flush_packets=0]pipe\\:1|[f=framecrc:flush_packets=1]pipe\\:{times_fd}"
        cmd += ["-filter_complex", graph, "-map", "[d]", "-fps_mode", "passthrough"]
        cmd += ["-enc_time_base", _graph_time_base(self.ffmpeg)]
        cmd += ["-c:v", "rawvideo", "-f", "tee", tee]
        if pictures:
            cmd += ["-map", "[p]", "-fps_mode", "passthrough", "-f", "rawvideo", f"pipe:{picture_fd}"]
        return cmd

    def batches(self) -> Iterator[Batch]:
        """Yield frames in decode order; raise InputError/TransientError on failure."""
        want_pictures = self.picture_size is not None
        rfd = wfd = None
        times_r, times_w = os.pipe()
        if want_pictures:
            rfd, wfd = os.pipe()
            _grow_pipe(wfd)
        try:
            proc = subprocess.Popen(
                self.command(times_w, wfd),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(times_w,) if wfd is None else (times_w, wfd),
                bufsize=0,
            )
        except BaseException:
            for fd in (times_r, rfd):
                if fd is not None:
                    os.close(fd)
            raise
        finally:
            for fd in (times_w, wfd):
                if fd is not None:
                    os.close(fd)
        assert proc.stdout is not None
        _grow_pipe(proc.stdout.fileno())
        self._times = _Times(os.fdopen(times_r, "rb", buffering=1 << 16))
        threads = [threading.Thread(target=self._read_stderr, args=(proc,), daemon=True)]
        if rfd is not None:
            threads.append(threading.Thread(target=self._read_pictures, args=(rfd,), daemon=True))
        threads.append(threading.Thread(target=self._watchdog, args=(proc,), daemon=True))
        for t in threads:
            t.start()
        try:
            yield from self._read_det(proc)
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            self._done = True
            for t in threads[:-1]:
                t.join(timeout=5)
            assert proc.stdout is not None
            proc.stdout.close()
            if self._times is not None:
                self._times.close()
        if self._killed:
            raise TransientError(
                f"{self.path}: decoding stopped: {self._killed}; the file may be damaged or the machine overloaded"
            )
        if self.frames == 0:
            detail = self._tail[-1] if self._tail else f"ffmpeg exit status {proc.returncode}"
            raise InputError(f"{self.path}: no video frame could be decoded ({detail}); is it a video file?")
        if proc.returncode != 0:
            log.warning(
                "%s: ffmpeg exited with status %s after %d frames: %s",
                self.path,
                proc.returncode,
                self.frames,
                self._tail[-1] if self._tail else "",
            )

    _done = False

    def _read_det(self, proc: subprocess.Popen) -> Iterator[Batch]:
        dw, dh = self.det_size
        frame_bytes = dw * dh * 3
        stdout = proc.stdout
        assert stdout is not None
        while True:
            # a fresh array each batch (the detector keeps frames), filled straight from the pipe
            arr = np.empty(frame_bytes * BATCH, np.uint8)
            got = _read_into(stdout, memoryview(arr))
            n = got // frame_bytes
            if n == 0:
                last = self._collect_pictures(final=True) if self.picture_size else []
                if last:
                    yield Batch(self.frames, np.empty((0, 3, dh, dw), np.uint8), np.empty(0), last)
                return
            self._last_progress = time.monotonic()
            det = arr[: n * frame_bytes].reshape(n, 3, dh, dw)
            first = self.frames
            assert self._times is not None
            pts = self._times.take(n)
            self.frames += n
            pts = _fill_pts(pts, self.info.fps, self._last_pts)
            self._last_pts = float(pts[-1])
            self._recent.append((first, pts))
            end = got < frame_bytes * BATCH
            pictures = self._collect_pictures(final=end) if self.picture_size else []
            yield Batch(first, det, pts, pictures)
            if end:
                return

    def _collect_pictures(self, final: bool) -> list[tuple[int, float, Picture]]:
        """Take the pictures ffmpeg has written (all of them when ``final``) without waiting for
        ones not written yet: ffmpeg may write a picture after later detection frames, and
        waiting for it while it waits for us to read those frames would deadlock."""
        while True:
            if final:
                pic = self._get(self._pictures)
            else:
                try:
                    pic = self._pictures.get_nowait()
                except queue.Empty:
                    break
            if pic is None:
                break
            self._pic_waiting.append(pic)  # type: ignore[arg-type]
        out = []
        while self._pic_waiting and self._pic_next < self.frames:
            out.append((self._pic_next, self._pts_of(self._pic_next), self._pic_waiting.popleft()))
            self._pic_next += self.picture_every
        return out

    def _pts_of(self, index: int) -> float:
        for first, pts in reversed(self._recent):
            if first <= index < first + len(pts):
                return float(pts[index - first])
        first, pts = self._recent[0]  # older than what we keep (pictures lagging far): estimate
        return float(pts[0]) - (first - index) / (self.info.fps or 25.0)

    def _get(self, q: queue.Queue) -> object:
        while True:
            try:
                return q.get(timeout=1.0)
            except queue.Empty:
                if self._killed or self._done:
                    return None
                if q is self._pictures and self._pictures_closed:
                    return None

    _pictures_closed = False

    def _read_stderr(self, proc: subprocess.Popen) -> None:
        assert proc.stderr is not None
        # buffered: the pipe is unbuffered (bufsize=0) and a line iterator over it reads one
        # byte per system call
        with io.BufferedReader(proc.stderr, 1 << 16) as err:  # closing it closes the pipe
            for raw in err:
                line = raw.decode("utf-8", "replace").rstrip()
                lvl = _LEVEL.search(line)
                if lvl:
                    self._tail = (self._tail + [line.split("] ", 2)[-1].strip()])[-5:]
                    if lvl.group(1) in ("error", "fatal"):
                        self.errors += 1
                        if len(self.error_samples) < 5:
                            self.error_samples.append(line)

    def _read_pictures(self, fd: int) -> None:
        assert self.picture_size is not None
        pw, ph = self.picture_size
        size = pw * ph * 3 // 2
        with os.fdopen(fd, "rb", buffering=0) as fh:
            while True:
                buf = _read_exact(fh, size)
                if len(buf) < size:
                    break
                self._pictures.put(Picture(np.frombuffer(buf, np.uint8), pw, ph))
        self._pictures_closed = True
        try:
            self._pictures.put_nowait(None)
        except queue.Full:
            pass

    def _watchdog(self, proc: subprocess.Popen) -> None:
        start = time.monotonic()
        while proc.poll() is None and not self._done:
            time.sleep(0.5)
            now = time.monotonic()
            if self.timeout is not None and now - start > self.timeout:
                self._killed = f"took longer than {self.timeout:.0f} s"
            elif now - self._last_progress > STALL_SECONDS:
                self._killed = f"no frame decoded for {STALL_SECONDS:.0f} s"
            if self._killed:
                proc.kill()
                return


_NOPTS = -(1 << 63)


@functools.lru_cache(maxsize=4)
def _graph_time_base(ffmpeg: str) -> str:
    """The ``-enc_time_base`` value that keeps the filter graph's time base (not the default
    1/frame rate, which rounds variable-rate times): ``filter`` since FFmpeg 6.1; before it, ``-1``
    (the demuxer's: the same for our graphs, which change no time base); FFmpeg 9.0 refuses ``-1``.
    Builds whose version does not parse (git snapshots) are taken as recent."""
    try:
        out = subprocess.run([ffmpeg, "-hide_banner", "-version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return "filter"
    m = re.search(r"version n?(\d+)\.(\d+)", out)
    return "-1" if m and (int(m[1]), int(m[2])) < (6, 1) else "filter"


class _Times:
    """The frame times from ffmpeg's ``framecrc`` listing of the detection stream: a header
    (``#tb 0: 1/12800``: the time base), then one line per frame, ``stream, dts, pts, duration,
    size, checksum``. Exact (``showinfo`` printed 6 significant digits: 10 ms steps after 1000 s)."""

    def __init__(self, fh: io.BufferedReader) -> None:
        self._fh = fh
        self._tb: tuple[int, int] | None = None

    def take(self, n: int) -> np.ndarray:
        """The times of the next ``n`` frames, seconds; NaN where ffmpeg gave none (or ended early)."""
        out = np.full(n, np.nan)
        readline = self._fh.readline
        for i in range(n):
            line = readline()
            while line.startswith(b"#"):
                if line.startswith(b"#tb 0:"):
                    num, _, den = line[6:].strip().partition(b"/")
                    self._tb = (int(num), int(den or 1))
                line = readline()
            if not line:
                break
            try:
                pts = int(line.split(b",", 3)[2])
            except (IndexError, ValueError):
                continue
            if self._tb is not None and pts != _NOPTS:
                out[i] = pts * self._tb[0] / self._tb[1]
        return out

    def close(self) -> None:
        self._fh.close()


def _grow_pipe(fd: int) -> None:
    """Let ffmpeg run ahead of us by ~150 detection frames: with the default 64 KiB it blocks
    on the pipe (and the decode stalls) whenever we spend a moment on a batch."""
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (AttributeError, OSError):  # not Linux, or above the system's pipe-max-size
        pass


def _read_exact(fh, size: int) -> bytes:  # noqa: ANN001 - a raw pipe
    chunks = []
    remaining = size
    while remaining > 0:
        b = fh.read(remaining)
        if not b:
            break
        chunks.append(b)
        remaining -= len(b)
    return b"".join(chunks)


def _read_into(fh, view: memoryview) -> int:  # noqa: ANN001 - a raw pipe
    """Fill ``view`` from the pipe; fewer bytes only at the end of the stream."""
    done = 0
    while done < len(view):
        k = fh.readinto(view[done:])
        if not k:
            break
        done += k
    return done


def _fill_pts(pts: np.ndarray, fps: float | None, previous: float | None) -> np.ndarray:
    """Frames without a timestamp get one from the frame before and the frame rate."""
    bad = ~np.isfinite(pts)
    if bad.any():
        step = 1.0 / fps if fps else 0.04
        for i in np.flatnonzero(bad):
            before = pts[i - 1] if i > 0 else previous
            pts[i] = before + step if before is not None else 0.0
    return pts
