"""Network helpers shared by the downloader, the ``api`` analyzer, MongoDB and the broker.

* :func:`redact_url` / :func:`redact_text`: URLs safe to show (no ``user:password``, no
  secret-looking query values such as ``token``, ``sig`` or ``X-Amz-Signature``);
* :func:`backoff_delay`: exponential backoff with full jitter, the one formula for retries;
* :func:`parse_retry_after`: a ``Retry-After`` header (seconds or an HTTP date) in seconds.
"""

from __future__ import annotations

import email.utils
import math
import random
import re
import time
from collections.abc import Callable
from datetime import UTC
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

HIDDEN = "***"
# Query keys whose values are secrets (``access_token``, ``api_key``, ``X-Amz-Signature``...).
_SECRET_KEY = re.compile(r"token|key|sig|auth|pass|secret|credential|session|^x-amz-", re.I)
_USERINFO = re.compile(r"(?<=//)[^/@\s]*@")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.I)


def redact_url(url: str) -> str:
    """``url`` with its ``user:password@`` shown as ``***@`` and secret query values as ``***``."""
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
    """``text`` (an error message, a log line) with every URL in it redacted."""
    return _URL.sub(_redact_match, text)


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
