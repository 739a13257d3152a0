"""API keys, scopes, browser sign-in, sessions, CSRF, rate limits and ``videokit serve``."""

from __future__ import annotations

import concurrent.futures
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from videokit import api
from videokit._cli import main
from videokit.config import Config
from videokit.errors import UsageError
from videokit.web.keys import KEYS_NAME
from web_helpers import auth, built_library, cfg, client, config_for, free_port, key, lib, servers  # noqa: F401


def test_keys_cli_create_list_revoke_and_only_the_hash_is_stored(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    run = CliRunner().invoke(main, ["--library", str(lib), "keys", "create", "ci bot", "--scope", "write"])
    assert run.exit_code == 0, run.output
    secret = run.stdout.strip()
    assert re.fullmatch(r"vk_[0-9a-f]{8}_[A-Za-z0-9_-]{32}", secret) and "not shown again" in run.stderr
    assert secret.encode() not in (lib / KEYS_NAME).read_bytes()  # only its SHA-256

    listed = CliRunner().invoke(main, ["--library", str(lib), "keys", "list"])
    kid = secret.split("_")[1]
    assert listed.exit_code == 0 and f"{kid}\tci bot\twrite" in listed.stdout and secret not in listed.output

    assert CliRunner().invoke(main, ["--library", str(lib), "keys", "revoke", kid]).exit_code == 0
    assert "revoked" in CliRunner().invoke(main, ["--library", str(lib), "keys", "list"]).stdout
    unknown = CliRunner().invoke(main, ["--library", str(lib), "keys", "revoke", "deadbeef"])
    assert unknown.exit_code == 2 and "no API key with id 'deadbeef'" in unknown.output
    bad = CliRunner().invoke(main, ["--library", str(lib), "keys", "create", "x", "--scope", "root"])
    assert bad.exit_code == 2
    with pytest.raises(UsageError, match="scope 'root'"):
        api.create_key(config_for(lib), "x", "root")


def test_missing_wrong_revoked_and_out_of_scope_keys(cfg: Config) -> None:
    read, admin = key(cfg, "read"), key(cfg, "admin")
    with client(cfg) as c:
        for headers in ({}, auth("vk_00000000_" + "x" * 32), auth("not-a-key"), {"Authorization": "Basic abc"}):
            got = c.get("/api/v1/search", headers=headers)
            assert got.status_code == 401 and got.json()["error"]["code"] == "unauthorized", headers
        assert c.get("/api/v1/search", headers={"Authorization": f"Bearer {read}"}).status_code == 200
        assert c.get("/api/v1/search", headers=auth(admin)).status_code == 200  # admin may read

        no = c.post("/api/v1/jobs", json={"inputs": ["https://example.com/v.mp4"]}, headers=auth(read))
        assert no.status_code == 403 and "scope write" in no.json()["error"]["message"]

        api.revoke_key(cfg, read.split("_")[1])  # as another process would: the next request sees it
        gone = c.get("/api/v1/search", headers=auth(read))
        assert gone.status_code == 401 and "revoked" in gone.json()["error"]["message"]


def test_anonymous_read_is_off_by_default_and_only_reads_when_on(cfg: Config) -> None:
    with client(cfg) as c:
        assert c.get("/api/v1/search").status_code == 401
    with client(cfg, anonymous_read=True) as c:
        assert c.get("/api/v1/search").status_code == 200
        assert c.post("/api/v1/jobs", json={"inputs": ["https://example.com/v.mp4"]}).status_code == 401


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', html).group(1)


def test_sign_in_with_a_key_gives_an_httponly_samesite_session(cfg: Config) -> None:
    k = key(cfg, "write")
    with client(cfg) as c:
        page = c.get("/signin", params={"next": "/api/v1/search?q=sample"})
        assert page.status_code == 200 and 'name="key"' in page.text
        token = _csrf(page.text)

        no_token = c.post("/signin", data={"key": k}, follow_redirects=False)
        assert no_token.status_code == 403 and no_token.json()["error"]["code"] == "csrf_failed"
        wrong = c.post("/signin", data={"key": "vk_nope", "csrf_token": token}, follow_redirects=False)
        assert wrong.status_code == 401 and "unknown API key" in wrong.text

        ok = c.post(
            "/signin", data={"key": k, "csrf_token": token, "next": "/api/v1/search?q=sample"}, follow_redirects=False
        )
        assert ok.status_code == 303 and ok.headers["location"] == "/api/v1/search?q=sample"
        cookie = ok.headers["set-cookie"]
        assert "vk_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert k not in cookie

        assert c.get("/api/v1/search").status_code == 200  # the cookie is enough to read
        rid = c.get("/api/v1/search").json()["results"][0]["id"]
        body = {"add": ["Action"]}
        refused = c.patch(f"/api/v1/videos/{rid}/tags", json=body)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
        session_token = _csrf(c.get("/signin").text)  # bound to the session now
        cross = c.patch(
            f"/api/v1/videos/{rid}/tags",
            json=body,
            headers={"X-CSRF-Token": session_token, "Origin": "https://evil.example"},
        )
        assert cross.status_code == 403
        done = c.patch(f"/api/v1/videos/{rid}/tags", json=body, headers={"X-CSRF-Token": session_token})
        assert done.status_code == 200, done.text

        out = c.post("/signout", data={"csrf_token": session_token}, follow_redirects=False)
        assert out.status_code == 303
        assert c.get("/api/v1/search").status_code == 401


def test_sign_in_never_redirects_to_another_site(cfg: Config) -> None:
    k = key(cfg)
    with client(cfg) as c:
        for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
            c.cookies.clear()
            token = _csrf(c.get("/signin").text)
            got = c.post("/signin", data={"key": k, "csrf_token": token, "next": evil}, follow_redirects=False)
            assert got.headers["location"] == "/", evil


def test_revoking_a_key_ends_its_browser_sessions(cfg: Config) -> None:
    k = key(cfg)
    with client(cfg) as c:
        token = _csrf(c.get("/signin").text)
        c.post("/signin", data={"key": k, "csrf_token": token}, follow_redirects=False)
        assert c.get("/api/v1/search").status_code == 200
        api.revoke_key(cfg, k)
        assert c.get("/api/v1/search").status_code == 401


def test_a_one_time_sign_in_link_works_once(cfg: Config) -> None:
    link = api.signin_link(cfg)
    assert link.startswith("http://127.0.0.1:8000/signin/once?token=")
    path = link.removeprefix("http://127.0.0.1:8000")
    with client(cfg) as c:
        first = c.get(path, follow_redirects=False)
        assert first.status_code == 303 and "vk_session=" in first.headers["set-cookie"]
        assert c.get("/api/v1/search").status_code == 200
    with client(cfg) as c:
        again = c.get(path, follow_redirects=False)
        assert again.status_code == 401 and "used already or has expired" in again.text


def test_rate_limit_answers_429_with_retry_after_per_key(cfg: Config) -> None:
    busy, calm = key(cfg), key(cfg)
    with client(cfg, rate_limit="5/minute") as c:
        codes = [c.get("/api/v1/search", headers=auth(busy)).status_code for _ in range(8)]
        assert codes == [200] * 5 + [429] * 3
        limited = c.get("/api/v1/search", headers=auth(busy))
        assert limited.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert c.get("/api/v1/search", headers=auth(calm)).status_code == 200  # each key has its own budget


def _library_of_24(cfg: Config) -> None:
    """24 stored videos sharing the sample clip's thumbnails: a full library page."""
    from videokit.record import Record
    from videokit.store import open_store

    (only,) = api.search(cfg)
    with open_store(cfg) as store:
        for i in range(1, 24):
            twin = Record.from_json(only.to_json())
            twin.id = f"{i:02d}" * 32
            store.upsert(twin)


def _browse(c, page: str = "/") -> tuple[list[int], int]:
    """Load a page as a browser does: the page, then every thumbnail on it; the status codes."""
    got = c.get(page)
    thumbs = sorted(set(re.findall(r'src="(/api/v1/videos/[^"]+/thumbnails/\d+)"', got.text)))
    return [got.status_code, *(c.get(t).status_code for t in thumbs)], len(thumbs)


def test_a_browser_loading_library_pages_is_not_limited_by_its_thumbnails(cfg: Config) -> None:
    """RateLimit counts API calls per key; a signed-in browser's pages count against their own
    budget ([Server] BrowserRateLimit) and the thumbnails, media and static files it loads count
    against nothing. The key the browser signed in with keeps its whole API budget."""
    _library_of_24(cfg)
    k = key(cfg, "read")
    with client(cfg, rate_limit="10/minute") as c:
        page = c.get("/signin")
        signed = c.post("/signin", data={"key": k, "csrf_token": _csrf(page.text)}, follow_redirects=False)
        assert signed.status_code == 303
        codes: list[int] = []
        for _ in range(5):  # a person clicking around: 5 pages of 24 thumbnails in a few seconds
            got, thumbs = _browse(c)
            assert thumbs == 24, got
            codes += got
            codes.append(c.get("/static/videokit.css").status_code)
        assert codes == [200] * len(codes) and len(codes) == 5 * 26

        api_codes = [c.get("/api/v1/search", headers=auth(k)).status_code for _ in range(12)]
        assert api_codes == [200] * 10 + [429] * 2  # the key's API calls: exactly RateLimit
        limited = c.get("/api/v1/videos/" + "01" * 32 + "/thumbnails/0", headers=auth(k))
        assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
        assert _browse(c)[0] == [200] * 25  # the browser goes on browsing


def test_a_browsers_page_views_have_their_own_budget(cfg: Config) -> None:
    k = key(cfg, "read")
    with client(cfg, rate_limit="2/minute", browser_rate_limit="4/minute") as c:
        page = c.get("/signin")
        c.post("/signin", data={"key": k, "csrf_token": _csrf(page.text)}, follow_redirects=False)
        codes = [c.get("/").status_code for _ in range(6)]
        assert codes == [200] * 4 + [429] * 2
        over = c.get("/")
        assert over.status_code == 429 and 1 <= int(over.headers["Retry-After"]) <= 60
        assert "BrowserRateLimit" in over.text
        assert [c.get("/api/v1/search", headers=auth(k)).status_code for _ in range(3)] == [200, 200, 429]


def test_two_server_processes_share_one_keys_budget_and_stop_gracefully(lib: Path) -> None:
    cfg = config_for(lib)
    k = key(cfg)
    env = {"VIDEOKIT_SERVER_RATELIMIT": "20/minute"}
    with servers(lib, 2, "--signin-link", env=env, stops=(signal.SIGTERM, signal.SIGINT)) as (one, two):
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            urls = [one.url, two.url] * 15
            codes = list(
                pool.map(lambda u: httpx.get(u + "/api/v1/search", headers=auth(k), timeout=30).status_code, urls)
            )
    assert codes.count(200) == 20 and codes.count(429) == 10
    for server in (one, two):  # SIGTERM and Ctrl-C: a graceful stop, exit status 0
        assert server.returncode == 0, server.stderr
        assert f"serving {lib} at {server.url} " in server.stderr and server.url.startswith("http://127.0.0.1:")
        assert f"{server.url}/signin/once?token=" in server.stderr
        assert k not in server.stderr and "Traceback" not in server.stderr


def test_a_sign_in_link_expires_after_ten_minutes(cfg: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    path = api.signin_link(cfg).removeprefix("http://127.0.0.1:8000")
    later = time.time() + 601
    monkeypatch.setattr("videokit.web.keys.time.time", lambda: later)
    with client(cfg) as c:
        assert c.get(path, follow_redirects=False).status_code == 401


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_rate_limits_in_redis_are_shared_by_every_server(cfg: Config, tmp_path: Path) -> None:
    port = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 10
        while not _listening(port):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        k = key(cfg)
        with (
            client(cfg, rate_limit="6/minute", redis_url=url) as one,
            client(cfg, rate_limit="6/minute", redis_url=url) as two,
        ):
            codes = [(one if i % 2 else two).get("/api/v1/search", headers=auth(k)).status_code for i in range(9)]
        assert codes == [200] * 6 + [429] * 3
        assert not (cfg.library / "ratelimits.sqlite").exists()  # the counters are in Redis
    finally:
        redis.terminate()
        redis.wait(10)
