"""The shared helpers: URL redaction, backoff, Retry-After, one-line messages, a missing ffmpeg."""

from __future__ import annotations

import email.utils
import socket
import time
from pathlib import Path

import mongomock
import pytest

from credentials import with_credentials
from store_contract import make_record
from videokit.errors import ConfigError, InputError, ToolMissingError, UsageError, one_line
from videokit.net import backoff_delay, parse_retry_after, redact_text, redact_url


# -- redaction -----------------------------------------------------------------------------
def test_user_info_is_hidden_and_the_host_kept() -> None:
    url, password = with_credentials("https://files.example.com/v.mp4")
    assert redact_url(url) == "https://***@files.example.com/v.mp4"
    multi, password2 = with_credentials("mongodb://h1:27017,h2:27018/db?replicaSet=rs0")
    assert redact_url(multi) == "mongodb://***@h1:27017,h2:27018/db?replicaSet=rs0"
    broker = redact_url("redis://:" + password + "@127.0.0.1:6379/0")
    assert broker == "redis://***@127.0.0.1:6379/0"
    assert password not in broker and password2 not in redact_url(multi)


@pytest.mark.parametrize(
    "key",
    [
        "token",
        "key",
        "sig",
        "signature",
        "access_token",
        "api_key",
        "X-Amz-Signature",
        "X-Amz-Credential",
        "X-Amz-Date",
    ],
)
def test_secret_query_values_are_hidden(key: str) -> None:
    shown = redact_url(f"https://cdn.example.com/v.mp4?id=42&{key}=s3cr3t-value&lang=en")
    assert "s3cr3t-value" not in shown
    assert shown == f"https://cdn.example.com/v.mp4?id=42&{key}=***&lang=en"


def test_urls_without_secrets_are_unchanged() -> None:
    for url in ("https://example.com/a%20b.mp4?id=1&lang=en#t=3", "http://[::1]:8080/x", "not a url"):
        assert redact_url(url) == url


def test_every_url_inside_a_message_is_redacted() -> None:
    url, password = with_credentials("https://example.com/v.mp4?token=abc123")
    text = redact_text(
        f"ERROR: unable to download {url} (HTTP 403); see 'http://other.example/?sig=xyz' (or ftp://h/?key=k)."
    )
    assert password not in text and "abc123" not in text and "xyz" not in text
    assert text == (
        "ERROR: unable to download https://***@example.com/v.mp4?token=*** (HTTP 403); "
        "see 'http://other.example/?sig=***' (or ftp://h/?key=***)."
    )


def test_the_broker_message_hides_the_password() -> None:
    from videokit.distributed.board import Board, BrokerUnreachable

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url, password = with_credentials(f"redis://127.0.0.1:{port}/0", "")
    with pytest.raises(BrokerUnreachable) as e:
        Board(url, timeout=0.5).ping()
    assert password not in str(e.value)
    assert f"redis://***@127.0.0.1:{port}/0" in str(e.value)


def test_a_bad_mongodb_uri_is_shown_without_credentials() -> None:
    from videokit.config import load_config
    from videokit.store.mongo import open_mongo

    uri, password = with_credentials("http://db.example.net/")
    cfg = load_config(env={"VIDEOKIT_MONGODB_URI": uri})
    with pytest.raises(ConfigError, match=r"got 'http://\*\*\*@db\.example\.net/'") as e:
        open_mongo(cfg)
    assert password not in str(e.value)


# -- Retry-After and backoff -----------------------------------------------------------------
def test_retry_after_in_seconds() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("1.5") == 1.5
    for bad in (None, "", "soon", "-5", "inf", "nan"):
        assert parse_retry_after(bad) is None


def test_retry_after_as_an_http_date(monkeypatch: pytest.MonkeyPatch) -> None:
    now = 1_700_000_000.0
    assert parse_retry_after(email.utils.formatdate(now + 90, usegmt=True), now=now) == pytest.approx(90)
    assert parse_retry_after(email.utils.formatdate(now - 90, usegmt=True), now=now) == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    # "-0000" (zone not given) means UTC, whatever the machine's local time zone is
    try:
        with monkeypatch.context() as m:
            m.setenv("TZ", "Asia/Tokyo")
            time.tzset()
            unzoned = email.utils.formatdate(now + 30)
            assert unzoned.endswith(" -0000")
            assert parse_retry_after(unzoned, now=now) == pytest.approx(30)
    finally:
        time.tzset()


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff_delay(n, 0.5, 30, rand=lambda: 1.0) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff_delay(20, 0.5, 30, rand=lambda: 1.0) == 30
    assert backoff_delay(10_000, 0.5, 30, rand=lambda: 1.0) == 30  # no overflow for huge attempts
    assert backoff_delay(3, 0.5, 30, rand=lambda: 0.25) == 0.5
    assert backoff_delay(0, 0.5, 30, rand=lambda: 1.0) == 0.5


def test_backoff_is_jittered_within_its_bound() -> None:
    delays = [backoff_delay(4, 0.5, 30) for _ in range(200)]
    assert all(0 <= d <= 4.0 for d in delays)
    assert len(set(delays)) > 150  # random, so workers retrying together spread out
    assert min(delays) < 1.0 < 3.0 < max(delays)


# -- one-line messages -----------------------------------------------------------------------
def test_one_line_collapses_whitespace() -> None:
    assert one_line("  cannot\n\tread   the file \r\n(code 5)  ") == "cannot read the file (code 5)"
    assert one_line(OSError("disk\nfull")) == "disk full"
    assert one_line(KeyError()) == "KeyError"
    assert one_line("") == ""
    assert one_line("x" * 500, 300) == "x" * 300


# -- user errors are VideokitErrors, not bare ValueErrors -------------------------------------
def test_unknown_priority_is_a_usage_error() -> None:
    from videokit.distributed.submit import submit

    with pytest.raises(UsageError, match=r"priority 'urgent' is unknown; use one of high, normal, low"):
        submit([], None, None, priority="urgent")  # type: ignore[arg-type]


def test_a_record_mongodb_cannot_hold_is_an_input_error() -> None:
    from videokit.store.mongo import MongoStore

    store = MongoStore(mongomock.MongoClient())
    bad = make_record("huge")
    bad.timings["weird"] = 2**70  # BSON has no such integer
    with pytest.raises(InputError, match=r"record \w+ cannot be stored in MongoDB: "):
        store.upsert(bad)


# -- a missing ffmpeg ------------------------------------------------------------------------
def hide_ffmpeg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A PATH with neither ffmpeg nor ffprobe on it."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def test_missing_ffprobe_is_the_same_error_from_probe_and_scenes(
    sample_video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from videokit.probe import media_info
    from videokit.scenes import detect_scenes

    hide_ffmpeg(monkeypatch, tmp_path)
    with pytest.raises(ToolMissingError) as from_probe:
        media_info(sample_video)
    with pytest.raises(ToolMissingError) as from_scenes:
        detect_scenes(sample_video)
    assert str(from_probe.value) == str(from_scenes.value)
    assert str(from_probe.value).startswith("ffprobe not found on PATH; install ffmpeg")
    assert isinstance(from_probe.value, ConfigError)  # exit status 2, like any setup problem


def test_missing_ffmpeg_is_the_same_error_from_scenes_and_frame_sampling(
    sample_video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from videokit.analysis.frames import extract_stills
    from videokit.probe import media_info
    from videokit.scenes import detect_scenes

    media = media_info(sample_video)  # probed while ffmpeg is still there
    hide_ffmpeg(monkeypatch, tmp_path)
    with pytest.raises(ToolMissingError) as from_scenes:
        detect_scenes(sample_video, media=media)
    with pytest.raises(ToolMissingError) as from_frames:
        extract_stills(sample_video, [0.5], tmp_path / "frames", 64)
    assert str(from_scenes.value) == str(from_frames.value)
    assert str(from_scenes.value).startswith("ffmpeg not found on PATH; install ffmpeg")
