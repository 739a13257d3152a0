"""The same batch on two share-nothing Celery workers vs one.

Everything runs on this machine, on loopback, as separate processes: redis-server (the broker),
moto's S3 server (``[Storage] LibraryFiles = s3://bench/<run>``), a SecantusDB MongoDB-wire
server (the store), an HTTP server throttled to ``--mbps`` serving the videos, and
``videokit worker`` processes, each with its own working folder (no shared disk). The workers are
started and waiting before the batch is submitted; the time is from ``videokit submit`` to the
last job done. It prints both wall times, the ratio and what went through object storage.

    .venv/bin/python benchmarks/sharenothing.py                      # 20 videos, scenes on; analyze/transcribe/embed skipped
    .venv/bin/python benchmarks/sharenothing.py --videos 40 --full   # the whole default pipeline

Two workers on a machine with two cores share those cores (and moto, redis and the store run on
them too), so expect little gain here; the point of the mode is workers on separate machines.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from workers import make_videos  # noqa: E402

from videokit.distributed.board import Board  # noqa: E402

VIDEOKIT = str(Path(sys.executable).with_name("videokit"))
FAST = ["--skip", "analyze", "--skip", "transcribe", "--skip", "embed"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


class Throttled(SimpleHTTPRequestHandler):
    rate = 8 * 125_000  # bytes per second per download

    def copyfile(self, source, outputfile) -> None:  # noqa: ANN001
        while chunk := source.read(16384):
            outputfile.write(chunk)
            time.sleep(len(chunk) / self.rate)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def servers(work: Path) -> tuple[list[subprocess.Popen], dict[str, str]]:
    """redis-server, moto and SecantusDB as processes; the environment the workers get."""
    redis, moto, mongo = free_port(), free_port(), free_port()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [
        subprocess.Popen(
            ["redis-server", "--port", str(redis), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=work,
            **quiet,
        ),
        subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto)], **quiet),
    ]
    (work / "mongo").mkdir()
    (work / "mongo" / "secantusd.toml").touch()
    procs.append(
        subprocess.Popen(
            [sys.executable, "-m", "secantus", "--config", str(work / "mongo" / "secantusd.toml")]
            + ["--host", "127.0.0.1", "--port", str(mongo), "--storage-path", str(work / "mongo" / "data")]
            + ["--standalone", "--log-level", "WARNING"],
            cwd=work / "mongo",
            **quiet,
        )
    )
    for port in (redis, moto, mongo):
        wait_port(port)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIDEOKIT_", "AWS_"))}
    env.update(
        OMP_NUM_THREADS="1",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench-secret",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_CONFIG_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        VIDEOKIT_CELERY_BROKERURL=f"redis://127.0.0.1:{redis}/0",
        VIDEOKIT_LIBRARY_STORE="mongodb",
        VIDEOKIT_MONGODB_URI=f"mongodb://127.0.0.1:{mongo}/",
        VIDEOKIT_STORAGE_S3ENDPOINT=f"http://127.0.0.1:{moto}",
    )
    import s3fs

    fs = s3fs.S3FileSystem(
        endpoint_url=env["VIDEOKIT_STORAGE_S3ENDPOINT"], key="bench", secret="bench-secret", skip_instance_cache=True
    )
    fs.mkdir("bench")
    return procs, env


def run_batch(urls: list[str], workers: int, env: dict[str, str], work: Path, skip: list[str]) -> tuple[float, int]:
    """Seconds from submit to the last job done with ``workers`` share-nothing workers; objects stored."""
    run = uuid.uuid4().hex[:8]
    env = {
        **env,
        "VIDEOKIT_STORAGE_LIBRARYFILES": f"s3://bench/{run}",
        "VIDEOKIT_MONGODB_DATABASENAME": f"bench{run}",
    }
    board = Board(env["VIDEOKIT_CELERY_BROKERURL"])
    board.r.flushdb()
    procs = []
    for i in range(workers):
        home = work / run / f"machine{i}"
        home.mkdir(parents=True)
        cmd = [VIDEOKIT, "--library", str(home / "work"), "worker", "--queues", "io,cpu", "--concurrency", "1"]
        with open(home / "worker.log", "w") as log:
            procs.append(subprocess.Popen(cmd, env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT))
    deadline = time.monotonic() + 120
    while sum(c.get("cmd") == "brpop" for c in board.r.client_list()) < workers:
        if time.monotonic() > deadline:
            raise SystemExit(f"workers did not start; see {work / run}")
        time.sleep(0.2)
    t0 = time.perf_counter()
    sub = subprocess.run(
        [VIDEOKIT, "--library", str(work / run / "submitter"), "-q", "submit", *urls, *skip],
        env=env,
        capture_output=True,
        text=True,
    )
    if sub.returncode != 0:
        raise SystemExit(sub.stderr)
    failed: list[str] = []
    while True:
        states = [(board.job(u) or {}).get("status") for u in urls]
        if all(s in ("done", "failed") for s in states):
            failed = [u for u, s in zip(urls, states, strict=True) if s == "failed"]
            break
        time.sleep(0.2)
    seconds = time.perf_counter() - t0
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(30)
    if failed:
        raise SystemExit(f"{len(failed)} input(s) failed, e.g. {board.job(failed[0])}")
    import s3fs

    fs = s3fs.S3FileSystem(
        endpoint_url=env["VIDEOKIT_STORAGE_S3ENDPOINT"], key="bench", secret="bench-secret", skip_instance_cache=True
    )
    return seconds, len(fs.find(f"bench/{run}"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=4.0, help="length of each generated video")
    ap.add_argument("--mbps", type=float, default=8.0, help="download speed per video (Mbit/s)")
    ap.add_argument(
        "--full", action="store_true", help="the whole default pipeline (analysis, transcripts, embeddings)"
    )
    args = ap.parse_args()
    if not shutil.which("redis-server"):
        raise SystemExit("needs redis-server")
    skip = [] if args.full else FAST

    work = Path(tempfile.mkdtemp(prefix="vk-sharenothing-"))
    try:
        videos = make_videos(work / "videos", args.videos, args.seconds)
        size = sum(v.stat().st_size for v in videos) / 2**20
        Throttled.rate = int(args.mbps * 125_000)
        http = ThreadingHTTPServer(("127.0.0.1", 0), partial(Throttled, directory=str(work / "videos")))
        threading.Thread(target=http.serve_forever, daemon=True).start()
        urls = [f"http://127.0.0.1:{http.server_port}/{v.name}" for v in videos]
        procs, env = servers(work)
        try:
            one, objects1 = run_batch(urls, 1, env, work, skip)
            print(f"1 worker: {one:.1f} s", file=sys.stderr, flush=True)
            two, objects2 = run_batch(urls, 2, env, work, skip)
            print(f"2 workers: {two:.1f} s", file=sys.stderr, flush=True)
        finally:
            for p in procs:
                p.terminate()
                p.wait(30)
            http.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    what = "full pipeline" if args.full else "scenes, no analyze/transcribe/embed"
    print(f"{args.videos} videos of {args.seconds:g} s ({size:.1f} MiB), {args.mbps:g} Mbit/s each, {what}")
    print(f"  1 worker : {one:6.1f} s  ({args.videos / one:.2f} videos/s, {objects1} objects in S3)")
    print(f"  2 workers: {two:6.1f} s  ({args.videos / two:.2f} videos/s, {objects2} objects in S3)")
    print(f"  speed-up 2 vs 1: {one / two:.2f}x on {os.cpu_count()} CPU(s)")


if __name__ == "__main__":
    main()
