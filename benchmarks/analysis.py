"""Per-video analysis cost.

    .venv/bin/python benchmarks/analysis.py [--seconds 60] [--runs 2]
    .venv/bin/python benchmarks/analysis.py --qwen-model /path/to/Qwen2-VL-2B-Instruct   # GPU only

``builtin``: seconds of analysis per minute of generated 720p H.264 + AAC video (frame
sampling, bursts + audio decode, optical flow, OCR, report), cache bypassed.
``qwen`` (only when CUDA is available and a local model folder is given): frames/s,
generated tokens/s and peak GPU memory, through the same Analyzer interface.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from videokit.analysis import create_analyzer
from videokit.analysis.stage import build_request
from videokit.config import load_config
from videokit.pipeline import Context
from videokit.probe import media_info
from videokit.record import FileInfo, Record


def make_clip(path: Path, seconds: float) -> Path:
    overlay = (
        "drawtext=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf:text='BENCHMARK':fontsize=64:x=40:y=40"
    )
    src = f"testsrc2=size=1280x720:rate=30:duration={seconds}"
    vf = overlay if Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf").exists() else "null"
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
            src,
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=300:duration={seconds}",
            "-vf",
            vf,
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
            str(path),
        ],
        check=True,
    )
    return path


def bench(backend: str, clip: Path, lib: Path, runs: int, **over: object) -> list[tuple[float, Any, int]]:
    overrides = {("Library", "Location"): str(lib), ("Analysis", "Backend"): backend}
    overrides.update({tuple(k.split(".")): v for k, v in over.items()})  # type: ignore[misc]
    cfg = load_config(None, env={}, overrides=overrides)
    engine = create_analyzer(backend, cfg)
    engine.setup()
    ctx = Context(cfg)
    rec = Record(id="bench", file=FileInfo(str(clip), clip.name, clip.stat().st_size, "bench"), media=media_info(clip))
    out = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as scratch:
            t0 = time.perf_counter()
            request = build_request(rec, ctx, Path(scratch))
            analysis = engine.analyze(request)
            out.append((time.perf_counter() - t0, analysis, len(request.frames)))
    engine.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the generated 720p clip")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--qwen-model", help="local Qwen2-VL / Qwen2.5-VL folder (GPU benchmark)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        clip = make_clip(tmpd / "bench720.mp4", args.seconds)
        minutes = args.seconds / 60
        results = bench("builtin", clip, tmpd / "lib", args.runs)
        best = min(r[0] for r in results)
        print(
            f"builtin: {best:.2f} s for {args.seconds:.0f} s of 720p -> {best / minutes:.2f} s per minute of video "
            f"(best of {args.runs}; all: {', '.join(f'{r[0]:.2f}' for r in results)})"
        )
        if not args.qwen_model:
            print("qwen: skipped (pass --qwen-model PATH on a machine with a GPU)")
            return 0
        try:
            import torch
        except ImportError:
            print("qwen: skipped (torch not installed)")
            return 0
        if not torch.cuda.is_available():
            print("qwen: skipped (no CUDA GPU)")
            return 0
        torch.cuda.reset_peak_memory_stats()
        results = bench("qwen", clip, tmpd / "lib", args.runs, **{"QwenVL.Model": args.qwen_model})
        t, analysis, frames = min(results, key=lambda r: r[0])
        tokens = analysis.usage.get("completion_tokens") or 0
        peak = torch.cuda.max_memory_allocated() / 2**30
        print(
            f"qwen: {t:.2f} s per video, {frames / t:.2f} frames/s, {tokens / t:.1f} generated tokens/s, "
            f"peak GPU memory {peak:.2f} GiB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
