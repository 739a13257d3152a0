"""Downloading videos from URLs.

:func:`fetch` is the one entry point: a direct file URL is streamed with httpx
(:mod:`videokit.download.http`: resume, retries, size limit, atomic rename); a web page or a
URL a yt-dlp site extractor claims goes through yt-dlp (:mod:`videokit.download.page`).
Safe local names come from :mod:`videokit.download.names`; an unfinished download on disk
(``.part`` and its ``.part.json``) is :mod:`videokit.download.partfile`.

The settings are read once into :class:`DownloadOptions` (:mod:`videokit.download.options`).
Every download is bounded by ``[Download] Deadline`` and a minimum speed
(:mod:`videokit.download.pace`), and two processes fetching the same URL into the same folder
download it once (:mod:`videokit.download.claim`).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from urllib.parse import urlsplit

from videokit.download.claim import claim, sweep
from videokit.download.http import Downloaded, HttpDownloader, IsPage, ProgressFn
from videokit.download.names import safe_filename
from videokit.download.options import DownloadOptions
from videokit.download.pace import Pace
from videokit.download.page import fetch_page, has_site_extractor
from videokit.errors import InputError
from videokit.net import redact_url

__all__ = ["DownloadOptions", "Downloaded", "check_url", "fetch", "is_url", "safe_filename"]

log = logging.getLogger(__name__)

SCHEMES = ("http", "https")


def is_url(text: str) -> bool:
    """True when ``text`` looks like a URL (``scheme://...``) rather than a local path."""
    try:
        scheme = urlsplit(text).scheme
    except ValueError:
        return False
    if len(scheme) < 2:  # "C:\\videos" is a Windows path, not a URL
        return False
    return "://" in text or scheme.lower() in {"file", "ftp", "data", "http", "https"}


def check_url(url: str) -> None:
    """Raise InputError unless ``url`` is an http(s) URL with a host."""
    try:
        parts = urlsplit(url)
    except ValueError as e:
        raise InputError(f"{redact_url(url)}: invalid URL ({e})") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise InputError(f"{redact_url(url)}: unsupported URL scheme '{scheme}'; use http(s) URLs or local paths")
    if not parts.hostname:
        raise InputError(f"{redact_url(url)}: the URL has no host name")


def fetch(
    url: str,
    dest_dir: Path,
    options: DownloadOptions,
    *,
    on_progress: ProgressFn | None = None,
) -> Downloaded:
    """Download ``url`` into ``dest_dir``.

    Direct files (decided by Content-Type, or by sniffing the first bytes) are streamed to
    ``<name>.part`` and renamed when complete and verified; an unfinished ``.part`` from an
    earlier call is resumed. Pages go to yt-dlp. ``on_progress(url, done, total)`` is called
    as bytes arrive (throttled). When another process is downloading the same URL into the
    same folder, this call waits for it and returns its file. Raises InputError (permanent) or
    TransientError (retry later; also past ``[Download] Deadline`` or below the minimum speed).
    """
    started = time.monotonic()
    check_url(url)
    if options.refuse_private:
        from videokit.download.guard import check_url as refuse_private

        refuse_private(url)
    dest_dir = Path(dest_dir)
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(
            f"{redact_url(url)}: cannot create the download folder {dest_dir}: {e.strerror or e}"
        ) from None
    sweep(dest_dir)
    with claim(dest_dir, url, options, started=started) as held:
        if held.done is not None:
            return held.done
        pace = Pace(redact_url(url), options, started=started)
        held.result = _download(url, dest_dir, options, pace, on_progress)
        return held.result


def _download(
    url: str, dest_dir: Path, options: DownloadOptions, pace: Pace, on_progress: ProgressFn | None
) -> Downloaded:
    if has_site_extractor(url):
        return fetch_page(url, dest_dir, options, pace, on_progress=on_progress)
    try:
        return HttpDownloader(options, on_progress=on_progress).fetch(url, dest_dir, pace)
    except IsPage as page:
        final = page.url
    # Outside the except block: yt-dlp reads sys.exc_info() when it reports its own errors.
    log.debug("%s is a web page (%s); using yt-dlp", redact_url(url), redact_url(final))
    return fetch_page(url, dest_dir, options, pace, on_progress=on_progress)
