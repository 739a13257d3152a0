"""Scene detection speed and accuracy against the decode floor and PySceneDetect.

    .venv/bin/python benchmarks/scenes.py [--seconds 60] [--repeat 3] [--only NAME ...]

One run, same files, methods interleaved, each timing repeated ``--repeat`` times and the minimum
kept (the machine is shared). ``×dec`` is wall seconds over the decode's; ``cpu×dec`` is CPU seconds
(user + system, this process and its children, minimum of the runs) over the decode's: steadier on
a loaded machine, where the wall ratio can even drop below 1 (a lone ``ffmpeg`` gets a smaller share
of the cores than our two processes with their threads):

* ``decode``: bare video-only decode, ``ffmpeg -v error -an -i FILE -f null -`` (the floor);
* ``detect``: videokit's detector alone (``detect_scenes(path, media=...)``, one ffmpeg pass at
  64 px), run as the pipeline runs it: with the stream facts the probe stage already has
  (``record.media``, from :func:`videokit.probe.media_info`, taken once outside the timing), so
  no second ffprobe runs before the decode;
* ``fast``: the detector in ``fast`` mode (``SceneOptions(fast=True)``: H.264/HEVC decoded without
  the deblocking filter; other codecs as in ``detect``);
* ``full``: videokit's whole single pass (scenes + thumbnails + sampled frames + contact sheet),
  also with the probe stage's facts;
* ``psd``: PySceneDetect ``detect-content`` with defaults, the whole ``scenedetect`` command.

Files: the hard-cut files of the shared media (the ``shared/media`` folder beside the repository, skipped when absent) and
360p/720p/1080p H.264 clips of ``--seconds`` made by looping ``composite_hardcuts.mp4`` (or, when
the shared media is absent, lavfi pictures joined by cuts), cached under ``benchmarks/out/``.
F1 uses the rule of :mod:`videokit.scenes.evaluate`; the looped clips have ground truth by
construction (the source's cuts, repeated, plus the loop joins).
"""

from __future__ import annotations

import argparse
import csv
import json
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

from videokit.probe import media_info
from videokit.record import MediaInfo
from videokit.scenes import SceneOptions, detect_scenes
from videokit.scenes.decode import probe
from videokit.scenes.evaluate import score

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "media"
OUT = ROOT / "benchmarks" / "out" / "scenes"
SCENEDETECT = Path(sys.executable).with_name("scenedetect")
HARD_CUT_FILES = [
    "composite_hardcuts.mp4",
    "big_buck_bunny_0_30.webm",
    "goldeneye-vfr-drop3.mp4",
    "issue-134-rotate.mp4",
    "issue-236-split-copy.mkv",
    "chaplin.mp4",
    "video_with_failing_audio.mp4",
]
HEIGHTS = (360, 720, 1080)
METHODS = ("decode", "detect", "fast", "full", "psd")
Spans = list[tuple[float, float]]


@dataclass(slots=True)
class Item:
    name: str
    path: Path
    truth: Spans | None  # None: no ground truth
    width: int = 0
    height: int = 0
    frames: int = 0


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-nostdin", *args], check=True)


def _atomic(path: Path, make: Callable[[Path], None]) -> Path:
    """Build ``path`` once (cached); never leave a half-written file under its name."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
        make(tmp)
        os.replace(tmp, path)
    return path


def shared_items() -> list[Item]:
    items = []
    for name in HARD_CUT_FILES:
        gt = json.loads((SHARED / name).with_suffix(".gt.json").read_text())
        items.append(Item(name, SHARED / name, [(t, t) for t in gt["cut_times_s"]]))
    return items


def looped_items(seconds: float) -> list[Item]:
    """``seconds``-long H.264 clips at each height, with their cut times."""
    if SHARED.is_dir():
        src = SHARED / "composite_hardcuts.mp4"
        gt = json.loads(src.with_suffix(".gt.json").read_text())
        length = gt["total_frames"] / gt["fps"]
        cuts = [t + k * length for k in range(int(seconds // length) + 1) for t in [0.0, *gt["cut_times_s"]]]
        inputs = ["-stream_loop", "-1", "-i", str(src)]
        origin = "loop"
    else:
        names = ["testsrc2", "smptebars", "rgbtestsrc", "testsrc", "smptehdbars", "yuvtestsrc"]
        n = max(2, int(seconds // 5))
        cuts = [5.0 * k for k in range(n)]
        inputs = []
        for k in range(n):
            inputs += ["-f", "lavfi", "-i", f"{names[k % len(names)]}=size=1920x1080:rate=25:duration=5"]
        origin = "lavfi"
    truth = [(t, t) for t in cuts if 0 < t < seconds - 0.1]
    items = []
    for h in HEIGHTS:

        def make(tmp: Path, h: int = h) -> None:
            if origin == "loop":
                vf = ["-vf", f"scale=-2:{h}:flags=lanczos"]
            else:
                chain = "".join(f"[{k}:v]" for k in range(len(inputs) // 4))
                vf = ["-filter_complex", f"{chain}concat=n={len(inputs) // 4}:v=1:a=0,scale=-2:{h}[v]", "-map", "[v]"]
            _ffmpeg(*inputs, "-t", str(seconds), *vf, "-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
                    "-pix_fmt", "yuv420p", "-g", "250", str(tmp))  # fmt: skip

        path = _atomic(OUT / f"{origin}_{h}p_{seconds:g}s.mp4", make)
        items.append(Item(f"{origin} {h}p {seconds:g}s", path, truth))
    return items


# -- the methods: each returns the detected boundary spans (or None when it detects nothing) ----
def run_decode(path: Path, _: Path) -> Spans | None:
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-an", "-i", str(path), "-f", "null", "-"], check=True)
    return None


_MEDIA: dict[Path, MediaInfo] = {}


def _media(path: Path) -> MediaInfo:
    """What the pipeline's probe stage has found before the scenes stage runs (not timed)."""
    if path not in _MEDIA:
        _MEDIA[path] = media_info(path)
    return _MEDIA[path]


def run_detect(path: Path, _: Path) -> Spans:
    info = detect_scenes(path, SceneOptions(), media=_media(path))
    return [(s.boundary.start, s.boundary.end) for s in info.scenes if s.boundary]


def run_fast(path: Path, _: Path) -> Spans:
    info = detect_scenes(path, SceneOptions(fast=True), media=_media(path))
    return [(s.boundary.start, s.boundary.end) for s in info.scenes if s.boundary]


def run_full(path: Path, work: Path) -> Spans:
    out = work / "full"
    info = detect_scenes(path, SceneOptions(), out_dir=out, media=_media(path))
    assert info.contact_sheet and info.frames, "the whole pass wrote no pictures"
    shutil.rmtree(out)
    return [(s.boundary.start, s.boundary.end) for s in info.scenes if s.boundary]


def run_psd(path: Path, work: Path) -> Spans:
    out = work / "psd"
    cmd = [str(SCENEDETECT), "-q", "-i", str(path), "-o", str(out), "detect-content", "list-scenes", "-s", "-q"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    (table,) = out.glob("*.csv")
    with table.open(newline="") as fh:
        starts = [float(row["Start Time (seconds)"]) for row in csv.DictReader(fh)]
    shutil.rmtree(out)
    return [(t, t) for t in starts[1:]]


RUNNERS: dict[str, Callable[[Path, Path], Spans | None]] = {
    "decode": run_decode,
    "detect": run_detect,
    "fast": run_fast,
    "full": run_full,
    "psd": run_psd,
}


Best = dict[tuple[str, str], tuple[float, float, Spans | None]]  # (wall s, cpu s, spans), minima


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def measure(items: list[Item], methods: list[str], repeat: int) -> Best:
    best: Best = {}
    with tempfile.TemporaryDirectory(prefix="vk-bench-") as tmp:
        work = Path(tmp)
        for item in items:
            _media(item.path)
        for r in range(repeat):
            for item in items:
                # rotate the order each round so no method always runs first (warm caches)
                order = methods[r % len(methods) :] + methods[: r % len(methods)]
                for m in order:
                    c0, t0 = _cpu(), time.perf_counter()
                    spans = RUNNERS[m](item.path, work)
                    dt, cpu = time.perf_counter() - t0, _cpu() - c0
                    key = (item.name, m)
                    if key not in best:
                        best[key] = (dt, cpu, spans)
                    else:
                        best[key] = (min(dt, best[key][0]), min(cpu, best[key][1]), spans)
                print(f"  round {r + 1}/{repeat}: {item.name}", file=sys.stderr, flush=True)
    return best


def frame_count(path: Path) -> int:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
         "stream=nb_read_packets", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(out.stdout.strip().split(",")[0])


def table(items: list[Item], methods: list[str], best: Best) -> str:
    head = ["file", "size", "frames"]
    for m in methods:
        head += [f"{m} s", f"{m} fps"] + ([] if m == "decode" else [f"{m} F1", f"{m} ×dec", f"{m} cpu×dec"])
    rows = [head]
    totals: dict[str, object] = {}
    for item in items:
        row = [item.name, f"{item.width}x{item.height}", str(item.frames)]
        floor, cpu_floor = best[(item.name, "decode")][:2] if "decode" in methods else (None, None)
        for m in methods:
            dt, cpu, spans = best[(item.name, m)]
            row += [f"{dt:.2f}", f"{item.frames / dt:.0f}"]
            if m == "decode":
                continue
            if item.truth is not None and spans is not None:
                fps = item.frames / max(1e-6, _duration(item))
                sc = score(spans, item.truth, fps)
                totals[m] = sc if m not in totals else totals[m] + sc  # type: ignore[operator]
                row.append(f"{sc.f1:.2f}")
            else:
                row.append("-")
            row.append(f"{dt / floor:.2f}" if floor else "-")
            row.append(f"{cpu / cpu_floor:.2f}" if cpu_floor else "-")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    summary = ", ".join(f"{m} F1 {sc.f1:.3f} (P {sc.precision:.3f} R {sc.recall:.3f})" for m, sc in totals.items())  # type: ignore[attr-defined]
    return "\n".join(lines) + (f"\n\nAll files with ground truth: {summary}" if summary else "")


_DURATIONS: dict[Path, float] = {}


def _duration(item: Item) -> float:
    if item.path not in _DURATIONS:
        _DURATIONS[item.path] = probe(item.path).duration or item.frames / 25.0
    return _DURATIONS[item.path]


def machine() -> str:
    load = os.getloadavg()
    ff = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
        f"{load[0]:.2f} at the end; {ff.split(' Copyright')[0]}; Python {platform.python_version()}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the generated clips")
    ap.add_argument("--repeat", type=int, default=3, help="timings per method and file (the minimum is kept)")
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--only", nargs="*", help="keep files whose name contains one of these")
    args = ap.parse_args(argv)
    if "psd" in args.methods and not SCENEDETECT.exists():
        print("scenedetect not found beside this Python: pip install scenedetect-headless", file=sys.stderr)
        return 2
    items = (shared_items() if SHARED.is_dir() else []) + looped_items(args.seconds)
    if args.only:
        items = [i for i in items if any(o in i.name for o in args.only)]
    for item in items:
        info = probe(item.path)
        item.width, item.height, item.frames = info.width, info.height, frame_count(item.path)
    if not SHARED.is_dir():
        print(f"{SHARED} not found: shared-media rows skipped", file=sys.stderr)
    best = measure(items, args.methods, args.repeat)
    print(table(items, args.methods, best))
    print(f"\nMinimum of {args.repeat} interleaved runs; {machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
