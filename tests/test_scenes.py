"""Scene detection: accuracy on the shared media, flashes, bad inputs, outputs, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from media import ffmpeg, make_cuts_video, make_video
from videokit._cli import main
from videokit.config import load_config
from videokit.errors import InputError
from videokit.pipeline import Context
from videokit.record import FileInfo, Record
from videokit.scenes import SceneOptions, detect_scenes
from videokit.scenes.evaluate import Score, score
from videokit.scenes.outputs import choose_frames
from videokit.scenes.stage import ScenesStage

HARD_CUT_FILES = [
    "composite_hardcuts.mp4",
    "big_buck_bunny_0_30.webm",
    "goldeneye-vfr-drop3.mp4",
    "issue-134-rotate.mp4",
    "issue-236-split-copy.mkv",
    "chaplin.mp4",
    "video_with_failing_audio.mp4",
]


@pytest.mark.parametrize("mode", ["adaptive", "content"])
def test_hard_cut_accuracy_on_shared_media(shared_media: Path, mode: str) -> None:
    total = Score()
    for name in HARD_CUT_FILES:
        gt = json.loads((shared_media / name).with_suffix(".gt.json").read_text())
        info = detect_scenes(shared_media / name, SceneOptions(mode=mode))
        found = [(s.boundary.start, s.boundary.end) for s in info.scenes if s.boundary]
        got = score(found, [(t, t) for t in gt["cut_times_s"]], gt["fps"])
        assert got.fp == 0 and got.fn == 0, (name, found, gt["cut_times_s"])
        assert info.frames_decoded == gt["total_frames"], name
        total = total + got
    assert total.f1 == 1.0


def test_rotated_and_vfr_times(shared_media: Path) -> None:
    rot = detect_scenes(shared_media / "issue-134-rotate.mp4")
    assert [s.start_frame for s in rot.scenes] == [0, 90, 210]
    vfr = detect_scenes(shared_media / "goldeneye-vfr-drop3.mp4")
    assert [round(s.start, 2) for s in vfr.scenes] == [0.0, 3.75, 8.76]


@pytest.fixture(scope="session")
def cuts_video(media_dir: Path) -> Path:
    return make_cuts_video(media_dir / "cuts.mp4", ["red", "blue", "green"], seg=1.0)


def test_cuts_on_generated_video(cuts_video: Path) -> None:
    info = detect_scenes(cuts_video)
    assert [s.boundary.kind for s in info.scenes if s.boundary] == ["cut", "cut"]
    assert [round(s.start, 2) for s in info.scenes] == [0.0, 1.0, 2.0]
    assert info.scenes[-1].end == pytest.approx(3.0, abs=0.05)
    assert info.cuts_per_minute == pytest.approx(40.0, rel=0.05)


def test_threshold_and_min_scene_len(cuts_video: Path) -> None:
    assert detect_scenes(cuts_video, SceneOptions(threshold=700)).scene_count == 1
    assert detect_scenes(cuts_video, SceneOptions(min_scene_len=1.5)).scene_count == 2


def test_flash_is_not_a_cut(tmp_path: Path) -> None:
    """Three white frames in a continuous shot: a cut in content mode, none in adaptive."""
    clip = tmp_path / "flash.mp4"
    flash = "drawbox=c=white:t=fill:enable='between(n,37,39)'"
    make_video(clip, duration=3, size="160x120", audio=False, extra=["-vf", flash])
    assert detect_scenes(clip, SceneOptions(mode="adaptive")).scene_count == 1
    assert detect_scenes(clip, SceneOptions(mode="content")).scene_count > 1


def test_fast_motion_is_not_a_cut(tmp_path: Path) -> None:
    clip = tmp_path / "pan.mp4"
    make_video(
        clip,
        duration=3,
        audio=False,
        source="testsrc=size=160x120:rate=25",
        extra=["-vf", "scroll=horizontal=0.05:vertical=0.02"],
    )
    assert detect_scenes(clip).scene_count == 1


def test_one_frame_and_still_image(tmp_path: Path) -> None:
    one = tmp_path / "one.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=25",
        "-frames:v",
        "1",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        str(one),
    )
    info = detect_scenes(one)
    assert info.scene_count == 1 and info.frames_decoded == 1
    png = tmp_path / "still.png"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120", "-frames:v", "1", str(png))
    out = tmp_path / "out"
    info = detect_scenes(png, out_dir=out)
    assert info.scene_count == 1
    with Image.open(out / Path(info.scenes[0].thumbnail).name) as im:
        assert im.size[0] == 320


def test_no_duration_in_container(tmp_path: Path) -> None:
    raw = tmp_path / "stream.h264"
    make_cuts_video(tmp_path / "c.mp4", ["red", "blue"], seg=1.0)
    ffmpeg("-i", str(tmp_path / "c.mp4"), "-c:v", "copy", "-bsf:v", "h264_mp4toannexb", "-f", "h264", str(raw))
    info = detect_scenes(raw)
    assert info.scene_count == 2
    assert info.scenes[1].start == pytest.approx(1.0, abs=0.05)


def test_corrupt_packets_are_counted_and_decoding_goes_on(tmp_path: Path) -> None:
    good = make_cuts_video(tmp_path / "good.mp4", ["red", "blue", "green"], seg=1.0)
    data = bytearray(good.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 3000] = bytes(3000)  # zero a run of bytes in the middle of the media data
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    info = detect_scenes(bad)
    assert info.decode_errors > 0
    assert info.frames_decoded >= 70
    assert info.scenes[-1].end == pytest.approx(3.0, abs=0.05)


def test_times_after_1000_seconds_are_exact_to_the_millisecond(tmp_path: Path) -> None:
    """Frame times came from ffmpeg's ``showinfo`` lines, printed with 6 significant digits: after
    1000 s a cut at 1234.5678 s was reported at 1234.57. They now come unrounded from the stream's
    own time base (a cut 1234.5 s into a clip: a long gap, so the test decodes 50 frames)."""
    clip = tmp_path / "late.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25:duration=2",
           "-vf", "negate=enable='gte(t,1)',settb=1/10000,setpts='PTS+gte(T,1)*12335678'",
           "-fps_mode", "passthrough", "-enc_time_base", "1/10000", "-c:v", "libx264", "-preset", "ultrafast",
           "-qp", "20", "-pix_fmt", "yuv420p", str(clip))  # fmt: skip
    info = detect_scenes(clip)
    assert [s.start_frame for s in info.scenes] == [0, 25]
    assert info.scenes[1].start == 1234.568  # Matroska keeps milliseconds: 1234.5678 -> 1234.568
    assert info.scenes[1].boundary is not None and info.scenes[1].boundary.start == 1234.568
    assert info.scenes[1].end == pytest.approx(1235.568, abs=0.0015)  # the last frame (1235.528) + 1/25


def test_undamaged_shared_files_report_no_decoder_errors(shared_media: Path) -> None:
    """Decoder errors mean a damaged file. The phone clip ``fire2.mp4`` (90 kHz time base, variable
    rate) used to report one: the detection pipe's muxer complained about timestamps it had
    rounded itself. Every shared video decodes without an error line."""
    names = [e["file"] for e in json.loads((shared_media / "MANIFEST.json").read_text())]
    videos = [n for n in names if Path(n).suffix in (".mp4", ".mkv", ".webm")]
    assert "fire2.mp4" in videos
    for name in videos:
        info = detect_scenes(shared_media / name)
        assert info.decode_errors == 0, name
        assert info.frames_decoded > 0, name


def test_not_a_video(tmp_path: Path) -> None:
    txt = tmp_path / "notes.mp4"
    txt.write_text("hello")
    with pytest.raises(InputError, match="notes.mp4"):
        detect_scenes(txt)
    with pytest.raises(InputError, match="no such file"):
        detect_scenes(tmp_path / "missing.mp4")


_PEAK = (
    "import resource,sys; from videokit.scenes import detect_scenes; from pathlib import Path;"
    "detect_scenes(sys.argv[1], out_dir=Path(sys.argv[2]));"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
)


def test_memory_is_flat_in_video_length(tmp_path: Path) -> None:
    """Peak memory of a 20 s and a 160 s video (small, low frame rate) is about the same."""
    peaks = []
    for secs in (20, 160):
        clip = tmp_path / f"long{secs}.mkv"
        ffmpeg(
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=size=128x72:rate=10:duration={secs}",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "250",
            str(clip),
        )
        out = subprocess.run(
            [sys.executable, "-c", _PEAK, str(clip), str(tmp_path / f"o{secs}")],
            capture_output=True,
            text=True,
            check=True,
        )
        peaks.append(int(out.stdout.strip()))
    assert peaks[1] < peaks[0] * 1.15 + 4096, peaks  # KiB


def test_outputs_open_as_images(cuts_video: Path, tmp_path: Path) -> None:
    out = tmp_path / "processed" / "vid"
    info = detect_scenes(
        cuts_video, SceneOptions(thumbnail_format="webp", thumbnail_width=160, frame_budget=5), out_dir=out
    )
    assert len(info.frames) == 5 and {f.scene for f in info.frames} == {0, 1, 2}
    assert [f.time for f in info.frames] == sorted(f.time for f in info.frames)
    for s in info.scenes:
        with Image.open(s.thumbnail) as im:
            assert im.format == "WEBP" and im.size[0] == 160
    with Image.open(info.contact_sheet) as sheet:
        assert sheet.size[0] > 3 * 160
    for f in info.frames:
        with Image.open(f.path) as im:
            assert im.size[0] == 448
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []
    assert not [p for p in out.parent.iterdir() if p.name != "vid"]


def test_frame_policy() -> None:
    assert choose_frames([4, 4, 4], [10.0, 1.0, 1.0], 6) == [4, 1, 1]
    assert choose_frames([2, 2, 2, 2], [1.0, 5.0, 2.0, 4.0], 2) == [0, 1, 0, 1]
    assert choose_frames([0, 3], [1.0, 1.0], 4) == [0, 3]


def test_stage_writes_into_library(cuts_video: Path, tmp_path: Path) -> None:
    cfg = load_config(env={}, overrides={("Library", "Location"): str(tmp_path / "lib")})
    ctx = Context(cfg)
    rec = Record(id="abc123", file=FileInfo(str(cuts_video), "cuts.mp4", 1, "x"))
    stage = ScenesStage()
    stage.setup(ctx)
    stage.process(rec, ctx)
    assert rec.scenes is not None and rec.scenes.scene_count == 3
    assert rec.scenes.contact_sheet == "processed/abc123/contact-sheet.jpg"
    with Image.open(ctx.abspath(rec.scenes.scenes[1].thumbnail)) as im:
        assert im.format == "JPEG"
    assert Record.from_json(rec.to_json()).scenes == rec.scenes


def test_cli_json(cuts_video: Path) -> None:
    res = CliRunner().invoke(main, ["scenes", str(cuts_video), "--json", "--threshold", "20"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    first, second = data["scenes"][0], data["scenes"][1]
    assert "boundary" not in first and set(first) >= {"start", "end", "start_frame", "end_frame"}
    assert second["boundary"] == {"kind": "cut", "start": 1.0, "end": 1.0}
    assert second["start_frame"] == 25 and first["end_frame"] == 25


def test_cli_bad_file(tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["scenes", str(tmp_path / "nope.mp4")])
    assert res.exit_code == 1 and "no such file" in res.output


def test_whole_pass_on_a_rotated_portrait_video(shared_media: Path, tmp_path: Path) -> None:
    """Large portrait pictures once deadlocked the two pipes (ffmpeg wrote a picture after later
    detection frames while we waited for it)."""
    out = tmp_path / "rot"
    info = detect_scenes(shared_media / "issue-134-rotate.mp4", out_dir=out)
    assert [s.start_frame for s in info.scenes] == [0, 90, 210]
    for s in info.scenes:
        with Image.open(s.thumbnail) as im:
            assert im.size[0] == 320 and im.size[1] > im.size[0]  # portrait, as displayed
    assert info.frames and all(Path(f.path).is_file() for f in info.frames)


def test_fast_mode_same_cuts_and_really_skips_deblocking(shared_media: Path, tmp_path: Path) -> None:
    """``fast`` decodes without H.264's deblocking filter: the pictures change (a little), the
    boundaries on the shared hard-cut files do not."""
    name = "chaplin.mp4"
    exact = detect_scenes(shared_media / name, out_dir=tmp_path / "exact")
    fast = detect_scenes(shared_media / name, SceneOptions(fast=True), out_dir=tmp_path / "fast")
    assert [s.start_frame for s in fast.scenes] == [s.start_frame for s in exact.scenes]
    with Image.open(exact.scenes[0].thumbnail) as a, Image.open(fast.scenes[0].thumbnail) as b:
        diff = np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16))
    assert 0 < diff.mean() < 4  # deblocking skipped, picture still the same shot
    for name in ("composite_hardcuts.mp4", "issue-134-rotate.mp4", "goldeneye-vfr-drop3.mp4"):
        gt = json.loads((shared_media / name).with_suffix(".gt.json").read_text())
        info = detect_scenes(shared_media / name, SceneOptions(fast=True))
        found = [(s.boundary.start, s.boundary.end) for s in info.scenes if s.boundary]
        got = score(found, [(t, t) for t in gt["cut_times_s"]], gt["fps"])
        assert got.fp == 0 and got.fn == 0, (name, found)


def test_cli_fast_flag(cuts_video: Path) -> None:
    res = CliRunner().invoke(main, ["scenes", str(cuts_video), "--json", "--fast"])
    assert res.exit_code == 0, res.output
    assert [s["start"] for s in json.loads(res.output)["scenes"]] == [0.0, 1.0, 2.0]


@pytest.mark.parametrize("rotate", [0, 90])
def test_pipeline_media_facts_give_the_same_geometry_as_probing(tmp_path: Path, rotate: int) -> None:
    """An anamorphic (SAR 4:3), optionally rotated clip: the facts the pipeline's probe already
    has (``record.media``) give the decode the same display size, rate and codec as probing."""
    from videokit.probe import media_info
    from videokit.scenes.decode import probe, probe_from_media

    plain = tmp_path / "anamorphic.mp4"
    clip = tmp_path / f"anamorphic{rotate}.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=240x180:rate=30000/1001:duration=1", "-vf", "setsar=4/3",
           "-c:v", "libx264", "-preset", "ultrafast", str(plain))  # fmt: skip
    ffmpeg("-i", str(plain), "-c", "copy", "-metadata:s:v:0", f"rotate={rotate}", str(clip))
    own = probe(clip)
    given = probe_from_media(media_info(clip))
    assert given == own
    assert (own.width, own.height) == ((180, 320) if rotate else (320, 180))


def test_stage_uses_the_pipeline_probe_instead_of_probing_again(
    cuts_video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from videokit.probe import media_info

    cfg = load_config(env={}, overrides={("Library", "Location"): str(tmp_path / "lib")})
    ctx = Context(cfg)
    alone = detect_scenes(cuts_video)

    def no_probe(path: Path) -> None:
        raise AssertionError("probed again")

    monkeypatch.setattr("videokit.scenes.probe", no_probe)
    rec = Record(id="m1", file=FileInfo(str(cuts_video), "cuts.mp4", 1, "x"), media=media_info(cuts_video))
    stage = ScenesStage()
    stage.setup(ctx)
    stage.process(rec, ctx)
    assert rec.scenes is not None
    assert [(s.start, s.end) for s in rec.scenes.scenes] == [(s.start, s.end) for s in alone.scenes]
    with pytest.raises(AssertionError, match="probed again"):  # without media facts it probes
        detect_scenes(cuts_video)


def test_two_workers_storing_the_same_videos_outputs_at_once_both_succeed(tmp_path: Path) -> None:
    """Found by CI (--workers 2, the same bytes at two URLs): the second worker's rename of its
    finished thumbnail folder failed with 'Directory not empty'. The folder is swapped in whole,
    whoever comes last wins, and nobody fails."""
    import threading
    import uuid

    from videokit.scenes import _replace_dir

    out = tmp_path / "processed" / ("ab" * 32)
    out.parent.mkdir()
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        for i in range(150):
            tmp = out.with_name(f".{out.name}.tmp-{uuid.uuid4().hex[:8]}")
            tmp.mkdir()
            (tmp / "contact-sheet.jpg").write_text(f"{n}-{i}")
            try:
                _replace_dir(tmp, out)
            except BaseException as e:  # noqa: BLE001 - collected and reported below
                errors.append(e)
                return

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temp or old folder left behind
    assert [p.name for p in out.iterdir()] == ["contact-sheet.jpg"]
