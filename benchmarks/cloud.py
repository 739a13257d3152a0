"""Upload and download throughput to moto's S3 server on loopback: videokit's transfers
(:mod:`videokit.storage.transfer`: parts with SHA-256 each, resumable, checked after upload;
ranged, resumable downloads, SHA-256 of the content) against a direct fsspec copy (s3fs
``put_file`` / ``get_file``) of the same file in the same run.

moto runs as its own process (``python -m moto.server``), as a real server would. The direct copy uses the same part size and parts in flight as videokit (as ``aws s3 cp`` sends
8 MiB parts, several at once); s3fs's own defaults (50 MiB parts) are shown too. Each round does
the transfers in turn (so a busy machine slows all alike); the median of
the rounds is reported, with the ratio videokit / direct (target: at most 1.1).

    python benchmarks/cloud.py [--size-mb 64] [--rounds 5] [--part-mb 8] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from videokit.storage import StorageOptions, download, parse_location, upload
from videokit.storage.options import MIB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--part-mb", type=int, default=8)
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()

    server, endpoint = _moto_server()
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench-secret", AWS_DEFAULT_REGION="us-east-1")
    import s3fs

    fs = s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True, use_listings_cache=False)
    fs.mkdir("bench")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src = work / "video.bin"
        data = os.urandom(args.size_mb * MIB)
        src.write_bytes(data)
        options = StorageOptions(
            s3_endpoint=endpoint,
            part_size=args.part_mb * MIB,
            concurrency=args.concurrency,
            state_dir=work / "uploads",
        )
        part, conc = args.part_mb * MIB, args.concurrency
        same = {"chunksize": part, "max_concurrency": conc}  # aws s3 cp's way: parts, several in flight
        names = ["direct up", "videokit up", "s3fs-defaults up", "direct down", "videokit down", "s3fs-defaults down"]
        times: dict[str, list[float]] = {name: [] for name in names}
        for i in range(args.rounds):
            loc = parse_location(f"s3://bench/vk-{i}.bin")
            steps = {
                "direct up": lambda: fs.put_file(str(src), f"bench/direct-{i}.bin", **same),  # noqa: B023
                "videokit up": lambda: upload(src, loc, options, fs=fs),  # noqa: B023
                "s3fs-defaults up": lambda: fs.put_file(str(src), f"bench/default-{i}.bin"),  # noqa: B023
                "direct down": lambda: fs.get_file(f"bench/direct-{i}.bin", str(work / "d.bin"), **same),  # noqa: B023
                "videokit down": lambda: download(loc, work / "v.bin", options, fs=fs),  # noqa: B023
                "s3fs-defaults down": lambda: fs.get_file(f"bench/direct-{i}.bin", str(work / "s.bin")),  # noqa: B023
            }
            for name in names:
                times[name].append(_timed(steps[name]))
            for name in ("d.bin", "v.bin", "s.bin"):  # every copy is whole and right
                assert (work / name).read_bytes() == data, name
            for name in ("d.bin", "v.bin", "s.bin"):
                (work / name).unlink()
    server.terminate()
    server.wait(10)
    med = {k: statistics.median(v) for k, v in times.items()}
    size = args.size_mb
    print(f"{size} MiB file, {args.rounds} rounds, parts of {args.part_mb} MiB x {args.concurrency}; median:")
    for k, t in med.items():
        print(f"  {k:18s} {t:6.2f} s  {size / t:7.1f} MiB/s")
    print(f"  upload   videokit/direct: {med['videokit up'] / med['direct up']:.2f}x")
    print(f"  download videokit/direct: {med['videokit down'] / med['direct down']:.2f}x")


def _moto_server() -> tuple[subprocess.Popen[bytes], str]:
    """moto's S3 server in its own process (as a real server is: it does not share this one's CPU time)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return proc, f"http://127.0.0.1:{port}"


def _timed(fn: object) -> float:
    started = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
