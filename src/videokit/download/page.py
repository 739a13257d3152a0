"""Web pages (and streaming manifests) through yt-dlp's Python API.

Site extractors and yt-dlp's generic extractor (HTML5 ``<video>``/``<source>``, players
configured in JavaScript, Open Graph tags, HLS/DASH) find the video; yt-dlp downloads it to
``<title> [<url hash>].<ext>`` with its own ``.part`` resume. Nothing is printed: yt-dlp's
messages go to this module's logger at DEBUG, and its errors become one-line
:class:`~videokit.errors.InputError` / :class:`~videokit.errors.TransientError`.

The deadline and the minimum speed (:mod:`videokit.download.pace`) hold here as far as yt-dlp
lets them: its socket timeout is capped by them, a progress hook ends the download when a rule
is broken, and no retry waits past them. yt-dlp reports progress once per read and sizes its
reads by the speed; starting them at one byte lets the hook see a dripping server at once.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from pathlib import Path
from typing import Any

from videokit.download.http import Downloaded, ProgressFn, _Progress, domain_of
from videokit.download.options import DownloadOptions
from videokit.download.pace import Pace
from videokit.errors import InputError, TransientError, one_line
from videokit.hashing import sha256_file
from videokit.net import backoff_delay, redact_text, redact_url

log = logging.getLogger(__name__)

INFO_FIELDS = ("title", "uploader", "license", "webpage_url", "description", "upload_date")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_HTTP_STATUS = re.compile(r"HTTP Error (\d{3})")
_NETWORK = re.compile(r"Giving up after|timed out|Connection (?:refused|reset|aborted)|Read timed out", re.I)
_PREFIX = re.compile(r"^(?:ERROR:\s*)?(?:\[[^\]]+\]\s*(?:[^\s:]+:\s+)?)?")


@functools.cache
def _site_extractors() -> list[Any]:
    from yt_dlp.extractor import gen_extractor_classes

    return [ie for ie in gen_extractor_classes() if ie.ie_key() != "Generic"]


def has_site_extractor(url: str) -> bool:
    """True when a yt-dlp extractor for a specific site (not the generic one) claims ``url``."""
    return any(ie.suitable(url) for ie in _site_extractors())


class _TooBig(Exception):
    pass


class _Stop(Exception):
    """Raised through yt-dlp to end a download that broke the deadline or the speed rule."""

    def __init__(self, error: TransientError) -> None:
        super().__init__(str(error))
        self.error = error


class _YdlLogger:
    """Receives everything yt-dlp would print; keeps it at DEBUG."""

    def __init__(self) -> None:
        self.too_big = False

    def debug(self, msg: str) -> None:
        if "larger than max-filesize" in msg:
            self.too_big = True
        log.debug("yt-dlp: %s", redact_text(_ANSI.sub("", msg)))

    info = debug

    def warning(self, msg: str) -> None:
        log.debug("yt-dlp warning: %s", redact_text(_ANSI.sub("", msg)))

    def error(self, msg: str) -> None:
        log.debug("yt-dlp error: %s", redact_text(_ANSI.sub("", msg)))


class _Hook:
    """yt-dlp progress hook: forwards progress, counts bytes fetched, enforces MaxSizeMB, the
    deadline and the minimum speed."""

    def __init__(
        self, url: str, on_progress: ProgressFn | None, max_bytes: int | None, parts: dict[str, int], pace: Pace
    ) -> None:
        self.url, self.max_bytes, self.pace = url, max_bytes, pace
        self.progress = _Progress(url, on_progress)
        self.parts = parts  # .part sizes before the call
        self.base: dict[str, int] = {}
        self.last: dict[str, int] = {}
        self.tmpfiles: set[str] = set()

    def __call__(self, d: dict[str, Any]) -> None:
        name = Path(str(d.get("filename") or "")).name
        done = int(d.get("downloaded_bytes") or 0)
        total = d.get("total_bytes") or d.get("total_bytes_estimate")
        if d.get("tmpfilename"):
            self.tmpfiles.add(str(d["tmpfilename"]))
        if d.get("status") == "downloading":
            self.base.setdefault(name, self.parts.get(name + ".part", 0))
            before = self.last.get(name, self.base[name])
            self.last[name] = done
            if self.max_bytes is not None and (done > self.max_bytes or (total and total > self.max_bytes)):
                raise _TooBig
            try:
                self.pace.add(max(done - before, 0))
            except TransientError as e:
                raise _Stop(e) from None
        elif d.get("status") == "finished" and name in self.base:
            self.last[name] = done
        if d.get("status") in ("downloading", "finished"):
            self.progress(done, int(total) if total else None, force=d.get("status") == "finished")

    @property
    def fetched(self) -> int:
        return sum(max(self.last[n] - self.base.get(n, 0), 0) for n in self.last)


def fetch_page(
    url: str,
    dest_dir: Path,
    options: DownloadOptions,
    pace: Pace | None = None,
    *,
    on_progress: ProgressFn | None = None,
) -> Downloaded:
    """Download the video a page shows (the first one when there are several). ``pace``: the
    deadline and speed rule of the whole download (a new one when None)."""
    import yt_dlp

    lim = options
    shown = redact_url(url)
    pace = pace or Pace(shown, options)
    tag = hashlib.sha256(url.encode()).hexdigest()[:10]
    parts = {p.name: p.stat().st_size for p in dest_dir.glob("*.part") if p.is_file()}
    logger = _YdlLogger()
    hook = _Hook(url, on_progress, lim.max_bytes, parts, pace)

    def sleep_for(n: int) -> float:
        delay = backoff_delay(n + 1, lim.backoff_base, lim.backoff_max)
        try:
            pace.check(wait=delay)  # give up now rather than after the wait
        except TransientError as e:
            raise _Stop(e) from None
        return delay

    opts: dict[str, Any] = {
        "quiet": True,
        "no_warnings": False,
        "noprogress": True,
        "logger": logger,
        "color": "no_color",
        "consoletitle": False,
        "noplaylist": True,
        "playlist_items": "1",
        "paths": {"home": str(dest_dir), "temp": str(dest_dir)},
        "outtmpl": {"default": f"%(title).80B [{tag}].%(ext)s"},
        "windowsfilenames": True,
        "format": "bv*+ba/b",
        "socket_timeout": pace.cap(lim.read_timeout),
        "retries": lim.retries,
        "fragment_retries": lim.retries,
        "extractor_retries": lim.retries,
        "retry_sleep_functions": {"http": sleep_for, "fragment": sleep_for, "extractor": sleep_for},
        "continuedl": True,
        "buffersize": 1,  # the first read: yt-dlp then sizes its reads by the speed (doubling, up to 4 MiB)
        "nopart": False,
        "overwrites": False,
        "updatetime": False,
        "cachedir": False,
        "max_filesize": lim.max_bytes,
        "progress_hooks": [hook],
    }
    if lim.custom_user_agent:
        opts["http_headers"] = {"User-Agent": lim.user_agent}
    log.info("extracting the video from %s", shown)
    try:
        with (_guarded_ydl_class() if lim.refuse_private else yt_dlp.YoutubeDL)(opts) as ydl:
            info = ydl.extract_info(url, download=True)
    except _TooBig:
        for tmp in hook.tmpfiles:
            Path(tmp).unlink(missing_ok=True)
        raise lim.too_big(shown) from None
    except _Stop as stop:
        raise stop.error from None
    except _Refused as refused:
        raise refused.error from None
    except yt_dlp.utils.DownloadError as e:
        raise _map_error(shown, e) from None
    info = _first_entry(info)
    if info is None:
        raise InputError(f"{shown}: no video found on the page")
    path = _output_path(info)
    if path is None:
        if logger.too_big or _declared_size(info, lim.max_bytes):
            raise lim.too_big(shown)
        raise InputError(f"{shown}: yt-dlp found a video but produced no file")
    size = path.stat().st_size
    if lim.max_bytes is not None and size > lim.max_bytes:
        path.unlink(missing_ok=True)
        raise lim.too_big(shown)
    digest = sha256_file(path)
    page_url = str(info.get("webpage_url") or url)
    fields = {k: _text(info.get(k)) for k in INFO_FIELDS}
    fields["title"] = _clean_title(info)
    fields["webpage_url"] = page_url
    log.info("downloaded %s -> %s (%d bytes, %d fetched)", shown, path.name, size, hook.fetched)
    return Downloaded(
        path=path,
        sha256=digest,
        size=size,
        bytes_fetched=hook.fetched,
        url=page_url,
        domain=domain_of(page_url),
        kind="page",
        info=fields,
    )


class _Refused(Exception):
    """Raised through yt-dlp when a request goes to a refused address (the URL guard)."""

    def __init__(self, error: InputError) -> None:
        super().__init__(str(error))
        self.error = error


@functools.cache
def _guarded_ydl_class() -> type:
    import yt_dlp

    from videokit.download.guard import check_url

    class GuardedYDL(yt_dlp.YoutubeDL):
        """Every request yt-dlp makes (the page, its player, the media) goes through the URL
        guard, before it is sent and again where redirects took it, before a byte is read."""

        def urlopen(self, req: Any) -> Any:
            url = req if isinstance(req, str) else getattr(req, "url", None) or req.get_full_url()
            try:
                check_url(url)
            except InputError as e:
                raise _Refused(e) from None
            response = super().urlopen(req)
            try:
                check_url(response.url)
            except InputError as e:
                response.close()
                raise _Refused(e) from None
            return response

    return GuardedYDL


def _first_entry(info: dict[str, Any] | None) -> dict[str, Any] | None:
    while info is not None and info.get("_type") == "playlist":
        entries = [e for e in (info.get("entries") or []) if e]
        info = entries[0] if entries else None
    return info


def _output_path(info: dict[str, Any]) -> Path | None:
    for d in info.get("requested_downloads") or []:
        p = d.get("filepath")
        if p and Path(p).is_file():
            return Path(p)
    p = info.get("filepath")
    return Path(p) if p and Path(p).is_file() else None


def _declared_size(info: dict[str, Any], max_bytes: int | None) -> bool:
    size = info.get("filesize") or info.get("filesize_approx")
    return bool(max_bytes is not None and size and size > max_bytes)


def _clean_title(info: dict[str, Any]) -> str | None:
    """yt-dlp numbers HTML5 media entries ("Title (1)") even when a page has one video."""
    title = _text(info.get("title"))
    if title and info.get("extractor_key") == "HTML5MediaEmbed" and str(info.get("id", "")).endswith("-1"):
        title = re.sub(r" \(1\)$", "", title)
    return title


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _map_error(shown: str, e: Exception) -> InputError:
    """One line, transient or permanent, from a yt-dlp DownloadError."""
    from yt_dlp.networking.exceptions import HTTPError, TransportError
    from yt_dlp.utils import ContentTooShortError, ExtractorError, UnsupportedError

    cause: BaseException | None = e.exc_info[1] if getattr(e, "exc_info", None) else None
    if isinstance(cause, UnsupportedError):
        return InputError(f"{shown}: no video found on the page")
    inner = cause.cause if isinstance(cause, ExtractorError) and cause.cause else cause
    text = str(e)  # download errors after retries carry no exc_info, only this message
    status = inner.status if isinstance(inner, HTTPError) else None
    m = _HTTP_STATUS.search(text)
    if status is None and m:
        status = int(m.group(1))
    if status is not None:
        if status in (408, 425, 429) or status >= 500:
            return TransientError(f"{shown}: HTTP {status} from the site; try again later")
        hint = {403: "access denied", 404: "not found; check the URL", 401: "it needs a login"}.get(status, "refused")
        return InputError(f"{shown}: HTTP {status} ({hint})")
    if isinstance(inner, (TransportError, ContentTooShortError, TimeoutError, ConnectionError)) or _NETWORK.search(
        text
    ):
        return TransientError(f"{shown}: network error ({_ydl_reason(str(inner or text))}); try again later")
    return InputError(f"{shown}: {_ydl_reason(str(cause or e))}")


def _ydl_reason(text: str) -> str:
    """A yt-dlp message without colour codes, ``ERROR: [extractor] id:`` prefixes and secrets."""
    text = _PREFIX.sub("", _ANSI.sub("", redact_text(text)).strip(), count=1)
    text = re.sub(r"^\[[^\]]+\]\s*", "", text)
    return one_line(text, 300) or "yt-dlp failed"
