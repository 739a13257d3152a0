"""Frame extraction for analysis with one ffmpeg process per call.

Each sample point is its own input opened with a fast seek (``-ss`` before ``-i``), so only
the GOPs around the sampled times are decoded, never the whole video.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from videokit.errors import InputError, TransientError, require_tool


def sample_times(duration: float | None, count: int) -> list[float]:
    """``count`` times spread evenly inside the video (centres of equal slices)."""
    if not duration or duration <= 0:
        return [0.0]
    count = max(1, count)
    return [round(duration * (i + 0.5) / count, 3) for i in range(count)]


def ffmpeg_exe() -> str:
    return require_tool("ffmpeg")


def run_ffmpeg(args: list[str], video: Path, timeout: float) -> None:
    cmd = [ffmpeg_exe(), "-v", "error", "-nostdin", "-y", *args]
    try:
        out = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise TransientError(f"{video}: ffmpeg took longer than {timeout:.0f}s while sampling frames") from None
    if out.returncode != 0:
        err = out.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = err[-1] if err else f"exit status {out.returncode}"
        raise InputError(f"{video}: cannot decode frames for analysis ({reason})")


def seek_inputs(video: Path, times: list[float], span: float | None = None) -> list[str]:
    args: list[str] = []
    for t in times:
        args += ["-ss", f"{max(0.0, t):.3f}"]
        if span is not None:
            args += ["-t", f"{span:.3f}"]
        args += ["-an", "-sn", "-dn", "-i", str(video)]
    return args


def extract_stills(
    video: Path, times: list[float], out_dir: Path, width: int, timeout: float = 300
) -> list[tuple[Path, float]]:
    """(JPEG, time) per time (``width`` pixels wide) in ``out_dir``; frames past the end are skipped."""
    out_dir.mkdir(parents=True, exist_ok=True)
    args = seek_inputs(video, times)
    paths = [out_dir / f"frame_{i:03d}.jpg" for i in range(len(times))]
    for i, p in enumerate(paths):
        args += ["-map", f"{i}:v:0", "-vf", f"scale={width}:-2", "-frames:v", "1", "-q:v", "3", str(p)]
    run_ffmpeg(args, video, timeout)
    return [(p, t) for p, t in zip(paths, times, strict=True) if p.exists() and p.stat().st_size > 0]
