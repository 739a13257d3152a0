"""``videokit dataset OUT`` end to end: a Kinetics-style annotation list served by the local test
server, ``videokit run``, then an export to every format read back with the standard readers;
splits without leaks between a video and its re-encoded, resized and trimmed copy; SIGKILL at
several moments and a re-run give the manifest of an uninterrupted export; a second export with
other settings is refused; bad inputs (a moved file, split ratios, an unknown class, a full disk)."""

from __future__ import annotations

import csv
import gc
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from httpserver import TestServer
from media import ffmpeg, make_cuts_video, make_video
from videokit import api
from videokit.config import load_config
from videokit.dataset.clips import ClipOptions
from videokit.dataset.labels import LabelOptions
from videokit.errors import UsageError
from videokit.store import Query, open_store

VIDEOKIT = str(Path(sys.executable).with_name("videokit"))
FPS = 25
GOP = 12  # frames between keyframes of the sources
H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", str(GOP)]
FORMATS = ["folder", "kinetics", "mmaction", "webdataset", "parquet"]
ODD_LABEL = 'a/b: "odd"?'  # characters no file system takes in a name
EXPORT = ["--clips", "segments", "--mode", "exact", "--split", "0.5,0.25,0.25", "--seed", "3", "--workers", "2"]
EVERY_FORMAT = [arg for name in FORMATS for arg in ("--format", name)]


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOKIT_")}
    e["OMP_NUM_THREADS"] = "1"
    return e


def videokit(lib: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [VIDEOKIT, "--library", str(lib), "-q", *args], env=env(), capture_output=True, text=True, timeout=timeout
    )


def manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def decoded_frames(path: Path) -> int:
    """Frames a full decode of the clip's video stream gives."""
    res = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0"]
        + ["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(res.stdout.strip().split(",")[0])


def visible_files(out: Path) -> Iterator[Path]:
    """What a user or a loader sees: no hidden file or folder on the way."""
    for dirpath, dirnames, filenames in os.walk(out):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not name.startswith("."):
                yield Path(dirpath) / name


def assert_nothing_half_written(out: Path) -> None:
    """Every visible clip decodes whole and every visible shard is a complete tar."""
    for path in visible_files(out):
        if path.suffix == ".mp4":
            res = subprocess.run(
                ["ffmpeg", "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"], capture_output=True, text=True
            )
            assert res.returncode == 0 and not res.stderr.strip(), f"{path}: {res.stderr}"
        elif path.suffix == ".tar":
            with tarfile.open(path) as tar:
                assert tar.getmembers(), path
                for member in tar.getmembers():
                    assert len(tar.extractfile(member).read()) == member.size  # type: ignore[union-attr]


# -- the library: a Kinetics-style list served over HTTP --------------------------------------


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Four unrelated videos and a re-encoded, resized and trimmed copy of the first; a keyframe
    every GOP frames (stream copy cuts at keyframes)."""
    d = tmp_path_factory.mktemp("dataset-media")
    cuts = make_cuts_video(d / "cuts.mp4", ["red", "blue", "green", "yellow"], seg=1.5, rate=FPS)
    alpha = d / "alpha.mp4"
    ffmpeg("-i", str(cuts), *H264, str(alpha))
    copy = d / "alpha-copy.mp4"
    ffmpeg("-ss", "0.4", "-i", str(alpha), "-vf", "scale=240:180", *H264, "-crf", "30", str(copy))
    return {
        "alpha": alpha,
        "copy": copy,
        "beta": make_video(d / "beta.mp4", duration=4.0, source="smptebars", rate=FPS, extra=H264[-2:]),
        "gamma": make_video(d / "gamma.mp4", duration=4.0, source="testsrc", rate=FPS, audio=False, extra=H264[-2:]),
        "delta": make_video(d / "delta.mp4", duration=4.0, source="rgbtestsrc", rate=FPS, audio=False, extra=H264[-2:]),
    }


# label, youtube_id, time_start, time_end, split, url (the ids cannot be fetched offline: urls)
ROWS = [
    ("juggling", "alpha", 0.5, 2.5, ""),
    ("dancing", "alpha", 3.2, 5.5, ""),  # a second row of the same video: one download, two segments
    ("juggling", "copy", 0.3, 2.0, ""),
    (ODD_LABEL, "beta", 0.5, 2.0, ""),
    ("dancing", "gamma", 0.4, 2.4, ""),
    ("dancing", "gamma", 2.5, 20.0, ""),  # outside the video: rejected, counted
    ("juggling", "delta", 0.5, 2.0, "val"),  # the list's split is kept
    ("juggling", "delta", 2.0, 2.0, ""),  # end <= start: rejected, counted
]
CLIPS = 6  # the rows that make a clip
REJECTED = 2


@pytest.fixture(scope="module")
def library(media: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``videokit run --from`` a Kinetics-style CSV fetched from the local server, whose rows
    point at videos the same server serves."""
    d = tmp_path_factory.mktemp("dataset-lib")
    with TestServer() as server:
        for name, path in media.items():
            server.add_file(f"/videos/{name}.mp4", path.read_bytes())
        lines = ["label,youtube_id,time_start,time_end,split,url"]
        for label, name, start, end, split in ROWS:
            quoted = '"' + label.replace('"', '""') + '"'
            lines.append(f"{quoted},,{start},{end},{split},{server.url(f'/videos/{name}.mp4')}")
        server.add_file("/kinetics.csv", ("\n".join(lines) + "\n").encode(), content_type="text/csv")
        import httpx

        listing = d / "kinetics.csv"
        listing.write_bytes(httpx.get(server.url("/kinetics.csv")).content)
        lib = d / "lib"
        res = videokit(lib, "run", "--from", str(listing), "--skip", "analyze")
        assert res.returncode == 0, res.stderr
        assert len(server.requests("/videos/alpha.mp4")) == 1  # listed twice, downloaded once
        yield lib


@pytest.fixture(scope="module")
def export(library: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """An uninterrupted export to every format (the reference of the other tests)."""
    out = tmp_path_factory.mktemp("dataset-out") / "ds"
    res = videokit(library, "dataset", str(out), *EXPORT, *EVERY_FORMAT)
    return out, res


# -- the "Done when" ------------------------------------------------------------------


# webdataset's tar reader leaves each shard's file for the garbage collector to close
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore:unclosed file:ResourceWarning")
def test_an_export_to_every_format_reads_back_with_the_standard_readers(
    export: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, res = export
    assert res.returncode == 1, res.stderr  # two rows of the list are no clip: said, counted, the rest done
    assert "Traceback" not in res.stderr
    assert (
        f"{CLIPS} clip(s) from 5 video(s)" in res.stderr and f"({CLIPS} cut now, 0 already cut, 0 failed)" in res.stderr
    )
    lines = res.stderr.splitlines()
    assert "labels: 6 labelled, 0 unlabeled skipped, 0 unlabeled kept; near-duplicate groups: 1 " in res.stderr
    per_split = [line for line in lines if re.match(r"  (train|val|test): ", line)]  # "  train: dancing 2, ..."
    assert sum(int(n) for line in per_split for n in re.findall(r" (\d+)(?=,|$)", line)) == CLIPS, per_split
    problems = lines[lines.index(f"{REJECTED} problem(s):") + 1 :]
    assert len(problems) == REJECTED and any("gamma" in p for p in problems) and any("delta" in p for p in problems)

    entries = manifest(out)
    assert len(entries) == CLIPS and len({e["sha256"] for e in entries}) == CLIPS
    by_sha = {e["sha256"]: e for e in entries}

    def check_clip(path: Path) -> dict:
        """The clip exists, is one of the manifest's, and decodes to its span (±1 frame)."""
        entry = by_sha[sha256(path)]
        frames = decoded_frames(path)
        assert abs(frames / FPS - (entry["end"] - entry["start"])) <= 1 / FPS + 1e-6, (path, frames, entry)
        return entry

    # mmaction: every clip of every list exists and decodes to its span; indices match label_map.txt
    root = out / "mmaction"
    classes = (root / "label_map.txt").read_text(encoding="utf-8").splitlines()
    listed = 0
    for lst in sorted(root.glob("*_list_videos.txt")):
        for line in lst.read_text(encoding="utf-8").splitlines():
            rel, *indices = line.split()
            entry = check_clip(root / rel)
            assert [classes[int(i)] for i in indices] == entry["labels"]
            listed += 1
    assert listed == CLIPS

    # kinetics: per-split CSV label,youtube_id,time_start,time_end,split; each row names a file that exists
    root = out / "kinetics"
    rows = 0
    for split_csv in sorted(root.glob("*.csv")):
        with open(split_csv, encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            assert reader.fieldnames == ["label", "youtube_id", "time_start", "time_end", "split"]
            for row in reader:
                from videokit.dataset.formats.base import safe_name

                name = f"{row['youtube_id']}_{int(row['time_start']):06d}_{int(row['time_end']):06d}.mp4"
                clip = root / safe_name(row["split"]) / safe_name(row["label"]) / name
                assert check_clip(clip)["split"] == row["split"] == split_csv.stem
                rows += 1
    assert rows == CLIPS

    # folder: <split>/<label>/<clip>.mp4 + metadata.csv (file_name); the odd label is a safe folder
    root = out / "folder"
    labels_seen = set()
    for meta in sorted(root.glob("*/metadata.csv")):
        with open(meta, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                clip = meta.parent / row["file_name"]
                assert check_clip(clip)["labels"][0] == row["label"]
                labels_seen.add(row["label"])
                if row["label"] == ODD_LABEL:
                    assert clip.parent.name != ODD_LABEL and not set('/:"?') & set(clip.parent.name)
    assert labels_seen == {"juggling", "dancing", ODD_LABEL}

    # webdataset: the webdataset package iterates every shard; every clip once, with json and txt
    import webdataset as wds

    shards = sorted((out / "webdataset").glob("*/*.tar"))
    assert shards
    samples = [s for shard in shards for s in list(wds.WebDataset(str(shard), shardshuffle=False, empty_check=False))]
    assert sorted(s["__key__"] for s in samples) == sorted(e["key"] for e in entries)
    for s in samples:
        assert hashlib.sha256(s["mp4"]).hexdigest() == json.loads(s["json"])["sha256"]
        assert isinstance(s["txt"], bytes)
    assert sorted((out / "webdataset").glob("*/*_stats.json"))
    assert not list((out / "webdataset").rglob("*.mp4"))  # the clips live in the shards only
    del samples
    gc.collect()

    # parquet: pyarrow reads one row per clip with its SHA-256, label, split, span and origin
    import pyarrow.parquet as pq

    table = pq.read_table(out / "parquet" / "clips.parquet").to_pylist()
    assert sorted(r["sha256"] for r in table) == sorted(by_sha)
    for r in table:
        entry = by_sha[r["sha256"]]
        assert (r["split"], r["labels"]) == (entry["split"], entry["labels"])
        assert r["source_url"].startswith("http://127.0.0.1:") and (out / "parquet" / r["path"]).is_file()
    assert ODD_LABEL in {r["label"] for r in table}  # the original label kept in the metadata

    # the card and the charts
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "videokit dataset" in card and (out / "class_balance.png").is_file() and (out / "clip_lengths.png").is_file()
    assert_nothing_half_written(out)
    # four formats keep loose clips: each clip is one file, hard-linked into their folders
    loose = [p for p in visible_files(out) if p.suffix == ".mp4"]
    assert len(loose) == 4 * CLIPS and len({p.stat().st_ino for p in loose}) == CLIPS


def test_the_list_split_is_kept_and_no_video_or_near_duplicate_group_is_in_two_splits(
    export: tuple[Path, subprocess.CompletedProcess[str]], library: Path
) -> None:
    out, _ = export
    by_video: dict[str, set[str]] = defaultdict(set)
    for e in manifest(out):
        by_video[e["source"].rsplit("/", 1)[-1]].add(e["split"])
    assert all(len(splits) == 1 for splits in by_video.values()), by_video
    assert by_video["alpha.mp4"] == by_video["copy.mp4"]  # the copy is never in another split
    assert by_video["delta.mp4"] == {"val"}  # as the list says
    assert len(set().union(*by_video.values())) >= 2  # the split did split


def test_a_copy_mode_export_records_the_keyframe_snapped_spans(library: Path, tmp_path: Path) -> None:
    out = tmp_path / "copy"
    res = videokit(library, "dataset", str(out), "--clips", "segments", "--mode", "copy", "--format", "parquet")
    assert res.returncode == 1 and f"{CLIPS} clip(s)" in res.stderr, res.stderr
    import pyarrow.parquet as pq

    rows = pq.read_table(out / "clips.parquet").to_pylist()
    assert len(rows) == CLIPS
    gop, eps = GOP / FPS, 1e-3
    for r in rows:  # each end moves to the first keyframe at or after it: at most one GOP later
        assert r["start"] - eps <= r["real_start"] <= r["start"] + gop + eps, r
        assert r["end"] - eps <= r["real_end"] <= r["end"] + gop + eps, r
        frames = decoded_frames(out / r["path"])
        assert abs(frames / FPS - (r["real_end"] - r["real_start"])) <= 1 / FPS + 1e-6, (r, frames)
    assert any(abs(r["real_start"] - r["start"]) > eps for r in rows)  # snapped, and said so


# -- reproducible and resumable -----------------------------------------------------------------


def journal_keys(out: Path) -> list[str]:
    try:
        text = (out / ".videokit" / "clips.jsonl").read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    keys = []
    for line in text.splitlines():
        try:
            keys.append(json.loads(line)["key"])
        except ValueError:
            pass
    return keys


def kill_when(lib: Path, out: Path, args: list[str], when: Callable[[], bool], limit: float = 120) -> None:
    proc = subprocess.Popen(
        [VIDEOKIT, "--library", str(lib), "-q", "dataset", str(out), *args],
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + limit
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if when():
                os.killpg(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.005)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the export ended before the moment to kill it came"


MOMENTS: dict[str, Callable[[Path], bool]] = {
    "settings saved": lambda out: (out / ".videokit" / "state.json").is_file(),
    "first clip cut": lambda out: len(journal_keys(out)) >= 1,
    "half the clips cut": lambda out: len(journal_keys(out)) >= CLIPS // 2,
    "clips being placed": lambda out: (out / "folder").is_dir(),
    "formats being written": lambda out: (out / "kinetics").is_dir() and any((out / "kinetics").glob("*.csv")),
    "shards being written": lambda out: (
        any((out / "webdataset").glob("*/*.tar")) if (out / "webdataset").is_dir() else False
    ),
}


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_sigkill_at_any_moment_then_the_same_command_gives_the_same_manifest(
    moment: str, library: Path, export: tuple[Path, subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    reference, _ = export
    out = tmp_path / "ds"
    kill_when(library, out, [*EXPORT, *EVERY_FORMAT], lambda: MOMENTS[moment](out))
    assert_nothing_half_written(out)
    done = journal_keys(out)
    pool = out / ".videokit" / "clips"
    before = {k: (pool / f"{k}.mp4").stat() for k in done}

    res = videokit(library, "dataset", str(out), *EXPORT, *EVERY_FORMAT)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr  # the list's two bad rows
    assert f"{len(set(done))} already cut" in res.stderr, res.stderr
    assert (out / "manifest.jsonl").read_bytes() == (reference / "manifest.jsonl").read_bytes()
    for key, st in before.items():  # a finished clip is not cut again
        now = (pool / f"{key}.mp4").stat()
        assert (now.st_ino, now.st_mtime_ns) == (st.st_ino, st.st_mtime_ns)
    assert_nothing_half_written(out)
    assert sorted(p.relative_to(out) for p in visible_files(out)) == sorted(
        p.relative_to(reference) for p in visible_files(reference)
    )


def test_the_same_command_again_cuts_nothing_and_other_settings_are_refused_unless_overwrite(
    library: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ds"
    args = ["--clips", "segments", "--mode", "exact", "--format", "mmaction"]
    first = videokit(library, "dataset", str(out), *args)
    assert f"({CLIPS} cut now, 0 already cut" in first.stderr, first.stderr
    manifest_bytes = (out / "manifest.jsonl").read_bytes()
    again = videokit(library, "dataset", str(out), *args)
    assert f"(0 cut now, {CLIPS} already cut" in again.stderr, again.stderr
    assert (out / "manifest.jsonl").read_bytes() == manifest_bytes

    other = videokit(library, "dataset", str(out), *args, "--seed", "7", "--crf", "30")
    assert other.returncode == 2
    assert other.stderr.strip().splitlines() == [
        f"error: {out} holds a dataset built with other settings (clips.crf, seed); "
        "add --overwrite to replace it, or choose another folder"
    ]
    changed = ["--seed", "7", "--unlabeled", "keep", "--format", "folder"]  # splits, labels, formats
    replaced = videokit(library, "dataset", str(out), *args, *changed, "--overwrite")
    assert f"(0 cut now, {CLIPS} already cut" in replaced.stderr, replaced.stderr  # same cut settings: clips kept
    recut = videokit(library, "dataset", str(out), *args, "--crf", "30", "--overwrite")
    assert f"({CLIPS} cut now, 0 already cut" in recut.stderr, recut.stderr

    stranger = tmp_path / "not-a-dataset"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    res = videokit(library, "dataset", str(stranger), *args, "--overwrite")
    assert res.returncode == 2 and "is not empty and holds no videokit dataset" in res.stderr
    assert (stranger / "notes.txt").read_text() == "mine"


def test_a_video_gone_from_the_library_takes_its_clips_out_and_files_of_the_user_stay(
    library: Path, tmp_path: Path
) -> None:
    lib = tmp_path / "lib"
    shutil.copytree(library, lib)
    out = tmp_path / "ds"
    args = ["--clips", "segments", "--format", "folder"]
    assert f"{CLIPS} clip(s)" in videokit(lib, "dataset", str(out), *args).stderr
    (out / "NOTES.md").write_text("my notes")
    cfg = load_config(None, env={}, overrides={("Library", "Location"): str(lib)})
    (gamma,) = [r for r in api.search(cfg) if r.title == "gamma"]
    with open_store(cfg) as store:
        assert store.delete(gamma.id)

    res = videokit(lib, "dataset", str(out), *args)
    assert f"{CLIPS - 1} clip(s) from 4 video(s)" in res.stderr and "gamma" not in res.stderr, res.stderr
    assert [e for e in manifest(out) if e["video_id"] == gamma.id] == []
    clips = sorted(p.name for p in visible_files(out) if p.suffix == ".mp4")
    assert len(clips) == CLIPS - 1 and not [c for c in clips if c.startswith(gamma.id[:12])]
    assert (out / "NOTES.md").read_text() == "my notes"  # never written by videokit: never removed
    assert videokit(lib, "dataset", str(out), *args, "--seed", "9", "--overwrite").returncode == 1
    assert (out / "NOTES.md").read_text() == "my notes"


# -- the library API -----------------------------------------------------------------------------


def test_the_api_call_reports_clips_per_split_and_class(library: Path, tmp_path: Path) -> None:
    cfg = load_config(None, env={}, overrides={("Library", "Location"): str(library)})
    options = api.DatasetOptions(
        clips=ClipOptions(clips="segments", mode="exact"),
        labels=LabelOptions(source="csv", classes={"juggling": "juggle", "dancing": "dance"}),
        formats=("mmaction",),
        split=(0.5, 0.25, 0.25),
        seed=3,
    )
    report = api.build_dataset(cfg, tmp_path / "ds", options)
    assert (report.videos, report.clips, report.written, report.skipped, report.failed) == (5, 5, 5, 0, 0)
    assert report.labelled == 5 and report.unlabeled_skipped == 1  # the odd label is in no class
    assert len(report.rejected) == REJECTED and report.failures == [] and not report.ok
    assert sum(n for per in report.counts.values() for n in per.values()) == 5
    assert {c for per in report.counts.values() for c in per} == {"juggle", "dance"}
    assert report.counts["val"]["juggle"] >= 1 and report.duplicate_groups == 1
    assert (tmp_path / "ds" / "label_map.txt").read_text().splitlines() == ["juggle", "dance"]

    kept = api.build_dataset(  # the 180p copy is not selected
        cfg,
        tmp_path / "kept",
        api.DatasetOptions(options.clips, LabelOptions(classes={"juggling": "j"}, unlabeled="keep"), ("mmaction",)),
        Query(min_height=200),
    )
    assert (kept.videos, kept.labelled, kept.unlabeled_kept, kept.clips) == (4, 2, 3, CLIPS - 1)
    deduped = api.build_dataset(cfg, tmp_path / "dedup", dataclass_replace(options, dedup=True))
    assert deduped.dropped_duplicates == 1 and deduped.clips == 4


def dataclass_replace(options: api.DatasetOptions, **changes: object) -> api.DatasetOptions:
    import dataclasses

    return dataclasses.replace(options, **changes)  # type: ignore[arg-type]


# -- bad input ---------------------------------------------------------------------------------


def test_a_moved_file_is_one_line_and_the_rest_goes_on(tmp_path: Path) -> None:
    a = make_video(tmp_path / "in" / "a.mp4", duration=3.0, source="smptebars")
    b = make_video(tmp_path / "in" / "b.mp4", duration=3.0, source="testsrc")
    lib = tmp_path / "lib"
    assert videokit(lib, "run", str(a), str(b), "--skip", "analyze").returncode == 0
    a.rename(tmp_path / "elsewhere.mp4")
    out = tmp_path / "ds"
    res = videokit(
        lib,
        "dataset",
        str(out),
        "--clips",
        "windows",
        "--window",
        "1",
        "--label-from",
        "category",
        "--unlabeled",
        "keep",
    )
    assert res.returncode == 1 and "Traceback" not in res.stderr
    problems = [line for line in res.stderr.splitlines() if "is missing (moved or deleted)" in line]
    assert len(problems) == 1 and str(a) in problems[0], res.stderr
    assert "3 clip(s) from 2 video(s)" in res.stderr and "1 problem(s):" in res.stderr
    assert len(manifest(out)) == 3 and {e["source"] for e in manifest(out)} == {str(b)}


def test_split_ratios_that_do_not_sum_to_one_are_one_line_before_any_work(library: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    res = videokit(library, "dataset", str(out), "--split", "0.8,0.1,0.2")
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [
        "error: --split 0.8,0.1,0.2: the ratios sum to 1.1, not 1; give train,val,test ratios that sum to 1, "
        "e.g. 0.8,0.1,0.1"
    ]
    res = videokit(library, "dataset", str(out), "--split", "0.8,0.2")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1 and "0.8,0.2" in res.stderr
    cfg = load_config(None, env={}, overrides={("Library", "Location"): str(library)})
    with pytest.raises(UsageError, match="sum to 1.5"):
        api.build_dataset(cfg, out, api.DatasetOptions(ClipOptions(), LabelOptions(), split=(0.5, 0.5, 0.5)))
    assert not out.exists()  # nothing was written


def test_an_unknown_class_is_one_line_and_the_fixed_command_needs_no_overwrite(library: Path, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    args = ["--clips", "segments", "--format", "mmaction"]
    res = videokit(library, "dataset", str(out), *args, "--classes", "juggling=juggle,jugling=juggle")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1 and "'jugling'" in res.stderr, res.stderr
    assert list(visible_files(out)) == []
    fixed = videokit(library, "dataset", str(out), *args, "--classes", "juggling=juggle", "--min-height", "200")
    assert "Traceback" not in fixed.stderr and "2 clip(s) from 4 video(s)" in fixed.stderr, fixed.stderr


# -- a full disk ---------------------------------------------------------------------------------


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs; skipped where mounting is not permitted (not root, no CAP_SYS_ADMIN)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (the full-disk test runs as root in CI)")
    res = _mount("-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt))
    if res.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {res.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_a_full_disk_mid_export_is_one_line_and_the_same_command_finishes_it(
    tiny_disk: Path, library: Path, export: tuple[Path, subprocess.CompletedProcess[str]]
) -> None:
    reference, _ = export
    out = tiny_disk / "ds"
    st = os.statvfs(tiny_disk)
    free = st.f_bavail * st.f_frsize
    sizes = sorted((p.stat().st_size for p in (reference / "mmaction").rglob("*.mp4")), reverse=True)
    with open(tiny_disk / "filler", "wb") as fh:  # room for about half the clips
        fh.write(b"\0" * max(0, free - sum(sizes[: CLIPS // 2])))
    res = videokit(library, "dataset", str(out), *EXPORT, *EVERY_FORMAT)
    assert res.returncode == 1, res.stderr
    assert res.stderr.strip().splitlines() == [
        f"error: no space left on device at {out}: free space and run the same command again; nothing was lost"
    ], res.stderr
    assert_nothing_half_written(out)

    assert _mount("-o", "remount,size=64m", str(tiny_disk)).returncode == 0
    again = videokit(library, "dataset", str(out), *EXPORT, *EVERY_FORMAT)
    assert again.returncode == 1 and "Traceback" not in again.stderr, again.stderr
    assert (out / "manifest.jsonl").read_bytes() == (reference / "manifest.jsonl").read_bytes()
    assert_nothing_half_written(out)
