"""Annotation lists as `--from` inputs: a CSV with `label` and segment columns (`start`/`end`, or
Kinetics' `time_start`/`time_end` and `youtube_id`) gives one record per video holding its
labelled segments (the video fetched once); a `split` column is kept; a row with a bad number is
reported with its file and line and the rest goes on; segments survive the ledger (resume, retry)
and a re-run of the same list is done already, while a corrected list is taken in again."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from httpserver import TestServer
from media import make_video
from videokit import api
from videokit.config import Config, load_config
from videokit.errors import ConfigError
from videokit.inputs import YOUTUBE_WATCH, read_list
from videokit.ledger import Ledger
from videokit.record import Record, Segment
from videokit.store.sqlite import SQLiteStore

SKIP = ["scenes", "analyze"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("annotated")
    return [
        make_video(d / "a.mp4", duration=2.0, source="testsrc2", audio=False),
        make_video(d / "b.mp4", duration=2.0, source="smptebars", audio=False),
    ]


def config_for(lib: Path) -> Config:
    return load_config(
        None,
        env={},
        overrides={
            ("Library", "Location"): str(lib),
            ("Download", "BackoffBase"): "0",
            ("Download", "BackoffMax"): "0",
        },
    )


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def stored(lib: Path) -> list[Record]:
    with SQLiteStore(lib / "library.sqlite") as store:
        return sorted(store.iter_records(), key=lambda r: r.sources[0].input)


def run(cfg: Config, listing: Path) -> Any:
    return api.run([], cfg, from_files=[listing], skip=SKIP, workers=1)


def attempts(lib: Path) -> dict[str, int]:
    db = sqlite3.connect(lib / "ledger.sqlite")
    try:
        return dict(db.execute("SELECT spec, attempts FROM jobs").fetchall())
    finally:
        db.close()


# -- reading the list -------------------------------------------------------------------------


def test_kinetics_list_gives_one_item_per_video_with_its_segments(tmp_path: Path) -> None:
    listing = write_csv(
        tmp_path / "kinetics.csv",
        "label,youtube_id,time_start,time_end,split\n"
        "abseiling,-3B32lodo2M,59,69,train\n"
        "air drumming,--nQbRBEz2s,104,114,val\n"
        "abseiling,-3B32lodo2M,80,90.5,train\n",
    )
    items = read_list(listing)
    assert [i.spec for i in items] == [YOUTUBE_WATCH + "-3B32lodo2M", YOUTUBE_WATCH + "--nQbRBEz2s"]
    assert all(i.kind == "url" and i.error is None for i in items)
    first, second = items
    assert first.segments == [Segment(59.0, 69.0, "abseiling", "train"), Segment(80.0, 90.5, "abseiling", "train")]
    assert second.segments == [Segment(104.0, 114.0, "air drumming", "val")]
    # the id stays a user field (the kinetics format names clips by it); segment cells do not
    assert first.user_fields == {"youtube_id": "-3B32lodo2M"}


def test_plain_start_end_columns_and_whole_video_rows(tmp_path: Path, clips: list[Path]) -> None:
    a, b = clips
    listing = write_csv(
        tmp_path / "list.csv",
        f"URL,Start,End,Label,Split,note\n{a},0.5,1.5,jump,test,first\n{a},1,2,run,,\n{b},,,dance,train,whole\n",
    )
    items = read_list(listing)
    assert [i.spec for i in items] == [str(a), str(b)]
    assert items[0].segments == [Segment(0.5, 1.5, "jump", "test"), Segment(1.0, 2.0, "run", None)]
    assert items[0].user_fields == {"note": "first"}
    # a row without a span labels the whole video: label and split stay user fields
    assert items[1].segments == [] and items[1].user_fields == {"Label": "dance", "Split": "train", "note": "whole"}


def test_rows_with_a_bad_number_are_reported_with_file_and_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    listing = write_csv(
        tmp_path / "bad.csv",
        "label,youtube_id,time_start,time_end\n"
        "ok,aaaaaaaaaaa,1,2\n"  # line 2
        "text,aaaaaaaaaaa,one,2\n"  # 3
        "nan,aaaaaaaaaaa,nan,2\n"  # 4
        "neg,aaaaaaaaaaa,-1,2\n"  # 5
        "half,aaaaaaaaaaa,3,\n"  # 6
        "under,aaaaaaaaaaa,1_0,20\n"  # 7: Python's float() would take it
        "badid,not an id,1,2\n"  # 8
        "reversed,bbbbbbbbbbb,5,4\n",  # 9: end <= start is for the clip planner to report
    )
    with caplog.at_level(logging.WARNING, logger="videokit"):
        items = read_list(listing)
    lines = [r.getMessage() for r in caplog.records]
    name = str(listing)
    assert lines == [
        f"{name} line 3: time_start 'one' is not a number of seconds; skipped",
        f"{name} line 4: time_start 'nan' is not a number of seconds; skipped",
        f"{name} line 5: time_start '-1' is negative; times are seconds from the start of the video; skipped",
        f"{name} line 6: time_start given without time_end; give both, in seconds; skipped",
        f"{name} line 7: time_start '1_0' is not a number of seconds; skipped",
        f"{name} line 8: youtube_id 'not an id' is not a YouTube video id (11 letters, digits, '-' or '_'); skipped",
    ]
    assert [(i.spec[-11:], i.segments) for i in items] == [
        ("aaaaaaaaaaa", [Segment(1.0, 2.0, "ok")]),
        ("bbbbbbbbbbb", [Segment(5.0, 4.0, "reversed")]),
    ]


def test_a_list_without_url_or_youtube_id_column_is_refused(tmp_path: Path) -> None:
    listing = write_csv(tmp_path / "list.csv", "label,start,end\nx,1,2\n")
    with pytest.raises(ConfigError, match=r"list.csv: CSV has no 'url' or 'youtube_id' column \(columns: label"):
        read_list(listing)


def test_conflicting_whole_video_values_keep_the_first_and_say_so(
    tmp_path: Path, clips: list[Path], caplog: pytest.LogCaptureFixture
) -> None:
    listing = write_csv(tmp_path / "list.csv", f"url,label\n{clips[0]},cat\n{clips[0]},dog\n{clips[0]},cat\n")
    with caplog.at_level(logging.WARNING, logger="videokit"):
        items = read_list(listing)
    assert len(items) == 1 and items[0].user_fields == {"label": "cat"}
    assert [r.getMessage() for r in caplog.records] == [
        f"{listing} line 3: label 'dog' differs from an earlier row of the same video ('cat'); the first is kept"
    ]


# -- through the pipeline ---------------------------------------------------------------------


def test_two_rows_of_one_url_download_once_and_store_one_record(tmp_path: Path, http_server: TestServer) -> None:
    data = make_video(tmp_path / "v.mp4", duration=2.0, audio=False).read_bytes()
    http_server.add_file("/v.mp4", data)
    url = http_server.url("/v.mp4")
    listing = write_csv(
        tmp_path / "list.csv", f"label,url,time_start,time_end,split\nwave,{url},0,1,train\nclap,{url},1,2,train\n"
    )
    cfg = config_for(tmp_path / "lib")
    result = run(cfg, listing)
    assert result.ok, result.failures
    assert len([r for r in http_server.requests("/v.mp4") if r.method == "GET"]) == 1
    (record,) = stored(tmp_path / "lib")
    assert [s.input for s in record.sources] == [url]
    assert record.sources[0].segments == [Segment(0.0, 1.0, "wave", "train"), Segment(1.0, 2.0, "clap", "train")]

    # the same list again: done already, nothing fetched or processed again
    before = attempts(tmp_path / "lib")
    again = run(cfg, listing)
    assert again.ok and [r.id for r in again.records] == [record.id]
    assert len([r for r in http_server.requests("/v.mp4") if r.method == "GET"]) == 1
    assert attempts(tmp_path / "lib") == before


def test_a_corrected_list_replaces_the_stored_segments(tmp_path: Path, clips: list[Path]) -> None:
    a = clips[0]
    cfg = config_for(tmp_path / "lib")
    assert run(cfg, write_csv(tmp_path / "list.csv", f"url,start,end,label\n{a},0,1,jmup\n")).ok
    assert run(cfg, write_csv(tmp_path / "list.csv", f"url,start,end,label\n{a},0,1,jump\n{a},1,2,run\n")).ok
    (record,) = stored(tmp_path / "lib")
    assert len(record.sources) == 1
    assert record.sources[0].segments == [Segment(0.0, 1.0, "jump"), Segment(1.0, 2.0, "run")]
    # the command line without the list is the stored input: done, its segments kept
    before = attempts(tmp_path / "lib")
    assert api.run([str(a)], cfg, skip=SKIP, workers=1).ok
    assert attempts(tmp_path / "lib") == before
    assert stored(tmp_path / "lib")[0].sources[0].segments == [Segment(0.0, 1.0, "jump"), Segment(1.0, 2.0, "run")]


def test_one_content_from_two_urls_keeps_each_sources_segments(tmp_path: Path, http_server: TestServer) -> None:
    data = make_video(tmp_path / "v.mp4", duration=2.0, audio=False).read_bytes()
    http_server.add_file("/one.mp4", data)
    http_server.add_file("/two.mp4", data)
    one, two = http_server.url("/one.mp4"), http_server.url("/two.mp4")
    cfg = config_for(tmp_path / "lib")
    assert run(cfg, write_csv(tmp_path / "a.csv", f"url,start,end,label\n{one},0,1,wave\n")).ok
    assert run(cfg, write_csv(tmp_path / "b.csv", f"url,start,end,label\n{two},1,2,clap\n")).ok
    (record,) = stored(tmp_path / "lib")
    assert {s.input: s.segments for s in record.sources} == {
        one: [Segment(0.0, 1.0, "wave")],
        two: [Segment(1.0, 2.0, "clap")],
    }


def test_retry_of_a_failed_input_keeps_its_segments(tmp_path: Path, clips: list[Path]) -> None:
    late = tmp_path / "late.mp4"  # listed before it exists: the input fails
    listing = write_csv(tmp_path / "list.csv", f"url,start,end,label,split\n{late},0,1,wave,val\n{late},1,2,clap,\n")
    cfg = config_for(tmp_path / "lib")
    assert not run(cfg, listing).ok
    shutil.copy(clips[1], late)
    retried = api.retry(cfg)
    assert retried.ok and len(retried.records) == 1
    (record,) = stored(tmp_path / "lib")
    assert record.sources[0].segments == [Segment(0.0, 1.0, "wave", "val"), Segment(1.0, 2.0, "clap")]


def test_a_ledger_from_before_segments_opens_and_keeps_its_jobs(tmp_path: Path, clips: list[Path]) -> None:
    lib = tmp_path / "lib"
    cfg = config_for(lib)
    assert api.run([str(clips[0])], cfg, skip=SKIP, workers=1).ok
    db = sqlite3.connect(lib / "ledger.sqlite")
    db.execute("ALTER TABLE jobs DROP COLUMN segments")  # as an earlier videokit wrote it
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()
    with Ledger.open(cfg) as ledger:
        (job,) = ledger.jobs()
        assert job.spec == str(clips[0]) and job.status == "done" and job.segments == []


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_distributed_workers_store_the_segments(tmp_path: Path, clips: list[Path]) -> None:
    from test_distributed import Cluster, wait_for

    listing = write_csv(tmp_path / "list.csv", f"url,start,end,label\n{clips[0]},0,1,wave\n{clips[0]},1,2,clap\n")
    c = Cluster(tmp_path)
    try:
        c.start_redis()
        c.start_worker()
        sent = c.videokit("submit", "--from", str(listing), "--skip", "scenes", "--skip", "analyze")
        assert sent.returncode == 0, sent.stderr
        wait_for(lambda: c.status()["jobs"]["done"] == 1, 60, "the submission was not processed")
    finally:
        c.stop()
    (record,) = stored(c.lib)
    assert record.sources[0].segments == [Segment(0.0, 1.0, "wave"), Segment(1.0, 2.0, "clap")]
