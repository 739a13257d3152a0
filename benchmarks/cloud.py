"""Upload and download throughput to moto's S3 server on loopback: videokit's transfers
(:mod:`videokit.storage.transfer`: parts with SHA-256 each, resumable, checked after upload;
ranged, resumable downloads, SHA-256 of the content) against a direct fsspec copy (s3fs
``put_file`` / ``get_file``) of the same file in the same run.

moto runs as its own process (``python -m moto.server``), as a real server would. The direct copy
uses the same part size and parts in flight as videokit (as ``aws s3 cp`` sends 8 MiB parts,
several at once); s3fs's own defaults (50 MiB parts) are shown too. Each round does the transfers
in turn, every other round in reverse order (so a busy machine slows all alike), then deletes its
objects (the server holds the same each round). Reported: the median wall time of the rounds, with
the CPU time this process and the server spent, and the ratio videokit / direct (target: at most
1.1), also as the median of the rounds' own ratios (steadier on a shared machine).

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
    ups = ["direct up", "videokit up", "s3fs-defaults up"]
    downs = ["direct down", "videokit down", "s3fs-defaults down"]
    wall: dict[str, list[float]] = {name: [] for name in ups + downs}
    client: dict[str, list[float]] = {name: [] for name in ups + downs}
    served: dict[str, list[float]] = {name: [] for name in ups + downs}
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
        same = {"chunksize": args.part_mb * MIB, "max_concurrency": args.concurrency}  # aws s3 cp's way
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
            for group in (ups, downs):
                for name in group if i % 2 == 0 else group[::-1]:  # every other round in reverse order
                    w, c, sv = _timed(steps[name], server.pid)
                    wall[name].append(w)
                    client[name].append(c)
                    served[name].append(sv)
            for name in ("d.bin", "v.bin", "s.bin"):  # every copy is whole and right
                assert (work / name).read_bytes() == data, name
                (work / name).unlink()
            fs.rm(fs.find("bench"))  # the server holds the same each round
    server.terminate()
    server.wait(10)
    size = args.size_mb
    med = {k: statistics.median(v) for k, v in wall.items()}
    print(f"{size} MiB file, {args.rounds} rounds, parts of {args.part_mb} MiB x {args.concurrency}; median:")
    print(f"  {'':18s} {'wall':>8s} {'MiB/s':>8s} {'client CPU':>11s} {'server CPU':>11s}")
    for k, t in med.items():
        print(
            f"  {k:18s} {t:6.2f} s {size / t:8.1f} {statistics.median(client[k]):9.2f} s"
            f" {statistics.median(served[k]):9.2f} s"
        )
    for way, vk, direct in (("upload  ", "videokit up", "direct up"), ("download", "videokit down", "direct down")):
        paired = statistics.median(a / b for a, b in zip(wall[vk], wall[direct], strict=True))
        print(f"  {way} videokit/direct: {med[vk] / med[direct]:.2f}x (median of the rounds' ratios {paired:.2f}x)")


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


def _timed(fn: object, server_pid: int) -> tuple[float, float, float]:
    """Wall seconds, this process's CPU seconds and the server's CPU seconds that ``fn()`` took."""
    server0, started, cpu0 = _cpu_of(server_pid), time.perf_counter(), time.process_time()
    fn()  # type: ignore[operator]
    return time.perf_counter() - started, time.process_time() - cpu0, _cpu_of(server_pid) - server0


def _cpu_of(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
