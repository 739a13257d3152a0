"""Clip extraction speed: videokit's cutter against bare ffmpeg doing the same cuts, same run.

    .venv/bin/python benchmarks/clips.py [--seconds 60] [--window 4] [--repeat 3] [--heights 360 720 1080]

For each source (H.264 + AAC, ``--seconds`` long, at each height) and each mode (``copy``,
``exact``), the clips are ``--window``-second windows back to back, and three ways of cutting
them are timed, interleaved, each ``--repeat`` times, the minimum kept (the machine is shared):

* ``videokit``: :func:`videokit.dataset.clips.cut_clips` as a dataset build calls it (with the
  stored record's probe results, so no extra ffprobe): one ffmpeg process, then each clip
  checked, hashed (SHA-256) and renamed into place;
* ``bare``: the same ffmpeg command line run directly, nothing else (the reference: the ratio
  ``videokit / bare`` is videokit's whole overhead, target at most 1.1);
* ``per-clip``: what one would write by hand without a segmenter, one ffmpeg process per clip
  (``-ss START -i FILE -t LEN``, the same codec settings): shown for scale, not a target.

Times are the fastest of the runs (wall clock: the ratio) and the least CPU time of any run (the
CPU ratio, which load from other jobs disturbs less). Per core: clips (and frames written) per CPU
second of every process involved (ffmpeg's and videokit's own), so the figure does not depend on
how many cores the machine has or lends.
Sources are built once under ``benchmarks/out/clips/`` from the scenes benchmark's looped real
footage when present (else lavfi test pictures), with a sine tone as audio.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from videokit.dataset.clips import ClipOptions, cut_clips, cut_command
from videokit.dataset.encode import audio_codec_args, video_codec_args
from videokit.dataset.model import ClipPlan
from videokit.probe import media_info
from videokit.record import MediaInfo

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "clips"
SCENE_LOOPS = ROOT / "benchmarks" / "out" / "scenes"
MODES = ("copy", "exact")
WAYS = ("videokit", "bare", "per-clip")


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-nostdin", *args], check=True)


def source(height: int, seconds: float) -> Path:
    """A ``seconds``-long H.264/AAC source at ``height`` (cached)."""
    path = OUT / f"src_{height}p_{seconds:g}s.mp4"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.mp4")
    loop = SCENE_LOOPS / f"loop_{height}p_60s.mp4"
    if loop.exists() and seconds <= 60:
        video = ["-i", str(loop)]
        codec = ["-c:v", "copy"]
    else:
        width = {360: 640, 720: 1280, 1080: 1920}.get(height, height * 16 // 9)
        video = ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=25"]
        codec = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-g", "250"]
    audio = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]
    _ffmpeg(*video, *audio, "-t", f"{seconds:g}", "-map", "0:v:0", "-map", "1:a:0", *codec,
            "-c:a", "aac", "-b:a", "128k", str(tmp))  # fmt: skip
    os.replace(tmp, path)
    return path


@dataclass(slots=True)
class Timing:
    wall: float
    cpu: float  # seconds of CPU of every process involved
    clips: int
    frames: int


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(run: Callable[[], tuple[int, int]]) -> Timing:
    c0, t0 = _cpu(), time.perf_counter()
    clips, frames = run()
    return Timing(time.perf_counter() - t0, _cpu() - c0, clips, frames)


def plans_for(src: Path, seconds: float, window: float) -> list[ClipPlan]:
    n = int(seconds // window)
    return [ClipPlan("b" * 64, src, i, i * window, (i + 1) * window, "window") for i in range(n)]


def run_videokit(src: Path, plans: list[ClipPlan], options: ClipOptions, media: MediaInfo, work: Path) -> Timing:
    out = work / "vk"

    def go() -> tuple[int, int]:
        clips = cut_clips(src, plans, out, {}, options, media=media)
        return len(clips), sum(c.frames or 0 for c in clips)

    timing = _timed(go)
    shutil.rmtree(out)
    return timing


def run_bare(src: Path, plans: list[ClipPlan], options: ClipOptions, media: MediaInfo, work: Path) -> Timing:
    """The command videokit runs, run directly in an empty folder (its filter script prepared
    outside the timing)."""
    folder = work / "bare"
    folder.mkdir()
    cmd = cut_command(src, plans, folder, options, media)

    def go() -> tuple[int, int]:
        subprocess.run(cmd.argv, cwd=folder, check=True, stdin=subprocess.DEVNULL)
        return len(plans), 0

    timing = _timed(go)
    shutil.rmtree(folder)
    return timing


def run_per_clip(src: Path, plans: list[ClipPlan], options: ClipOptions, media: MediaInfo, work: Path) -> Timing:
    folder = work / "per-clip"
    folder.mkdir()
    enc = options.encode

    def go() -> tuple[int, int]:
        for p in plans:
            cmd = ["ffmpeg", "-v", "error", "-nostdin", "-y", "-ss", f"{p.start:.6f}", "-i", str(src)]
            cmd += ["-t", f"{p.end - p.start:.6f}", "-map", "0:v:0", "-map", "0:a:0?"]
            if options.mode == "copy":
                cmd += ["-c", "copy"]
            else:
                cmd += [*video_codec_args(enc), *audio_codec_args()]
            subprocess.run([*cmd, str(folder / f"{p.index}.mp4")], check=True, stdin=subprocess.DEVNULL)
        return len(plans), 0

    timing = _timed(go)
    shutil.rmtree(folder)
    return timing


RUNNERS = {"videokit": run_videokit, "bare": run_bare, "per-clip": run_per_clip}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--window", type=float, default=4.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--heights", type=int, nargs="+", default=[360, 720, 1080])
    ap.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    ap.add_argument("--no-per-clip", action="store_true", help="skip the one-process-per-clip reference")
    args = ap.parse_args(argv)
    ways = [w for w in WAYS if not (args.no_per_clip and w == "per-clip")]
    print(f"# {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}, ", end="")
    print(subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.split("\n")[0])
    best: dict[tuple[int, str, str], Timing] = {}  # the fastest run's wall time; the least CPU of any run
    with tempfile.TemporaryDirectory(prefix="vk-clips-") as tmp:
        work = Path(tmp)
        for height in args.heights:
            src = source(height, args.seconds)
            media = media_info(src)
            plans = plans_for(src, args.seconds, args.window)
            for mode in args.modes:
                options = ClipOptions(clips="windows", window=args.window, mode=mode)
                repeat = max(args.repeat, 7) if mode == "copy" else args.repeat  # copy runs take 0.1 s
                for r in range(repeat):
                    order = ways[r % len(ways) :] + ways[: r % len(ways)]  # no way always first
                    for way in order:
                        t = RUNNERS[way](src, plans, options, media, work)
                        key = (height, mode, way)
                        old = best.get(key)
                        best[key] = Timing(
                            min(t.wall, old.wall) if old else t.wall,
                            min(t.cpu, old.cpu) if old else t.cpu,
                            t.clips,
                            max(t.frames, old.frames) if old else t.frames,
                        )
                        print(f"  {height}p {mode:5s} {way:8s} run {r + 1}: {t.wall:.3f} s, cpu {t.cpu:.3f} s",
                              file=sys.stderr)  # fmt: skip
    print()
    print("| source | mode | clips | videokit s | bare ffmpeg s | **ratio** | CPU ratio | one process per clip s | "
          "clips/s per core | frames/s per core |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for height in args.heights:
        for mode in args.modes:
            vk, bare = best[(height, mode, "videokit")], best[(height, mode, "bare")]
            per = best.get((height, mode, "per-clip"))
            per_s = f"{per.wall:.2f}" if per else "-"
            print(
                f"| {height}p {args.seconds:g} s | {mode} | {vk.clips} | {vk.wall:.3f} | {bare.wall:.3f} | "
                f"**{vk.wall / bare.wall:.2f}** | {vk.cpu / bare.cpu:.2f} | {per_s} | {vk.clips / vk.cpu:.1f} | "
                f"{vk.frames / vk.cpu:.0f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
