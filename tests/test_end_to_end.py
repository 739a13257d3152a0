"""`videokit run` → `search` / `show` / `export` through the CLI, inputs from a local HTTP server."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from httpserver import http_server  # noqa: F401
from media import make_video
from videokit._cli import main

FAST = ["--skip", "analyze"]


def vk(library: Path, *args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, ["--library", str(library), "--quiet", *args], catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def search_json(library: Path, *args: str) -> list[dict]:
    code, out, err = vk(library, "search", "--json", *args)
    assert code == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    return {
        "direct": make_video(d / "direct.mp4", size="1280x720", duration=1.5, title="Lighthouse at dawn"),
        "page": make_video(d / "page.mp4", size="640x360", duration=1.5, source="smptebars"),
        "local": make_video(d / "local.mp4", size="1920x1080", duration=1.0, title="Mountain lake", audio=False),
    }


def test_page_direct_and_local_into_searchable_library(http_server, clips, tmp_path: Path) -> None:  # noqa: F811
    http_server.add_file("/media/lighthouse.mp4", clips["direct"].read_bytes())
    http_server.add_file("/media/embedded.mp4", clips["page"].read_bytes())
    http_server.add_video_page("/watch/42", "/media/embedded.mp4", title="Harbour seals resting")
    lib = tmp_path / "lib"
    code, _, err = vk(
        lib, "run", *FAST, http_server.url("/watch/42"), http_server.url("/media/lighthouse.mp4"), str(clips["local"])
    )
    assert code == 0, err
    assert "processed 3 of 3" in err

    by_title = search_json(lib, "seals")
    assert [r["title"] for r in by_title] == ["Harbour seals resting"]
    assert by_title[0]["sources"] == [http_server.url("/watch/42")] or by_title[0]["sources"][0].endswith("/watch/42")
    assert [r["title"] for r in search_json(lib, "lighthouse")] == ["Lighthouse at dawn"]
    assert [r["title"] for r in search_json(lib, "mountain")] == ["Mountain lake"]
    assert {r["title"] for r in search_json(lib, "--resolution", "720p")} == {"Lighthouse at dawn"}
    assert {r["title"] for r in search_json(lib, "--min-height", "720")} == {"Lighthouse at dawn", "Mountain lake"}
    assert {r["title"] for r in search_json(lib, "--no-audio")} == {"Mountain lake"}
    assert {r["title"] for r in search_json(lib, "--domain", "127.0.0.1")} == {
        "Lighthouse at dawn",
        "Harbour seals resting",
    }
    row = search_json(lib, "seals")[0]
    assert set(row) >= {"id", "title", "sources", "duration", "resolution", "height", "tags"}
    assert row["height"] == 360 and row["resolution"] == "SD"

    # the page's own metadata is kept on the source
    code, out, _ = vk(lib, "show", row["id"][:10])
    assert code == 0
    rec = json.loads(out)
    assert rec["schema_version"] == 1
    src = rec["sources"][0]
    assert src["kind"] == "page" and src["title"] == "Harbour seals resting"
    assert src["webpage_url"].endswith("/watch/42")
    # downloaded file lives in the library, complete, no .part left
    files = list((lib / "downloads").iterdir())
    assert not [f for f in files if f.name.endswith(".part")]

    # the table view too
    code, out, _ = vk(lib, "search", "harbour")
    assert code == 0 and "Harbour seals resting" in out


def test_rerun_updates_never_duplicates_and_two_urls_one_record(http_server, clips, tmp_path: Path) -> None:  # noqa: F811
    data = clips["direct"].read_bytes()
    http_server.add_file("/a/clip.mp4", data)
    http_server.add_file("/b/same-clip.mp4", data)
    lib = tmp_path / "lib"
    assert vk(lib, "run", *FAST, http_server.url("/a/clip.mp4"))[0] == 0
    assert vk(lib, "run", *FAST, http_server.url("/a/clip.mp4"), http_server.url("/b/same-clip.mp4"))[0] == 0
    rows = search_json(lib)
    assert len(rows) == 1
    assert sorted(rows[0]["sources"]) == sorted([http_server.url("/a/clip.mp4"), http_server.url("/b/same-clip.mp4")])
    # one copy of the bytes in the library
    assert len([f for f in (lib / "downloads").iterdir() if f.is_file()]) == 1


def test_csv_list_keeps_user_fields_and_export(http_server, clips, tmp_path: Path) -> None:  # noqa: F811
    http_server.add_file("/v/one.mp4", clips["direct"].read_bytes())
    lst = tmp_path / "list.csv"
    lst.write_text(f"url,label,split\n{http_server.url('/v/one.mp4')},running,train\n{clips['local']},swimming,val\n")
    lib = tmp_path / "lib"
    code, _, err = vk(lib, "run", *FAST, "--from", str(lst))
    assert code == 0, err
    rows = {r["user_fields"]["label"]: r for r in search_json(lib)}
    assert set(rows) == {"running", "swimming"}
    assert rows["swimming"]["user_fields"]["split"] == "val"
    assert [r["title"] for r in search_json(lib, "swimming")] == ["Mountain lake"]  # user fields are searchable

    out = tmp_path / "export"
    assert vk(lib, "export", "--format", "json", "--out", str(out))[0] == 0
    index = json.loads((out / "index.json").read_text())
    assert len(index) == 2
    for entry in index:
        rec = json.loads((out / entry["file"]).read_text())
        assert rec["id"] == entry["id"]
    assert vk(lib, "export", "--format", "jsonl", "--out", str(tmp_path / "all.jsonl"))[0] == 0
    assert len((tmp_path / "all.jsonl").read_text().splitlines()) == 2
    assert vk(lib, "export", "--format", "csv", "--out", str(tmp_path / "all.csv"), "--resolution", "1080p")[0] == 0
    with open(tmp_path / "all.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["title"] for r in table] == ["Mountain lake"]
    assert table[0]["height"] == "1080"


def test_txt_list_with_comments_and_folder_probed_not_by_extension(clips, tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "clip.bin").write_bytes(clips["page"].read_bytes())  # a video with an odd extension
    (folder / "notes.mp4").write_text("not a video at all")  # a non-video named .mp4 is skipped in folders
    (folder / "readme.txt").write_text("hello")
    lst = tmp_path / "list.txt"
    lst.write_text(f"# my videos\n\n{clips['local']}\n")
    lib = tmp_path / "lib"
    code, _, err = vk(lib, "run", *FAST, "--from", str(lst), str(folder))
    assert code == 0, err
    assert len(search_json(lib)) == 2


def test_bad_inputs_one_line_each_batch_continues(http_server, clips, tmp_path: Path) -> None:  # noqa: F811
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.mp4").write_bytes(b"")
    (bad / "text.mp4").write_text("this is not a video\n" * 100)
    good = clips["direct"].read_bytes()
    (bad / "truncated.mp4").write_bytes(good[: len(good) // 3])
    corrupt = bytearray(good)
    corrupt[:64] = b"\x00" * 64  # header destroyed
    (bad / "corrupt.mp4").write_bytes(bytes(corrupt))
    audio = bad / "audio.m4a"
    from media import ffmpeg

    ffmpeg("-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", str(audio))
    http_server.add_status("/missing.mp4", 404)
    http_server.add_status("/forbidden.mp4", 403)
    http_server.add_page("/novideo", "<html><head><title>Nothing here</title></head><body>text</body></html>")
    http_server.add_file("/ok.mp4", good)
    inputs = [
        str(tmp_path / "does-not-exist.mp4"),
        "ftp://example.com/v.mp4",
        "file:///etc/passwd",
        str(bad / "empty.mp4"),
        str(bad / "text.mp4"),
        str(bad / "truncated.mp4"),
        str(bad / "corrupt.mp4"),
        str(audio),
        http_server.url("/missing.mp4"),
        http_server.url("/forbidden.mp4"),
        http_server.url("/novideo"),
        http_server.url("/ok.mp4"),
    ]
    lib = tmp_path / "lib"
    code, _, err = vk(lib, "run", *FAST, *inputs)
    assert code == 1
    assert "processed 1 of 12" in err
    assert "Traceback" not in err
    summary = err.split("failure(s):", 1)[1]
    lines = [ln for ln in summary.splitlines() if ln.strip()]
    assert len(lines) == 11
    for needle in (
        "no such file",
        "unsupported URL scheme 'ftp'",
        "unsupported URL scheme 'file'",
        "empty file",
        "not a readable media file",
        "not a video (audio-only",
        "404",
        "403",
        "no video",
    ):
        assert needle in summary, needle
    assert len(search_json(lib)) == 1


def test_csv_without_url_column_is_usage_error(tmp_path: Path) -> None:
    lst = tmp_path / "list.csv"
    lst.write_text("link,label\nhttp://x/y.mp4,a\n")
    code, _, err = vk(tmp_path / "lib", "run", "--from", str(lst))
    assert code == 2
    assert "no 'url' or 'youtube_id' column" in err and "list.csv" in err


def test_probe_command(clips) -> None:
    code, out, _ = vk(Path("lib"), "probe", str(clips["direct"]))
    assert code == 0
    info = json.loads(out)
    assert info["width"] == 1280 and info["resolution"] == "720p"
    assert info["video_codec"] == "h264" and info["audio_codec"] == "aac" and info["has_audio"]
    assert info["fps"] == 25.0 and info["fps_rational"] == "25/1"
    assert info["tags"]["title"] == "Lighthouse at dawn"
    code, _, err = vk(Path("lib"), "probe", "/nonexistent/file.mp4")
    assert code == 1 and "no such file" in err


def test_show_unknown_id(tmp_path: Path) -> None:
    code, _, err = vk(tmp_path / "lib", "show", "deadbeef")
    assert code == 1 and "no video with id" in err
