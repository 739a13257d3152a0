"""Direct file downloads over HTTP(S) with httpx.

One call of :meth:`HttpDownloader.fetch` streams a URL to ``<name>.part`` next to a small
``<name>.part.json`` (URL, validators; :mod:`videokit.download.partfile`) and renames it only
when complete, so a file with its final name is always whole. Within a call a dropped
connection resumes with ``Range``; across calls (or processes) the ``.part.json`` lets the
next call find and resume it.

Errors, as the rest of videokit sees them::

    InputError       bad URL, 403/404/other 4xx, too big, redirect loop, empty file
    └── TransientError   connection refused/reset, timeouts, 408/429/5xx after all retries;
                         past [Download] Deadline or below MinSpeedKBps (videokit.download.pace)

A response that is a web page (HTML, HLS/DASH manifest) raises :class:`IsPage`; the caller
hands the URL to yt-dlp.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from videokit.download.names import filename_from_disposition, filename_from_url, safe_filename, with_extension
from videokit.download.options import DownloadOptions
from videokit.download.pace import Pace
from videokit.download.partfile import PartFile, free_name, open_locked, place
from videokit.errors import InputError, TransientError, one_line
from videokit.hashing import sha256_hasher
from videokit.net import backoff_delay, parse_retry_after, redact_text, redact_url

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, int, "int | None"], None]

MAX_REDIRECTS = 10
RETRY_STATUSES = frozenset({408, 425, 429, *range(500, 600)})
PAGE_TYPES = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "application/vnd.apple.mpegurl",
        "application/x-mpegurl",
        "audio/mpegurl",
        "audio/x-mpegurl",
        "application/dash+xml",
    }
)
_PAGE_MAGIC = (b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml", b"<!--", b"#extm3u", b"<mpd")


@dataclass(slots=True)
class Downloaded:
    """A finished download. ``bytes_fetched`` counts bytes transferred by this call only."""

    path: Path
    sha256: str
    size: int
    bytes_fetched: int
    url: str  # final URL (after redirects; the page URL for pages)
    domain: str | None
    kind: str  # "url" (direct file) | "page" (through yt-dlp)
    info: dict[str, str | None] = field(default_factory=dict)


class IsPage(Exception):
    """The URL is a web page or a streaming manifest, not a file: use yt-dlp."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


# -- helpers shared with page.py -------------------------------------------------------
def domain_of(url: str) -> str | None:
    host = urlsplit(url).hostname
    if not host:
        return None
    host = host.lower()
    return host[4:] if host.startswith("www.") else host


class _Retry(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class _Restart(Exception):
    """Start again from byte 0 at once (server ignored or refused our Range)."""


class _Progress:
    """Throttled ``on_progress(url, done, total)`` calls (shared with page.py)."""

    def __init__(self, url: str, fn: ProgressFn | None, every: float = 0.2) -> None:
        self.url, self.fn, self.every, self._last = url, fn, every, 0.0

    def __call__(self, done: int, total: int | None, *, force: bool = False) -> None:
        if self.fn is None:
            return
        now = time.monotonic()
        if force or now - self._last >= self.every:
            self._last = now
            self.fn(self.url, done, total)


# -- the downloader --------------------------------------------------------------------
class HttpDownloader:
    """Downloads direct file URLs. ``transport``, ``sleep`` and ``clock`` are injectable for tests."""

    def __init__(
        self,
        options: DownloadOptions,
        *,
        on_progress: ProgressFn | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self.on_progress = on_progress
        self.transport = transport
        self.sleep = sleep
        self.clock = clock

    def fetch(self, url: str, dest_dir: Path, pace: Pace | None = None) -> Downloaded:
        """Download ``url`` into ``dest_dir``; ``pace`` carries the deadline and speed rule of
        the whole download (a new one when None)."""
        dest_dir.mkdir(parents=True, exist_ok=True)
        if pace is None:
            pace = Pace(redact_url(url), self.options, clock=self.clock)
        hooks: dict[str, list[Callable[[httpx.Request], None]]] = {}
        if self.options.refuse_private:  # every request, each redirect included
            hooks["request"] = [_refuse_private]
        with httpx.Client(
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            headers={"User-Agent": self.options.user_agent, "Accept-Encoding": "identity"},
            transport=self.transport,
            event_hooks=hooks,
        ) as client:
            return _Transfer(self, client, url, dest_dir, pace).run()


class _Transfer:
    """The state of one fetch() call."""

    def __init__(self, owner: HttpDownloader, client: httpx.Client, url: str, dest_dir: Path, pace: Pace) -> None:
        self.lim = owner.options
        self.sleep = owner.sleep
        self.client = client
        self.url = url
        self.shown = redact_url(url)
        self.dest_dir = dest_dir
        self.pace = pace
        self.progress = _Progress(url, owner.on_progress)
        self.part = PartFile.find(dest_dir, url)
        self.fetched = 0
        self.hasher: hashlib._Hash | None = None
        self.hashed = 0  # bytes of the .part covered by self.hasher

    def run(self) -> Downloaded:
        """Attempts until done. Retries count failures since the last progress; the deadline
        and the speed rule (:class:`Pace`) bound them all together."""
        attempt, best = 0, self.part.size() if self.part else 0
        if best:
            log.info("resuming %s from byte %d", self.shown, best)
        restarts, reason = 0, None
        while True:
            self.pace.check(reason=reason)
            try:
                return self._attempt()
            except _Restart:
                restarts += 1
                if restarts > 3:
                    raise TransientError(f"{self.shown}: the server keeps sending inconsistent ranges") from None
                continue
            except _Retry as e:
                reason = e.reason
                size = self.part.size() if self.part else 0
                if size > best:  # progress was made: a flaky connection, not a dead one
                    best, attempt = size, 0
                attempt += 1
                if attempt > self.lim.retries:
                    raise TransientError(
                        f"{self.shown}: {e.reason}; gave up after {self.lim.retries} retries ([Download] Retries); try again later"
                    ) from None
                delay = backoff_delay(attempt, self.lim.backoff_base, self.lim.backoff_max)
                if e.retry_after is not None:
                    delay = min(e.retry_after, self.lim.backoff_max)
                self.pace.check(wait=delay, reason=e.reason)  # give up now rather than after the wait
                log.info("%s: %s; retry %d/%d in %.2fs", self.shown, e.reason, attempt, self.lim.retries, delay)
                self.sleep(delay)

    # One request ----------------------------------------------------------------------
    def _attempt(self) -> Downloaded:
        offset = self.part.size() if self.part else 0
        headers: dict[str, str] = {}
        if self.part and offset:
            headers["Range"] = f"bytes={offset}-"
            validator = self.part.etag if self.part.etag and not self.part.etag.startswith("W/") else None
            validator = validator or self.part.last_modified
            if validator:
                headers["If-Range"] = validator
        # No attempt outlives the deadline or the speed window (0 in the settings: no timeout).
        connect = self.pace.cap(self.lim.connect_timeout)
        timeout = httpx.Timeout(self.pace.cap(self.lim.read_timeout), connect=connect, pool=connect)
        try:
            with self.client.stream("GET", self.url, headers=headers, timeout=timeout) as resp:
                return self._handle(resp, offset)
        except httpx.TooManyRedirects:
            raise InputError(f"{self.shown}: too many redirects (a redirect loop?); check the URL") from None
        except httpx.UnsupportedProtocol as e:
            raise InputError(f"{self.shown}: redirected to an unsupported URL ({e}); use http(s) URLs") from None
        except httpx.InvalidURL as e:
            raise InputError(f"{self.shown}: invalid URL ({e})") from None
        except httpx.TimeoutException as e:
            raise _Retry(f"timed out ({type(e).__name__})") from None
        except httpx.ConnectError as e:
            raise _Retry(f"cannot connect ({_short(e)})") from None
        except (httpx.RemoteProtocolError, httpx.NetworkError) as e:
            raise _Retry(f"connection dropped ({_short(e)})") from None

    def _handle(self, resp: httpx.Response, offset: int) -> Downloaded:
        status = resp.status_code
        if status == 416 and offset:
            total = _range_total(resp.headers.get("content-range"))
            if self.part and total == offset:
                log.info("%s: already complete on disk", self.shown)
                self.progress(offset, offset, force=True)
                return self._finish(str(resp.url))
            log.info("%s: server refused the resume range; starting over", self.shown)
            self._reset()
            raise _Restart
        self._check_status(resp)
        ctype = resp.headers.get("content-type")
        body = resp.iter_bytes()  # as received: a chunk buffer would lose bytes on a drop
        first = b""
        if status == 206 and self.part and offset:
            if _mime(ctype) in PAGE_TYPES:
                raise IsPage(str(resp.url))
            start, total = (
                _range_start(resp.headers.get("content-range")),
                _range_total(resp.headers.get("content-range")),
            )
            if start != offset:
                log.info("%s: server sent a different range than asked; starting over", self.shown)
                self._reset()
                raise _Restart
            if total is None and (length := _content_length(resp)) is not None:
                total = offset + length
        else:
            if _mime(ctype) in PAGE_TYPES:
                raise IsPage(str(resp.url))
            first = next(body, b"")
            if _looks_like_page(first):
                raise IsPage(str(resp.url))
            if offset:
                log.info("%s: server ignored the resume range; starting over", self.shown)
            offset = 0
            total = _content_length(resp)
            self._start_part(resp, ctype, total)
        assert self.part is not None
        if self.lim.max_bytes is not None and total is not None and total > self.lim.max_bytes:
            self.part.discard()
            raise self.lim.too_big(self.shown)
        return self._stream(resp, body, first, offset, total)

    def _check_status(self, resp: httpx.Response) -> None:
        status = resp.status_code
        if status in (200, 206):
            return
        reason = f"HTTP {status} {resp.reason_phrase}".strip()
        if status in RETRY_STATUSES:
            raise _Retry(reason, parse_retry_after(resp.headers.get("retry-after")))
        if self.part and status in (404, 410):
            self.part.discard()
        hint = {
            401: "it needs a login",
            403: "access denied",
            404: "not found; check the URL",
            410: "gone; the file was removed",
        }.get(status, "the server refused the request")
        if 300 <= status < 400:
            hint = "a redirect without a usable Location"
        raise InputError(f"{self.shown}: {reason} ({hint})")

    def _start_part(self, resp: httpx.Response, ctype: str | None, total: int | None) -> None:
        etag, modified = resp.headers.get("etag"), resp.headers.get("last-modified")
        if self.part is None:
            name = self._choose_name(resp, ctype)
            self.part = PartFile(self.dest_dir / (free_name(self.dest_dir, name) + ".part"), name, self.url)
        self.part.etag, self.part.last_modified, self.part.total = etag, modified, total
        self.part.save()

    def _choose_name(self, resp: httpx.Response, ctype: str | None) -> str:
        raw = (
            filename_from_disposition(resp.headers.get("content-disposition"))
            or filename_from_url(str(resp.url))
            or filename_from_url(self.url)
        )
        fallback = "video-" + hashlib.sha256(self.url.encode()).hexdigest()[:8]
        return with_extension(safe_filename(raw or "", fallback=fallback), ctype)

    def _reset(self) -> None:
        if self.part:
            self.part.path.unlink(missing_ok=True)
        self.hasher, self.hashed = None, 0

    # Streaming ------------------------------------------------------------------------
    def _stream(
        self, resp: httpx.Response, body: Iterator[bytes], first: bytes, offset: int, total: int | None
    ) -> Downloaded:
        part = self.part
        assert part is not None
        done = offset
        limit = self.lim.max_bytes
        try:
            with open_locked(part.path, offset, self.shown) as fh:
                if offset == 0 or self.hasher is None or self.hashed != offset:
                    self.hasher = sha256_hasher(part.path, offset) if offset else hashlib.sha256()
                    self.hashed = offset
                self.progress(done, total, force=True)
                for chunk in _chain(first, body):
                    if limit is not None and done + len(chunk) > limit:
                        fh.close()
                        part.discard()
                        raise self.lim.too_big(self.shown)
                    fh.write(chunk)
                    self.hasher.update(chunk)
                    done += len(chunk)
                    self.hashed = done
                    self.fetched += len(chunk)
                    self.progress(done, total)
                    self.pace.add(len(chunk))
                os.fsync(fh.fileno())
        except OSError as e:
            raise TransientError(f"{self.shown}: cannot write {part.path}: {e.strerror or e}") from None
        self.progress(done, total, force=True)
        if total is not None and done != total:
            raise _Retry(f"connection closed early (got {done} of {total} bytes)")
        if done == 0:
            part.discard()
            raise InputError(f"{self.shown}: the server sent an empty file")
        return self._finish(str(resp.url))

    def _finish(self, final_url: str) -> Downloaded:
        part = self.part
        assert part is not None
        size = part.size()
        if self.hasher is None or self.hashed != size:
            self.hasher = sha256_hasher(part.path)
        digest = self.hasher.hexdigest()
        path = place(part, self.dest_dir, size, digest)
        log.info("downloaded %s -> %s (%d bytes, %d fetched)", self.shown, path.name, size, self.fetched)
        return Downloaded(
            path=path,
            sha256=digest,
            size=size,
            bytes_fetched=self.fetched,
            url=final_url,
            domain=domain_of(final_url),
            kind="url",
            info={"title": None},
        )


def _refuse_private(request: httpx.Request) -> None:
    from videokit.download.guard import check_url

    check_url(str(request.url))


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def _mime(ctype: str | None) -> str:
    return (ctype or "").split(";")[0].strip().lower()


def _looks_like_page(first: bytes) -> bool:
    head = first[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(_PAGE_MAGIC) or b"<html" in head


def _content_length(resp: httpx.Response) -> int | None:
    if resp.headers.get("content-encoding", "identity").lower() != "identity":
        return None
    try:
        return int(resp.headers["content-length"])
    except (KeyError, ValueError):
        return None


_RANGE = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)", re.I)


def _range_start(header: str | None) -> int | None:
    m = _RANGE.match(header or "")
    return int(m.group(1)) if m and m.group(1) else None


def _range_total(header: str | None) -> int | None:
    m = _RANGE.match(header or "")
    return int(m.group(3)) if m and m.group(3) != "*" else None


def _short(e: Exception) -> str:
    return redact_text(one_line(e))[:200]
