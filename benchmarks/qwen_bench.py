"""Throughput of ``videokit run --analyzer qwen`` at several ``[QwenVL] BatchSize`` values.

    .venv/bin/python benchmarks/qwen_bench.py                       # tiny random-weight model, CPU
    .venv/bin/python benchmarks/qwen_bench.py --model Qwen/Qwen2-VL-2B-Instruct --device cuda

Each batch size is one ``videokit run`` (a subprocess of the CLI, as a user runs it) over the
same generated videos, into a fresh library (so no analysis cache hit), with
``[Concurrency] MaxWorkers = 1``. Reported per batch size: the wall time of the whole command
(start-up, model load, hashing, probe, scenes, analysis, tags, store), videos/s and its ratio to
BatchSize 1, and the seconds the analyze stage took (the records' ``timings["analyze"]``) with
the videos/s of that stage alone.
``--repeat N`` runs each batch size N times and reports the median run.

With no ``--model`` a tiny random-weight Qwen2-VL is built (as in the tests): those numbers
measure the pipeline's batching overhead, not a real model, and the report says so.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "from videokit._cli import main; main()"]


def make_videos(folder: Path, count: int, seconds: float) -> list[Path]:
    """``count`` different 320x240 clips (the length differs, so each is its own content)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        path = folder / f"v{i:02d}.mp4"
        length = seconds + 0.1 * i
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-nostdin", "-f", "lavfi",
             "-i", f"testsrc2=size=320x240:rate=25:duration={length:.2f}",
             "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)],
            check=True,
        )  # fmt: skip
        out.append(path)
    return out


def write_config(path: Path, args: argparse.Namespace, model: str, batch_size: int) -> None:
    path.write_text(
        "[Analysis]\n"
        "Backend = qwen\n"
        f"MaxFrames = {args.max_frames}\n"
        "[QwenVL]\n"
        f"Model = {model}\n"
        f"Device = {args.device}\n"
        f"MaxPixels = {args.max_pixels}\n"
        f"MaxNewTokens = {args.max_new_tokens}\n"
        f"BatchSize = {batch_size}\n"
        "[Concurrency]\n"
        "MaxWorkers = 1\n",
        encoding="utf-8",
    )


def analyze_seconds(config: Path, library: Path) -> tuple[int, float]:
    """(records analysed by qwen, total seconds of the analyze stage) in ``library``."""
    from videokit.config import load_config
    from videokit.store import open_store
    from videokit.store.base import Query

    cfg = load_config(config, env={}, overrides={("Library", "Location"): str(library)})
    with open_store(cfg) as store:
        records = store.search(Query())
    done = [r for r in records if r.analysis is not None and r.analysis.backend == "qwen"]
    return len(done), sum(r.timings.get("analyze", 0.0) for r in records)


def run_once(
    tmp: Path, args: argparse.Namespace, model: str, videos: list[Path], batch_size: int, attempt: int
) -> dict[str, Any]:
    ini = tmp / f"config-{batch_size}.ini"
    library = tmp / f"lib-{batch_size}-{attempt}"  # fresh: no analysis cache hit, no ledger skip
    write_config(ini, args, model, batch_size)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOKIT_")}
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    cmd = [*CLI, "--config", str(ini), "--library", str(library), "-q", "run", "--analyzer", "qwen", *map(str, videos)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"videokit run failed with BatchSize {batch_size} (exit {proc.returncode})")
    analysed, analyze_s = analyze_seconds(ini, library)
    if analysed != len(videos):
        raise SystemExit(f"BatchSize {batch_size}: only {analysed} of {len(videos)} videos were analysed")
    return {
        "batch_size": batch_size,
        "wall_s": round(wall, 2),
        "videos_per_s": round(len(videos) / wall, 3),
        "analyze_s": round(analyze_s, 2),
        "analyze_videos_per_s": round(len(videos) / analyze_s, 2) if analyze_s else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="hub id or local folder (default: a tiny random-weight model)")
    ap.add_argument("--device", default="auto", help="[QwenVL] Device (default auto)")
    ap.add_argument("--videos", type=int, default=16, help="videos per run (default 16)")
    ap.add_argument("--seconds", type=float, default=2.0, help="length of the shortest video")
    ap.add_argument("--batch-sizes", default="1,4,8", help="comma-separated BatchSize values (default 1,4,8)")
    ap.add_argument("--max-frames", type=int, default=8)
    ap.add_argument("--max-pixels", type=int, default=50176)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=0, help="OMP_NUM_THREADS for videokit (0: inherit)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per BatchSize; the median is reported")
    ap.add_argument("--json", type=Path, help="also write the result here")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.batch_sizes.split(",") if s.strip()]

    with tempfile.TemporaryDirectory(prefix="qwen-bench-") as tmp_name:
        tmp = Path(tmp_name)
        model, label = args.model, "real model"
        if model is None:
            sys.path.insert(0, str(ROOT / "tests"))
            from qwen_fixtures import build_tiny_qwen

            model = str(build_tiny_qwen(tmp / "tiny-qwen2-vl", "qwen2_vl"))
            label = "TINY RANDOM-WEIGHT MODEL (pipeline overhead only, not model speed)"
        videos = make_videos(tmp / "videos", args.videos, args.seconds)
        rows = []
        for size in sizes:
            runs = [run_once(tmp, args, model, videos, size, k) for k in range(max(1, args.repeat))]
            runs.sort(key=lambda r: r["wall_s"])
            rows.append({**runs[len(runs) // 2], "walls_s": [r["wall_s"] for r in runs]})

    base = rows[0]["videos_per_s"]
    for row in rows:
        row["ratio_vs_first"] = round(row["videos_per_s"] / base, 2)
    report = {
        "label": label,
        "model": args.model or "tiny-qwen2-vl",
        "device": args.device,
        "cpu_cores": os.cpu_count(),
        "threads": args.threads or None,
        "videos": len(videos),
        "max_frames": args.max_frames,
        "max_new_tokens": args.max_new_tokens,
        "runs": rows,
    }
    print(f"{label}: {len(videos)} videos, videokit run per BatchSize")
    vs = f"vs BS{rows[0]['batch_size']}"
    print(f"{'BatchSize':>9}  {'wall s':>7}  {'videos/s':>8}  {vs:>8}  {'analyze s':>9}  {'analyze videos/s':>16}")
    for row in rows:
        print(
            f"{row['batch_size']:>9}  {row['wall_s']:>7.2f}  {row['videos_per_s']:>8.3f}  "
            f"{row['ratio_vs_first']:>7.2f}x  {row['analyze_s']:>9.2f}  {row['analyze_videos_per_s'] or 0:>16.2f}"
        )
    if args.json:
        tmp_out = args.json.with_name(args.json.name + ".tmp")
        tmp_out.write_text(json.dumps(report, indent=2) + "\n")
        os.replace(tmp_out, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
