"""No secret is printed, logged or stored: credentials in input URLs and API keys a server echoes.

Every secret is made up at run time (tests/credentials.py). Each check looks where a user, a log
collector or a backup would: stderr, ``<library>/videokit.log``, ``videokit status`` (text and
JSON), every file of the library (library.sqlite, ledger.sqlite and their WAL files) and every
export format. Only the owner-only side file of the ledger may hold an input's credentials, so
that ``videokit retry`` can send them again.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from credentials import throwaway_password
from media import make_video
from videokit.ledger import PRIVATE_NAME, Ledger
from videokit.net import hold_secret, redact_input, redact_text, redact_url, scrub

VIDEOKIT = str(Path(sys.executable).parent / "videokit")


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOKIT_")}
    env.update({"OMP_NUM_THREADS": "1", "VIDEOKIT_DOWNLOAD_BACKOFFBASE": "0", "VIDEOKIT_DOWNLOAD_BACKOFFMAX": "0"})
    env.update(extra)
    return env


def videokit(lib: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real command in a child process, stderr at INFO so every message a user can see is checked."""
    return subprocess.run(
        [VIDEOKIT, "--library", str(lib), "--log-level", "info", "-q", *args],
        env=env or cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def files_holding(folder: Path, *secrets_: str, skip: tuple[str, ...] = ()) -> list[str]:
    """Every file under ``folder`` whose bytes contain one of ``secrets_`` (the names in ``skip`` aside)."""
    found = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.name.startswith(skip):
            data = p.read_bytes()
            found += [f"{p.relative_to(folder)} holds {s!r}" for s in secrets_ if s.encode() in data]
    return found


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    d = tmp_path_factory.mktemp("secret-clips")
    return [make_video(d / f"c{i}.mp4", duration=1.0, source=src) for i, src in enumerate(("testsrc2", "smptebars"))]


# -- credentials in input URLs ------------------------------------------------------------------
def test_credential_urls_leak_nowhere_and_retry_still_sends_them(
    tmp_path: Path, http_server, clips: list[Path]
) -> None:
    password, token, sig = throwaway_password(), "tk-" + secrets.token_hex(8), "sg-" + secrets.token_hex(8)
    http_server.add_file("/clip.mp4", clips[0].read_bytes())
    http_server.add_status("/gone.mp4", 404)
    host = f"127.0.0.1:{http_server.port}"
    good = f"http://viewer:{password}@{host}/clip.mp4?token={token}"
    bad = f"http://viewer:{password}@{host}/gone.mp4?lang=en&sig={sig}&access_token={token}"
    lib, out = tmp_path / "lib", tmp_path / "out"
    listing = tmp_path / "list.csv"
    listing.write_text(f"url,label\n{bad},broken\n", encoding="utf-8")

    basic = "Basic " + base64.b64encode(f"viewer:{password}".encode()).decode()
    run = videokit(lib, "run", "--analyzer", "none", "--skip", "scenes", good, "--from", str(listing))
    assert run.returncode == 1, run.stderr
    # the servers were sent the credentials...
    (fetched,) = http_server.requests("/clip.mp4")
    assert fetched.headers["Authorization"] == basic and fetched.path == f"/clip.mp4?token={token}"
    # ...and the failure is still named, recognisably, and says why
    assert f"http://***@{host}/gone.mp4?lang=en&sig=***&access_token=***: [fetch]" in run.stderr
    assert "404" in run.stderr
    seen: list[str] = [run.stderr, run.stdout]

    status = videokit(lib, "status")
    status_json = videokit(lib, "status", "--json")
    assert f"http://***@{host}/gone.mp4" in status.stdout
    (failure,) = json.loads(status_json.stdout)["failures"]
    assert failure["input"] == f"http://***@{host}/gone.mp4?lang=en&sig=***&access_token=***"
    (stored,) = json.loads(videokit(lib, "search", "--json").stdout)
    assert stored["sources"] == [f"http://***@{host}/clip.mp4?token=***"]
    seen += [status.stdout, status.stderr, status_json.stdout]
    for fmt, target in (("json", out / "json"), ("jsonl", out / "all.jsonl"), ("csv", out / "all.csv")):
        exp = videokit(lib, "export", "--format", fmt, "--out", str(target))
        assert exp.returncode == 0, exp.stderr
        seen.append(exp.stderr)
    assert (out / "all.csv").read_text(encoding="utf-8").count(f"http://***@{host}/clip.mp4?token=***") == 1

    for text in seen:
        assert password not in text and token not in text and sig not in text, text
    assert (lib / "videokit.log").is_file() and (lib / "library.sqlite").is_file()
    assert files_holding(lib, password, token, sig, skip=(PRIVATE_NAME,)) == []
    assert files_holding(out, password, token, sig) == []
    # only the owner can read the one file that keeps the whole inputs, for retry
    private = lib / PRIVATE_NAME
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert password.encode() in private.read_bytes()

    # the same URL is recognised on a re-run: nothing is downloaded again
    before = len(http_server.requests("/clip.mp4"))
    again = videokit(lib, "run", "--analyzer", "none", "--skip", "scenes", good)
    assert again.returncode == 0, again.stderr
    assert len(http_server.requests("/clip.mp4")) == before

    # retry sends the failed input with its credentials, and still shows them nowhere
    http_server.add_file("/gone.mp4", clips[1].read_bytes())
    retry = videokit(lib, "retry")
    assert retry.returncode == 0, retry.stderr
    last = http_server.requests("/gone.mp4")[-1]
    assert last.status == 200
    assert f"sig={sig}&access_token={token}" in last.path
    assert last.headers["Authorization"] == basic
    after = videokit(lib, "status", "--json")
    assert json.loads(after.stdout)["failures"] == []
    assert json.loads(after.stdout)["jobs"]["done"] == 2
    for text in (again.stderr, retry.stderr, after.stdout):
        assert password not in text and token not in text and sig not in text, text
    assert files_holding(lib, password, token, sig, skip=(PRIVATE_NAME,)) == []


def test_an_unfinished_download_keeps_no_credentials_and_resumes(
    tmp_path: Path, http_server, clips: list[Path]
) -> None:
    password, token = throwaway_password(), "tk-" + secrets.token_hex(8)
    data = clips[0].read_bytes()
    http_server.add_file("/cut.mp4", data, drop_after=len(data) // 2, drops=1)
    url = f"http://viewer:{password}@127.0.0.1:{http_server.port}/cut.mp4?token={token}"
    lib = tmp_path / "lib"
    env = cli_env(VIDEOKIT_DOWNLOAD_RETRIES="0")
    first = videokit(lib, "run", "--analyzer", "none", "--skip", "scenes", url, env=env)
    assert first.returncode == 1, first.stderr
    assert list((lib / "downloads").glob("*.part.json"))  # kept, to resume from
    assert files_holding(lib, password, token, skip=(PRIVATE_NAME,)) == []
    again = videokit(lib, "retry", env=env)
    assert again.returncode == 0, again.stderr
    assert http_server.requests("/cut.mp4")[-1].range == f"bytes={len(data) // 2}-"
    assert files_holding(lib, password, token, skip=(PRIVATE_NAME,)) == []


def test_the_ledger_keeps_inputs_apart_that_differ_only_in_their_secret(tmp_path: Path) -> None:
    from videokit.inputs import InputItem

    one, two = ("https://cdn.example/v.mp4?token=" + throwaway_password() for _ in range(2))
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        ledger.add(InputItem(one, "url"), "h")
        ledger.add(InputItem(two, "url"), "h")
        ledger.add(InputItem("/videos/a.mp4", "file"), "h")
        assert sorted(j.spec for j in ledger.jobs()) == sorted([one, two, "/videos/a.mp4"])
        assert {j.shown for j in ledger.jobs()} == {"https://cdn.example/v.mp4?token=***", "/videos/a.mp4"}
        assert ledger.get(one).spec == one and ledger.get("https://cdn.example/v.mp4?token=other") is None
    # without the private file the jobs are still listed, redacted; retry cannot send them
    (tmp_path / PRIVATE_NAME).unlink()
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        shown = sorted(j.shown for j in ledger.jobs())
        assert shown == ["/videos/a.mp4", *["https://cdn.example/v.mp4?token=***"] * 2]
        assert all(j.spec == "/videos/a.mp4" or j.input_lost for j in ledger.jobs())


def test_an_old_ledger_that_held_whole_inputs_is_cleaned_on_open(tmp_path: Path) -> None:
    import sqlite3

    from videokit.record import Record, Source, StageError

    password = throwaway_password()
    url = f"https://viewer:{password}@cdn.example/v.mp4"
    path = tmp_path / "ledger.sqlite"
    Ledger(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 1")  # as written by videokit before inputs were kept apart
    partial = Record(sources=[Source(input="x")], errors=[StageError("fetch", "x")]).to_dict()
    partial["sources"][0]["input"] = url
    partial["errors"][0]["message"] = f"{url}: HTTP 503"
    db.execute(
        "INSERT INTO jobs (spec, kind, status, error, partial, created_at, updated_at) VALUES (?,?,?,?,?,?,?)",
        (url, "url", "failed", f"{url}: HTTP 503", json.dumps(partial), "t", "t"),
    )
    db.execute(
        "INSERT INTO job_stages (spec, stage, status, updated_at) VALUES (?,?,?,?)", (url, "fetch", "failed", "t")
    )
    db.commit()
    db.close()
    with Ledger(path) as ledger:
        (job,) = ledger.jobs()
        assert job.spec == url and job.stages == {"fetch": "failed"}
        assert job.error == "https://***@cdn.example/v.mp4: HTTP 503"
    assert files_holding(tmp_path, password, skip=(PRIVATE_NAME,)) == []


# -- an API key a server echoes -------------------------------------------------------------------
class EchoingKeyServer:
    """An OpenAI-compatible endpoint that refuses every key, quoting it back in its error."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                key = self.headers.get("Authorization", "").removeprefix("Bearer ")
                server.keys.append(key)
                error = {
                    "message": f"Incorrect API key provided: {key}. You can find your API key at "
                    "https://platform.example/account/api-keys.",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
                data = json.dumps({"error": error}).encode()
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"


@pytest.fixture
def key_server() -> Iterator[EchoingKeyServer]:
    s = EchoingKeyServer()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def test_an_api_key_echoed_by_the_server_leaks_nowhere(tmp_path: Path, key_server, clips: list[Path]) -> None:
    key = "sk-" + secrets.token_hex(16)
    env = cli_env(
        VIDEOKIT_QWENVL_PUBLICENDPOINT=key_server.base,
        VIDEOKIT_QWENVL_APIKEYENV="VK_TEST_API_KEY",
        VIDEOKIT_QWENVL_RETRIES="0",
        VK_TEST_API_KEY=key,
    )
    lib = tmp_path / "lib"
    run = videokit(lib, "run", "--analyzer", "api", "--skip", "scenes", str(clips[0]), env=env)
    assert key_server.keys == [key]  # the server did see it, and quoted it back
    assert run.returncode == 1, run.stderr
    assert "refused the API key" in run.stderr and "Incorrect API key provided: ***" in run.stderr
    status = videokit(lib, "status", env=env)
    status_json = videokit(lib, "status", "--json", env=env)
    assert "Incorrect API key provided: ***" in status.stdout
    search = videokit(lib, "search", "--json", env=env)
    for text in (run.stderr, run.stdout, status.stdout, status_json.stdout, search.stdout):
        assert key not in text, text
    assert (lib / "videokit.log").is_file()
    assert files_holding(lib, key) == []


# -- the log: every record redacted, whoever wrote it ---------------------------------------------
def test_the_log_redacts_urls_held_secrets_and_tracebacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    from videokit.config import load_config
    from videokit.logs import setup_logging

    key, password = "sk-" + secrets.token_hex(12), throwaway_password()
    monkeypatch.setenv("VK_TEST_API_KEY", key)
    broker = f"redis://:{password}@127.0.0.1:6390/0"
    cfg = load_config(
        None,
        env={"VK_TEST_API_KEY": key},
        overrides={
            ("Library", "Location"): str(tmp_path / "lib"),
            ("QwenVL", "ApiKeyEnv"): "VK_TEST_API_KEY",
            ("Celery", "BrokerURL"): broker,
        },
    )
    setup_logging(cfg)
    log = logging.getLogger("videokit.test_secrets")
    url = f"https://viewer:{password}@cdn.example/v.mp4?token={key}"
    try:
        log.warning("could not fetch %s", url)  # a careless message: the URL as an argument
        log.warning("the server said: Incorrect API key provided: %s", key)
        try:
            raise RuntimeError(f"boom at {broker}")
        except RuntimeError:
            log.warning("a failure with its traceback", exc_info=True)
    finally:
        root = logging.getLogger("videokit")
        for h in [h for h in root.handlers if getattr(h, "_videokit", False)]:
            root.removeHandler(h)
            h.close()
    text = (tmp_path / "lib" / "videokit.log").read_text(encoding="utf-8")
    assert "could not fetch https://***@cdn.example/v.mp4?token=***" in text
    assert "Incorrect API key provided: ***" in text and "RuntimeError: boom at redis://***@127.0.0.1:6390/0" in text
    assert key not in text and password not in text


# -- the one redaction helper -----------------------------------------------------------------------
def test_held_secrets_are_scrubbed_from_any_text() -> None:
    key = "sk-" + secrets.token_hex(12)
    assert key in redact_text(f"Incorrect API key provided: {key}")
    hold_secret(key)
    assert redact_text(f"Incorrect API key provided: {key}.") == "Incorrect API key provided: ***."
    hold_secret("abc")  # too short to tell from ordinary words: not held
    assert redact_text("abc abc") == "abc abc"
    password = throwaway_password()
    assert scrub(f"bad password {password}!", [password]) == "bad password ***!"


def test_inputs_are_redacted_only_where_they_are_urls() -> None:
    url = "https://u:" + throwaway_password() + "@h.example/v.mp4?X-Amz-Signature=abc&n=1"
    assert redact_input(url) == redact_url(url) == "https://***@h.example/v.mp4?X-Amz-Signature=***&n=1"
    assert redact_input("/videos/odd?token=name.mp4") == "/videos/odd?token=name.mp4"
