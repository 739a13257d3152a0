"""A library on a nearly full filesystem: the batch stops cleanly with one line naming the place
and what to do, and the same command finishes it once there is space.

The library lives on a small tmpfs mounted for the test (as root, as in CI); the test is skipped
where mounting is not permitted."""

from __future__ import annotations

import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from media import make_video
from videokit.errors import DiskFullError, stops_batch
from videokit.store.sqlite import SQLiteStore

VIDEOKIT = str(Path(sys.executable).with_name("videokit"))
FREE_KB = 700  # left free: the small first video fits (it needs about 450 KB at its peak), the
# second one's scene pictures (about 900 KB of noisy JPEGs) do not


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB tmpfs; skipped where mounting is not permitted (not root, no CAP_SYS_ADMIN)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if shutil.which("mount") is None or hasattr(os, "geteuid") and os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (the full-disk test runs as root in CI)")
    res = _mount("-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt))
    if res.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {res.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(disk: Path, leave_kb: int) -> None:
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    with open(disk / "filler", "wb") as fh:
        fh.write(b"\0" * max(0, free - leave_kb * 1024))


@pytest.fixture(scope="module")
def four(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A tiny clip, then three 3 s 640x480 noisy clips whose pictures are large."""
    d = tmp_path_factory.mktemp("fourclips")
    clips = [make_video(d / "a.mp4", duration=1.0, size="160x120", audio=False)]
    for name, source in (("b", "testsrc2"), ("c", "smptebars"), ("d", "rgbtestsrc")):
        clips.append(
            make_video(
                d / f"{name}.mp4",
                duration=3.0,
                size="640x480",
                source=source,
                audio=False,
                extra=["-vf", "noise=alls=80:allf=t"],
            )
        )
    return clips


def run(lib: Path, clips: list[Path]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOKIT_")}
    return subprocess.run(
        [VIDEOKIT, "--library", str(lib), "-q", "run", "--workers", "1", "--skip", "analyze", *map(str, clips)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def jobs(lib: Path) -> dict[str, tuple[str, dict[str, str]]]:
    db = sqlite3.connect(lib / "ledger.sqlite")
    try:
        stages: dict[str, dict[str, str]] = {}
        for spec, stage, status in db.execute("SELECT spec, stage, status FROM job_stages"):
            stages.setdefault(spec, {})[stage] = status
        return {spec: (status, stages.get(spec, {})) for spec, status in db.execute("SELECT spec, status FROM jobs")}
    finally:
        db.close()


def test_a_full_disk_stops_the_batch_cleanly_and_the_same_command_resumes_it(tiny_disk: Path, four: list[Path]) -> None:
    lib = tiny_disk / "lib"
    fill(tiny_disk, FREE_KB)
    res = run(lib, four)
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr and "sqlite3" not in res.stderr, res.stderr
    assert res.stderr.strip().splitlines() == [
        f"error: no space left on device at {lib}: free space and run the same command again; nothing was lost"
    ]
    # the first video is stored; the second got through fetch and probe and died writing its
    # scene pictures; the rest are pending, and nothing half-written is left
    state = jobs(lib)
    assert state[str(four[0])][0] == "done"
    assert state[str(four[1])][0] == "pending" and state[str(four[1])][1].get("fetch") == "done"
    assert {state[str(c)][0] for c in four[2:]} == {"pending"}
    with SQLiteStore(lib / "library.sqlite") as store:
        assert store.count() == 1
    assert [p.name for p in (lib / "processed").iterdir() if p.name.startswith(".")] == []

    assert _mount("-o", "remount,size=64m", str(tiny_disk)).returncode == 0
    again = run(lib, four)
    assert again.returncode == 0, again.stderr
    with SQLiteStore(lib / "library.sqlite") as store:
        stored = list(store.iter_records())
    assert sorted(s.input for r in stored for s in r.sources) == sorted(map(str, four))  # each once
    assert len(stored) == 4 and all((lib / "processed" / r.id / "record.json").is_file() for r in stored)


def test_a_disk_already_full_when_the_run_starts_is_the_same_one_line(tiny_disk: Path, four: list[Path]) -> None:
    """Nothing can be written at all: not the ledger's shared-memory file, not the log file."""
    lib = tiny_disk / "lib"
    assert run(lib, four[:1]).returncode == 0
    fill(tiny_disk, 0)
    for _ in range(2):
        res = run(lib, four)
        assert res.returncode == 1 and "Traceback" not in res.stderr and "Logging error" not in res.stderr
        assert res.stderr.strip().splitlines() == [
            f"error: no space left on device at {lib}: free space and run the same command again; nothing was lost"
        ]
    # a line the log file cannot take is dropped, not reported with a traceback
    log_line = (
        "import logging; from videokit.config import load_config; from videokit.logs import setup_logging; "
        f"setup_logging(load_config(None, env={{}}, overrides={{('Library', 'Location'): {str(lib)!r}}})); "
        "logging.getLogger('videokit.test').info('x' * 100_000)"
    )
    logged = subprocess.run([sys.executable, "-c", log_line], capture_output=True, text=True, timeout=60)
    assert (logged.returncode, logged.stderr) == (0, "")

    assert _mount("-o", "remount,size=64m", str(tiny_disk)).returncode == 0
    assert run(lib, four).returncode == 0
    with SQLiteStore(lib / "library.sqlite") as store:
        assert store.count() == 4


def test_a_full_disk_is_one_error_kind_whatever_raised_it(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    err = stops_batch(OSError(28, "No space left on device", str(lib / "processed" / "x.jpg")), lib)
    assert isinstance(err, DiskFullError) and err.where == str(lib)
    elsewhere = stops_batch(OSError(28, "No space left on device", "/scratch/frames/f.jpg"), lib)
    assert isinstance(elsewhere, DiskFullError) and elsewhere.where == "/scratch/frames"
    assert stops_batch(OSError(2, "No such file or directory"), lib) is None
    assert str(pickle.loads(pickle.dumps(err))) == str(err)  # crosses worker processes unchanged
