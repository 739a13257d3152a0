"""Global options (--config, --library, --log-level, --quiet) work before the command and after it,
for every command; --log-level debug makes the log file verbose too."""

from __future__ import annotations

import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from httpserver import TestServer
from media import make_video
from test_resume import FAST_SKIP, VIDEOKIT, cli_env
from videokit._cli import main
from videokit.store.sqlite import SQLiteStore


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("clips") / "clip.mp4", duration=1.0, title="global clip")


def vk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([VIDEOKIT, *args], env=cli_env(), capture_output=True, text=True, timeout=120)


def stored(lib: Path) -> list[str]:
    if not (lib / "library.sqlite").exists():
        return []
    with SQLiteStore(lib / "library.sqlite") as store:
        return [s.input for r in store.iter_records() for s in r.sources]


def test_global_options_after_the_command(tmp_path: Path, clip: Path) -> None:
    lib = tmp_path / "lib"
    res = vk("run", str(clip), *FAST_SKIP, "--quiet", "--library", str(lib), "--log-level", "info")
    assert res.returncode == 0, res.stderr
    assert stored(lib) == [str(clip)]
    found = vk("search", "--json", "global", "--library", str(lib), "-q")
    assert found.returncode == 0, found.stderr
    assert '"global clip"' in found.stdout


def test_before_the_command_still_works_and_after_wins(tmp_path: Path, clip: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    res = vk("--library", str(first), "-q", "run", str(clip), *FAST_SKIP)
    assert res.returncode == 0, res.stderr
    assert stored(first) == [str(clip)]
    res = vk("--library", str(first), "run", str(clip), *FAST_SKIP, "--library", str(second))
    assert res.returncode == 0, res.stderr
    assert stored(second) == [str(clip)]
    assert f"into {second}" in res.stderr


def test_config_after_the_command(tmp_path: Path, clip: Path) -> None:
    lib = tmp_path / "from-config"
    cfg = tmp_path / "other.ini"
    cfg.write_text(f"[Library]\nLocation = {lib}\n")
    res = vk("run", str(clip), *FAST_SKIP, "--config", str(cfg), "--quiet")
    assert res.returncode == 0, res.stderr
    assert stored(lib) == [str(clip)]


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for name, cmd in group.commands.items():
        paths.append((*prefix, name))
        if isinstance(cmd, click.Group):
            paths += _command_paths(cmd, (*prefix, name))
    return paths


def test_every_command_accepts_the_global_options_after_it(tmp_path: Path) -> None:
    paths = _command_paths(main)
    assert ("run",) in paths and ("rules", "list") in paths
    globals_ = ["--quiet", "-q", "--library", str(tmp_path), "--log-level", "debug", "--config", "x.ini"]
    for path in paths:
        res = CliRunner().invoke(main, [*path, *globals_, "--help"])
        assert res.exit_code == 0, f"videokit {' '.join(path)}: {res.output}"
    # listed once, in the main help, with a note that they may follow the command
    top = CliRunner().invoke(main, ["--help"]).output
    assert "--library" in top and "after the command" in top
    assert "--library" not in CliRunner().invoke(main, ["run", "--help"]).output


def test_log_level_debug_makes_the_log_file_verbose(tmp_path: Path, clip: Path, http_server: TestServer) -> None:
    http_server.add_file("/v.mp4", clip.read_bytes())
    quiet_lib, verbose_lib = tmp_path / "quiet", tmp_path / "verbose"

    res = vk("--library", str(quiet_lib), "-q", "run", http_server.url("/v.mp4"), *FAST_SKIP)
    assert res.returncode == 0, res.stderr
    log = (quiet_lib / "videokit.log").read_text()
    assert " INFO " in log and "downloaded" in log  # the file keeps info by default
    assert " DEBUG " not in log

    res = vk("run", http_server.url("/v.mp4"), *FAST_SKIP, "--library", str(verbose_lib), "--log-level", "debug")
    assert res.returncode == 0, res.stderr
    log = (verbose_lib / "videokit.log").read_text()
    assert " DEBUG " in log and "expanded into 1 item" in log
    assert "DEBUG" in res.stderr  # and stderr, as before
