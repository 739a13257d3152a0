"""The server under load: API search and media latency with 50 concurrent clients on 10,000 videos.

A library of ``--videos`` videos is made from one generated clip (processed through the
pipeline: scenes, thumbnails, contact sheet) and ``--videos - 1`` synthetic copies with their
own ids, titles, tags and durations (``tests/web_load.py``). ``videokit serve`` runs it in a
subprocess on 127.0.0.1 (``--workers`` processes, no rate limit); ``--clients`` clients, each one
keep-alive connection with its own key, send for ``--seconds``: 60% searches (one word of the
titles' vocabulary, 20 results and the total), 20% contact sheets, 20% 64 KiB Range reads of the
video file, waiting ``--think`` seconds between two requests (0: as fast as they can). Reports
requests per second and p50/p95 per kind; the machine's load average is printed beside them
(other work on the machine shows in the numbers).

    .venv/bin/python benchmarks/web_load.py [--videos 10000] [--clients 50] [--seconds 30] [--think 0.5]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from media import make_video  # noqa: E402
from videokit import api  # noqa: E402
from web_helpers import config_for, served  # noqa: E402
from web_load import Plan, fill_library, run_load, video_facts  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=10_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--think", type=float, default=0.5, help="seconds a client waits between requests")
    ap.add_argument("--workers", type=int, default=1, help="server processes")
    ap.add_argument("--keep", type=Path, help="build (or reuse) the library in this folder")
    ap.add_argument("--out", type=Path, help="write the summary as JSON here")
    args = ap.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="videokit-webload-"))
    lib = folder / "lib"
    cfg = config_for(lib)
    if not (lib / "library.sqlite").exists():
        clip = make_video(folder / "clip.mp4", duration=10, size="1280x720", title="Harbour Benchmark Clip")
        result = api.run([str(clip)], cfg, skip=["analyze", "transcribe", "embed"])
        assert result.ok, result.failures
        fill_library(cfg, args.videos - 1)
    vid, size = video_facts(cfg)  # every copy shares the clip's files
    print(f"library: {api.count(cfg)} videos in {lib}", file=sys.stderr)
    plans = [Plan(api.create_key(cfg, f"load-{i}", "read").key, pace=args.think) for i in range(args.clients)]
    env = {"VIDEOKIT_SERVER_RATELIMIT": "0", "VIDEOKIT_SERVER_WORKERS": str(args.workers)}
    with served(lib, env=env) as url:
        run_load(url, plans[:5], 2.0, vid, size)  # warm-up
        cpu_before = cpu_seconds(served.pid)
        result = run_load(url, plans, args.seconds, vid, size)
        cpu = cpu_seconds(served.pid) - cpu_before
    summary = {
        "videos": api.count(cfg),
        "clients": args.clients,
        "think_s": args.think,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        **result.summary(),
        # the server's own CPU time per request: what the machine's other work cannot inflate
        "server_cpu_ms_per_request": round(cpu * 1000 / max(1, len(result.samples)), 2),
    }
    print(json.dumps(summary, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=2) + "\n")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
