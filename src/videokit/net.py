"""Network helpers shared by the downloader, the ``api`` analyzer, MongoDB and the broker.

* :func:`redact_url` / :func:`redact_text` / :func:`redact_input`: the one redaction helper.
  URLs safe to show (no ``user:password``, no secret-looking query values such as ``token``,
  ``sig`` or ``X-Amz-Signature``); :func:`redact_text` also scrubs every secret this process
  holds (:func:`hold_secret`: API keys, passwords of the MongoDB and broker URIs, registered
  where they are read, :func:`hold_config_secrets`) from any text, such as a server's error
  message that quotes the key it refused;
* :func:`backoff_delay`: exponential backoff with full jitter, the one formula for retries;
* :func:`parse_retry_after`: a ``Retry-After`` header (seconds or an HTTP date) in seconds.
"""

from __future__ import annotations

import email.utils
import math
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

if TYPE_CHECKING:
    from videokit.config import Config

HIDDEN = "***"
# Query keys whose values are secrets (``access_token``, ``api_key``, ``X-Amz-Signature``...).
_SECRET_KEY = re.compile(r"token|key|sig|auth|pass|secret|credential|session|^x-amz-", re.I)
_USERINFO = re.compile(r"(?<=//)[^/@\s]*@")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.I)
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*://", re.I)
# Shorter values are too likely to be ordinary words or numbers to scrub from every message.
MIN_SECRET = 6
_held: set[str] = set()
_held_pattern: re.Pattern[str] | None = None
_held_lock = threading.Lock()


def redact_url(url: str) -> str:
    """``url`` with its ``user:password@`` shown as ``***@`` and secret query values as ``***``."""
    if "@" not in url and "?" not in url:
        return url  # nothing to hide (the common case, kept cheap: every stored source passes here)
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unbalanced IPv6 bracket: still hide the user info
        return _USERINFO.sub(HIDDEN + "@", url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = HIDDEN + "@" + netloc.rpartition("@")[2]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SECRET_KEY.search(k) for k, _ in pairs):
            query = urlencode([(k, HIDDEN if _SECRET_KEY.search(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """``text`` (an error message, a log line, a server's reply) with every URL in it redacted
    and every secret this process holds (:func:`hold_secret`) replaced by ``***``."""
    text = _URL.sub(_redact_match, text)
    pattern = _held_pattern
    return pattern.sub(HIDDEN, text) if pattern is not None else text


def redact_input(spec: str) -> str:
    """An input as it may be shown and stored: a URL redacted (:func:`redact_url`); a local
    path as it is (a ``?`` in a file name is not a query)."""
    return redact_url(spec) if _SCHEME.match(spec) else spec


def url_secrets(url: str) -> list[str]:
    """The secret parts of ``url``: the password of its user info, secret query values (each
    also percent-decoded), long enough to be told from ordinary text."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return []
    found = [password] if password else []
    found += [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if _SECRET_KEY.search(k)]
    out: list[str] = []
    for value in found:
        for form in (value, unquote(value), quote(value, safe="")):
            if len(form) >= MIN_SECRET and form not in out:
                out.append(form)
    return out


def scrub(text: str, values: Iterable[str]) -> str:
    """``text`` with each of ``values`` (longest first) replaced by ``***``."""
    for value in sorted({v for v in values if v}, key=len, reverse=True):
        text = text.replace(value, HIDDEN)
    return text


def hold_secret(value: str | None) -> None:
    """Remember a secret this process holds (an API key, a password): :func:`redact_text`
    scrubs it from every text from now on. Values under ``MIN_SECRET`` characters are ignored."""
    global _held_pattern
    value = (value or "").strip()
    if len(value) < MIN_SECRET:
        return
    with _held_lock:
        if value in _held:
            return
        _held.add(value)
        values = sorted(_held, key=len, reverse=True)
        _held_pattern = re.compile("|".join(re.escape(v) for v in values))


def hold_url_secrets(url: str | None) -> None:
    """Hold the password and secret query values of ``url`` (a MongoDB or broker URI)."""
    for value in url_secrets(url or ""):
        hold_secret(value)


def hold_config_secrets(config: Config) -> None:
    """Hold the secrets ``config`` gives this process: the settings declared ``secret`` (the
    passwords of URIs) and the API key in the environment variable ``[QwenVL] ApiKeyEnv``."""
    for value in config.secret_values():
        if _SCHEME.match(value):
            hold_url_secrets(value)
        else:
            hold_secret(value)
    env_name = config.values.get(("QwenVL", "ApiKeyEnv"))
    if isinstance(env_name, str) and env_name:
        hold_secret(os.environ.get(env_name))


def _redact_match(m: re.Match[str]) -> str:
    url = m.group(0)
    core = url.rstrip(".,;:!?)]}")  # punctuation after a URL is part of the sentence
    return redact_url(core) + url[len(core) :]


def backoff_delay(attempt: int, base: float, cap: float, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry number ``attempt`` (1, 2, ...): exponential backoff with
    full jitter, uniform in ``[0, min(cap, base * 2**(attempt-1))]``."""
    return rand() * min(cap, base * 2.0 ** min(max(attempt - 1, 0), 64))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds (``"120"``) or an HTTP
    date (0 when it is past). None when absent or unreadable. ``now``: epoch seconds (tests)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": UTC by RFC 5322
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
