"""The job ledger: per-input status, attempts, errors and resumable progress in ledger.sqlite."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from videokit.batch.settings import settings_hash
from videokit.config import load_config
from videokit.inputs import InputItem
from videokit.ledger import Ledger
from videokit.record import FileInfo, Record, Source, StageError


def _record(spec: str, *, errors: list[StageError] | None = None, timings: dict[str, float] | None = None) -> Record:
    rec = Record(id="ab" * 32, sources=[Source(input=spec, kind="file", path=spec)])
    rec.file = FileInfo(spec, Path(spec).name, 10, "ab" * 32)
    rec.errors = list(errors or [])
    rec.timings = dict(timings or {"fetch": 0.1, "probe": 0.2})
    return rec


def test_job_goes_from_pending_to_done_with_stage_status(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        item = InputItem("/videos/a.mp4", "file", {"label": "cat"})
        job = ledger.add(item, "h1")
        assert (job.status, job.attempts, job.user_fields) == ("pending", 0, {"label": "cat"})
        assert ledger.start(item.spec) == 1
        assert ledger.get(item.spec).status == "running"
        ledger.save_partial(item.spec, _record(item.spec, timings={"fetch": 0.1}))
        resumed = ledger.get(item.spec)
        assert resumed.partial is not None and resumed.partial.file.path == "/videos/a.mp4"
        assert resumed.stages == {"fetch": "done"}
        done = ledger.finish(item.spec, _record(item.spec, timings={"fetch": 0.1, "probe": 0.25, "store": 0.01}))
        assert done.status == "done" and done.partial is None and done.record_id == "ab" * 32
        assert done.stages == {"fetch": "done", "probe": "done", "store": "done"}
        assert done.timings["probe"] == 0.25
        assert ledger.counts() == {"done": 1}
        assert ledger.stage_counts()["probe"] == {"done": 1}


def test_failure_keeps_reason_and_kind(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        for spec, kind in (("http://x/a.mp4", "transient"), ("http://x/b.mp4", "permanent")):
            ledger.add(InputItem(spec, "url"), "h1")
            ledger.start(spec)
            err = StageError("fetch", f"{spec}: boom", kind)
            ledger.finish(spec, _record(spec, errors=[err], timings={"fetch": 0.5}))
        failed = {j.spec: j for j in ledger.jobs("failed")}
        assert failed["http://x/a.mp4"].error_kind == "transient"
        assert failed["http://x/b.mp4"].error_kind == "permanent"
        assert failed["http://x/a.mp4"].error == "http://x/a.mp4: boom"
        assert failed["http://x/a.mp4"].error_stage == "fetch"
        assert ledger.stage_counts() == {"fetch": {"failed": 2}}


def test_same_settings_keep_progress_other_settings_start_over(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        item = InputItem("/v.mp4", "file")
        ledger.add(item, "h1")
        ledger.start(item.spec)
        ledger.save_partial(item.spec, _record(item.spec))
        again = ledger.add(item, "h1")
        assert again.partial is not None and again.attempts == 1
        changed = ledger.add(item, "h2")
        assert changed.partial is None and changed.attempts == 0 and changed.stages == {}


def test_ledger_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:
        ledger.add(InputItem("/v.mp4", "file"), "h1")
    with Ledger(path) as ledger:
        assert ledger.get("/v.mp4").settings_hash == "h1"


_WRITER = """
import sys
from videokit.inputs import InputItem
from videokit.ledger import Ledger
from videokit.record import Record, Source
ledger = Ledger(sys.argv[1])
i = 0
print("ready", flush=True)
while True:
    spec = f"/v{i}.mp4"
    ledger.add(InputItem(spec, "file"), "h")
    ledger.start(spec)
    rec = Record(id=f"{i:064x}", sources=[Source(input=spec)], timings={"fetch": 0.1, "probe": 0.1})
    ledger.save_partial(spec, rec)
    ledger.finish(spec, rec)
    if i == 20:
        print("twenty done", flush=True)
    i += 1
"""


def test_sigkill_mid_write_leaves_a_consistent_ledger(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    assert proc.stdout.readline().strip() == "twenty done"  # however slow the machine
    time.sleep(0.3)  # then somewhere inside a later write
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    with Ledger(path) as ledger:
        jobs = ledger.jobs()
        assert jobs, "the writer wrote nothing before it was killed"
        for job in jobs[:-1]:  # every job but the one being written is complete
            assert job.status == "done" and job.stages == {"fetch": "done", "probe": "done"}
        assert jobs[-1].status in ("pending", "running", "done")


def test_settings_hash_tracks_settings_that_change_results(tmp_path: Path) -> None:
    base = load_config(env={})
    h = settings_hash(base)
    assert h == settings_hash(load_config(env={}))
    # neutral: where files go, how many workers, the broker
    assert settings_hash(base.with_overrides({("Concurrency", "MaxWorkers"): 4})) == h
    assert settings_hash(base.with_overrides({("Paths", "DownloadDirectory"): str(tmp_path)})) == h
    assert settings_hash(base.with_overrides({("Celery", "BrokerURL"): "redis://elsewhere:6379/0"})) == h
    # result-changing: thresholds, analyzer, skipped stages, the content of rules files
    assert settings_hash(base.with_overrides({("SceneDetection", "DefaultThreshold"): 12.0})) != h
    assert settings_hash(base.with_overrides({("Analysis", "Backend"): "none"})) != h
    assert settings_hash(base, skip=["scenes"]) != h
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"rules": []}))
    with_rules = base.with_overrides({("Rules", "CustomTagRules"): str(rules)})
    first = settings_hash(with_rules)
    rules.write_text(json.dumps({"rules": [{"tag": "x"}]}))
    assert settings_hash(with_rules) != first


def test_unknown_update_field_is_refused(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        ledger.add(InputItem("/v.mp4", "file"), "h")
        with pytest.raises(ValueError, match="unknown job field"):
            ledger.update("/v.mp4", colour="blue")
