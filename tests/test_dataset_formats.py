"""Dataset formats, manifest and card, read back with the standard readers of the field.

Clips are small real mp4 files placed where each format's layout says; the exports are read
with the csv module (folder metadata.csv, Kinetics CSV), plain text (MMAction2 lists), the
webdataset package (every shard) and pyarrow.parquet. Every listed clip must exist, index
files and shards appear whole or not at all, and the same clips give the same files."""

from __future__ import annotations

import csv
import gc
import hashlib
import json
import os
import random
import shutil
import sys
import tarfile
from pathlib import Path

import pytest
from PIL import Image

from media import make_video
from videokit.dataset.card import MANIFEST, write_card, write_manifest
from videokit.dataset.formats import DatasetInfo, clip_names, formats, get_format, safe_name
from videokit.dataset.formats.kinetics import KineticsFormat
from videokit.dataset.formats.webdataset import WebDatasetFormat
from videokit.dataset.model import Clip, ClipPlan
from videokit.errors import ConfigError
from videokit.hashing import sha256_file
from videokit.record import Analysis, MediaInfo, Record, Source, Tag
from videokit.tempfiles import temp_path

ODD = 'walk/run: fast? <"x"> |'  # a label with characters no file system takes
YT = "dQw4w9WgXcQ"
INFO = DatasetInfo(
    classes=["run", "jump", ODD],
    command="videokit dataset out --clips segments --format folder",
    options={"clips": "segments", "seed": 7},
)


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three distinct 1 s videos (tens of kilobytes each) standing in for cut clips."""
    folder = tmp_path_factory.mktemp("clips")
    return [make_video(folder / f"s{r}.mp4", duration=1.0, size="320x240", rate=r, audio=False) for r in (10, 12, 15)]


def _records() -> dict[str, Record]:
    a = Record(
        id="a" * 64,
        sources=[
            Source(
                input=f"https://www.youtube.com/watch?v={YT}",
                kind="url",
                url=f"https://www.youtube.com/watch?v={YT}",
                webpage_url=f"https://www.youtube.com/watch?v={YT}",
                uploader="Ann",
                license="Creative Commons Attribution license (reuse allowed)",
                upload_date="20240102",
                title="Alpha",
            )
        ],
        media=MediaInfo(width=320, height=240, fps=25.0, video_codec="h264", audio_codec="aac", bit_rate=500000),
        tags=[Tag("Outdoor", "rule:outdoor", 0.9, "brightness > 0.5")],
        analysis=Analysis(backend="builtin", description="A person runs across a field."),
    )
    b = Record(id="b" * 64, sources=[Source(input="/videos/b.mp4", path="/videos/b.mp4", title="Bravo")])
    c = Record(
        id="c" * 64,
        sources=[Source(input="http://127.0.0.1/c.mp4", kind="url", url="http://127.0.0.1/c.mp4", license="CC0")],
        media=MediaInfo(width=640, height=360, fps=30.0),
    )
    return {r.id: r for r in (a, b, c) if r.id}


def _plans() -> list[ClipPlan]:
    a, b, c = "a" * 64, "b" * 64, "c" * 64
    return [
        ClipPlan(a, Path("/v/a.mp4"), 0, 0.0, 1.0, "segment", ["run"], "train"),
        ClipPlan(a, Path("/v/a.mp4"), 1, 2.0, 3.0, "segment", ["run", "jump"], "train"),  # multi-label
        ClipPlan(b, Path("/v/b.mp4"), 0, 0.5, 1.5, "segment", [ODD], "val"),
        ClipPlan(b, Path("/v/b.mp4"), 1, 4.0, 5.0, "segment", ["jump"], "val"),
        ClipPlan(c, Path("/v/c.mp4"), 0, 1.0, 2.0, "scene", [], "test"),  # unlabeled, kept
        ClipPlan(c, Path("/v/c.mp4"), 1, 6.0, 7.0, "scene", ["run"], None),  # no split given
    ]


def _cut(fmt_name: str, out: Path, samples: list[Path], plans: list[ClipPlan] | None = None) -> list[Clip]:
    """Place a real mp4 where the format's layout says, as the cutter would."""
    records = _records()
    plans = plans if plans is not None else _plans()
    names = clip_names(get_format(fmt_name), plans, records)
    clips = []
    for i, plan in enumerate(plans):
        dest = out / names[plan.key]
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(samples[i % len(samples)], dest)
        clips.append(Clip(plan, names[plan.key], plan.start - 0.04, plan.end, sha256_file(dest), frames=10))
    return clips


def _no_temp_files(out: Path) -> list[str]:
    return [str(p) for p in out.rglob(".*")]


# -- registry and names ----------------------------------------------------------------------


def test_builtin_formats_are_registered_plugins() -> None:
    assert set(formats.names()) >= {"folder", "kinetics", "mmaction", "webdataset", "parquet"}
    for name in ("folder", "kinetics", "mmaction", "webdataset", "parquet"):
        assert get_format(name).name == name
    with pytest.raises(ConfigError, match="unknown format 'avi'.*folder") as e:
        get_format("avi")
    assert "\n" not in str(e.value)


def test_safe_name_keeps_valid_labels_and_separates_cleaned_ones() -> None:
    assert safe_name("playing guitar") == "playing guitar"
    assert safe_name("café") == "café"
    cleaned = {safe_name(x) for x in (ODD, "a/b", "a:b", "CON", "..", " x ", "a" * 300)}
    assert len(cleaned) == 7
    for name in cleaned:
        assert not set(name) & set('<>:"/\\|?*'), name
        assert name == name.strip() and not name.startswith(".") and not name.endswith(".")
        assert len(name.encode()) <= 200
        assert name.split(".")[0].lower() != "con"
    assert safe_name("a/b") != safe_name("a:b")


def test_clip_names_are_unique_when_a_layout_would_collide() -> None:
    a = "a" * 64
    # Kinetics names whole seconds: these two spans both become _000001_000003
    plans = [
        ClipPlan(a, Path("/v/a.mp4"), 0, 1.2, 2.6, "window", ["run"], "train"),
        ClipPlan(a, Path("/v/a.mp4"), 1, 1.4, 2.8, "window", ["run"], "train"),
    ]
    names = clip_names(KineticsFormat(), list(reversed(plans)), _records())
    assert len(set(names.values())) == 2
    assert names[plans[0].key] == f"train/run/{YT}_000001_000003.mp4"
    assert names[plans[1].key] == f"train/run/{YT}_000001_000003-1.mp4"


# -- folder --------------------------------------------------------------------------------


def test_folder_layout_and_metadata_csv(tmp_path: Path, samples: list[Path]) -> None:
    out = tmp_path / "ds"
    clips = _cut("folder", out, samples)
    written = get_format("folder").write(clips, _records(), out, INFO)
    assert sorted(written) == ["test/metadata.csv", "train/metadata.csv", "val/metadata.csv"]
    rows = {}
    for split in ("train", "val", "test"):
        with open(out / split / "metadata.csv", newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                assert row["split"] == split
                video = out / split / row["file_name"]
                assert video.is_file() and sha256_file(video) == row["sha256"]
                # OUT/<split>/<label>/<clip>.mp4: the class folder is the first label's safe name
                assert Path(row["file_name"]).parent.name == safe_name(row["label"])
                rows[row["key"]] = row
    assert len(rows) == len(clips)
    by_labels = {tuple(json.loads(r["labels"])): r for r in rows.values()}
    assert by_labels[("run", "jump")]["label"] == "run"  # multi-label: first label's folder, all listed
    odd = by_labels[(ODD,)]
    assert odd["label"] == ODD  # the original label kept
    assert Path(odd["file_name"]).parent.name == safe_name(ODD) != ODD
    assert by_labels[("unlabeled",)]["split"] == "test"
    assert rows[_plans()[0].key]["source_url"] == f"https://www.youtube.com/watch?v={YT}"
    assert rows[_plans()[0].key]["caption"] == "A person runs across a field."
    assert _no_temp_files(out) == []


# -- kinetics ------------------------------------------------------------------------------


def test_kinetics_csv_rows_name_existing_clips(tmp_path: Path, samples: list[Path]) -> None:
    out = tmp_path / "ds"
    clips = _cut("kinetics", out, samples)
    written = get_format("kinetics").write(clips, _records(), out, INFO)
    assert sorted(written) == ["test.csv", "train.csv", "val.csv"]
    listed = set()
    for split in ("train", "val", "test"):
        with open(out / f"{split}.csv", newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            assert next(reader) == ["label", "youtube_id", "time_start", "time_end", "split"]
            for label, vid, start, end, row_split in reader:
                assert row_split == split
                # how Kinetics tools find a row's clip: <split>/<label>/<id>_<start:06d>_<end:06d>.mp4
                path = f"{split}/{safe_name(label)}/{vid}_{int(start):06d}_{int(end):06d}.mp4"
                assert (out / path).is_file(), path
                listed.add(path)
    assert listed == {c.path for c in clips}
    assert f"train/run/{YT}_000000_000001.mp4" in listed  # the YouTube id from the source URL
    assert f"val/{safe_name(ODD)}/{'b' * 12}_000000_000002.mp4" in listed  # no YouTube id: the content id


# -- mmaction ------------------------------------------------------------------------------


def test_mmaction_lists_existing_clips_with_label_indices(tmp_path: Path, samples: list[Path]) -> None:
    out = tmp_path / "ds"
    clips = _cut("mmaction", out, samples)
    written = get_format("mmaction").write(clips, _records(), out, INFO)
    assert sorted(written) == ["label_map.txt", "test_list_videos.txt", "train_list_videos.txt", "val_list_videos.txt"]
    classes = (out / "label_map.txt").read_text(encoding="utf-8").splitlines()
    assert classes == ["run", "jump", " ".join(ODD.split()), "unlabeled"]  # given order, then extras
    expected = {c.path: sorted({classes.index(label) for label in (c.plan.labels or ["unlabeled"])}) for c in clips}
    seen = {}
    for split in ("train", "val", "test"):
        for line in (out / f"{split}_list_videos.txt").read_text(encoding="utf-8").splitlines():
            path, *indices = line.split()
            assert (out / path).is_file(), path
            assert path.startswith(f"{split}/")
            seen[path] = [int(i) for i in indices]
    assert seen == expected
    assert sorted(seen[clips[1].path]) == [0, 1]  # multi-label: several indices


# -- webdataset ----------------------------------------------------------------------------


# webdataset's reader leaves each shard's file to the garbage collector (it never closes it)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore:unclosed file:ResourceWarning")
def test_webdataset_shards_read_back_with_the_webdataset_package(tmp_path: Path, samples: list[Path]) -> None:
    import webdataset as wds

    out = tmp_path / "ds"
    clips = _cut("webdataset", out, samples)
    train_sizes = sorted((out / c.path).stat().st_size for c in clips if (c.plan.split or "train") == "train")
    assert train_sizes[0] > 12 * 1024
    limit = sum(train_sizes[1:]) + 20 * 1024  # room for any two train clips and their metadata, not three
    written = WebDatasetFormat(max_size=limit).write(clips, _records(), out, INFO)
    shards = sorted(out.glob("*/*.tar"))
    assert [str(p.relative_to(out)) for p in shards] == sorted(w for w in written if w.endswith(".tar"))
    assert {p.parent.name for p in shards} == {"train", "val", "test"}
    by_key = {c.plan.key: c for c in clips}
    seen = {}
    for shard in shards:
        assert shard.name[:5].isdigit() and len(shard.name) == len("00000.tar")
        stats = json.loads((shard.with_name(shard.name[:5] + "_stats.json")).read_text())
        samples_read = list(wds.WebDataset(str(shard), shardshuffle=False, empty_check=False))
        assert stats["count"] == stats["successes"] == len(samples_read) >= 1
        if len(samples_read) > 1:
            assert shard.stat().st_size <= limit
        for sample in samples_read:
            key = sample["__key__"]
            assert set(sample) >= {"mp4", "json", "txt"}
            clip = by_key[key]
            assert hashlib.sha256(sample["mp4"]).hexdigest() == clip.sha256
            meta = json.loads(sample["json"])
            assert meta["key"] == key and meta["split"] == shard.parent.name and meta["path"] == f"{key}.mp4"
            assert meta["labels"] == (clip.plan.labels or ["unlabeled"])
            assert sample["txt"].decode() == meta["caption"]
            seen[key] = shard
    del samples_read
    gc.collect()
    assert set(seen) == set(by_key)  # every clip once
    assert len(list((out / "train").glob("*.tar"))) == 2  # 3 train clips, 2 per shard: the size limit holds
    assert _no_temp_files(out) == []


def test_webdataset_max_count_and_a_smaller_rebuild_leaves_no_extra_shard(tmp_path: Path, samples: list[Path]) -> None:
    out = tmp_path / "ds"
    clips = _cut("webdataset", out, samples)
    WebDatasetFormat(max_count=1).write(clips, _records(), out, INFO)
    assert sorted(p.name for p in (out / "train").glob("*.tar")) == ["00000.tar", "00001.tar", "00002.tar"]
    WebDatasetFormat(max_count=2).write(clips, _records(), out, INFO)
    assert sorted(p.name for p in (out / "train").iterdir()) == [
        "00000.tar",
        "00000_stats.json",
        "00001.tar",
        "00001_stats.json",
    ]
    for shard in (out / "train").glob("*.tar"):
        with tarfile.open(shard) as tar:
            assert len(tar.getnames()) in (3, 6)


def test_a_failed_webdataset_write_leaves_whole_shards_only(tmp_path: Path, samples: list[Path]) -> None:
    out = tmp_path / "ds"
    clips = _cut("webdataset", out, samples)
    train = sorted((c for c in clips if (c.plan.split or "train") == "train"), key=lambda c: c.plan.key)
    (out / train[2].path).unlink()  # the third train clip vanished: the third shard cannot be made
    # a killed earlier run's temporary shard (its process is gone) is swept
    dead = temp_path(out / "train" / "00002.tar")
    dead = dead.with_name(dead.name.replace(f"-{os.getpid()}-", "-999999999-"))
    dead.parent.mkdir(parents=True, exist_ok=True)
    dead.write_bytes(b"half a tar")
    with pytest.raises(FileNotFoundError):
        WebDatasetFormat(max_count=1).write(clips, _records(), out, INFO)
    assert sorted(p.name for p in (out / "train").glob("*.tar")) == ["00000.tar", "00001.tar"]
    for shard in (out / "train").glob("*.tar"):
        with tarfile.open(shard) as tar:  # complete archives
            assert len(tar.getnames()) == 3
    assert _no_temp_files(out) == []


# -- parquet -------------------------------------------------------------------------------


def test_parquet_one_row_per_clip_with_compliance_columns(tmp_path: Path, samples: list[Path]) -> None:
    import pyarrow.parquet as pq

    out = tmp_path / "ds"
    clips = _cut("parquet", out, samples)
    assert get_format("parquet").write(clips, _records(), out, INFO) == ["clips.parquet"]
    rows = {r["key"]: r for r in pq.read_table(out / "clips.parquet").to_pylist()}
    assert len(rows) == len(clips)
    for clip in clips:
        row = rows[clip.plan.key]
        assert (out / row["path"]).is_file() and sha256_file(out / row["path"]) == row["sha256"] == clip.sha256
        assert row["split"] == (clip.plan.split or "train")
        assert (row["start"], row["end"]) == (clip.plan.start, clip.plan.end)
        assert row["real_start"] == pytest.approx(clip.plan.start - 0.04)
        assert row["size"] == (out / row["path"]).stat().st_size
    a = rows[_plans()[1].key]
    assert a["labels"] == ["run", "jump"] and a["label"] == "run"
    assert a["tags"] == [
        {"name": "Outdoor", "origin": "rule:outdoor", "confidence": 0.9, "condition": "brightness > 0.5"}
    ]
    assert a["caption"] == "A person runs across a field."
    assert (a["width"], a["height"], a["fps"], a["video_codec"]) == (320, 240, 25.0, "h264")
    assert a["source_url"] == a["page_url"] == f"https://www.youtube.com/watch?v={YT}"
    assert (a["uploader"], a["upload_date"], a["youtube_id"]) == ("Ann", "20240102", YT)
    assert a["license"] == "Creative Commons Attribution license (reuse allowed)"
    b = rows[_plans()[2].key]
    assert b["label"] == ODD and b["license"] is None and b["source_url"] == "/videos/b.mp4"
    assert b["caption"] == "Bravo"  # no description: the title


# -- the same clips give the same files ------------------------------------------------------


@pytest.mark.parametrize("name", ["folder", "kinetics", "mmaction", "webdataset", "parquet"])
def test_same_clips_in_any_order_give_identical_files(tmp_path: Path, samples: list[Path], name: str) -> None:
    out = tmp_path / "ds"
    clips = _cut(name, out, samples)
    first = {f: (out / f).read_bytes() for f in get_format(name).write(clips, _records(), out, INFO)}
    shuffled = clips[:]
    random.Random(3).shuffle(shuffled)
    second = {f: (out / f).read_bytes() for f in get_format(name).write(shuffled, _records(), out, INFO)}
    assert first == second


# -- manifest and card ---------------------------------------------------------------------


def test_manifest_lists_every_clip_with_sha256_and_origin(tmp_path: Path, samples: list[Path]) -> None:
    out = tmp_path / "ds"
    clips = _cut("folder", out, samples)
    assert write_manifest(clips, _records(), out) == MANIFEST
    text = (out / MANIFEST).read_text(encoding="utf-8")
    entries = [json.loads(line) for line in text.splitlines()]
    assert [e["path"] for e in entries] == sorted(c.path for c in clips)
    for e in entries:
        assert sha256_file(out / e["path"]) == e["sha256"]
        assert e["video_id"] in _records()
    first = next(e for e in entries if e["key"] == _plans()[0].key)
    assert first["source"] == first["page_url"] == f"https://www.youtube.com/watch?v={YT}"
    assert (first["start"], first["end"], first["real_start"]) == (0.0, 1.0, -0.04)
    write_manifest(list(reversed(clips)), _records(), out)
    assert (out / MANIFEST).read_text(encoding="utf-8") == text


def test_dataset_card_counts_classes_splits_duration_licenses_and_has_charts(
    tmp_path: Path, samples: list[Path]
) -> None:
    out = tmp_path / "ds"
    clips = _cut("folder", out, samples)
    written = write_card(clips, _records(), out, INFO, formats=["folder", "parquet"])
    assert written == ["README.md", "class_balance.png", "clip_lengths.png"]
    card = (out / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\n") and "video-classification" in card
    assert INFO.command in card
    assert "6 clips from 3 source videos" in card
    assert "total duration 0:00:06 (6.2 s)" in card  # each clip 1.04 s really cut
    lines = card.splitlines()
    assert "| class | train | val | test | total |" in lines
    assert "| run | 3 | 0 | 0 | 3 |" in lines  # train: a's two clips and c's clip without a split
    assert "| jump | 1 | 1 | 0 | 2 |" in lines
    assert "| unlabeled | 0 | 0 | 1 | 1 |" in lines
    assert "| **clips** | 3 | 2 | 1 | 6 |" in lines
    assert '| walk/run: fast? &lt;"x"&gt; \\| | 0 | 1 | 0 | 1 |' in lines  # the label as given, escaped
    assert "| Creative Commons Attribution license (reuse allowed) | 1 | 2 | 0:00:02 |" in lines
    assert "| unknown | 1 | 2 | 0:00:02 |" in lines
    assert "| CC0 | 1 | 2 | 0:00:02 |" in lines
    assert "| seed | 7 |" in lines
    for chart in ("class_balance.png", "clip_lengths.png"):
        assert f"]({chart})" in card
        with Image.open(out / chart) as im:
            assert im.format == "PNG" and im.size[0] > 300
    assert _no_temp_files(out) == []


def test_card_charts_draw_labels_in_any_script(tmp_path: Path, samples: list[Path]) -> None:
    """A label the chart font cannot draw (CJK), or with mathtext's ``$``, still gives both charts."""
    out = tmp_path / "ds"
    plans = [ClipPlan("a" * 64, Path("/v/a.mp4"), 0, 0.0, 1.0, "segment", ["跑步 $5 $6"], "train")]
    clips = _cut("folder", out, samples, plans)
    write_card(clips, _records(), out, DatasetInfo(classes=["跑步 $5 $6"], command="videokit dataset out"))
    assert "| 跑步 $5 $6 | 1 | 1 |" in (out / "README.md").read_text(encoding="utf-8").splitlines()
    for chart in ("class_balance.png", "clip_lengths.png"):
        with Image.open(out / chart) as im:
            assert im.format == "PNG"


def test_a_missing_dataset_extra_is_a_one_line_config_error(
    tmp_path: Path, samples: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "ds"
    clips = _cut("parquet", out, samples)
    for module in ("pyarrow", "pyarrow.parquet", "webdataset"):
        monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    for name in ("parquet", "webdataset"):
        with pytest.raises(ConfigError, match=r"needs the dataset extra .*pip install 'videokit\[dataset\]'"):
            get_format(name).write(clips, _records(), out, INFO)
    assert not (out / "clips.parquet").exists()
