"""Transitions out of dark or uniform pictures, and boundaries near the end of the stream.

Clips are lavfi pictures joined with ``xfade``/``fade``/``concat``; ground truth by construction.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from media import ffmpeg
from videokit.scenes import detect_scenes
from videokit.scenes.evaluate import score

SIZE = "320x180"


def _src(name: str, d: float, size: str) -> str:
    if name == "dark":  # a dark, noisy night picture (as in scripts/make_sample.sh)
        return f"color=c=0x101018:size={size}:rate=25:duration={d},noise=alls=8:allf=t"
    return f"{name}=size={size}:rate=25:duration={d}"


def _build(path: Path, sources: list[tuple[str, float]], graph: str, size: str = SIZE) -> Path:
    args: list[str] = []
    for name, d in sources:
        args += ["-f", "lavfi", "-i", _src(name, d, size)]
    norm = ";".join(f"[{i}:v]format=yuv420p,settb=1/25[i{i}]" for i in range(len(sources)))
    ffmpeg(*args, "-filter_complex", f"{norm};{graph}", "-map", "[v]", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", str(path))  # fmt: skip
    return path


def _found(path: Path) -> list[tuple[str, float, float]]:
    return [(s.boundary.kind, s.boundary.start, s.boundary.end) for s in detect_scenes(path).scenes if s.boundary]


def _assert_matches(found: list[tuple[str, float, float]], truth: list[tuple[float, float]]) -> None:
    got = score([(a, b) for _, a, b in found], truth, 25)
    assert got.fp == 0 and got.fn == 0, (found, truth)


def test_dark_opening_shot_dissolving_into_a_bright_one(tmp_path: Path) -> None:
    """The demo's night street, made as scripts/make_sample.sh makes it: 3 s of a dark noisy
    picture dissolving (1 s at t=3) into testsrc."""
    clip = tmp_path / "night.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=0x101018:size=640x360:rate=25:duration=5,noise=alls=8:allf=t",
           "-f", "lavfi", "-i", "testsrc=size=640x360:rate=25:duration=5",
           "-filter_complex", "[0:v][1:v]xfade=transition=dissolve:duration=1:offset=3,format=yuv420p[v]",
           "-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", str(clip))  # fmt: skip
    found = _found(clip)
    _assert_matches(found, [(3.0, 4.0)])


def test_dark_shot_between_a_cut_and_a_dissolve(tmp_path: Path) -> None:
    clip = _build(
        tmp_path / "mid_dark.mp4",
        [("testsrc2", 3), ("dark", 4), ("testsrc", 3)],
        "[i0][i1]concat=n=2:v=1:a=0,settb=1/25[ab];[ab][i2]xfade=transition=dissolve:duration=1:offset=6[v]",
    )
    found = _found(clip)
    _assert_matches(found, [(3.0, 3.0), (6.0, 7.0)])
    assert found[0][0] == "cut", found


def test_fade_through_a_uniform_colour(tmp_path: Path) -> None:
    """Fade out to navy blue and in from it: one fade, not a dissolve guess."""
    clip = _build(
        tmp_path / "navy.mp4",
        [("testsrc2", 3), ("smptebars", 3)],
        "[i0]fade=t=out:st=2.2:d=0.8:color=0x203070[a];[i1]fade=t=in:st=0:d=0.8:color=0x203070[b];"
        "[a][b]concat=n=2:v=1:a=0[v]",
    )
    found = _found(clip)
    _assert_matches(found, [(2.2, 3.8)])
    assert [k for k, _, _ in found] == ["fade"]


def test_short_black_opening_fading_in_is_no_boundary(tmp_path: Path) -> None:
    clip = _build(tmp_path / "open.mp4", [("testsrc2", 4)], "[i0]fade=t=in:st=0.4:d=1[v]")
    assert _found(clip) == []


@pytest.mark.parametrize(
    ("graph", "truth"),
    [
        # a dissolve ending 0.3 s before the end of the video
        ("[i0][i1]xfade=transition=fade:duration=1:offset=4[v]", [(4.0, 5.0)]),
        # a cut 0.8 s before the end
        ("[i0][i1]concat=n=2:v=1:a=0[v]", [(5.0, 5.0)]),
        # a fade through black ending 0.5 s before the end
        (
            "[i0]fade=t=out:st=4.5:d=0.5[a];[i1]fade=t=in:st=0:d=0.5[b];[a][b]concat=n=2:v=1:a=0[v]",
            [(4.5, 5.5)],
        ),
    ],
    ids=["dissolve", "cut", "fade"],
)
def test_boundaries_at_the_very_end_are_flushed(tmp_path: Path, graph: str, truth: list[tuple[float, float]]) -> None:
    second = 1.3 if "xfade" in graph else (0.8 if "fade=" not in graph else 1.0)
    clip = _build(tmp_path / "late.mp4", [("testsrc2", 5), ("smptebars", second)], graph)
    _assert_matches(_found(clip), truth)
