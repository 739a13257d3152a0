"""Sequential vs ``--workers N`` on a batch of short generated videos.

    .venv/bin/python benchmarks/workers.py                 # 20 videos over a throttled local HTTP server
    .venv/bin/python benchmarks/workers.py --local         # the same videos as local files
    .venv/bin/python benchmarks/workers.py --videos 40 --workers 4 --mbps 8

Each mode runs the full default pipeline into a fresh library (analysis with the CPU-only
builtin backend), once sequentially and once with ``--workers``; it prints the wall times, the
CPU seconds spent (this process, its worker processes and their ffmpeg children) and the speed-up.
On a shared machine the wall times depend on other load; the CPU seconds show the overhead of the
worker processes independently of it. Over HTTP every download is throttled to ``--mbps`` (a modest link), which is
where overlapping downloads with decoding pays off most.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from videokit import api
from videokit.config import load_config

SOURCES = ["testsrc2", "smptebars", "rgbtestsrc", "testsrc", "yuvtestsrc", "smptehdbars"]


def make_videos(folder: Path, n: int, seconds: float) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        path = folder / f"video{i:03d}.mp4"
        if not path.exists():
            src = SOURCES[i % len(SOURCES)]
            subprocess.run(
                [
                    "ffmpeg",
                    "-v",
                    "error",
                    "-y",
                    "-nostdin",
                    "-f",
                    "lavfi",
                    "-i",
                    f"{src}=size=320x240:rate=25:duration={seconds}",
                    "-f",
                    "lavfi",
                    "-i",
                    f"sine=frequency={220 + 20 * i}:duration={seconds}",
                    # every video distinct: hue, tone and title differ
                    "-vf",
                    f"hue=h={i * 17}",
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    "-pix_fmt",
                    "yuv420p",
                    "-c:a",
                    "aac",
                    "-shortest",
                    "-metadata",
                    f"title=Benchmark video {i}",
                    str(path),
                ],
                check=True,
            )
        out.append(path)
    return out


class ThrottledHandler(SimpleHTTPRequestHandler):
    """Serves files at a limited rate per connection."""

    bytes_per_second = 1_000_000

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def copyfile(self, source, outputfile) -> None:  # type: ignore[no-untyped-def]
        chunk = 16 * 1024
        delay = chunk / self.bytes_per_second
        while block := source.read(chunk):
            outputfile.write(block)
            time.sleep(delay)


def serve(folder: Path, mbps: float) -> tuple[ThreadingHTTPServer, str]:
    handler = type("Handler", (ThrottledHandler,), {"bytes_per_second": mbps * 1_000_000 / 8})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(folder)))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def cpu_seconds() -> float:
    """CPU time of this process and of every child process that has ended (workers, ffmpeg)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed_run(inputs: list[str], library: Path, workers: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run into a fresh library."""
    shutil.rmtree(library, ignore_errors=True)
    cfg = load_config(overrides={("Library", "Location"): str(library), ("Concurrency", "MaxWorkers"): workers})
    c0, t0 = cpu_seconds(), time.perf_counter()
    result = api.run(inputs, cfg)
    elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    if result.failures:
        raise SystemExit(f"benchmark run failed: {result.failures[0]}")
    return elapsed, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=2.0, help="length of each video")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--mbps", type=float, default=4.0, help="download rate per connection over HTTP, Mbit/s")
    ap.add_argument("--local", action="store_true", help="only local files (no HTTP)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each; the best time counts")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp dir)")
    args = ap.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="videokit-bench-"))
    videos = make_videos(work / "media", args.videos, args.seconds)
    modes: list[tuple[str, list[str]]] = []
    httpd = None
    if not args.local:
        httpd, base = serve(work / "media", args.mbps)
        modes.append((f"HTTP at {args.mbps:g} Mbit/s", [f"{base}/{p.name}" for p in videos]))
    modes.append(("local files", [str(p) for p in videos]))
    rows = []
    for label, inputs in modes:
        seqs, pars = [], []
        for _ in range(args.repeat):  # alternate, and keep the best of each: the least disturbed by other load
            seqs.append(timed_run(inputs, work / "lib-seq", 1))
            pars.append(timed_run(inputs, work / "lib-par", args.workers))
        (seq, seq_cpu), (par, par_cpu) = min(seqs), min(pars)
        rows.append((label, seq, seq_cpu, par, par_cpu))
        print(
            f"{label}: sequential {seq:.1f} s ({seq_cpu:.1f} CPU s), --workers {args.workers} {par:.1f} s "
            f"({par_cpu:.1f} CPU s), speed-up {seq / par:.2f}x",
            flush=True,
        )
    if httpd is not None:
        httpd.shutdown()
    print()
    print(f"best of {args.repeat}; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f} at the end")
    print(
        f"| inputs ({args.videos} x {args.seconds:g} s) | sequential (CPU) | --workers {args.workers} (CPU) | speed-up |"
    )
    print("|---|---|---|---|")
    for label, seq, seq_cpu, par, par_cpu in rows:
        print(f"| {label} | {seq:.1f} s ({seq_cpu:.1f} s) | {par:.1f} s ({par_cpu:.1f} s) | {seq / par:.2f}x |")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
