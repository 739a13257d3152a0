"""The builtin analyzer on generated clips whose properties are known."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from media import ffmpeg
from videokit.analysis.builtin import BuiltinAnalyzer
from videokit.analysis.builtin_questions import NOT_ANSWERABLE
from videokit.analysis.stage import build_request
from videokit.config import load_config
from videokit.pipeline import Context
from videokit.probe import media_info
from videokit.record import FileInfo, Record

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("builtin")
    out = {
        "dark": d / "dark.mp4",
        "text": d / "text.mp4",
        "static_tone": d / "static_tone.mp4",
        "pan": d / "pan.mp4",
    }
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "color=c=0x0c0c10:size=320x240:rate=25:duration=2",
        "-f",
        "lavfi",
        "-i",
        "anullsrc=r=44100:cl=mono",
        "-t",
        "2",
        *X264,
        "-c:a",
        "aac",
        "-shortest",
        str(out["dark"]),
    )
    if FONT.exists():
        draw = f"drawtext=fontfile={FONT}:text='SUNSET BEACH':fontsize=30:fontcolor=black:x=(w-tw)/2:y=(h-th)/2"
        ffmpeg(
            "-f", "lavfi", "-i", f"color=c=white:size=320x240:rate=25:duration=2,{draw}", *X264, "-an", str(out["text"])
        )
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "smptebars=size=320x240:rate=25:duration=2",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=2",
        *X264,
        "-c:a",
        "aac",
        "-shortest",
        str(out["static_tone"]),
    )
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=1280x240:rate=25:duration=3",
        "-vf",
        "crop=320:240:x='t*200':y=0",
        *X264,
        "-an",
        str(out["pan"]),
    )
    return out


@pytest.fixture(scope="module")
def analyze(tmp_path_factory: pytest.TempPathFactory):
    lib = tmp_path_factory.mktemp("lib")
    cfg = load_config(
        None,
        env={},
        overrides={
            ("Library", "Location"): str(lib),
            ("Analysis", "Questions"): ["Is it night?", "Who won the match?"],
        },
    )
    engine = BuiltinAnalyzer(cfg)
    engine.setup()
    ctx = Context(cfg)
    results: dict[Path, object] = {}

    def run(path: Path):
        if path not in results:
            rec = Record(
                id=path.name,
                file=FileInfo(str(path), path.name, path.stat().st_size, path.name),
                media=media_info(path),
            )
            with tempfile.TemporaryDirectory() as scratch:
                results[path] = engine.analyze(build_request(rec, ctx, Path(scratch)))
        return results[path]

    return run


def names(analysis) -> set[str]:
    return {t.name.lower() for t in analysis.tags}


def test_dark_clip_is_tagged_night(clips, analyze):
    a = analyze(clips["dark"])
    assert "night" in names(a)
    assert a.facts["brightness"]["level"] == "dark"
    assert a.description.startswith("Builtin analyzer (no vision-language model)")
    assert "night" in a.description.lower()
    assert all(t.origin == "analyzer:builtin/1" for t in a.tags)


def test_drawn_text_is_read_by_ocr(clips, analyze):
    if not clips["text"].exists():
        pytest.skip("DejaVu font not installed")
    a = analyze(clips["text"])
    assert a.ocr_text is not None and "SUNSET BEACH" in a.ocr_text.upper()
    assert "SUNSET BEACH" in a.description.upper()
    assert "on-screen text" in names(a)
    assert a.sentiment is not None and a.sentiment.source == "text-derived"


def test_static_clip_has_low_motion(clips, analyze):
    a = analyze(clips["static_tone"])
    assert a.facts["motion"]["level"] == "low"
    assert a.facts["camera_motion"]["label"] == "static"
    assert "camera pan" not in names(a)


def test_panning_clip_is_tagged_pan(clips, analyze):
    a = analyze(clips["pan"])
    assert a.facts["camera_motion"]["label"] == "pan"
    assert a.facts["camera_motion"]["direction"] == "right"
    assert "camera pan" in names(a)


def test_tone_has_audio_and_silent_track_is_silent(clips, analyze):
    tone = analyze(clips["static_tone"]).facts["audio"]
    assert tone["has_audio"] is True and tone["silent"] is False
    assert tone["mean_volume_db"] is not None and tone["mean_volume_db"] > -40
    silent = analyze(clips["dark"]).facts["audio"]
    assert silent["has_audio"] is True and silent["silent"] is True
    assert "silent" in names(analyze(clips["dark"]))


def test_answers_only_what_it_measured(clips, analyze):
    a = analyze(clips["dark"])
    assert "dark" in a.answers["Is it night?"].lower()
    assert a.answers["Who won the match?"] == NOT_ANSWERABLE
    assert any("cannot answer" in w and "Who won the match?" in w for w in a.warnings)


def test_no_faces_are_guessed_on_clips_without_people(clips, analyze):
    for name in ("dark", "static_tone", "pan"):
        a = analyze(clips[name])
        assert a.facts["faces"]["available"] is True and a.facts["faces"]["frames_with_faces"] == 0, name
        assert "faces" not in names(a)
