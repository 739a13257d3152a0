"""Throughput of the ``qwen`` analyzer: frames/s, tokens/s and peak GPU memory.

    .venv/bin/python benchmarks/qwen_bench.py --model Qwen/Qwen2-VL-2B-Instruct --videos 8
    .venv/bin/python benchmarks/qwen_bench.py            # no GPU: tiny random-weight model on CPU

With no ``--model`` a tiny random-weight Qwen2-VL is built (as in the tests) and run on the CPU:
those numbers measure the pipeline's overhead (decode of frame files, preprocessing, batching),
not a real model, and the report says so. Frames are sampled from a generated 720p clip.
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

ROOT = Path(__file__).resolve().parents[1]


def sample_frames(folder: Path, seconds: float, fps: float) -> list[Path]:
    video = folder / "bench.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-nostdin", "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=25:duration={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(video)],
        check=True,
    )  # fmt: skip
    out = folder / "frames"
    out.mkdir()
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-nostdin", "-i", str(video), "-vf", f"fps={fps},scale=448:-2", "-q:v", "3",
         str(out / "f%03d.jpg")],
        check=True,
    )  # fmt: skip
    return sorted(out.glob("f*.jpg"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="hub id or local folder (default: a tiny random-weight model)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--videos", type=int, default=4, help="requests per run")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--max-frames", type=int, default=8)
    ap.add_argument("--max-pixels", type=int, default=50176)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    ap.add_argument("--json", type=Path, help="also write the result here")
    args = ap.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from videokit.analysis.base import AnalysisRequest, FrameRef
    from videokit.analysis.qwen import QwenAnalyzer, resolve_device
    from videokit.config import load_config
    from videokit.record import MediaInfo, Record

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        model, label = args.model, "real model"
        if model is None:
            sys.path.insert(0, str(ROOT / "tests"))
            from qwen_fixtures import build_tiny_qwen

            model = str(build_tiny_qwen(tmpdir / "tiny-qwen2-vl", "qwen2_vl"))
            label = "TINY RANDOM-WEIGHT MODEL (pipeline overhead only, not model speed)"
        device = resolve_device(args.device)
        frames = sample_frames(tmpdir, seconds=8, fps=2)
        refs = [FrameRef(p, i / 2, 0) for i, p in enumerate(frames)]
        cfg = load_config(
            None,
            env={},
            overrides={
                ("QwenVL", "Model"): model,
                ("QwenVL", "Device"): args.device,
                ("QwenVL", "MaxFrames"): str(args.max_frames),
                ("QwenVL", "MaxPixels"): str(args.max_pixels),
                ("QwenVL", "MaxNewTokens"): str(args.max_new_tokens),
                ("QwenVL", "BatchSize"): str(args.batch_size),
            },
        )
        qa = QwenAnalyzer(cfg)
        t0 = time.perf_counter()
        qa.setup()
        load_s = time.perf_counter() - t0
        reqs = [
            AnalysisRequest(
                video=Path(f"bench{i}.mp4"), record=Record(media=MediaInfo(duration=8.0)), frames=refs,
                instruction="Describe this video in detail.", questions=["What is shown?"],
            )
            for i in range(args.videos)
        ]  # fmt: skip
        qa.analyze(reqs[0])  # warm-up (kernels, allocator)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        results = qa.analyze_many(reqs)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        wall = time.perf_counter() - t0
        n_frames = sum(r.facts["frames"] for r in results)
        prompt = sum(r.usage["prompt_tokens"] for r in results)
        completion = sum(r.usage["completion_tokens"] for r in results)
        report = {
            "label": label,
            "model": qa.model,
            "device": torch.cuda.get_device_name(0)
            if device.startswith("cuda")
            else f"cpu ({os.cpu_count()} cores, {torch.get_num_threads()} threads)",
            "videos": len(results),
            "batch_size": args.batch_size,
            "frames_per_video": results[0].facts["frames"],
            "video_grid_thw": results[0].facts["video_grid_thw"],
            "load_s": round(load_s, 2),
            "seconds_per_video": round(wall / len(results), 3),
            "frames_per_s": round(n_frames / wall, 2),
            "prompt_tokens_per_s": round(prompt / wall, 1),
            "generated_tokens_per_s": round(completion / wall, 1),
            "peak_gpu_memory_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)
            if device.startswith("cuda")
            else None,
        }
    print(json.dumps(report, indent=2))
    if args.json:
        tmp_out = args.json.with_name(args.json.name + ".tmp")
        tmp_out.write_text(json.dumps(report, indent=2) + "\n")
        os.replace(tmp_out, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
