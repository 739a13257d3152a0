"""Text, subtitle, photo, document and one-frame files are not videos (issue 14, class 2).

ffprobe reads a text file (``.txt``, ``.nfo``) as a fraction of a second of ``ansi`` "video", a
photo as a one-frame video; none of them may become a record. Animated GIFs are a setting.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from media import ffmpeg, make_video
from videokit._cli import main
from videokit.config import SCHEMA, load_config
from videokit.errors import InputError
from videokit.probe import ProbeOptions, media_info
from videokit.scenes import detect_scenes

FAST = ["--skip", "analyze"]
# Long enough for ffprobe's tty demuxer to take it as a video (a 2-line note is "invalid data").
NOTES = "Shoot notes for the harbour sequence: wide shot at dusk, then the pier.\n" * 60
NFO = "Release info\n============\nSource: camera A\n" * 40


def vk(library: Path, *args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, ["--library", str(library), "--quiet", *args], catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def titles(library: Path) -> list[str]:
    code, out, err = vk(library, "search", "--json")
    assert code == 0, err
    return sorted(r["title"] for r in json.loads(out))


@pytest.fixture(scope="module")
def not_videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One file of each kind that ffprobe opens (or not) but a user would not call a video."""
    d = tmp_path_factory.mktemp("not-videos")
    (d / "NOTES.txt").write_text(NOTES)
    (d / "readme.nfo").write_text(NFO)
    (d / "subs.srt").write_text(
        "1\n00:00:00,000 --> 00:00:01,500\nHello there\n\n2\n00:00:02,000 --> 00:00:03,000\nBye\n"
    )
    (d / "paper.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", str(d / "photo.jpg"))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", str(d / "still.png"))
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120", "-frames:v", "1", str(d / "still.gif"))
    ffmpeg(
        *("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-frames:v", "1"),
        *("-c:v", "libx264", "-pix_fmt", "yuv420p", str(d / "one-frame.mp4")),
    )
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:duration=1.5", str(d / "animated.gif"))
    return {p.name: p for p in d.iterdir()}


@pytest.fixture
def mixed_folder(tmp_path: Path, not_videos: dict[str, Path]) -> Path:
    folder = tmp_path / "shoot"
    (folder / "extras").mkdir(parents=True)
    for name, src in not_videos.items():
        (folder / ("extras" if name.endswith(".gif") else "") / name).write_bytes(src.read_bytes())
    make_video(folder / "harbour.mp4", duration=1.0, title="Harbour at dusk")
    make_video(folder / "extras" / "pier.mkv", duration=1.0, title="The pier", audio=False)
    return folder


def test_folder_of_photos_documents_and_sidecars_stores_only_the_videos(mixed_folder: Path, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    code, _, err = vk(lib, "run", *FAST, str(mixed_folder))
    assert code == 0, err
    assert "processed 2 of 2" in err
    assert "failure" not in err
    assert titles(lib) == ["Harbour at dusk", "The pier"]


def test_animated_gif_is_a_video_only_with_the_setting(
    mixed_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert SCHEMA["Library"]["AnimatedGifs"].affects_results  # turning it on re-runs the folder
    monkeypatch.setenv("VIDEOKIT_LIBRARY_ANIMATEDGIFS", "true")
    lib = tmp_path / "lib"
    code, _, err = vk(lib, "run", *FAST, str(mixed_folder))
    assert code == 0, err
    assert titles(lib) == ["Harbour at dusk", "The pier", "animated"]  # the one-frame GIF stays out
    code, out, _ = vk(lib, "search", "--json", "animated")
    row = json.loads(out)[0]
    code, out, _ = vk(lib, "show", row["id"])
    media = json.loads(out)["media"]
    assert media["video_codec"] == "gif" and media["frame_count"] == 15 and media["duration"] == pytest.approx(1.5)


def test_text_file_given_as_input_is_one_line_not_a_video_error(not_videos: dict[str, Path], tmp_path: Path) -> None:
    good = make_video(tmp_path / "good.mp4", duration=1.0, title="Good clip")
    lib = tmp_path / "lib"
    code, _, err = vk(lib, "run", *FAST, str(not_videos["NOTES.txt"]), str(not_videos["animated.gif"]), str(good))
    assert code == 1
    assert "processed 1 of 3" in err and "Traceback" not in err
    failures = [ln.strip() for ln in err.split("failure(s):", 1)[1].splitlines() if ln.strip()]
    assert len(failures) == 2
    notes = next(ln for ln in failures if "NOTES.txt" in ln)
    assert "not a video (a text file)" in notes and "give a video file" in notes
    gif = next(ln for ln in failures if "animated.gif" in ln)
    assert "not a video (an animated GIF)" in gif and "[Library] AnimatedGifs = true" in gif
    assert titles(lib) == ["Good clip"]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("NOTES.txt", "a text file"),
        ("readme.nfo", "a text file"),
        ("subs.srt", "subtitles"),
        ("photo.jpg", "a still image"),
        ("still.png", "a still image"),
        ("still.gif", "a still image"),
        ("one-frame.mp4", "a single frame"),
        ("animated.gif", "an animated GIF"),
        ("paper.pdf", "not a readable media file"),
    ],
)
def test_each_kind_says_why_it_is_not_a_video(not_videos: dict[str, Path], name: str, why: str) -> None:
    with pytest.raises(InputError, match=f"^{not_videos[name]}: .*{why}") as e:
        media_info(not_videos[name])
    assert "\n" not in str(e.value)


def test_animated_gif_setting_is_read_from_the_config(not_videos: dict[str, Path], tmp_path: Path) -> None:
    ini = tmp_path / "config.ini"
    ini.write_text("[Library]\nAnimatedGifs = yes\n")
    options = ProbeOptions.from_config(load_config(ini))
    assert options.animated_gifs
    info = media_info(not_videos["animated.gif"], options=options)
    assert info.frame_count == 15
    with pytest.raises(InputError, match="a still image"):  # one frame is never a video
        media_info(not_videos["still.gif"], options=options)
    with pytest.raises(InputError, match="a text file"):
        media_info(not_videos["readme.nfo"], options=options)


def test_scene_pass_still_takes_single_pictures_but_not_text(not_videos: dict[str, Path], tmp_path: Path) -> None:
    """``videokit scenes`` on one image keeps working (a one-frame "video"); text never decodes."""
    assert detect_scenes(not_videos["photo.jpg"]).frames_decoded == 1
    assert detect_scenes(not_videos["one-frame.mp4"]).frames_decoded == 1
    assert detect_scenes(not_videos["animated.gif"]).frames_decoded == 15
    with pytest.raises(InputError, match="a text file"):
        detect_scenes(not_videos["readme.nfo"])
