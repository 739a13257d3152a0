"""Test media made with ffmpeg lavfi sources (never downloaded)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-nostdin", *args], check=True)


def make_video(
    path: Path,
    *,
    duration: float = 2.0,
    size: str = "320x240",
    rate: int = 25,
    source: str = "testsrc2",
    audio: bool = True,
    title: str | None = None,
    codec: str = "libx264",
    extra: list[str] | None = None,
) -> Path:
    """A small H.264/AAC clip from a lavfi source (testsrc2, smptebars, color=c=black...)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sep = ":" if "=" in source else "="
    src = source if "size=" in source else f"{source}{sep}size={size}:rate={rate}"
    args = ["-f", "lavfi", "-i", f"{src}:duration={duration}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={duration}"]
    args += ["-c:v", codec, "-pix_fmt", "yuv420p", "-preset", "ultrafast"] if codec == "libx264" else ["-c:v", codec]
    if audio:
        args += ["-c:a", "aac", "-shortest"]
    if title:
        args += ["-metadata", f"title={title}"]
    args += list(extra or [])
    ffmpeg(*args, str(path))
    return path


def make_cuts_video(path: Path, colors: list[str], seg: float = 1.0, size: str = "320x240", rate: int = 25) -> Path:
    """Hard cuts between solid-ish segments (testsrc2 hue shifted per segment)."""
    inputs: list[str] = []
    for _ in colors:
        inputs += ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seg}"]
    chains = ";".join(f"[{i}:v]drawbox=c={c}@0.6:t=fill,setpts=PTS-STARTPTS[v{i}]" for i, c in enumerate(colors))
    concat = "".join(f"[v{i}]" for i in range(len(colors)))
    ffmpeg(
        *inputs,
        "-filter_complex",
        f"{chains};{concat}concat=n={len(colors)}:v=1:a=0[out]",
        "-map",
        "[out]",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        str(path),
    )
    return path


def make_scenes_video(path: Path, sources: list[str], seg: float = 1.2, size: str = "320x240", rate: int = 25) -> Path:
    """Hard cuts between lavfi test pictures (``smptebars``, ``mandelbrot``...), ``seg`` seconds each."""
    inputs: list[str] = []
    for src in sources:
        inputs += ["-f", "lavfi", "-t", str(seg), "-i", f"{src}=size={size}:rate={rate}"]
    chains = ";".join(f"[{i}:v]format=yuv420p,setsar=1,setpts=PTS-STARTPTS[v{i}]" for i in range(len(sources)))
    concat = "".join(f"[v{i}]" for i in range(len(sources)))
    path.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg(
        *inputs,
        "-filter_complex",
        f"{chains};{concat}concat=n={len(sources)}:v=1:a=0[out]",
        "-map",
        "[out]",
        *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"),
        str(path),
    )
    return path


def make_near_copy(
    src: Path, dst: Path, *, start: float, length: float, size: str = "480:360", bitrate: str = "300k"
) -> Path:
    """``src`` as a re-upload would have it: trimmed (``length`` seconds from ``start``), resized,
    and re-encoded with another codec (MPEG-4 part 2) at another bit rate."""
    ffmpeg("-ss", str(start), "-i", str(src), "-t", str(length), "-vf", f"scale={size}", "-an",
           "-c:v", "mpeg4", "-b:v", bitrate, str(dst))  # fmt: skip
    return dst
