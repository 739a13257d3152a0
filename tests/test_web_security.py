"""Safe by default: path traversal, SSRF, body size, CSRF, headers, escaping, ranges, the
access log, and each bad input of issue 13 item 7 answered with a stable JSON error."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import pytest

from videokit import api
from videokit.config import Config
from videokit.download import DownloadOptions
from videokit.download import guard as guard_module
from videokit.download.http import HttpDownloader
from videokit.download.page import fetch_page
from videokit.errors import InputError
from videokit.store import open_store
from web_helpers import QUICK, auth, built_library, cfg, client, config_for, key, lib, only_id, served  # noqa: F401

# -- media files: only the library's ------------------------------------------------------------

TRAVERSALS = [
    "../keys.sqlite",
    "processed/../../keys.sqlite",
    "%2e%2e/keys.sqlite",
    "%2E%2E%2Fkeys.sqlite",
    "..%2fkeys.sqlite",
    "%252e%252e/keys.sqlite",  # double-encoded
    "%252e%252e%252fkeys.sqlite",
    "..%5ckeys.sqlite",
    "%2fetc%2fpasswd",  # absolute
    "/etc/passwd",
    "processed/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "library.sqlite",  # in the library folder, but not a media file
    "processed/%00.jpg",
]


def _raw_get(base: str, target: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """GET ``target`` exactly as written (no client normalises the dots away)."""
    host, port = base.removeprefix("http://").split(":")
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_media_paths_cannot_leave_the_library(lib: Path) -> None:
    cfg = config_for(lib)
    k = key(cfg)
    rid = only_id(cfg)
    thumb = api.get(cfg, rid).scenes.scenes[0].thumbnail
    secret = lib.parent / "secret.txt"
    secret.write_text("do not serve")
    (lib / "processed" / "link.jpg").symlink_to(secret)
    with served(lib) as url:
        status, body = _raw_get(url, f"/api/v1/media/{thumb}", auth(k))
        assert status == 200 and body[:2] == b"\xff\xd8"
        for bad in [*TRAVERSALS, "processed/link.jpg", f"processed/../../{secret.name}"]:
            status, body = _raw_get(url, f"/api/v1/media/{bad}", auth(k))
            assert status in (400, 404), (bad, status)
            assert b"SQLite" not in body and b"root:" not in body and b"do not serve" not in body, bad
            if status == 404:
                assert b'"code":"not_found"' in body, bad


def test_media_files_need_a_key(cfg: Config) -> None:
    rid = only_id(cfg)
    with client(cfg) as c:
        assert c.get(f"/api/v1/videos/{rid}/file").status_code == 401
        assert c.get(f"/api/v1/videos/{rid}/contact-sheet").status_code == 401


def test_a_range_beyond_the_file_is_416(cfg: Config) -> None:
    rid = only_id(cfg)
    size = api.get(cfg, rid).file.size
    with client(cfg) as c:
        for bad in (f"bytes={size}-", f"bytes={size + 100}-{size + 200}"):
            got = c.get(f"/api/v1/videos/{rid}/file", headers={**auth(key(cfg)), "Range": bad})
            assert got.status_code == 416, bad
            assert got.headers["content-range"] == f"bytes */{size}"


# -- SSRF ----------------------------------------------------------------------------------------

REFUSED = [
    "http://127.0.0.1/v.mp4",
    "http://[::1]/v.mp4",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://2130706433/v.mp4",  # decimal 127.0.0.1
    "http://0177.0.0.1/v.mp4",  # octal
    "http://0x7f.0.0.1/v.mp4",  # hex
    "http://127.1/v.mp4",  # short form
    "http://[::ffff:127.0.0.1]/v.mp4",  # IPv4-mapped IPv6
    "http://10.1.2.3/v.mp4",
    "http://192.168.0.10/v.mp4",
    "http://0.0.0.0/v.mp4",
    "http://224.0.0.1/v.mp4",
    "http://internal.example/v.mp4",  # a name resolving to a private address
]


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """The guard's resolver, answering from this table (no real DNS)."""
    table = {
        "internal.example": ["10.9.8.7"],
        "cdn.example": ["93.184.216.34"],
        "mixed.example": ["93.184.216.34", "127.0.0.1"],
    }

    def resolve(host: str) -> list[str]:
        if host not in table:
            raise InputError(f"{host}: the host name does not resolve")
        return table[host]

    monkeypatch.setattr(guard_module, "resolve", resolve)
    return table


def test_the_guard_refuses_private_addresses_in_every_form(dns: dict[str, list[str]]) -> None:
    for url in REFUSED:
        with pytest.raises(InputError, match="refused"):
            guard_module.check_url(url)
    with pytest.raises(InputError, match="refused: mixed.example resolves to 127.0.0.1"):
        guard_module.check_url("http://mixed.example/v.mp4")  # every address must be public
    guard_module.check_url("https://cdn.example/v.mp4")
    guard_module.check_url("http://93.184.216.34/v.mp4")


def test_submitted_urls_to_private_addresses_are_refused(cfg: Config, dns: dict[str, list[str]]) -> None:
    k = key(cfg, "write")
    before = api.status(cfg).inputs
    with client(cfg) as c:
        for url in REFUSED:
            got = c.post("/api/v1/jobs", json={"inputs": [url]}, headers=auth(k))
            assert got.status_code == 400, url
            assert got.json()["error"]["code"] == "url_refused", url
    assert api.status(cfg).inputs == before  # nothing reached the ledger


@pytest.fixture
def loopback_is_public(monkeypatch: pytest.MonkeyPatch, dns: dict[str, list[str]]) -> None:
    """Let the test server (127.0.0.1) play a public host, and ``localhost`` a private one: the
    guard must then stop whatever reaches ``localhost`` after the first request."""
    real = guard_module.why_refused

    def why(address):  # noqa: ANN001, ANN202
        return None if str(address) == "127.0.0.1" else real(address)

    monkeypatch.setattr(guard_module, "why_refused", why)
    dns["localhost"] = ["127.0.0.2"]


def test_a_public_host_redirecting_to_loopback_is_refused(
    tmp_path: Path, http_server, sample_video: Path, loopback_is_public: None
) -> None:
    http_server.add_file("/v.mp4", sample_video.read_bytes())
    http_server.add_redirect("/go", f"http://localhost:{http_server.port}/v.mp4")
    options = DownloadOptions.from_config(config_for(tmp_path / "lib", {("Download", "RefusePrivateAddresses"): True}))
    with pytest.raises(InputError, match="refused: localhost resolves to 127.0.0.2"):
        HttpDownloader(options).fetch(http_server.url("/go"), tmp_path / "dl")
    assert http_server.requests("/go") and not http_server.requests("/v.mp4")  # never fetched


def test_the_page_path_refuses_media_on_private_hosts(
    tmp_path: Path, http_server, sample_video: Path, loopback_is_public: None
) -> None:
    http_server.add_file("/v.mp4", sample_video.read_bytes())
    page = f'<html><head><title>Trap</title></head><body><video src="http://localhost:{http_server.port}/v.mp4"></video></body></html>'
    http_server.add_page("/page.html", page)
    options = DownloadOptions.from_config(config_for(tmp_path / "lib", {("Download", "RefusePrivateAddresses"): True}))
    with pytest.raises(InputError, match="refused"):
        fetch_page(http_server.url("/page.html"), tmp_path / "dl", options)
    assert http_server.requests("/page.html") and not http_server.requests("/v.mp4")


def test_a_submitted_url_redirecting_to_loopback_fails_its_job(
    tmp_path: Path, http_server, sample_video: Path, loopback_is_public: None
) -> None:
    cfg = config_for(tmp_path / "lib", QUICK)
    http_server.add_file("/v.mp4", sample_video.read_bytes())
    http_server.add_redirect("/go", f"http://localhost:{http_server.port}/v.mp4")
    k = key(cfg, "write")
    with client(cfg, rate_limit="") as c:
        sent = c.post("/api/v1/jobs", json={"inputs": [http_server.url("/go")]}, headers=auth(k))
        assert sent.status_code == 202, sent.text  # the URL itself looks public
        job_id = sent.json()["job"]["id"]
        deadline = time.monotonic() + 30
        while (job := c.get(f"/api/v1/jobs/{job_id}", headers=auth(k)).json())["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert job["status"] == "failed" and "refused" in job["records"][0]["errors"][0]["message"]
    assert not http_server.requests("/v.mp4")


def test_allow_private_urls_lets_local_urls_through(tmp_path: Path, http_server, sample_video: Path) -> None:
    cfg = config_for(tmp_path / "lib", QUICK)
    http_server.add_file("/v.mp4", sample_video.read_bytes())
    k = key(cfg, "write")
    with client(cfg, allow_private_urls=True, rate_limit="") as c:
        got = c.post("/api/v1/jobs", json={"inputs": [http_server.url("/v.mp4")]}, headers=auth(k))
        assert got.status_code == 202 and got.json()["refused"] == []
        deadline = time.monotonic() + 30
        while (job := c.get(f"/api/v1/jobs/{got.json()['job']['id']}", headers=auth(k)).json())["status"] != "done":
            assert job["status"] != "failed" and time.monotonic() < deadline, job
            time.sleep(0.05)
    assert http_server.requests("/v.mp4")


# -- bodies, JSON, headers -------------------------------------------------------------------------


def test_an_oversized_body_is_413(cfg: Config) -> None:
    k = key(cfg, "write")
    big = {"inputs": ["https://example.com/v.mp4"] * 5000}
    with client(cfg, max_body_bytes=10_000) as c:
        got = c.post("/api/v1/jobs", json=big, headers=auth(k))
        assert got.status_code == 413 and got.json()["error"]["code"] == "body_too_large"
        assert got.headers["x-content-type-options"] == "nosniff"

        def chunks():  # no Content-Length: counted as it streams in
            for _ in range(100):
                yield b" " * 1000

        streamed = c.post("/api/v1/jobs", content=chunks(), headers={**auth(k), "content-type": "application/json"})
        assert streamed.status_code == 413 and streamed.json()["error"]["code"] == "body_too_large"


def test_malformed_json_is_400(cfg: Config) -> None:
    rid = only_id(cfg)
    with client(cfg) as c:
        for path, method in (("/api/v1/jobs", "POST"), (f"/api/v1/videos/{rid}/tags", "PATCH")):
            got = c.request(
                method,
                path,
                content=b'{"inputs": [',
                headers={**auth(key(cfg, "write")), "content-type": "application/json"},
            )
            assert got.status_code == 400 and got.json()["error"]["code"] == "malformed_json", path
        wrong_type = c.post(
            "/api/v1/jobs", json={"inputs": "https://example.com/v.mp4"}, headers=auth(key(cfg, "write"))
        )
        assert wrong_type.status_code == 422 and wrong_type.json()["error"]["code"] == "invalid_request"


def test_security_headers_on_api_pages_and_errors(cfg: Config) -> None:
    with client(cfg) as c:
        for got in (
            c.get("/api/v1/search", headers=auth(key(cfg))),
            c.get("/signin"),
            c.get("/api/v1/search"),
            c.get("/nope"),
        ):
            csp = got.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
            assert got.headers["x-content-type-options"] == "nosniff"
            assert got.headers["x-frame-options"] == "DENY"
            assert got.headers["referrer-policy"] == "same-origin"
        assert c.get("/nope").json()["error"]["code"] == "not_found"
        assert c.put("/api/v1/search", headers=auth(key(cfg))).json()["error"]["code"] == "method_not_allowed"


def test_a_script_in_a_title_stays_text(cfg: Config) -> None:
    rid = only_id(cfg)
    evil = '<script>alert("x")</script>'
    with open_store(cfg) as store:
        rec = store.get(rid)
        rec.sources[-1].title = evil
        store.upsert(rec)
    with client(cfg) as c:
        got = c.get(f"/api/v1/videos/{rid}", headers=auth(key(cfg)))
        assert got.json()["title"] == evil and got.headers["content-type"] == "application/json"
        page = c.get("/signin", params={"next": f"/{evil}"})
        assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text


def test_the_access_log_holds_no_key_cookie_or_token(cfg: Config, caplog: pytest.LogCaptureFixture) -> None:
    k = key(cfg)
    link = api.signin_link(cfg)
    token = link.split("token=")[1]
    caplog.set_level(logging.INFO, logger="videokit.web.access")
    with client(cfg) as c:
        c.get("/api/v1/search", params={"q": "sample", "api_key": k}, headers=auth(k))
        c.get(link.removeprefix("http://127.0.0.1:8000"), follow_redirects=False)
        session = c.cookies.get("vk_session")
        c.get("/api/v1/search")
    lines = [r.getMessage() for r in caplog.records if r.name == "videokit.web.access"]
    assert len(lines) == 3
    text = "\n".join(lines)
    assert k not in text and token not in text and session and session not in text
    assert '"path":"/api/v1/search"' in text and '"status":200' in text and "q=sample" in text
    assert '"key":"' + k.split("_")[1] + '"' in text  # who, by key id
