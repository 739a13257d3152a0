"""What a killed run leaves behind (a half-filled scene folder, an export's temporary file) is
removed by the next run; what a live process is writing is never touched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from media import make_video
from videokit import api
from videokit.config import Config, load_config
from videokit.tempfiles import owner, pid_alive, remove_stale, temp_path

VIDEOKIT = str(Path(sys.executable).with_name("videokit"))


def config_for(lib: Path) -> Config:
    return load_config(None, env={}, overrides={("Library", "Location"): str(lib)})


def dead_pid() -> int:
    """The id of a process that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    assert not pid_alive(proc.pid)
    return proc.pid


def named_for(final: Path, pid: int, kind: str = "tmp") -> Path:
    """``temp_path(final)`` as process ``pid`` would have named it."""
    mine = temp_path(final, kind)
    return mine.with_name(mine.name.replace(f"-{os.getpid()}-", f"-{pid}-"))


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Long enough that the scene pass is still running when we look."""
    return make_video(tmp_path_factory.mktemp("long") / "long.mp4", duration=40.0, size="640x360", audio=False)


def test_a_run_killed_mid_scene_pass_leaves_a_folder_the_next_run_removes(tmp_path: Path, long_clip: Path) -> None:
    lib = tmp_path / "lib"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOKIT_")}
    cmd = [VIDEOKIT, "--library", str(lib), "-q", "run", "--workers", "1", "--skip", "analyze", str(long_clip)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processed = lib / "processed"
    deadline = time.monotonic() + 60
    left: list[Path] = []
    while not left and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
        left = [p for p in processed.glob(".*.tmp-*") if p.is_dir()] if processed.is_dir() else []
    assert left, "the scene pass never started (or finished too fast to be killed in it)"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (litter,) = left
    assert litter.is_dir() and owner(litter) is not None and owner(litter).pid == proc.pid

    # a temp folder of a live process (this one) beside it is never touched
    live = temp_path(processed / ("f" * 64))
    live.mkdir()
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert not litter.exists() and live.is_dir()
    (rec,) = api.search(config_for(lib))
    assert (processed / rec.id / "record.json").is_file()
    assert sorted(p.name for p in processed.iterdir()) == sorted([rec.id, live.name])


def test_the_next_export_removes_a_killed_exports_temp_file_but_not_a_live_ones(
    tmp_path: Path, sample_video: Path
) -> None:
    cfg = config_for(tmp_path / "lib")
    assert api.run([str(sample_video)], cfg, skip=["analyze", "scenes"]).ok
    out = tmp_path / "out" / "videos.csv"
    out.parent.mkdir()
    stale, live = named_for(out, dead_pid()), temp_path(out)
    other = named_for(tmp_path / "out" / "other.csv", dead_pid())  # another file's: not this export's business
    for p in (stale, live, other):
        p.write_text("half")
    assert api.export_library(cfg, "csv", out).count == 1
    assert not stale.exists() and live.exists() and other.exists()
    assert sorted(p.name for p in out.parent.iterdir()) == sorted([out.name, live.name, other.name])

    folder = tmp_path / "json"  # the json exporter's folder: every stale temp in it
    folder.mkdir()
    stale_in_folder = named_for(folder / "index.json", dead_pid())
    stale_in_folder.write_text("half")
    assert api.export_library(cfg, "json", folder).count == 1
    assert not stale_in_folder.exists() and not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_only_this_hosts_dead_processes_temps_are_stale(tmp_path: Path) -> None:
    final = tmp_path / "x"
    dead, mine = named_for(final, dead_pid()), temp_path(final)
    foreign = tmp_path / f".x.tmp-otherhost-{owner(dead).pid}-0123abcd"  # a dead pid, on another host
    zombie_parent = subprocess.Popen([sys.executable, "-c", "pass"])  # exits, not reaped yet: a zombie
    deadline = time.monotonic() + 10
    while pid_alive(zombie_parent.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    zombie = named_for(final, zombie_parent.pid, "old")
    plain = tmp_path / ".x.tmp"  # not a name videokit gives: never touched
    for p in (dead, mine, foreign, zombie, plain):
        p.mkdir()
    assert owner(foreign) is not None and owner(foreign).host == "otherhost"
    assert sorted(remove_stale(tmp_path)) == sorted([dead, zombie])
    zombie_parent.wait()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, foreign.name, plain.name])
