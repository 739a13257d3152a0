"""Resumable batches: SIGKILL `videokit run` at several moments, run it again, nothing is lost or doubled;
`videokit status` and `videokit retry [--transient-only]`."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from httpserver import Failure, TestServer
from media import make_video
from videokit.store.sqlite import SQLiteStore

VIDEOKIT = str(Path(sys.executable).with_name("videokit"))
# The full pipeline once every stage exists; until then the missing optional stage is skipped.
FULL_SKIP = [] if importlib.util.find_spec("videokit.scenes.stage") else ["--skip", "scenes"]
FAST_SKIP = ["--skip", "scenes", "--skip", "analyze"]
SOURCES = ["testsrc2", "smptebars", "rgbtestsrc", "testsrc", "yuvtestsrc", "smptehdbars"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("clips")
    return [
        make_video(d / f"clip{i}.mp4", duration=1.0, source=src, title=f"clip {i}") for i, src in enumerate(SOURCES)
    ]


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOKIT_")}
    env.update({"OMP_NUM_THREADS": "1", "VIDEOKIT_DOWNLOAD_BACKOFFBASE": "0", "VIDEOKIT_DOWNLOAD_BACKOFFMAX": "0"})
    env.update(extra)
    return env


def videokit(lib: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [VIDEOKIT, "--library", str(lib), "-q", *args],
        env=env or cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def ledger_rows(lib: Path) -> dict[str, dict]:
    path = lib / "ledger.sqlite"
    if not path.exists():
        return {}
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        db.row_factory = sqlite3.Row
        rows = {r["spec"]: dict(r) for r in db.execute("SELECT spec, status, attempts, record_id FROM jobs")}
        db.close()
        return rows
    except sqlite3.OperationalError:  # not created yet
        return {}


def run_and_kill(lib: Path, args: list[str], when: Callable[[], bool], limit: float = 60) -> int:
    """Start `videokit run`, SIGKILL it as soon as ``when()`` holds; returns its exit status."""
    proc = subprocess.Popen(
        [VIDEOKIT, "--library", str(lib), "-q", "run", *args],
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + limit
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if when():
                os.killpg(proc.pid, signal.SIGKILL)  # the run and its worker processes
                break
            time.sleep(0.02)
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def temp_files(lib: Path) -> list[Path]:
    return [
        p
        for p in lib.rglob("*")
        if p.is_file() and (p.name.endswith((".part", ".part.json", ".tmp")) or ".tmp" in p.name)
    ]


def test_sigkill_at_any_moment_then_rerun_finishes_without_duplicates(
    tmp_path: Path, http_server: TestServer, clips: list[Path]
) -> None:
    data = [p.read_bytes() for p in clips]
    http_server.add_file("/slow.mp4", data[0], chunk_delay=0.12)  # ~1 s download: killed mid-way
    http_server.add_file("/b.mp4", data[1])
    http_server.add_file("/dup.mp4", data[2])  # the same bytes as the local clip2: one record, two sources
    inputs = [
        http_server.url("/slow.mp4"),
        str(clips[3]),
        http_server.url("/b.mp4"),
        str(clips[2]),
        http_server.url("/dup.mp4"),
        str(clips[4]),
        str(clips[5]),
    ]
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(inputs) + "\n")
    lib = tmp_path / "lib"
    downloads = lib / "downloads"
    args = ["--from", str(listing), *FULL_SKIP]

    # 1. mid-download: a .part file is on disk
    rc = run_and_kill(lib, args, lambda: downloads.is_dir() and any(downloads.glob("*.part")))
    assert rc == -signal.SIGKILL
    assert any(downloads.glob("*.part")), "the kill did not land mid-download"
    slow_bytes_first = sum(r.bytes_sent for r in http_server.requests("/slow.mp4"))
    assert 0 < slow_bytes_first < len(data[0])

    # 2. with two workers, after records have landed
    rc = run_and_kill(
        lib, [*args, "--workers", "2"], lambda: sum(r["status"] == "done" for r in ledger_rows(lib).values()) >= 2
    )
    assert rc == -signal.SIGKILL
    done_before = {s for s, r in ledger_rows(lib).items() if r["status"] == "done"}
    assert 2 <= len(done_before) < len(inputs)

    # 3. at an arbitrary moment
    start = time.monotonic()
    run_and_kill(lib, args, lambda: time.monotonic() - start > 0.9)

    # the same command again finishes the batch
    final = videokit(lib, "run", *args)
    assert final.returncode == 0, final.stderr

    # the slow download was resumed, not restarted: its bytes went over the wire about once
    assert any(r.range for r in http_server.requests("/slow.mp4"))
    assert sum(r.bytes_sent for r in http_server.requests("/slow.mp4") if r.method == "GET") < 1.6 * len(data[0])

    rows = ledger_rows(lib)
    assert {s: r["status"] for s, r in rows.items()} == {s: "done" for s in inputs}
    with SQLiteStore(lib / "library.sqlite") as store:
        records = list(store.iter_records())
        assert store.count() == 6  # seven inputs, six distinct contents
    sources = sorted(s.input for r in records for s in r.sources)
    assert sources == sorted(inputs)  # every input exactly once, none lost
    dup = next(r for r in records if len(r.sources) == 2)
    assert {s.input for s in dup.sources} == {str(clips[2]), http_server.url("/dup.mp4")}
    for r in records:  # every stored file is whole
        assert hashlib.sha256(Path(r.file.path).read_bytes()).hexdigest() == r.id
    assert temp_files(lib) == []
    # inputs done before a kill were not processed again
    for spec in done_before:
        assert rows[spec]["attempts"] == 1, spec

    # once more: nothing left to do, nothing reprocessed
    again = videokit(lib, "run", *args)
    assert again.returncode == 0, again.stderr
    assert {s: r["attempts"] for s, r in ledger_rows(lib).items()} == {s: r["attempts"] for s, r in rows.items()}
    with SQLiteStore(lib / "library.sqlite") as store:
        assert store.count() == 6


def _status(lib: Path, env: dict[str, str]) -> dict:
    out = videokit(lib, "status", "--json", env=env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_status_lists_failures_and_retry_transient_only_reruns_just_those(
    tmp_path: Path, http_server: TestServer, clips: list[Path]
) -> None:
    http_server.add_file("/good.mp4", clips[0].read_bytes())
    http_server.add_file("/flaky.mp4", clips[1].read_bytes(), fail=[Failure(503)])  # fails once, then works
    good, flaky, missing = (http_server.url(p) for p in ("/good.mp4", "/flaky.mp4", "/missing.mp4"))
    lib = tmp_path / "lib"
    env = cli_env(VIDEOKIT_DOWNLOAD_RETRIES="0")

    first = videokit(lib, "run", good, flaky, missing, *FAST_SKIP, env=env)
    assert first.returncode == 1
    st = _status(lib, env)
    assert st["jobs"]["done"] == 1 and st["jobs"]["failed"] == 2
    kinds = {f["input"]: f["kind"] for f in st["failures"]}
    assert kinds == {flaky: "transient", missing: "permanent"}
    assert st["stages"]["fetch"] == {"done": 1, "failed": 2}
    assert st["stages"]["store"] == {"done": 1}
    text = videokit(lib, "status", env=env).stdout
    assert "2 failure(s)" in text and "missing.mp4" in text and "404" in text

    missing_requests = len(http_server.requests("/missing.mp4"))
    retried = videokit(lib, "retry", "--transient-only", *FAST_SKIP, env=env)
    assert retried.returncode == 0, retried.stderr
    assert len(http_server.requests("/missing.mp4")) == missing_requests  # the permanent failure was left alone
    st = _status(lib, env)
    assert st["jobs"]["done"] == 2 and st["jobs"]["failed"] == 1
    assert [f["input"] for f in st["failures"]] == [missing]
    with SQLiteStore(lib / "library.sqlite") as store:
        assert store.count() == 2

    # a plain retry tries the permanent failure again, and still reports it
    again = videokit(lib, "retry", *FAST_SKIP, env=env)
    assert again.returncode == 1 and "missing.mp4" in again.stderr
    assert len(http_server.requests("/missing.mp4")) > missing_requests
