"""Dropbox through the official ``dropbox`` SDK: ``dropbox://folder/name`` locations.

The token comes from the environment only: ``DROPBOX_ACCESS_TOKEN``, or a long-lived
``DROPBOX_REFRESH_TOKEN`` with ``DROPBOX_APP_KEY`` (and ``DROPBOX_APP_SECRET`` when the app has
one); both are scrubbed from every message. A file up to one chunk (``[Dropbox] ChunkSizeMB``)
goes up in one ``files/upload``; a larger one in an upload session (start, append, finish), so
the file appears only when the session is finished. Each request sends Dropbox's content hash
(SHA-256 over 4 MiB blocks), which the server checks, and the stored file's hash is compared
with it. A 429 waits what ``Retry-After`` says; 5xx and network trouble are retried with backoff;
an append the server already has (a reply lost on the way) continues from the offset it reports.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videokit.errors import ConfigError, InputError, TransientError
from videokit.net import backoff_delay, hold_secret, redact_text
from videokit.storage.files import ObjectInfo, Storage
from videokit.storage.location import CREDENTIALS, Location
from videokit.storage.options import DropboxOptions, StorageOptions
from videokit.storage.transfer import ProgressFn, Transferred

if TYPE_CHECKING:
    import dropbox
    import requests

log = logging.getLogger(__name__)

BLOCK = 4 * 1024 * 1024  # Dropbox's content-hash block


def content_hash_of(path: Path) -> str:
    """Dropbox's content hash: SHA-256 of the SHA-256s of each 4 MiB block."""
    outer = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(BLOCK):
            outer.update(hashlib.sha256(block).digest())
    return outer.hexdigest()


def http_session() -> requests.Session:
    """The HTTP session the SDK uses (one place to give it a proxy, or a test its transport)."""
    import dropbox

    return dropbox.create_session()


def make_client() -> dropbox.Dropbox:
    """A Dropbox client with the token from the environment; ConfigError naming the variables
    when none is set. The SDK's own retries are off: :class:`DropboxStorage` retries, bounded."""
    try:
        import dropbox
    except ImportError:
        raise ConfigError("Dropbox needs the package dropbox; install it with: pip install 'videokit[cloud]'") from None
    token = os.environ.get("DROPBOX_ACCESS_TOKEN", "").strip()
    refresh = os.environ.get("DROPBOX_REFRESH_TOKEN", "").strip()
    app_key = os.environ.get("DROPBOX_APP_KEY", "").strip()
    secret = os.environ.get("DROPBOX_APP_SECRET", "").strip() or None
    for value in (token, refresh, secret):
        hold_secret(value)
    common: dict[str, Any] = {"max_retries_on_error": 0, "max_retries_on_rate_limit": 0, "session": http_session()}
    if token:
        return dropbox.Dropbox(oauth2_access_token=token, **common)
    if refresh and app_key:
        return dropbox.Dropbox(oauth2_refresh_token=refresh, app_key=app_key, app_secret=secret, **common)
    if refresh:
        raise ConfigError("Dropbox: DROPBOX_REFRESH_TOKEN is set without DROPBOX_APP_KEY; set DROPBOX_APP_KEY too")
    raise ConfigError(f"Dropbox: no credentials found; set {CREDENTIALS['dropbox']}")


class DropboxStorage(Storage):
    """Files under one Dropbox folder (see the module)."""

    def __init__(
        self,
        root: Location,
        options: StorageOptions | None = None,
        dropbox_options: DropboxOptions | None = None,
        *,
        client: dropbox.Dropbox | None = None,
    ) -> None:
        super().__init__(root, options)
        self.dropbox_options = dropbox_options or DropboxOptions()
        self._client = client

    @property
    def client(self) -> dropbox.Dropbox:
        if self._client is None:
            self._client = make_client()
        return self._client

    # -- the calls, retried ----------------------------------------------------------------------

    def _call(self, location: Location, doing: str, fn: Callable[[], Any]) -> Any:
        import dropbox.exceptions as dx
        import requests

        attempt = 0
        opts = self.dropbox_options
        while True:
            try:
                return fn()
            except dx.RateLimitError as e:
                wait = float(e.backoff) if e.backoff is not None else None
                err: Exception = TransientError(f"{location.url}: Dropbox rate limit (429); try again later")
            except dx.AuthError as e:
                raise ConfigError(
                    f"{location.url}: Dropbox refused the token ({_tag(e.error)}); check {CREDENTIALS['dropbox']}"
                ) from None
            except dx.BadInputError as e:
                raise ConfigError(
                    f"{location.url}: Dropbox refused the request: {redact_text(str(e.message))}"
                ) from None
            except dx.ApiError as e:
                raise _api_error(location, e, doing) from None
            except (dx.InternalServerError, requests.ConnectionError, requests.Timeout) as e:
                wait = None
                err = TransientError(
                    f"{location.url}: Dropbox could not {doing} it ({type(e).__name__}); try again later"
                )
            except dx.HttpError as e:
                raise InputError(f"{location.url}: Dropbox answered HTTP {e.status_code} to {doing}") from None
            attempt += 1
            if attempt > opts.retries:
                raise err
            delay = wait if wait is not None else backoff_delay(attempt, opts.backoff_base, opts.backoff_max)
            log.info("%s; retry %d in %.1fs", err, attempt, delay)
            time.sleep(delay)

    # -- Storage ---------------------------------------------------------------------------------

    def info(self, key: str) -> ObjectInfo:
        import dropbox.files as df

        loc = self.location(key)
        meta = self._call(loc, "read", lambda: self.client.files_get_metadata(loc.key))
        if isinstance(meta, df.FolderMetadata):
            raise InputError(f"{loc.url}: is a Dropbox folder, not a file; give a file's path")
        return ObjectInfo(key, loc.url, int(meta.size), str(meta.rev))

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        import dropbox.files as df

        base = self.location(prefix)
        path = "" if base.key == "/" else base.key
        r = self._call(base, "list", lambda: self.client.files_list_folder(path, recursive=True))
        entries = list(r.entries)
        while r.has_more:
            cursor = r.cursor
            r = self._call(base, "list", lambda c=cursor: self.client.files_list_folder_continue(c))
            entries += r.entries
        out = []
        root = self.root.key.rstrip("/")
        for e in entries:
            if isinstance(e, df.FileMetadata):
                display = str(e.path_display)
                rel = display[len(root) :].lstrip("/") if display.lower().startswith(root.lower()) else display
                out.append(ObjectInfo(rel, f"dropbox://{display.lstrip('/')}", int(e.size), str(e.rev)))
        return sorted(out, key=lambda o: o.key)

    def read_bytes(self, key: str) -> bytes:
        loc = self.location(key)
        self.info(key)  # a folder is an InputError, not an empty file
        _meta, resp = self._call(loc, "read", lambda: self.client.files_download(loc.key))
        try:
            return bytes(resp.content)
        finally:
            resp.close()

    def delete(self, key: str) -> None:
        loc = self.location(key)
        try:
            self._call(loc, "delete", lambda: self.client.files_delete_v2(loc.key))
        except InputError as e:
            if "not found" not in str(e):
                raise

    def put(self, local: Path, key: str, *, on_progress: ProgressFn | None = None) -> Transferred:
        return self.upload_to(Path(local), self.location(key), on_progress=on_progress)

    def get(self, key: str, local: Path, *, on_progress: ProgressFn | None = None) -> Transferred:
        return self.download_to(self.location(key), Path(local), on_progress=on_progress)

    # -- transfers -------------------------------------------------------------------------------

    def upload_to(self, local: Path, dest: Location, *, on_progress: ProgressFn | None = None) -> Transferred:
        """Upload ``local`` to ``dest``: one request up to a chunk, an upload session above."""
        import dropbox.files as df

        size = local.stat().st_size
        want = content_hash_of(local)
        sha = hashlib.sha256()
        chunk = self.dropbox_options.chunk_size
        mode = df.WriteMode.overwrite
        with open(local, "rb") as fh:
            if size <= chunk:
                data = fh.read()
                sha.update(data)
                meta = self._call(
                    dest,
                    "write",
                    lambda: self.client.files_upload(data, dest.key, mode=mode, mute=True, content_hash=want),
                )
                parts = 1
            else:
                meta, parts = self._session(fh, size, dest, sha, on_progress)
        if getattr(meta, "content_hash", None) not in (None, want):
            raise TransientError(f"{dest.url}: Dropbox stored another content hash than the file's; upload it again")
        if on_progress:
            on_progress(size, size)
        return Transferred(dest.url, size, sha.hexdigest(), parts=parts, verified="store checksum")

    def _session(self, fh: Any, size: int, dest: Location, sha: Any, on_progress: ProgressFn | None) -> tuple[Any, int]:
        import dropbox.files as df

        chunk = self.dropbox_options.chunk_size
        first = fh.read(chunk)
        sha.update(first)
        started = self._call(dest, "write", lambda: self.client.files_upload_session_start(first))
        session_id = str(started.session_id)
        offset = len(first)
        parts = 1
        hashed = offset  # bytes fed to ``sha`` (a resent chunk is not hashed twice)
        while size - offset > chunk:
            fh.seek(offset)
            data = fh.read(chunk)
            if offset + len(data) > hashed:
                sha.update(data[hashed - offset :])
                hashed = offset + len(data)
            cursor = df.UploadSessionCursor(session_id=session_id, offset=offset)
            try:
                self._call(dest, "write", lambda d=data, c=cursor: self.client.files_upload_session_append_v2(d, c))
            except _Offset as e:  # the server has more (an earlier reply was lost): go on from there
                offset = e.correct
                continue
            offset += len(data)
            parts += 1
            if on_progress:
                on_progress(offset, size)
        fh.seek(offset)
        last = fh.read()
        if offset + len(last) > hashed:
            sha.update(last[hashed - offset :])
        cursor = df.UploadSessionCursor(session_id=session_id, offset=offset)
        commit = df.CommitInfo(path=dest.key, mode=df.WriteMode.overwrite, mute=True)
        meta = self._call(dest, "write", lambda: self.client.files_upload_session_finish(last, cursor, commit))
        return meta, parts + 1

    def download_to(
        self, src: Location, dest: Path, *, on_progress: ProgressFn | None = None, max_bytes: int | None = None
    ) -> Transferred:
        """Download ``src`` to ``dest`` (through ``dest.part``, renamed when whole)."""
        info = self.info(src.key)
        if max_bytes is not None and info.size > max_bytes:
            raise InputError(f"{src.url}: {info.size} bytes, more than the {max_bytes} allowed")
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        sha = hashlib.sha256()
        done = 0
        _meta, resp = self._call(src, "read", lambda: self.client.files_download(src.key))
        try:
            with open(part, "wb") as out:
                for block in resp.iter_content(1 << 20):
                    out.write(block)
                    sha.update(block)
                    done += len(block)
                    if on_progress:
                        on_progress(done, info.size)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        finally:
            resp.close()
        if done != info.size:
            part.unlink(missing_ok=True)
            raise TransientError(f"{src.url}: got {done} of {info.size} bytes; try again")
        os.replace(part, dest)
        return Transferred(str(dest), done, sha.hexdigest())

    def location(self, key: str) -> Location:
        if key.startswith("/"):
            return Location("dropbox", "", key)
        return super().location(key)


class _Offset(TransientError):
    """An upload-session append at the wrong offset; ``correct`` is where the server is."""

    def __init__(self, location: Location, correct: int) -> None:
        super().__init__(f"{location.url}: upload session offset moved to {correct}")
        self.correct = correct


def _tag(error: Any) -> str:
    tag = getattr(error, "_tag", None)
    return str(tag) if tag else type(error).__name__


def _api_error(location: Location, e: Any, doing: str) -> Exception:
    """A Dropbox route error (409) as one videokit error."""
    summary = str(getattr(e, "user_message_text", None) or getattr(e, "error", "") or e)
    text = str(e.error) if getattr(e, "error", None) is not None else summary
    err = e.error
    # upload session: the append landed already (its reply was lost)
    lookup = getattr(err, "get_incorrect_offset", None)
    if callable(lookup) and getattr(err, "is_incorrect_offset", lambda: False)():
        return _Offset(location, int(lookup().correct_offset))
    if "not_found" in text:
        return InputError(f"{location.url}: no such file or folder in Dropbox; check the path")
    if "not_file" in text or ("conflict" in text and "folder" in text):
        return InputError(f"{location.url}: is a Dropbox folder, not a file; give a file's path")
    if "insufficient_space" in text:
        return InputError(f"{location.url}: the Dropbox account is full; free space in it")
    if "content_hash_mismatch" in text:
        return TransientError(f"{location.url}: Dropbox received other bytes than were sent; upload it again")
    return InputError(f"{location.url}: Dropbox could not {doing} it: {redact_text(text)[:200]}")
