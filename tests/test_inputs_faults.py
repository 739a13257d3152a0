"""One bad input never stops a batch before it starts: symlink loops, broken links, directory loops,
unreadable folders and file names that are not UTF-8 each become that input's one-line error (exit
status 1), and the good videos of the same batch are stored. A CSV row with an empty url cell is
reported with its line number."""

from __future__ import annotations

import errno
import logging
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from media import make_video
from test_resume import FAST_SKIP, cli_env, videokit
from videokit.errors import InputError
from videokit.store.sqlite import SQLiteStore


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("clips") / "clip.mp4", duration=1.0, title="good clip")


@pytest.fixture(scope="module")
def other_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("clips") / "other.mp4", duration=1.0, source="smptebars")


def stored_inputs(lib: Path) -> list[str]:
    with SQLiteStore(lib / "library.sqlite") as store:
        return sorted(s.input for r in store.iter_records() for s in r.sources)


def line_about(stderr: str, name: str) -> str:
    """The one line of stderr that names ``name`` (fails when there are none or several)."""
    lines = [line for line in stderr.splitlines() if name in line]
    assert len(lines) == 1, f"expected one line naming {name!r}:\n{stderr}"
    assert "Traceback" not in stderr, stderr
    return lines[0]


def test_symlink_loop_given_as_input_fails_alone(tmp_path: Path, clip: Path) -> None:
    good = shutil.copy(clip, tmp_path / "good.mp4")
    (tmp_path / "loop-a.mp4").symlink_to("loop-b.mp4")
    (tmp_path / "loop-b.mp4").symlink_to("loop-a.mp4")
    lib = tmp_path / "lib"
    res = videokit(lib, "run", *FAST_SKIP, str(good), str(tmp_path / "loop-a.mp4"))
    assert res.returncode == 1, res.stderr
    line = line_about(res.stderr, "loop-a.mp4")
    assert "symbolic link loop" in line and "fix or remove the link" in line
    assert stored_inputs(lib) == [str(good)]
    assert "processed 1 of 2" in res.stderr


def test_broken_link_names_the_link_and_its_target(tmp_path: Path, clip: Path) -> None:
    good = shutil.copy(clip, tmp_path / "good.mp4")
    (tmp_path / "dangling.mp4").symlink_to("gone.mp4")
    lib = tmp_path / "lib"
    res = videokit(lib, "run", *FAST_SKIP, str(tmp_path / "dangling.mp4"), str(good))
    assert res.returncode == 1, res.stderr
    line = line_about(res.stderr, "dangling.mp4")
    assert "broken symbolic link" in line and "gone.mp4" in line and "fix or remove the link" in line
    assert stored_inputs(lib) == [str(good)]


def test_bad_entries_inside_a_folder_each_fail_alone(tmp_path: Path, clip: Path, other_clip: Path) -> None:
    folder = tmp_path / "videos"
    (folder / "sub").mkdir(parents=True)
    good = shutil.copy(clip, folder / "good.mp4")
    deep = shutil.copy(other_clip, folder / "sub" / "deep.mp4")
    (folder / "loop-a.mp4").symlink_to("loop-b.mp4")
    (folder / "loop-b.mp4").symlink_to("loop-a.mp4")
    (folder / "dangling.mp4").symlink_to("gone.mp4")
    (folder / "sub" / "back").symlink_to("..")  # a directory loop: videos/sub/back -> videos
    (folder / ".#lock").symlink_to("nobody@host.1234")  # an editor's lock file: hidden, left alone
    lib = tmp_path / "lib"
    res = videokit(lib, "run", *FAST_SKIP, str(folder))
    assert res.returncode == 1, res.stderr
    for name in ("loop-a.mp4", "loop-b.mp4"):
        assert "symbolic link loop" in line_about(res.stderr, f"videos/{name}")
    assert "broken symbolic link" in line_about(res.stderr, "dangling.mp4")
    back = line_about(res.stderr, "sub/back")
    assert "symbolic link loop" in back and "remove the link" in back
    assert ".#lock" not in res.stderr
    assert stored_inputs(lib) == sorted([str(good), str(deep)])
    assert "processed 2 of 6" in res.stderr


def test_symlinked_folders_are_followed_once(tmp_path: Path, clip: Path, other_clip: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(other_clip, outside / "far.mp4")
    folder = tmp_path / "videos"
    folder.mkdir()
    good = shutil.copy(clip, folder / "good.mp4")
    (folder / "linked").symlink_to(outside)
    (folder / "linked-again").symlink_to(outside)  # the same folder twice: walked once, no error
    lib = tmp_path / "lib"
    res = videokit(lib, "run", *FAST_SKIP, str(folder))
    assert res.returncode == 0, res.stderr
    assert stored_inputs(lib) == sorted([str(good), str(folder / "linked" / "far.mp4")])


def test_undecodable_file_names_fail_alone(tmp_path: Path, clip: Path, other_clip: Path) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    good = shutil.copy(clip, folder / "good.mp4")
    inside = folder / os.fsdecode(b"caf\xe9.mp4")  # Latin-1 bytes: not UTF-8
    shutil.copy(other_clip, inside)
    given = tmp_path / os.fsdecode(b"na\xefve.mp4")
    shutil.copy(other_clip, given)
    lib = tmp_path / "lib"
    res = videokit(lib, "run", *FAST_SKIP, str(folder), str(given))
    assert res.returncode == 1, res.stderr
    for shown in (r"caf\xe9.mp4", r"na\xefve.mp4"):
        line = line_about(res.stderr, shown)
        assert "not valid UTF-8" in line and "rename" in line
    assert stored_inputs(lib) == [str(good)]
    assert "processed 1 of 3" in res.stderr
    # the ledger can show them: `status` lists both failures, escaped
    status = videokit(lib, "status")
    assert status.returncode == 0, status.stderr
    assert r"caf\xe9.mp4" in status.stdout and r"na\xefve.mp4" in status.stdout


@pytest.fixture
def cli_logging():
    """In-process CLI runs attach log handlers to the captured stderr: detach them afterwards."""
    yield
    root = logging.getLogger("videokit")
    for h in list(root.handlers):
        if getattr(h, "_videokit", False):
            root.removeHandler(h)
            h.close()


def test_unreadable_folder_fails_alone(
    tmp_path: Path, clip: Path, other_clip: Path, monkeypatch: pytest.MonkeyPatch, cli_logging: None
) -> None:
    from videokit._cli import main

    folder = tmp_path / "videos"
    locked = folder / "locked"
    locked.mkdir(parents=True)
    shutil.copy(other_clip, locked / "hidden-away.mp4")
    good = shutil.copy(clip, folder / "good.mp4")
    shut = tmp_path / "shut"  # an unreadable folder given as an input itself
    shut.mkdir()
    shutil.copy(other_clip, shut / "never.mp4")
    real_scandir = os.scandir

    def scandir(path: object = ".") -> object:  # chmod 000 does not stop root: refuse like the kernel would
        if Path(os.fsdecode(path)).resolve() in (locked, shut):  # type: ignore[arg-type]
            raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(path))  # type: ignore[arg-type]
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)
    lib = tmp_path / "lib"
    res = CliRunner().invoke(
        main, ["--library", str(lib), "--quiet", "run", *FAST_SKIP, str(folder), str(shut)], catch_exceptions=False
    )
    assert res.exit_code == 1, res.stderr
    for name in ("videos/locked", "shut"):
        line = line_about(res.stderr, f"{tmp_path.name}/{name}")
        assert "cannot read folder" in line and "Permission denied" in line and "check its permissions" in line
    assert stored_inputs(lib) == [str(good)]


def test_probe_says_what_is_wrong_with_a_link(tmp_path: Path) -> None:
    from videokit import probe_file

    (tmp_path / "loop-a.mp4").symlink_to("loop-b.mp4")
    (tmp_path / "loop-b.mp4").symlink_to("loop-a.mp4")
    (tmp_path / "dangling.mp4").symlink_to("gone.mp4")
    with pytest.raises(InputError, match="loop-a.mp4: symbolic link loop"):
        probe_file(tmp_path / "loop-a.mp4")
    with pytest.raises(InputError, match="dangling.mp4: broken symbolic link"):
        probe_file(tmp_path / "dangling.mp4")


def test_csv_row_with_empty_url_is_reported_with_its_line(tmp_path: Path, clip: Path, other_clip: Path) -> None:
    listing = tmp_path / "list.csv"
    listing.write_text(f"url,label\n{clip},first\n,lost label\n{other_clip},second\n,,\n")
    lib = tmp_path / "lib"
    res = videokit(lib, "run", *FAST_SKIP, "--from", str(listing), env=cli_env())
    assert res.returncode == 0, res.stderr
    line = line_about(res.stderr, "line 3")
    assert "list.csv line 3: empty url cell; skipped" in line
    assert "line 5" not in res.stderr  # a row with no cells at all is just a blank row
    assert stored_inputs(lib) == sorted([str(clip), str(other_clip)])


def test_list_line_that_is_not_utf8_fails_alone(tmp_path: Path, clip: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_bytes(os.fsencode(str(clip)) + b"\n" + os.fsencode(str(tmp_path)) + b"/caf\xe9.mp4\n")
    lib = tmp_path / "lib"
    res = videokit(lib, "run", *FAST_SKIP, "--from", str(listing))
    assert res.returncode == 1, res.stderr
    assert "not valid UTF-8" in line_about(res.stderr, r"caf\xe9.mp4")
    assert stored_inputs(lib) == [str(clip)]
