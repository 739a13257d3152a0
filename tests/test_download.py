"""Downloading: direct files, pages through yt-dlp, resume, retries, limits, bad inputs."""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from credentials import with_credentials
from httpserver import Failure, TestServer, unused_url
from videokit.config import load_config
from videokit.download import DownloadOptions, fetch, is_url
from videokit.download.http import HttpDownloader
from videokit.download.names import safe_filename
from videokit.download.partfile import PartFile
from videokit.errors import InputError, TransientError

FAST = {
    ("Download", "BackoffBase"): 0.01,
    ("Download", "BackoffMax"): 0.05,
    ("Download", "Retries"): 3,
    ("Download", "ConnectTimeout"): 2.0,
    ("Download", "ReadTimeout"): 5.0,
}


def opts(**extra: Any) -> DownloadOptions:
    over = dict(FAST)
    for key, value in extra.items():
        over[("Download", key)] = value
    return DownloadOptions.from_config(load_config(path=None, env={}, overrides=over))


@pytest.fixture(scope="session")
def video_bytes(sample_video: Path) -> bytes:
    data = sample_video.read_bytes()
    assert len(data) > 100_000  # the resume tests cut it in pieces
    return data


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


# -- direct files ----------------------------------------------------------------------
def test_direct_download_verifies_and_names_the_file(
    http_server: TestServer, video_bytes: bytes, tmp_path: Path
) -> None:
    http_server.add_file("/media/clip.mp4", video_bytes)
    seen: list[tuple[str, int, int | None]] = []
    url = http_server.url("/media/clip.mp4")
    res = fetch(url, tmp_path / "dl", opts(), on_progress=lambda u, d, t: seen.append((u, d, t)))
    assert res.path == tmp_path / "dl" / "clip.mp4"
    assert res.path.read_bytes() == video_bytes
    assert res.sha256 == sha(video_bytes)
    assert res.size == res.bytes_fetched == len(video_bytes)
    assert (res.kind, res.domain, res.url) == ("url", "127.0.0.1", url)
    assert res.info["title"] is None
    assert files(tmp_path / "dl") == ["clip.mp4"]  # no .part or .json left behind
    assert seen[-1] == (url, len(video_bytes), len(video_bytes))
    assert [d for _, d, _ in seen] == sorted(d for _, d, _ in seen)


def test_content_disposition_name_cannot_escape_the_folder(
    http_server: TestServer, video_bytes: bytes, tmp_path: Path
) -> None:
    http_server.add_file(
        "/get",
        video_bytes,
        content_type="application/octet-stream",
        headers={"Content-Disposition": 'attachment; filename="../../outside.mp4"'},
    )
    res = fetch(http_server.url("/get?id=7"), tmp_path / "dl", opts())
    assert res.path == tmp_path / "dl" / "outside.mp4"
    assert not (tmp_path / "outside.mp4").exists()


def test_rfc5987_filename_and_extension_from_content_type(
    http_server: TestServer, video_bytes: bytes, tmp_path: Path
) -> None:
    http_server.add_file(
        "/a", video_bytes, headers={"Content-Disposition": "attachment; filename*=UTF-8''caf%C3%A9%20clip.mp4"}
    )
    http_server.add_file("/watch/12345", video_bytes, content_type="video/webm")
    assert fetch(http_server.url("/a"), tmp_path, opts()).path.name == "café clip.mp4"
    assert fetch(http_server.url("/watch/12345"), tmp_path, opts()).path.name == "12345.webm"


def test_missing_content_type_is_sniffed(http_server: TestServer, video_bytes: bytes, tmp_path: Path) -> None:
    http_server.add_file("/blob", video_bytes, content_type=None)
    res = fetch(http_server.url("/blob"), tmp_path, opts())
    assert res.kind == "url" and res.sha256 == sha(video_bytes)


def test_name_collisions_keep_both_files_and_reuse_identical(
    http_server: TestServer, video_bytes: bytes, tmp_path: Path
) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"someone else's file")
    http_server.add_file("/clip.mp4", video_bytes)
    first = fetch(http_server.url("/clip.mp4"), tmp_path, opts())
    assert first.path.name == "clip (1).mp4"
    assert (tmp_path / "clip.mp4").read_bytes() == b"someone else's file"
    again = fetch(http_server.url("/clip.mp4"), tmp_path, opts())
    assert again.path == first.path  # same bytes: no third copy
    assert files(tmp_path) == ["clip (1).mp4", "clip.mp4"]


def test_redirect_is_followed(http_server: TestServer, video_bytes: bytes, tmp_path: Path) -> None:
    http_server.add_file("/media/real.mp4", video_bytes)
    http_server.add_redirect("/short", "/hop")
    http_server.add_redirect("/hop", "/media/real.mp4", status=301)
    res = fetch(http_server.url("/short"), tmp_path, opts())
    assert res.url == http_server.url("/media/real.mp4")
    assert res.path.name == "real.mp4" and res.sha256 == sha(video_bytes)


def test_redirect_loop_is_a_clear_error(http_server: TestServer, tmp_path: Path) -> None:
    http_server.add_redirect("/a", "/b")
    http_server.add_redirect("/b", "/a")
    with pytest.raises(InputError, match="redirect loop") as exc:
        fetch(http_server.url("/a"), tmp_path, opts())
    assert not isinstance(exc.value, TransientError)
    assert http_server.url("/a") in str(exc.value)


# -- resume ----------------------------------------------------------------------------
def test_resume_after_dropped_connections_within_one_call(
    http_server: TestServer, video_bytes: bytes, tmp_path: Path
) -> None:
    size, cut = len(video_bytes), len(video_bytes) // 3 + 1
    http_server.add_file("/v.mp4", video_bytes, drop_after=cut)  # every response is cut short
    res = fetch(http_server.url("/v.mp4"), tmp_path, opts())
    assert res.sha256 == sha(video_bytes)
    assert res.bytes_fetched == size < 2 * size
    ranges = [r.range for r in http_server.requests("/v.mp4")]
    assert ranges == [None, f"bytes={cut}-", f"bytes={2 * cut}-"]


def test_server_ignoring_range_restarts_from_zero(http_server: TestServer, video_bytes: bytes, tmp_path: Path) -> None:
    cut = 40_000
    http_server.add_file("/v.mp4", video_bytes, ranges=False, drop_after=cut, drops=1)
    res = fetch(http_server.url("/v.mp4"), tmp_path, opts())
    assert res.sha256 == sha(video_bytes)
    assert res.bytes_fetched == cut + len(video_bytes)
    assert [r.status for r in http_server.requests("/v.mp4")] == [200, 200]


_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from videokit.config import load_config
    from videokit.download import DownloadOptions, fetch
    cfg = load_config(path=None, env={}, overrides={("Download", "Retries"): 0})
    fetch(sys.argv[1], Path(sys.argv[2]), DownloadOptions.from_config(cfg))
    """
)


def test_resume_after_the_process_is_killed(http_server: TestServer, video_bytes: bytes, tmp_path: Path) -> None:
    size, half = len(video_bytes), 64 * 1024
    http_server.add_file("/slow.mp4", video_bytes, stall_after=half, stalls=1)
    dest = tmp_path / "dl"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, http_server.url("/slow.mp4"), str(dest)])
    part = dest / "slow.mp4.part"
    try:
        deadline = time.monotonic() + 60
        while not (part.exists() and part.stat().st_size >= half):
            assert child.poll() is None, "the download process ended early"
            assert time.monotonic() < deadline, "the download never reached the stall point"
            time.sleep(0.02)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    http_server.release()
    assert part.stat().st_size == half
    assert not (dest / "slow.mp4").exists()  # nothing complete-looking after a kill

    res = fetch(http_server.url("/slow.mp4"), dest, opts())
    assert http_server.requests("/slow.mp4")[-1].range == f"bytes={half}-"
    assert res.bytes_fetched == size - half < size
    assert res.sha256 == sha(video_bytes) == sha(res.path.read_bytes())
    assert files(dest) == ["slow.mp4"]


def test_complete_part_on_disk_is_finished_without_refetching(
    http_server: TestServer, video_bytes: bytes, tmp_path: Path
) -> None:
    http_server.add_file("/v.mp4", video_bytes)
    url = http_server.url("/v.mp4")
    (tmp_path / "v.mp4.part").write_bytes(video_bytes)
    PartFile(tmp_path / "v.mp4.part", "v.mp4", url).save()
    res = fetch(url, tmp_path, opts())
    assert http_server.requests("/v.mp4")[0].status == 416
    assert res.bytes_fetched == 0 and res.sha256 == sha(video_bytes)
    assert files(tmp_path) == ["v.mp4"]


def test_stale_part_longer_than_the_file_is_replaced(
    http_server: TestServer, video_bytes: bytes, tmp_path: Path
) -> None:
    http_server.add_file("/v.mp4", video_bytes)
    url = http_server.url("/v.mp4")
    (tmp_path / "v.mp4.part").write_bytes(video_bytes + b"junk")
    PartFile(tmp_path / "v.mp4.part", "v.mp4", url).save()
    res = fetch(url, tmp_path, opts())
    assert res.sha256 == sha(video_bytes) and res.bytes_fetched == len(video_bytes)


def test_read_timeout_retries_and_resumes(http_server: TestServer, video_bytes: bytes, tmp_path: Path) -> None:
    http_server.add_file("/v.mp4", video_bytes, stall_after=32 * 1024, stalls=1)  # then silence
    res = fetch(http_server.url("/v.mp4"), tmp_path, opts(ReadTimeout=0.3))
    assert res.sha256 == sha(video_bytes)
    assert res.bytes_fetched == len(video_bytes)
    assert [r.range for r in http_server.requests("/v.mp4")] == [None, f"bytes={32 * 1024}-"]


def test_same_download_running_elsewhere_is_not_corrupted(
    http_server: TestServer, video_bytes: bytes, tmp_path: Path
) -> None:
    fcntl = pytest.importorskip("fcntl")
    http_server.add_file("/v.mp4", video_bytes)
    url = http_server.url("/v.mp4")
    (tmp_path / "v.mp4.part").write_bytes(video_bytes[:1000])
    PartFile(tmp_path / "v.mp4.part", "v.mp4", url).save()
    with open(tmp_path / "v.mp4.part", "ab") as other:  # another process is writing it
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        with pytest.raises(TransientError, match="already being downloaded"):
            fetch(url, tmp_path, opts())
    assert (tmp_path / "v.mp4.part").read_bytes() == video_bytes[:1000]
    assert fetch(url, tmp_path, opts()).sha256 == sha(video_bytes)


# -- retries and HTTP errors -----------------------------------------------------------
def test_retries_server_errors_then_succeeds(http_server: TestServer, video_bytes: bytes, tmp_path: Path) -> None:
    http_server.add_file("/v.mp4", video_bytes, fail=[Failure(500), Failure(503)])
    res = fetch(http_server.url("/v.mp4"), tmp_path, opts())
    assert res.sha256 == sha(video_bytes)
    assert [r.status for r in http_server.requests("/v.mp4")] == [500, 503, 200]


def test_429_retry_after_is_honoured_and_capped(http_server: TestServer, video_bytes: bytes, tmp_path: Path) -> None:
    http_server.add_file("/a.mp4", video_bytes, fail=[Failure(429, {"Retry-After": "2"})])
    http_server.add_file("/b.mp4", video_bytes, fail=[Failure(503, {"Retry-After": "600"})])
    slept: list[float] = []
    dl = HttpDownloader(opts(BackoffMax=30.0), sleep=slept.append)
    assert dl.fetch(http_server.url("/a.mp4"), tmp_path).sha256 == sha(video_bytes)
    assert slept == [2.0]
    slept.clear()
    capped = HttpDownloader(opts(BackoffMax=3.0), sleep=slept.append)
    capped.fetch(http_server.url("/b.mp4"), tmp_path / "b")
    assert slept == [3.0]


@pytest.mark.parametrize(("status", "words"), [(404, "not found"), (403, "access denied")])
def test_client_errors_are_permanent_and_not_retried(
    http_server: TestServer, tmp_path: Path, status: int, words: str
) -> None:
    http_server.add_status("/v.mp4", status)
    url = http_server.url("/v.mp4")
    with pytest.raises(InputError) as exc:
        fetch(url, tmp_path, opts())
    assert not isinstance(exc.value, TransientError)
    assert url in str(exc.value) and str(status) in str(exc.value) and words in str(exc.value)
    assert len(http_server.requests("/v.mp4")) == 1


def test_persistent_server_error_becomes_transient(http_server: TestServer, tmp_path: Path) -> None:
    http_server.add_status("/v.mp4", 500)
    with pytest.raises(TransientError, match="HTTP 500.*gave up after 3 retries"):
        fetch(http_server.url("/v.mp4"), tmp_path, opts())
    assert len(http_server.requests("/v.mp4")) == 4


def test_connection_refused_is_transient(tmp_path: Path) -> None:
    url = unused_url()
    with pytest.raises(TransientError, match="cannot connect") as exc:
        fetch(url, tmp_path, opts(Retries=1))
    assert url in str(exc.value)


def test_body_cut_short_every_time_fails_cleanly(http_server: TestServer, video_bytes: bytes, tmp_path: Path) -> None:
    http_server.add_file("/v.mp4", video_bytes, ranges=False, drop_after=20_000)
    with pytest.raises(TransientError, match="connection dropped"):
        fetch(http_server.url("/v.mp4"), tmp_path, opts())
    assert "v.mp4" not in files(tmp_path)  # only the resumable .part may remain
    assert len(http_server.requests("/v.mp4")) == 4


def test_content_length_larger_than_body_is_never_accepted(
    http_server: TestServer, video_bytes: bytes, tmp_path: Path
) -> None:
    http_server.add_file("/v.mp4", video_bytes, ranges=False, length=len(video_bytes) + 5000)
    with pytest.raises(TransientError):
        fetch(http_server.url("/v.mp4"), tmp_path, opts(Retries=1))
    assert "v.mp4" not in files(tmp_path)


def test_no_content_length_downloads_to_the_end(http_server: TestServer, video_bytes: bytes, tmp_path: Path) -> None:
    http_server.add_file("/v.mp4", video_bytes, length="none")
    res = fetch(http_server.url("/v.mp4"), tmp_path, opts())
    assert res.sha256 == sha(video_bytes)


# -- size limit ------------------------------------------------------------------------
@pytest.mark.parametrize("length", ["exact", "none"])
def test_oversize_is_refused_and_cleaned_up(http_server: TestServer, tmp_path: Path, length: str) -> None:
    big = b"\x00\x00\x00\x18ftypmp42" + bytes(300_000)
    http_server.add_file("/big.mp4", big, length=length)
    with pytest.raises(InputError, match=r"exceeds the maximum size of 0\.1 MB \(set \[Download\] MaxSizeMB\)") as exc:
        fetch(http_server.url("/big.mp4"), tmp_path, opts(MaxSizeMB=0.1))
    assert not isinstance(exc.value, TransientError)
    assert files(tmp_path) == []
    assert len(http_server.requests("/big.mp4")) == 1


# -- bad URLs --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "scheme"),
    [("ftp://example.com/v.mp4", "ftp"), ("file:///etc/passwd", "file"), ("data:video/mp4;base64,AAAA", "data")],
)
def test_unsupported_schemes(tmp_path: Path, url: str, scheme: str) -> None:
    with pytest.raises(InputError) as exc:
        fetch(url, tmp_path, opts())
    assert str(exc.value) == f"{url}: unsupported URL scheme '{scheme}'; use http(s) URLs or local paths"
    assert is_url(url)


def test_is_url_tells_urls_from_paths() -> None:
    assert is_url("https://example.com/a.mp4")
    assert not is_url("videos/a.mp4") and not is_url("C:\\videos\\a.mp4") and not is_url("/tmp/a:b.mp4")


def test_credentials_never_reach_logs_or_errors(
    http_server: TestServer, video_bytes: bytes, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="videokit")
    http_server.add_file("/v.mp4", video_bytes)
    base = http_server.url("/")
    secret, password = with_credentials(base)
    fetch(secret + "v.mp4?token=abc123", tmp_path, opts())
    with pytest.raises(InputError) as exc:
        fetch(secret + "missing.mp4", tmp_path, opts())
    assert http_server.requests("/v.mp4")[0].headers.get("Authorization")  # the credentials were used...
    text = caplog.text + str(exc.value)
    assert password not in text and "abc123" not in text  # ...but never shown


# -- pages through yt-dlp --------------------------------------------------------------
@pytest.mark.parametrize("form", ["video", "source", "js"])
def test_page_with_embedded_video(
    http_server: TestServer, video_bytes: bytes, tmp_path: Path, form: str, capfd: pytest.CaptureFixture[str]
) -> None:
    http_server.add_file("/media/clip.mp4", video_bytes)
    http_server.add_video_page("/watch.html", "/media/clip.mp4", title="Harbour at Dawn", form=form)
    seen: list[int] = []
    url = http_server.url("/watch.html")
    res = fetch(url, tmp_path / "dl", opts(), on_progress=lambda u, d, t: seen.append(d))
    assert res.kind == "page"
    assert res.path.parent == tmp_path / "dl" and res.path.suffix == ".mp4"
    assert res.sha256 == sha(video_bytes) == sha(res.path.read_bytes())
    assert res.size == res.bytes_fetched == len(video_bytes)
    assert res.info["title"] == "Harbour at Dawn"
    assert res.info["description"] == "Description of Harbour at Dawn"
    assert res.info["webpage_url"] == res.url == url
    assert res.domain == "127.0.0.1"
    assert seen and seen[-1] == len(video_bytes)
    assert [p for p in files(tmp_path / "dl") if p.endswith((".part", ".ytdl"))] == []
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # yt-dlp printed nothing


def test_page_served_as_octet_stream_is_sniffed(http_server: TestServer, video_bytes: bytes, tmp_path: Path) -> None:
    http_server.add_file("/media/clip.mp4", video_bytes)
    route = http_server.add_video_page("/p", "/media/clip.mp4", title="Sniffed", form="source")
    route.content_type = "application/octet-stream"
    res = fetch(http_server.url("/p"), tmp_path, opts())
    assert res.kind == "page" and res.sha256 == sha(video_bytes)


def test_page_without_video(http_server: TestServer, tmp_path: Path) -> None:
    http_server.add_page("/about.html", "<html><head><title>About us</title></head><body>Just text.</body></html>")
    url = http_server.url("/about.html")
    with pytest.raises(InputError) as exc:
        fetch(url, tmp_path, opts())
    assert str(exc.value) == f"{url}: no video found on the page"
    assert not isinstance(exc.value, TransientError)


def test_page_downloaded_again_reuses_the_file(http_server: TestServer, video_bytes: bytes, tmp_path: Path) -> None:
    http_server.add_file("/media/clip.mp4", video_bytes)
    http_server.add_video_page("/watch.html", "/media/clip.mp4", title="Again", form="source")
    first = fetch(http_server.url("/watch.html"), tmp_path, opts())
    again = fetch(http_server.url("/watch.html"), tmp_path, opts())
    assert again.path == first.path and again.sha256 == sha(video_bytes)
    assert again.bytes_fetched == 0
    assert len([r for r in http_server.requests("/media/clip.mp4") if r.method == "GET"]) == 1


@pytest.mark.parametrize("length", ["exact", "none"])
def test_page_video_over_the_size_limit(http_server: TestServer, tmp_path: Path, length: str) -> None:
    http_server.add_file("/media/big.mp4", b"\x00\x00\x00\x18ftypmp42" + bytes(300_000), length=length)
    http_server.add_video_page("/big.html", "/media/big.mp4", title="Big", form="video")
    with pytest.raises(InputError, match="exceeds the maximum size"):
        fetch(http_server.url("/big.html"), tmp_path, opts(MaxSizeMB=0.1))
    assert [p for p in files(tmp_path) if not p.endswith(".json")] == []


# yt-dlp drops the HTTP error of a 5xx it retries without closing its response
# (yt_dlp/downloader/http.py: ``raise RetryDownload(err)``); the garbage collector closes the
# socket and Python warns. Collected here, where that third-party warning is expected.
@pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")
def test_page_video_with_server_errors_is_transient(http_server: TestServer, tmp_path: Path) -> None:
    http_server.add_status("/media/clip.mp4", 503)
    http_server.add_video_page("/p.html", "/media/clip.mp4", title="Down", form="video")
    with pytest.raises(TransientError, match="503"):
        fetch(http_server.url("/p.html"), tmp_path, opts(Retries=1))
    gc.collect()


# -- safe file names -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\evil.mp4", "evil.mp4"),
        ("..", "video"),
        ("", "video"),
        ("/", "video"),
        (".hidden.mp4", "hidden.mp4"),
        ("a\x00b\x1fc\x7f.mp4", "abc.mp4"),
        ("line\nbreak\r.mp4", "linebreak.mp4"),
        ("clip\u202egpj.exe", "clipgpj.exe"),  # right-to-left override removed
        ('what?<is>:this|"*.mp4', "what__is__this___.mp4"),
        ("CON.mp4", "_CON.mp4"),
        ("  trailing dots... ", "trailing dots"),
        ("Movie.MP4", "Movie.mp4"),
    ],
)
def test_safe_filename(raw: str, expected: str) -> None:
    assert safe_filename(raw) == expected


def test_safe_filename_caps_length_and_keeps_extension() -> None:
    name = safe_filename("x" * 1000 + ".mp4")
    assert len(name) == 120 and name.endswith(".mp4")
    wide = safe_filename("视" * 200 + ".webm", max_len=200)
    assert wide.endswith(".webm") and len(wide.encode()) <= 240
    assert safe_filename("...", fallback="video-1234abcd") == "video-1234abcd"
    assert os.sep not in safe_filename("a/b\\c")
