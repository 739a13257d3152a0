"""Clips: planning from scenes, windows and labelled segments (bad segments rejected with a
reason); cutting every clip of a video with one ffmpeg process, in copy mode (keyframe-snapped,
the real span recorded and matching the file) and exact mode (frame-accurate H.264: each clip
decodes to its span's frames, ±1); a moved source, a codec MP4 cannot hold, a full disk, a killed
run; memory that does not hold clip bytes; ``videokit convert`` and ``videokit validate``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from media import ffmpeg, make_video
from videokit import api
from videokit._cli import main
from videokit.dataset import clips as clips_module
from videokit.dataset.clips import ClipOptions, cut_clips, plan_clips
from videokit.dataset.encode import EncodeOptions
from videokit.dataset.model import Clip, ClipPlan
from videokit.errors import DiskFullError, InputError, UsageError
from videokit.hashing import sha256_file
from videokit.probe import ffprobe_json, media_info
from videokit.record import FileInfo, Record, Scene, SceneInfo, Segment, Source

FPS = 25
VID = "ab" * 32
NOISY = ["-vf", "noise=alls=80:allf=t", "-qp", "0"]  # frames that do not compress: large files quickly


def probe_json(path: Path, *args: str) -> dict[str, Any]:
    out = subprocess.run(["ffprobe", "-v", "error", "-of", "json", *args, str(path)], capture_output=True, check=True)
    return json.loads(out.stdout)


def packets(path: Path) -> list[dict[str, Any]]:
    """The video packets of ``path`` in presentation order, each with an MD5 of its bytes."""
    data = probe_json(path, "-select_streams", "V:0", "-show_packets", "-show_data_hash", "md5")
    return sorted(data["packets"], key=lambda p: float(p["pts_time"]))


def decoded_frames(path: Path) -> int:
    data = probe_json(path, "-count_frames", "-select_streams", "V:0", "-show_entries", "stream=nb_read_frames")
    return int(data["streams"][0]["nb_read_frames"])


def gray_frames(path: Path, size: str = "32x24") -> np.ndarray:
    """Every frame of ``path`` as a small grey picture, in order."""
    w, h = (int(v) for v in size.split("x"))
    cmd = ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:V:0", "-vf", f"scale={w}:{h}", "-f", "rawvideo"]
    raw = subprocess.run([*cmd, "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, h, w).astype(np.int16)


def record_for(path: Path, *, scenes: list[tuple[float, float]] | None = None, segments: list[Segment] = ()) -> Record:
    media = media_info(path)
    info = None
    if scenes is not None:
        info = SceneInfo([Scene(i, s, e, round(s * FPS), round(e * FPS)) for i, (s, e) in enumerate(scenes)])
    return Record(
        id=VID,
        sources=[Source(str(path), segments=list(segments))],
        file=FileInfo(str(path), path.name, path.stat().st_size, VID),
        media=media,
        scenes=info,
    )


def plans_of(path: Path, spans: list[tuple[float, float]]) -> list[ClipPlan]:
    return [ClipPlan(VID, path, i, s, e, "window") for i, (s, e) in enumerate(spans)]


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 s of 320x240 at 25 fps with a keyframe every second (and none elsewhere), and audio."""
    d = tmp_path_factory.mktemp("clipsrc")
    return make_video(d / "src.mp4", duration=8.0, extra=["-g", "25", "-keyint_min", "25", "-sc_threshold", "0"])


@pytest.fixture
def count_ffmpeg(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The ffmpeg processes started (from the moment the test clears the list)."""
    started: list[list[str]] = []
    real = subprocess.Popen

    def popen(args: Any, *a: Any, **kw: Any) -> subprocess.Popen[Any]:
        if "ffmpeg" in Path(str(args[0])).name:
            started.append(list(args))
        return real(args, *a, **kw)

    monkeypatch.setattr(clips_module.subprocess, "Popen", popen)
    return started


# -- options ---------------------------------------------------------------------------------------


def test_clip_options_reject_bad_values_with_one_line() -> None:
    with pytest.raises(UsageError, match="--clips 'shots'"):
        ClipOptions(clips="shots")
    with pytest.raises(UsageError, match="--mode 'fast'"):
        ClipOptions(mode="fast")
    with pytest.raises(UsageError, match="--min-len 5 is above --max-len 2"):
        ClipOptions(min_len=5, max_len=2)
    with pytest.raises(UsageError, match="--window 0"):
        ClipOptions(window=0)
    with pytest.raises(UsageError, match="crf 60"):
        ClipOptions(crf=60)
    with pytest.raises(UsageError, match="max height 4"):
        EncodeOptions(max_height=4)


# -- planning --------------------------------------------------------------------------------------


def test_plans_from_scenes_keep_lengths_and_split_long_scenes(video: Path) -> None:
    rec = record_for(video, scenes=[(0.0, 0.4), (0.4, 3.0), (3.0, 8.0)])
    plans, rejects = plan_clips(rec, video, ClipOptions(clips="scenes", min_len=1.0, max_len=2.0))
    assert rejects == []
    assert [(p.start, p.end) for p in plans] == [(0.4, 1.7), (1.7, 3.0), (3.0, 4.667), (4.667, 6.333), (6.333, 8.0)]
    assert [p.index for p in plans] == [0, 1, 2, 3, 4] and {p.kind for p in plans} == {"scene"}
    assert {p.video_id for p in plans} == {VID} and plans[0].source == video
    no_scenes = record_for(video)
    assert plan_clips(no_scenes, video, ClipOptions(clips="scenes")) == (
        [],
        [("the video", "it has no scene list: run 'videokit run' on it without --skip scenes")],
    )


def test_plans_from_windows_with_a_stride(video: Path) -> None:
    rec = record_for(video)
    plans, _ = plan_clips(rec, video, ClipOptions(clips="windows", window=3.0, stride=2.0, min_len=1.0))
    assert [(p.start, p.end) for p in plans] == [(0.0, 3.0), (2.0, 5.0), (4.0, 7.0), (6.0, 8.0)]
    plans, _ = plan_clips(rec, video, ClipOptions(clips="windows", window=3.0, min_len=2.5))
    assert [(p.start, p.end) for p in plans] == [(0.0, 3.0), (3.0, 6.0)]  # the last 2 s are shorter than min_len


def test_segments_keep_labels_and_splits_and_bad_ones_are_rejected_with_a_reason(video: Path) -> None:
    segments = [
        Segment(1.0, 3.0, "jump", "train"),
        Segment(1.0, 3.0, "run"),  # the same span again: one clip with both labels
        Segment(4.0, 8.3, "swim", "val"),  # past the end by less than half a second: cut at the end
        Segment(5.0, 5.0, "zero"),
        Segment(6.0, 2.0, "backwards"),
        Segment(9.0, 12.0, "after"),
        Segment(-1.0, 2.0, "before"),
        Segment(7.0, 10.0, "too long"),
    ]
    plans, rejects = plan_clips(record_for(video, segments=segments), video, ClipOptions(clips="segments"))
    assert [(p.start, p.end, p.labels, p.split, p.kind) for p in plans] == [
        (1.0, 3.0, ["jump", "run"], "train", "segment"),
        (4.0, 8.0, ["swim"], "val", "segment"),
    ]
    assert rejects == [
        ("segment 5-5 s (zero)", "end 5 s is not after start 5 s"),
        ("segment 6-2 s (backwards)", "end 2 s is not after start 6 s"),
        ("segment 9-12 s (after)", "it starts outside the video (0-8 s)"),
        ("segment -1-2 s (before)", "it starts outside the video (0-8 s)"),
        ("segment 7-10 s (too long)", "it ends at 10 s, past the video's end (8 s)"),
    ]
    plans, rejects = plan_clips(record_for(video), video, ClipOptions(clips="segments"))
    assert plans == [] and rejects[0][1].startswith("it has no labelled segments")


# -- exact mode ------------------------------------------------------------------------------------


def test_exact_mode_cuts_every_clip_frame_accurately_with_one_ffmpeg_process(
    video: Path, tmp_path: Path, count_ffmpeg: list[list[str]]
) -> None:
    spans = [(0.5, 2.3), (2.3, 4.1), (1.0, 3.0), (4.62, 5.5), (7.2, 9.0)]  # an overlap, a gap, past the end
    plans = plans_of(video, spans)
    names = {p.key: f"train/a/{p.index}.mp4" for p in plans}
    out = tmp_path / "out"
    options = ClipOptions(mode="exact", max_height=120)
    clips = cut_clips(video, plans, out, names, options, media=media_info(video))

    assert len(count_ffmpeg) == 1  # one process for all five clips (two layers: one overlaps)
    assert [c.plan.index for c in clips] == [0, 2, 1, 3, 4]  # in time order
    source = gray_frames(video)
    for c in clips:
        path = out / c.path
        assert c.path == names[c.plan.key] and path.is_file()
        first = round(c.plan.start * FPS + 0.4999)  # the first frame at or after the start
        last = min(round(c.plan.end * FPS + 0.4999), len(source))  # the video ends at 8 s
        decoded = decoded_frames(path)
        assert abs(decoded - (last - first)) <= 1 and decoded == c.frames
        duration = float(probe_json(path, "-show_entries", "format=duration")["format"]["duration"])
        assert abs(duration - (last - first) / FPS) <= 1.0 / FPS + 1e-3
        assert c.real_start == pytest.approx(first / FPS) and c.real_end == pytest.approx(last / FPS)
        streams = ffprobe_json(path)["streams"]
        assert [(s["codec_type"], s["codec_name"]) for s in streams] == [("video", "h264"), ("audio", "aac")]
        assert streams[0]["height"] == 120 and c.sha256 == sha256_file(path)
        # the clip's first and last frames are the source's frames at its span's ends, not their neighbours
        frames = gray_frames(path)
        for got, want in ((frames[0], first), (frames[-1], last - 1)):
            errors = [np.abs(got - source[i]).mean() for i in range(max(0, want - 2), min(len(source), want + 3))]
            assert int(np.argmin(errors)) + max(0, want - 2) == want
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == sorted(names.values())


def test_exact_mode_frame_rate_and_no_audio(video: Path, tmp_path: Path) -> None:
    plans = plans_of(video, [(0.5, 2.0), (3.0, 6.3)])
    clips = cut_clips(video, plans, tmp_path, {}, ClipOptions(mode="exact", fps=10, audio=False, max_height=480))
    assert [c.frames for c in clips] == [15, 33]
    for c in clips:
        path = tmp_path / c.path
        assert c.path == f"{c.plan.key}.mp4" and decoded_frames(path) == c.frames
        (stream,) = ffprobe_json(path)["streams"]
        assert stream["r_frame_rate"] == "10/1" and stream["height"] == 240  # never scaled up


def test_exact_mode_on_a_variable_frame_rate_source(tmp_path: Path) -> None:
    """A third of the frames dropped: the average rate is 3840000/239239 fps (as in a real
    variable-rate phone clip). Clips go on a grid close to it; that rate itself as the time base
    gave MP4 edit lists that hid the first frame of a clip."""
    vfr = tmp_path / "vfr.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=24000/1001",
           "-vf", "trim=end_frame=239,select='not(eq(mod(n\\,3)\\,2))'", "-fps_mode", "vfr",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(vfr))  # fmt: skip
    media = media_info(vfr)
    assert media.fps_rational == "3840000/239239"
    plans = plans_of(vfr, [(0.5, 2.0), (2.0, 4.0), (4.0, 6.0)])
    clips = cut_clips(vfr, plans, tmp_path / "out", {}, ClipOptions(mode="exact"), media=media)
    assert [c.frames for c in clips] == [24, 32, 32]
    assert [decoded_frames(tmp_path / "out" / c.path) for c in clips] == [24, 32, 32]


def test_a_clip_shorter_than_a_frame_is_skipped_with_the_reason(video: Path, tmp_path: Path) -> None:
    skipped: list[tuple[ClipPlan, str]] = []
    plans = plans_of(video, [(1.001, 1.002), (2.0, 3.0)])
    clips = cut_clips(video, plans, tmp_path, {}, ClipOptions(mode="exact"), skipped=skipped)
    assert [c.plan.index for c in clips] == [1]
    assert [(p.index, why) for p, why in skipped] == [(0, "shorter than one frame at 25 fps")]


# -- copy mode -------------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [0.0, 1.075], ids=["starts-at-0", "starts-late"])
def test_copy_mode_records_the_keyframe_snapped_span_the_file_holds(
    tmp_path: Path, offset: float, count_ffmpeg: list[list[str]]
) -> None:
    extra = ["-g", "25", "-keyint_min", "25", "-sc_threshold", "0", "-bf", "2", "-output_ts_offset", str(offset)]
    src = make_video(tmp_path / "src.mp4", duration=8.0, extra=extra)
    # times count from the container's start, as the scene list and players count them
    start_time = float(ffprobe_json(src)["format"]["start_time"])
    assert start_time == pytest.approx(offset, abs=0.05)
    source = packets(src)
    by_pts = {round(float(p["pts_time"]) - start_time, 3): p for p in source}
    keyframes = sorted(t for t, p in by_pts.items() if "K" in p["flags"])
    k0, video_end = keyframes[0], max(by_pts) + 1 / FPS
    assert [round(k - k0, 3) for k in keyframes] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]

    spans = [(k0 + 0.3, k0 + 2.5), (k0 + 2.5, k0 + 4.2), (k0 + 6.1, k0 + 6.7), (k0 + 7.0, k0 + 8.0)]
    plans = plans_of(src, spans)
    skipped: list[tuple[ClipPlan, str]] = []
    count_ffmpeg.clear()
    clips = cut_clips(src, plans, tmp_path / "out", {}, ClipOptions(mode="copy"), skipped=skipped)
    assert len(count_ffmpeg) == 1
    # each end moves to the first keyframe at or after it (the video's end for the last clip)
    expected = [(0, k0 + 1, k0 + 3), (1, k0 + 3, k0 + 5), (3, k0 + 7, video_end)]
    assert [(c.plan.index, c.real_start, c.real_end) for c in clips] == [
        (i, pytest.approx(a, abs=1e-3), pytest.approx(b, abs=1e-3)) for i, a, b in expected
    ]
    assert [(p.index, why.split(":")[0]) for p, why in skipped] == [
        (2, f"no keyframe in {plans[2].start:g}-{plans[2].end:g} s")
    ]
    for c in clips:
        path = tmp_path / "out" / c.path
        held = packets(path)
        # the file's own first and last timestamps span exactly the recorded span...
        end = float(held[-1]["pts_time"]) + float(held[-1]["duration_time"])
        assert end - float(held[0]["pts_time"]) == pytest.approx(c.real_end - c.real_start, abs=1e-3)
        assert len(held) == c.frames == round((c.real_end - c.real_start) * FPS)
        # ...and its first and last packets are the source's at the recorded start and end
        assert held[0]["data_hash"] == by_pts[round(c.real_start, 3)]["data_hash"] and "K" in held[0]["flags"]
        assert held[-1]["data_hash"] == by_pts[round(c.real_end - 1 / FPS, 3)]["data_hash"]
        assert {s["codec_type"] for s in ffprobe_json(path)["streams"]} == {"video", "audio"}
        assert c.sha256 == sha256_file(path) and c.meta["mode"] == "copy"


def test_copy_mode_into_mp4_of_a_codec_it_cannot_hold(tmp_path: Path) -> None:
    """VP8 video cannot be copied into MP4: one line saying to re-encode; Vorbis audio beside
    VP9 video is re-encoded to AAC while the video is copied."""
    vp8 = tmp_path / "vp8.webm"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=3", "-c:v", "libvpx", "-g", "10", str(vp8))
    plans = plans_of(vp8, [(0.0, 1.5)])
    with pytest.raises(InputError) as e:
        cut_clips(vp8, plans, tmp_path / "out", {}, ClipOptions(mode="copy"))
    assert str(e.value) == f"{vp8}: its vp8 stream cannot be copied into MP4 clips; use --mode exact"
    assert list((tmp_path / "out").iterdir()) == []  # nothing left behind
    (clip,) = cut_clips(vp8, plans, tmp_path / "out", {}, ClipOptions(mode="exact"))
    assert clip.frames == decoded_frames(tmp_path / "out" / clip.path) == 38

    vp9 = tmp_path / "vp9.webm"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=3", "-f", "lavfi", "-i", "sine=duration=3",
           "-c:v", "libvpx-vp9", "-deadline", "realtime", "-g", "10", "-c:a", "libvorbis", str(vp9))  # fmt: skip
    (clip,) = cut_clips(vp9, plans_of(vp9, [(0.0, 1.5)]), tmp_path / "out9", {}, ClipOptions(mode="copy"))
    streams = ffprobe_json(tmp_path / "out9" / clip.path)["streams"]
    assert [(s["codec_type"], s["codec_name"]) for s in streams] == [("video", "vp9"), ("audio", "aac")]


# -- bad input and bad days ------------------------------------------------------------------------


def test_a_moved_source_fails_its_clips_in_one_line_and_other_videos_go_on(video: Path, tmp_path: Path) -> None:
    gone = tmp_path / "moved.mp4"
    results: dict[str, list[Clip] | str] = {}
    for src in (gone, video):
        try:
            results[src.name] = cut_clips(src, plans_of(src, [(0.0, 2.0)]), tmp_path / "out", {}, ClipOptions())
        except InputError as e:
            results[src.name] = str(e)
    message = results["moved.mp4"]
    assert isinstance(message, str) and "\n" not in message
    assert message.startswith(f"{gone}: the video file is missing (moved or deleted)")
    assert len(results["src.mp4"]) == 1


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs; skipped where mounting is not permitted (not root, no CAP_SYS_ADMIN)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (the full-disk test runs as root in CI)")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {res.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_a_full_disk_mid_cut_is_a_clean_error_with_nothing_half_written(tmp_path: Path, tiny_disk: Path) -> None:
    src = make_video(tmp_path / "big.mp4", duration=6.0, size="160x120", extra=NOISY + ["-g", "25"])
    assert src.stat().st_size > 4 << 20  # the clips cannot fit on the 2 MiB disk
    out = tiny_disk / "out"
    plans = plans_of(src, [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0), (3.0, 4.0), (4.0, 5.0), (5.0, 6.0)])
    with pytest.raises(DiskFullError) as e:
        cut_clips(src, plans, out, {}, ClipOptions(mode="copy"))
    assert str(e.value) == (
        f"no space left on device at {out}: free space and run the same command again; nothing was lost"
    )
    assert [p for p in out.rglob("*") if p.is_file()] == []  # no clip of the failed run, no temporary file
    # the same call goes through once there is room (here: for what the disk can hold)
    clips = cut_clips(src, plans[-1:], out, {}, ClipOptions(mode="copy"))
    assert [c.frames for c in clips] == [25]


def test_the_temporary_folder_of_a_killed_run_is_removed_by_the_next(video: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = clips_module.temp_path(out / "x").name.split(".tmp-")[1].rsplit("-", 2)[0]
    stale = out / f".clips-{VID[:12]}.tmp-{host}-{dead.pid}-0123abcd"
    stale.mkdir()
    (stale / "L0_000001.mp4").write_bytes(b"half a clip")
    clips = cut_clips(video, plans_of(video, [(0.0, 1.0)]), out, {}, ClipOptions(mode="copy"))
    assert sorted(p.name for p in out.iterdir()) == [clips[0].path]


def test_memory_does_not_hold_clip_bytes(tmp_path: Path) -> None:
    """Whether a video gives 8 clips of 4 MB or 40 of 0.8 MB, the cutter's own memory stays
    below the size of one clip: clip bytes stay on disk (ffmpeg writes, hashing streams)."""
    src = make_video(tmp_path / "big.mp4", duration=8.0, audio=False, extra=NOISY + ["-g", "5"])
    peaks, sizes = {}, {}
    for n in (8, 40):
        plans = plans_of(src, [(i * 8 / n, (i + 1) * 8 / n) for i in range(n)])
        out = tmp_path / f"out{n}"
        tracemalloc.start()
        try:
            clips = cut_clips(src, plans, out, {}, ClipOptions(mode="copy"))
            peaks[n] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        sizes[n] = [(out / c.path).stat().st_size for c in clips]
        assert len(clips) == n and sum(sizes[n]) > 24 << 20
    assert min(sizes[8]) > 3 << 20 and max(peaks.values()) < 3 << 20


# -- convert and validate --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def webm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("conv") / "clip.webm"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=2", "-f", "lavfi", "-i",
           "sine=duration=2", "-c:v", "libvpx", "-c:a", "libvorbis", "-shortest", str(path))  # fmt: skip
    return path


def test_convert_uses_the_clip_encoder_settings(webm: Path, tmp_path: Path) -> None:
    out = tmp_path / "small.mp4"
    report = api.convert(webm, out, EncodeOptions(max_height=120, fps=15, crf=30))
    assert report.out == out and out.is_file() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    m = report.media
    assert (m.video_codec, m.height, m.width, m.fps, m.audio_codec) == ("h264", 120, 160, 15.0, "aac")
    assert decoded_frames(out) == 30
    with pytest.raises(UsageError, match="exists; use --overwrite"):
        api.convert(webm, out)
    with pytest.raises(UsageError, match="would replace the input"):
        api.convert(out, out, overwrite=True)
    res = CliRunner().invoke(main, ["convert", str(webm), "--no-audio", "--json"])
    assert res.exit_code == 0, res.output
    written = json.loads(res.stdout)
    assert written["out"] == str(webm.with_name("clip.h264.mp4")) and written["media"]["audio_codec"] is None
    assert (written["media"]["height"], written["media"]["fps"]) == (240, 30.0)  # size and rate kept
    res = CliRunner().invoke(main, ["convert", str(tmp_path / "none.mp4")])
    assert res.exit_code == 1 and res.stderr.strip() == f"error: {tmp_path / 'none.mp4'}: no such file"


def test_validate_reports_codecs_frames_and_decode_errors(webm: Path, video: Path, tmp_path: Path) -> None:
    good = api.validate(video)
    assert good.ok and good.problems == [] and good.error_count == 0
    assert (good.video_codec, good.audio_codec, good.frames, good.expected_frames) == ("h264", "aac", 200, 200)
    assert good.duration == pytest.approx(8.0, abs=0.05)

    damaged = tmp_path / "damaged.mp4"
    data = bytearray(video.read_bytes())
    mdat = data.index(b"mdat")
    for i in range(mdat + 20_000, len(data) - 20_000, 997):  # bytes of the frames, not of the index
        data[i] ^= 0x5A
    damaged.write_bytes(bytes(data))
    bad = api.validate(damaged)
    assert not bad.ok and bad.error_count > 0 and bad.errors
    assert any("decoder error(s)" in p for p in bad.problems)

    res = CliRunner().invoke(main, ["validate", str(damaged)])
    assert res.exit_code == 1 and "BROKEN" in res.stdout and "decoder error(s)" in res.stdout
    res = CliRunner().invoke(main, ["validate", str(webm), "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["video_codec"] == "vp8"

    cut = tmp_path / "cut.mkv"  # an index-free container cut short: what is there decodes
    ffmpeg("-i", str(video), "-c", "copy", str(cut))
    claims = api.validate(cut).expected_frames
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    short = api.validate(cut)
    assert not short.ok and short.frames < (claims or 200)
    assert "no video frame" in " ".join(short.problems) or "cut short" in " ".join(short.problems)
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n")
    res = CliRunner().invoke(main, ["validate", str(text)])
    assert res.exit_code == 1 and "BROKEN" in res.stdout
