"""A damaged or lost library database: every command says so in one line naming the file and
what to do, `videokit check` finds the damage, and `videokit rebuild` recreates the database
from the record.json kept beside each video's processed files."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from videokit import api
from videokit.config import Config, load_config
from videokit.errors import DamagedStoreError, StoreError
from videokit.ledger import Ledger
from videokit.record import FileInfo, Record, Source
from videokit.store import Query, open_store
from videokit.store.sqlite import SQLiteStore

VIDEOKIT = str(Path(sys.executable).with_name("videokit"))
N = 200


def config_for(lib: Path) -> Config:
    return load_config(None, env={}, overrides={("Library", "Location"): str(lib)})


def videokit(lib: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOKIT_")}
    return subprocess.run(
        [VIDEOKIT, "--library", str(lib), "-q", *args], env=env, capture_output=True, text=True, timeout=120
    )


def rid(i: int) -> str:
    return f"{i:064x}"


def synthetic(i: int) -> Record:
    return Record(
        id=rid(i),
        sources=[Source(f"/videos/clip{i}.mp4", title=f"harbour clip {i}")],
        file=FileInfo(f"/videos/clip{i}.mp4", f"clip{i}.mp4", 1000 + i, rid(i)),
    )


def fill(lib: Path, store: Any = None) -> None:
    """N records through the store API, then everything checkpointed into library.sqlite."""
    with store or open_store(config_for(lib)) as s:
        for i in range(N):
            s.upsert(synthetic(i))
    db = sqlite3.connect(lib / "library.sqlite")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def damage(db: Path, pages: int = 10) -> None:
    """Garbage over the last ``pages`` pages of the file (the first pages, the schema, stay whole)."""
    size = db.stat().st_size
    assert size > 4096 * (pages + 10), "too few records to damage only the later pages"
    with open(db, "r+b") as fh:
        fh.seek(size - 4096 * pages)
        fh.write(random.Random(14).randbytes(4096 * pages))


@pytest.fixture
def damaged(tmp_path: Path) -> Path:
    lib = tmp_path / "lib"
    fill(lib)
    damage(lib / "library.sqlite")
    return lib


def one_clear_line(res: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert res.returncode != 0, res.stderr
    assert "Traceback" not in res.stderr and "sqlite3." not in res.stderr, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_each_stored_record_is_kept_as_record_json_beside_its_processed_files(
    tmp_path: Path, sample_video: Path
) -> None:
    lib = tmp_path / "lib"
    cfg = config_for(lib)
    assert api.run([str(sample_video)], cfg, skip=["analyze"]).ok
    (rec,) = api.search(cfg)
    folder = lib / "processed" / rec.id
    assert (folder / "record.json").is_file() and rec.scenes and rec.scenes.contact_sheet
    assert (lib / rec.scenes.contact_sheet).parent == folder  # beside the pictures
    assert json.loads((folder / "record.json").read_text()) == api.get(cfg, rec.id).to_dict()
    api.edit_tags(cfg, rec.id, add=["favourite"])  # every later write of the record too
    assert "favourite" in Record.from_json((folder / "record.json").read_text()).tag_names()
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_search_show_export_and_run_on_a_damaged_library_say_so_in_one_line(
    damaged: Path, tmp_path: Path, sample_video: Path
) -> None:
    db = str(damaged / "library.sqlite")
    wanted = (db, "damaged", "videokit check", "videokit rebuild")
    one_clear_line(videokit(damaged, "search", "harbour"), *wanted)
    one_clear_line(videokit(damaged, "search"), *wanted)
    one_clear_line(videokit(damaged, "show", rid(N - 1)), *wanted)
    for fmt, out in (("csv", tmp_path / "out" / "videos.csv"), ("json", tmp_path / "out" / "json")):
        one_clear_line(videokit(damaged, "export", "--format", fmt, "--out", str(out)), *wanted)
        assert not out.exists() or list(out.iterdir()) == []
    assert list((tmp_path / "out").iterdir()) in ([], [tmp_path / "out" / "json"])  # no temp file left
    one_clear_line(videokit(damaged, "run", "--skip", "analyze", str(sample_video)), *wanted)
    # the library API raises the same StoreError, never a sqlite3 exception
    with pytest.raises(DamagedStoreError, match="videokit rebuild"):
        api.search(config_for(damaged), Query(text="harbour"))


def test_check_reports_the_damage_and_rebuild_recreates_the_database(damaged: Path) -> None:
    check = videokit(damaged, "check")
    assert check.returncode == 1 and "Traceback" not in check.stderr
    assert "malformed" in check.stderr and "videokit rebuild" in check.stderr
    assert f"{N} record.json file(s)" in check.stderr
    report = api.check(config_for(damaged))
    assert not report.ok and report.problems and report.record_files == N

    res = videokit(damaged, "rebuild")
    assert res.returncode == 0, res.stderr
    assert f"{N} record(s) ({N} from record.json files" in res.stderr
    (kept,) = damaged.glob("library.sqlite.damaged-*[0-9]Z")
    assert kept.stat().st_size > 0 and "kept as " + str(kept) in res.stderr

    assert videokit(damaged, "check").returncode == 0
    found = json.loads(videokit(damaged, "search", "--json").stdout)
    assert sorted(r["id"] for r in found) == [rid(i) for i in range(N)]
    assert [r["id"] for r in json.loads(videokit(damaged, "search", "harbour clip 137", "--json").stdout)] == [rid(137)]


def test_rebuild_after_the_database_is_deleted_finds_everything(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    fill(lib)
    cfg = config_for(lib)
    for name in ("library.sqlite", "library.sqlite-wal", "library.sqlite-shm"):
        (lib / name).unlink(missing_ok=True)
    check = api.check(cfg)
    assert not check.ok and "no library database" in check.problems[0] and check.record_files == N
    assert not (lib / "library.sqlite").exists()  # check only reads
    report = api.rebuild(cfg)
    assert (report.records, report.from_files, report.salvaged, report.kept_as) == (N, N, 0, None)
    assert api.count(cfg) == N and api.check(cfg).ok
    assert [r.id for r in api.search(cfg, Query(text="harbour clip 42"))] == [rid(42)]
    assert api.get(cfg, rid(7)).sources[0].input == "/videos/clip7.mp4"


def test_rebuild_keeps_readable_rows_that_have_no_record_json(tmp_path: Path) -> None:
    """A library stored before record.json existed: what the damaged file still holds is kept."""
    lib = tmp_path / "lib"
    lib.mkdir()
    fill(lib, SQLiteStore(lib / "library.sqlite"))  # no records folder: no record.json files
    damage(lib / "library.sqlite")
    cfg = config_for(lib)
    report = api.rebuild(cfg)
    assert report.damaged and report.from_files == 0 and N // 2 < report.salvaged == report.records < N
    assert api.count(cfg) == report.records and api.check(cfg).ok
    assert len(list((lib / "processed").glob("*/record.json"))) == report.records  # written now


def test_a_damaged_ledger_is_a_store_error_naming_it(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    ledger = lib / "ledger.sqlite"
    ledger.write_bytes(random.Random(3).randbytes(8192))
    with pytest.raises(StoreError, match="ledger.sqlite"):
        Ledger.open(config_for(lib))
    one_clear_line(videokit(lib, "status"), str(ledger), "move it aside")
