"""Dropbox through the official SDK, its HTTP layer routed to an in-process fake of the API
(tests/cloud_servers.py FakeDropbox): uploads (one request, and chunked upload sessions), 429 with
Retry-After, downloads, listing, a path that is a folder, a wrong or missing token."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from cloud_servers import FakeDropbox, fake_dropbox  # noqa: F401
from videokit.errors import ConfigError, InputError
from videokit.storage import DropboxOptions, open_storage, parse_location
from videokit.storage.dropbox import DropboxStorage
from videokit.storage.options import MIB

SMALL_CHUNKS = DropboxOptions(chunk_size=MIB, retries=3, backoff_base=0.01, backoff_max=0.05)


def _storage(url: str = "dropbox://videokit") -> DropboxStorage:
    return DropboxStorage(parse_location(url), dropbox_options=SMALL_CHUNKS)


def test_a_large_file_goes_up_in_an_upload_session(fake_dropbox: FakeDropbox, tmp_path: Path) -> None:
    data = os.urandom(3 * MIB + 5000)
    (tmp_path / "clip.mp4").write_bytes(data)
    got = _storage().put(tmp_path / "clip.mp4", "originals/clip.mp4")
    assert got.parts == 4 and got.url == "dropbox://videokit/originals/clip.mp4"
    assert fake_dropbox.files["/videokit/originals/clip.mp4"].data == data
    assert fake_dropbox.calls == [
        "files/upload_session/start",
        "files/upload_session/append_v2",
        "files/upload_session/append_v2",
        "files/upload_session/finish",
    ]


def test_a_small_file_is_one_upload(fake_dropbox: FakeDropbox, tmp_path: Path) -> None:
    (tmp_path / "a.json").write_bytes(b"{}")
    _storage().put(tmp_path / "a.json", "a.json")
    assert fake_dropbox.calls == ["files/upload"] and fake_dropbox.files["/videokit/a.json"].data == b"{}"


def test_a_429_waits_what_retry_after_says(fake_dropbox: FakeDropbox, tmp_path: Path) -> None:
    data = os.urandom(2 * MIB + 10)
    (tmp_path / "clip.mp4").write_bytes(data)
    fake_dropbox.throttle.append(("files/upload_session/append_v2", 1))
    started = time.monotonic()
    _storage().put(tmp_path / "clip.mp4", "clip.mp4")
    assert time.monotonic() - started >= 1.0  # Retry-After: 1, not the 0.01 s backoff
    assert fake_dropbox.calls.count("files/upload_session/append_v2") == 2
    assert fake_dropbox.files["/videokit/clip.mp4"].data == data


def test_a_lost_append_reply_continues_where_the_server_is(fake_dropbox: FakeDropbox, tmp_path: Path) -> None:
    data = os.urandom(3 * MIB + 10)
    (tmp_path / "clip.mp4").write_bytes(data)
    fake_dropbox.lose_reply.append("files/upload_session/append_v2")  # stored, but the reply is a 500
    _storage().put(tmp_path / "clip.mp4", "clip.mp4")
    assert fake_dropbox.files["/videokit/clip.mp4"].data == data  # no chunk twice, none missing
    assert fake_dropbox.calls.count("files/upload_session/append_v2") == 3  # 2 chunks + the retry told to move on


def test_download_list_and_a_folder_path(fake_dropbox: FakeDropbox, tmp_path: Path) -> None:
    fake_dropbox.add_file("/videokit/in/a.mp4", b"a" * 100)
    fake_dropbox.add_file("/videokit/in/sub/b.mov", b"b" * 200)
    fake_dropbox.add_folder("/videokit/in/empty")
    storage = _storage("dropbox://videokit/in")
    assert [(o.key, o.size) for o in storage.list()] == [("a.mp4", 100), ("sub/b.mov", 200)]
    got = storage.get("sub/b.mov", tmp_path / "b.mov")
    assert (tmp_path / "b.mov").read_bytes() == b"b" * 200 and got.size == 200
    with pytest.raises(InputError, match=r"dropbox://videokit/in/empty: is a Dropbox folder, not a file"):
        storage.get("empty", tmp_path / "x")
    with pytest.raises(InputError, match=r"dropbox://videokit/in/empty: is a Dropbox folder, not a file"):
        (tmp_path / "e").write_bytes(b"x")
        storage.put(tmp_path / "e", "empty")
    with pytest.raises(InputError, match="no such file or folder in Dropbox"):
        storage.info("missing.mp4")


def test_a_wrong_token_is_named_never_shown(fake_dropbox: FakeDropbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DROPBOX_ACCESS_TOKEN", "sl.wrong-token-abcdef123456")
    with pytest.raises(ConfigError) as e:
        _storage().list()
    assert "Dropbox refused the token" in str(e.value) and "DROPBOX_ACCESS_TOKEN" in str(e.value)
    assert "wrong-token" not in str(e.value)


def test_no_token_names_the_variables(fake_dropbox: FakeDropbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DROPBOX_ACCESS_TOKEN")
    with pytest.raises(ConfigError, match="Dropbox: no credentials found; set DROPBOX_ACCESS_TOKEN"):
        open_storage("dropbox://videokit").list()
    monkeypatch.setenv("DROPBOX_REFRESH_TOKEN", "refresh-token-value")
    with pytest.raises(ConfigError, match="without DROPBOX_APP_KEY"):
        open_storage("dropbox://videokit").list()


def test_run_a_dropbox_folder_upload_originals_and_export(
    fake_dropbox: FakeDropbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from media import make_video
    from videokit._cli import main

    clip = make_video(tmp_path / "harbour.mp4", duration=1.0, title="Harbour")
    fake_dropbox.add_file("/Inbox/harbour.mp4", clip.read_bytes())
    fake_dropbox.add_file("/Inbox/readme.txt", b"not a video")
    monkeypatch.setenv("VIDEOKIT_DROPBOX_UPLOAD", "originals")
    monkeypatch.setenv("VIDEOKIT_DROPBOX_FOLDER", "/Archive")
    monkeypatch.setenv("VIDEOKIT_DROPBOX_CHUNKSIZEMB", "0.0625")  # 64 KiB chunks: an upload session
    lib = ["--library", str(tmp_path / "lib"), "--quiet"]
    skip = ["--skip", "analyze", "--skip", "transcribe", "--skip", "embed"]
    res = CliRunner().invoke(main, [*lib, "run", "dropbox://Inbox/", *skip], catch_exceptions=False)
    assert res.exit_code == 0, res.stderr
    [original] = [f for p, f in fake_dropbox.files.items() if p.startswith("/archive/originals/")]
    assert original.data == clip.read_bytes() and original.display.endswith("_harbour.mp4")
    assert "files/upload_session/finish" in fake_dropbox.calls

    res = CliRunner().invoke(
        main, [*lib, "export", "--format", "jsonl", "--out", "dropbox://Archive/videos.jsonl"], catch_exceptions=False
    )
    assert res.exit_code == 0, res.stderr
    [line] = fake_dropbox.files["/archive/videos.jsonl"].data.decode().splitlines()
    assert '"url": "dropbox://Inbox/harbour.mp4"' in line
