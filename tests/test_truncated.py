"""Files holding less than their header claims keep what was measured (issue 14, class 7).

A file cut at 10 % with its MP4 index at the front claims all 100 frames; a damaged header can
claim 49 days for 4 s of video. The record keeps the measured duration and frame count, marks
the video damaged with the share that is there, keeps the claims, and rules see the measured values.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from media import ffmpeg, make_video
from videokit._cli import main
from videokit.damage import apply_decoded, check_end
from videokit.probe import ffprobe_json, media_info
from videokit.record import Record
from videokit.scenes import detect_scenes

FAST = ["--skip", "analyze"]
NO_SCENES = ["--skip", "analyze", "--skip", "scenes"]
FORTY_NINE_DAYS = 0xFFFFFFFF / 1000  # a 32-bit millisecond count at its maximum: 4,294,967.295 s
RULES = {
    "rules": [
        {"id": "long-take", "metadata_conditions": {"duration_gte": 3}, "tags": ["Long Take"]},
        {"id": "many-frames", "metadata_conditions": {"frame_count_gte": 50}, "tags": ["Many Frames"]},
        {"id": "damaged", "metadata_conditions": {"damaged": True}, "tags": ["Damaged File"]},
    ]
}


def vk(library: Path, *args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, ["--library", str(library), "--quiet", *args], catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def stored(library: Path, *run_args: str) -> tuple[dict, dict, list[str]]:
    """Run, then the one record: (its media as `videokit show` prints it, its `search --json` row, its tags)."""
    code, _, err = vk(library, "run", *run_args)
    assert code == 0, err
    code, out, err = vk(library, "search", "--json")
    assert code == 0, err
    (row,) = json.loads(out)
    code, out, _ = vk(library, "show", row["id"])
    rec = json.loads(out)
    return rec["media"], row, [t["name"] for t in rec["tags"]]


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s at 25 fps (100 frames), H.264 + AAC, the index (moov) at the front."""
    d = tmp_path_factory.mktemp("whole")
    return make_video(d / "whole.mp4", duration=4.0, title="Whole clip", extra=["-movflags", "+faststart"])


@pytest.fixture
def cut(whole: Path, tmp_path: Path) -> Path:
    data = whole.read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 10])
    return path


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    path = tmp_path / "custom_tags.json"
    path.write_text(json.dumps(RULES))
    return path


def lying_mp4(src: Path, dst: Path) -> Path:
    """``src`` with its movie header (mvhd) claiming 0xFFFFFFFF ms: 49.7 days."""
    data = bytearray(src.read_bytes())
    at = data.find(b"mvhd")
    assert at > 0 and data[at + 4] == 0  # version 0: 32-bit times
    assert struct.unpack(">I", data[at + 16 : at + 20])[0] == 1000  # timescale: milliseconds
    data[at + 20 : at + 24] = struct.pack(">I", 0xFFFFFFFF)
    dst.write_bytes(bytes(data))
    return dst


def lying_mkv(src: Path, dst: Path) -> Path:
    """``src`` remuxed to Matroska with its segment Duration claiming 4,294,967,295 ms."""
    mkv = dst.with_suffix(".tmp.mkv")
    ffmpeg("-i", str(src), "-c", "copy", str(mkv))
    data = bytearray(mkv.read_bytes())
    at = data.find(b"\x44\x89\x88")  # Duration element, 8-byte float
    assert at > 0
    data[at + 3 : at + 11] = struct.pack(">d", float(0xFFFFFFFF))
    dst.write_bytes(bytes(data))
    mkv.unlink()
    return dst


def test_file_cut_at_10_percent_keeps_what_decodes(cut: Path, rules: Path, tmp_path: Path) -> None:
    assert media_info(cut).duration == 4.0 and media_info(cut).frame_count == 100  # what the header claims
    media, row, tags = stored(tmp_path / "lib", *FAST, "--rules", str(rules), str(cut))
    assert media["damaged"] is True
    assert media["header_duration"] == 4.0 and media["header_frames"] == 100
    assert 1 <= media["frame_count"] <= 15  # what decodes (8 here), not 100
    assert 0.0 < media["duration"] < 0.6
    assert 0.03 <= media["decoded_fraction"] <= 0.15
    assert media["decoded_fraction"] == pytest.approx(media["duration"] / 4.0, rel=0.02)
    assert row["damaged"] is True and row["decoded_fraction"] == media["decoded_fraction"]
    assert row["duration"] == media["duration"]
    # rules and search see the measured values
    assert "Damaged File" in tags
    assert "Long Take" not in tags and "Many Frames" not in tags
    code, out, _ = vk(tmp_path / "lib", "search", "--json", "--min-duration", "3")
    assert code == 0 and json.loads(out) == []


def test_without_the_scene_pass_the_probe_measures_the_packets(cut: Path, rules: Path, tmp_path: Path) -> None:
    media, row, tags = stored(tmp_path / "lib", *NO_SCENES, "--rules", str(rules), str(cut))
    assert media["damaged"] is True and row["damaged"] is True
    assert media["header_duration"] == 4.0 and media["header_frames"] == 100
    assert 1 <= media["frame_count"] <= 15  # video packets in the file
    assert 0.0 < media["duration"] < 0.6
    assert 0.03 <= media["decoded_fraction"] <= 0.15
    assert "Damaged File" in tags and "Long Take" not in tags and "Many Frames" not in tags


@pytest.mark.parametrize("container", ["mp4", "mkv"])
@pytest.mark.parametrize("scenes", [True, False], ids=["scenes", "no-scenes"])
def test_header_claiming_49_days_is_stored_with_the_measured_duration(
    whole: Path, tmp_path: Path, container: str, scenes: bool
) -> None:
    liar = (lying_mp4 if container == "mp4" else lying_mkv)(whole, tmp_path / f"liar.{container}")
    assert ffprobe_json(liar)["format"]["duration"].startswith("4294967.")  # the bug's input
    media, row, tags = stored(tmp_path / "lib", *(FAST if scenes else NO_SCENES), str(liar))
    assert media["duration"] == pytest.approx(4.0, abs=0.1)
    assert media["header_duration"] == pytest.approx(FORTY_NINE_DAYS, abs=1)
    assert media["damaged"] is True and row["damaged"] is True
    assert 0 < media["decoded_fraction"] < 1e-5
    assert row["duration"] == pytest.approx(4.0, abs=0.1)
    assert "Extended Play" not in tags  # the built-in rule for videos over 10 minutes
    assert "Short Clip" in tags


def test_file_cut_before_its_first_frame_is_a_one_line_error(whole: Path, tmp_path: Path) -> None:
    data = whole.read_bytes()
    header_only = tmp_path / "header-only.mp4"
    header_only.write_bytes(data[: data.find(b"mdat") + 4])  # the index, none of the media data
    good = make_video(tmp_path / "good.mp4", duration=1.0, title="Good clip")
    lib = tmp_path / "lib"
    code, _, err = vk(lib, "run", *NO_SCENES, str(header_only), str(good))
    assert code == 1 and "processed 1 of 2" in err and "Traceback" not in err
    (line,) = [ln for ln in err.split("failure(s):", 1)[1].splitlines() if ln.strip()]
    assert "header-only.mp4" in line and "no video data" in line and "4 s its header claims" in line


@pytest.fixture(scope="module")
def intact(tmp_path_factory: pytest.TempPathFactory, whole: Path) -> list[Path]:
    """Whole files whose headers are right, in the shapes that could fool a check."""
    d = tmp_path_factory.mktemp("intact")
    mkv = d / "whole.mkv"
    ffmpeg("-i", str(whole), "-c", "copy", str(mkv))
    ts = d / "offset.ts"  # MPEG-TS starts its clock at 1.4 s
    ffmpeg("-i", str(whole), "-c", "copy", "-f", "mpegts", str(ts))
    longer_sound = []
    for ext in ("mp4", "mkv"):  # 1.5 s of picture, 4 s of sound
        out = d / f"longer-sound.{ext}"
        ffmpeg(
            *("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=1.5"),
            *("-f", "lavfi", "-i", "sine=frequency=440:duration=4"),
            *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(out)),
        )
        longer_sound.append(out)
    vfr = make_video(  # a half-second gap in the frames
        d / "vfr.mp4", duration=2.0, audio=False, extra=["-vf", "setpts=PTS+gt(N\\,25)*0.5/TB", "-fps_mode", "vfr"]
    )
    return [whole, mkv, ts, *longer_sound, vfr]


def _pipeline_media(path: Path) -> Record:
    """What the probe and scenes stages do to ``record.media``."""
    data = ffprobe_json(path)
    media = media_info(path, data)
    check_end(path, media, data)
    info = detect_scenes(path, media=media)
    apply_decoded(media, info.frames_decoded, info.decoded_duration)
    return Record(media=media, scenes=info)


def test_intact_files_are_not_marked_damaged(intact: list[Path], tmp_path: Path) -> None:
    for path in intact:
        before = media_info(path)
        rec = _pipeline_media(path)
        m = rec.media
        assert m is not None
        assert not m.damaged, (path.name, m)
        assert (m.duration, m.frame_count) == (before.duration, before.frame_count), path.name
        assert m.header_duration is None and m.header_frames is None and m.decoded_fraction is None
    lib = tmp_path / "lib"
    code, _, err = vk(lib, "run", *FAST, *map(str, intact))
    assert code == 0, err
    code, out, _ = vk(lib, "search", "--json")
    assert [r["damaged"] for r in json.loads(out)] == [False] * len(intact)


def test_shared_media_is_not_marked_damaged(shared_media: Path) -> None:
    videos = sorted(p for p in shared_media.iterdir() if p.suffix in (".mp4", ".mkv", ".webm"))
    assert videos
    for path in videos:
        m = _pipeline_media(path).media
        assert m is not None and not m.damaged, (path.name, m)


def test_records_stored_before_keep_loading() -> None:
    rec = Record.from_dict({"id": "x", "media": {"duration": 3.0, "frame_count": 75}, "schema_version": 1})
    assert rec.media is not None
    assert rec.media.damaged is False and rec.media.decoded_fraction is None
    assert rec.media.header_duration is None and rec.media.header_frames is None
    assert rec.scenes is None
