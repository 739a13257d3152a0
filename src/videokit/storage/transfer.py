"""Moving one file between the local disk and a :class:`~videokit.storage.location.Location`.

Uploads appear whole or not at all, and their SHA-256 is checked:

* S3: one ``PutObject`` for a small file; a multipart upload otherwise, ``part_size`` bytes a
  part, ``concurrency`` parts in flight, each part sent with its SHA-256 (the server rejects a
  damaged part) and retried with backoff on network trouble and 5xx. The object exists only once
  the upload is completed. An interrupted upload is remembered (``state_dir``): the next call
  asks the server which parts it holds (``ListParts``), keeps those whose MD5 matches the local
  bytes and sends the rest. After completion the object's SHA-256 checksum (whole-object or
  composite) is compared with the local one; a server that keeps none is read back and hashed.
  (An abandoned upload stays invisible; a bucket lifecycle rule ``AbortIncompleteMultipartUpload``
  cleans it.)
* Google Cloud Storage, Azure Blob: the file goes to a temporary key (the driver streams it in
  blocks), is read back and hashed, and only then renamed to its key.
* a local folder: copied to a temporary name, hashed while copied, renamed.

Downloads read ``part_size`` ranges (``concurrency`` in flight) into ``NAME.part`` and rename it
when whole; an interrupted download resumes from its ``.part`` while the object is unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from videokit.errors import InputError, TransientError
from videokit.hashing import sha256_hasher
from videokit.net import backoff_delay
from videokit.storage.location import Location, cloud_error, filesystem
from videokit.storage.options import StorageOptions
from videokit.tempfiles import temp_path

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]  # (bytes done, total bytes)


@dataclass(slots=True)
class Transferred:
    """One finished transfer."""

    url: str  # where the file is now (the object URL, or the local path of a download)
    size: int
    sha256: str
    parts: int = 1  # parts this call moved
    resumed: int = 0  # parts an earlier, interrupted call had moved already
    verified: str = "local"  # how the SHA-256 was checked: store checksum | read back | local


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


class _Retrier:
    """Runs a provider call, retrying transient failures with exponential backoff and jitter."""

    def __init__(self, location: Location, options: StorageOptions, doing: str) -> None:
        self.location, self.options, self.doing = location, options, doing

    def __call__(self, fn: Callable[[], Any]) -> Any:
        attempt = 0
        while True:
            try:
                return fn()
            except Exception as e:  # a provider's own exception types vary: classified by cloud_error
                err = cloud_error(self.location, e, self.doing)
                attempt += 1
                if err.kind != "transient" or attempt > self.options.retries:
                    raise err from None
                delay = backoff_delay(attempt, self.options.backoff_base, self.options.backoff_max)
                log.info("%s; retry %d in %.1fs", err, attempt, delay)
                time.sleep(delay)


# -- upload ------------------------------------------------------------------------------------


def upload(
    local: Path,
    dest: Location,
    options: StorageOptions,
    *,
    fs: AbstractFileSystem | None = None,
    on_progress: ProgressFn | None = None,
) -> Transferred:
    """Put the local file ``local`` at ``dest``, whole or not at all, SHA-256 checked (see the
    module). InputError/TransientError/ConfigError naming ``dest`` on failure."""
    local = Path(local)
    if dest.scheme == "dropbox":
        raise ValueError("dropbox:// goes through videokit.storage.dropbox.DropboxStorage")
    if dest.is_local:
        return _copy_local(local, Path(dest.key), on_progress)
    fs = fs or filesystem(dest, options)
    if dest.scheme == "s3":
        return _S3Upload(fs, local, dest, options, on_progress).run()
    return _upload_renamed(fs, local, dest, options, on_progress)


def _copy_local(local: Path, final: Path, on_progress: ProgressFn | None) -> Transferred:
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(final)
    h = hashlib.sha256()
    size = local.stat().st_size
    done = 0
    try:
        with open(local, "rb") as src, open(tmp, "wb") as out:
            while block := src.read(1 << 20):
                h.update(block)
                out.write(block)
                done += len(block)
                if on_progress:
                    on_progress(done, size)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return Transferred(str(final), size, h.hexdigest())


def _upload_renamed(
    fs: AbstractFileSystem, local: Path, dest: Location, options: StorageOptions, on_progress: ProgressFn | None
) -> Transferred:
    """Temporary key, read back and hashed, then renamed (providers without S3's multipart API)."""
    size = local.stat().st_size
    want = sha256_hasher(local).hexdigest()
    tmp = f"{dest.fs_path}.vk-tmp-{uuid.uuid4().hex[:12]}"
    retry = _Retrier(dest, options, "write")
    try:
        retry(lambda: fs.put_file(str(local), tmp))
        if on_progress:
            on_progress(size, size)
        got = retry(lambda: _hash_remote(fs, tmp, options.part_size))
        if got != want:
            raise TransientError(f"{dest.url}: the uploaded copy's SHA-256 differs from the file's; upload it again")
        _rename(fs, dest, tmp, retry)
    except BaseException:
        try:
            fs.rm(tmp)
        except Exception:  # noqa: BLE001 - nothing to remove, or the provider is gone: the temp key is invisible as a result
            log.debug("could not remove %s", tmp, exc_info=True)
        raise
    return Transferred(dest.url, size, want, verified="read back")


def _rename(fs: AbstractFileSystem, dest: Location, tmp: str, retry: _Retrier) -> None:
    """``tmp`` renamed to ``dest``. For GCS a server-side copy (the object appears whole), then the
    temporary key removed: gcsfs's own ``mv`` first tries the ``moveTo`` call, which not every
    server knows (the emulator answers 501, retried for a minute before gcsfs falls back to a copy)."""
    if dest.scheme != "gs":
        retry(lambda: fs.mv(tmp, dest.fs_path))
        return
    retry(lambda: fs.cp_file(tmp, dest.fs_path))
    try:
        retry(lambda: fs.rm_file(tmp))
    except InputError as e:  # removed already (a lost reply), or refused: the object is in place
        log.warning("%s: could not remove the temporary copy %s: %s", dest.url, tmp, e)


def _hash_remote(fs: AbstractFileSystem, path: str, block: int) -> str:
    h = hashlib.sha256()
    with fs.open(path, "rb", block_size=block) as fh:
        while chunk := fh.read(block):
            h.update(chunk)
    return h.hexdigest()


class _S3Upload:
    """One S3 upload: a PutObject, or a resumable multipart upload (see the module)."""

    def __init__(
        self,
        fs: AbstractFileSystem,
        local: Path,
        dest: Location,
        options: StorageOptions,
        on_progress: ProgressFn | None,
    ) -> None:
        self.fs, self.local, self.dest, self.options, self.on_progress = fs, local, dest, options, on_progress
        self.retry = _Retrier(dest, options, "write")
        st = local.stat()
        self.size = st.st_size
        ident = f"{dest.url}\0{local.resolve()}\0{st.st_size}\0{st.st_mtime_ns}"
        self.journal = (
            options.state_dir / f"{hashlib.sha256(ident.encode()).hexdigest()[:32]}.json" if options.state_dir else None
        )
        self.done = 0
        self.lock = threading.Lock()

    def call(self, method: str, **kwargs: Any) -> Any:
        return self.retry(lambda: self.fs.call_s3(method, Bucket=self.dest.bucket, Key=self.dest.key, **kwargs))

    def progress(self, n: int) -> None:
        with self.lock:  # parts finish on several threads
            self.done += n
            done = self.done
        if self.on_progress:
            self.on_progress(done, self.size)

    def run(self) -> Transferred:
        if self.size <= self.options.part_size:
            return self.single()
        return self.multipart()

    def single(self) -> Transferred:
        data = self.local.read_bytes()
        digest = hashlib.sha256(data).digest()
        self.call("put_object", Body=data, ChecksumAlgorithm="SHA256", ChecksumSHA256=_b64(digest))
        self.progress(len(data))
        how = self.verify(digest, [digest])
        return Transferred(self.dest.url, self.size, digest.hex(), verified=how)

    def multipart(self) -> Transferred:
        upload_id, held = self.resume()
        if upload_id is None:
            upload_id = self.call("create_multipart_upload", ChecksumAlgorithm="SHA256")["UploadId"]
            self.remember(upload_id)
        part_size = self.options.part_size
        count = -(-self.size // part_size)
        whole = hashlib.sha256()
        done: dict[int, tuple[str, bytes]] = {}  # part number -> (ETag, SHA-256)
        resumed = 0
        inflight: deque[tuple[int, Future[tuple[str, bytes]]]] = deque()
        with (
            ThreadPoolExecutor(self.options.concurrency, thread_name_prefix="vk-upload") as pool,
            open(self.local, "rb") as fh,
        ):
            for number in range(1, count + 1):
                data = os.pread(fh.fileno(), part_size, (number - 1) * part_size)
                whole.update(data)  # the parts' own hashes are computed by the threads sending them
                etag = held.get(number)
                if etag is not None and etag.strip('"') == hashlib.md5(data, usedforsecurity=False).hexdigest():
                    done[number] = (etag, hashlib.sha256(data).digest())
                    resumed += 1
                    self.progress(len(data))
                    continue
                while len(inflight) >= self.options.concurrency:
                    n, fut = inflight.popleft()
                    done[n] = fut.result()
                inflight.append((number, pool.submit(self.part, upload_id, number, data)))
            while inflight:
                n, fut = inflight.popleft()
                done[n] = fut.result()
        digests = [done[n][1] for n in range(1, count + 1)]
        parts = [
            {"PartNumber": n, "ETag": done[n][0], "ChecksumSHA256": _b64(digests[n - 1])} for n in range(1, count + 1)
        ]
        self.call("complete_multipart_upload", UploadId=upload_id, MultipartUpload={"Parts": parts})
        self.forget()
        how = self.verify(whole.digest(), digests)
        return Transferred(
            self.dest.url, self.size, whole.hexdigest(), parts=count - resumed, resumed=resumed, verified=how
        )

    def part(self, upload_id: str, number: int, data: bytes) -> tuple[str, bytes]:
        """Send one part with its SHA-256 (the server rejects it damaged); its ETag and digest."""
        digest = hashlib.sha256(data).digest()
        r = self.call(
            "upload_part",
            UploadId=upload_id,
            PartNumber=number,
            Body=data,
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=_b64(digest),
        )
        self.progress(len(data))
        return str(r["ETag"]), digest

    def resume(self) -> tuple[str | None, dict[int, str]]:
        """The upload an interrupted call left, and the ETags of the parts the server holds."""
        if self.journal is None or not self.journal.is_file():
            return None, {}
        try:
            state = json.loads(self.journal.read_text(encoding="utf-8"))
            upload_id = str(state["upload_id"])
            if int(state["part_size"]) != self.options.part_size:
                raise ValueError("another part size")
        except (OSError, ValueError, KeyError, TypeError):
            self.forget()
            return None, {}
        held: dict[int, str] = {}
        marker = 0
        try:
            while True:
                r = self.call("list_parts", UploadId=upload_id, PartNumberMarker=marker)
                for p in r.get("Parts", []):
                    held[int(p["PartNumber"])] = str(p["ETag"])
                if not r.get("IsTruncated"):
                    break
                marker = int(r["NextPartNumberMarker"])
        except InputError:  # NoSuchUpload: completed, aborted or expired meanwhile
            self.forget()
            return None, {}
        log.info("%s: resuming an interrupted upload (%d part(s) already sent)", self.dest.url, len(held))
        return upload_id, held

    def remember(self, upload_id: str) -> None:
        if self.journal is None:
            return
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_path(self.journal)
        tmp.write_text(json.dumps({"upload_id": upload_id, "part_size": self.options.part_size, "url": self.dest.url}))
        os.replace(tmp, self.journal)

    def forget(self) -> None:
        if self.journal is not None:
            self.journal.unlink(missing_ok=True)

    def verify(self, whole: bytes, digests: list[bytes]) -> str:
        """Compare the stored object with the local bytes: its size, and its SHA-256 checksum
        (whole-object, or composite over the parts) or, when the server keeps none, its bytes read
        back. A mismatch removes the object and raises TransientError."""
        head = self.call("head_object", ChecksumMode="ENABLED")
        problem = None
        if int(head.get("ContentLength", -1)) != self.size:
            problem = f"holds {head.get('ContentLength')} bytes, not {self.size}"
        stored = str(head.get("ChecksumSHA256") or "")
        how = "store checksum"
        if problem is None and stored:
            value = stored.split("-")[0]
            composite = _b64(hashlib.sha256(b"".join(digests)).digest())
            if value not in (_b64(whole), composite):
                problem = "has another SHA-256 checksum"
        elif problem is None:
            how = "read back"
            if self.retry(lambda: _hash_remote(self.fs, self.dest.fs_path, self.options.part_size)) != whole.hex():
                problem = "reads back with another SHA-256"
        if problem:
            self.retry(lambda: self.fs.rm(self.dest.fs_path))
            raise TransientError(f"{self.dest.url}: the uploaded object {problem}; it was removed, upload it again")
        return how


# -- download ----------------------------------------------------------------------------------


def download(
    src: Location,
    dest: Path,
    options: StorageOptions,
    *,
    fs: AbstractFileSystem | None = None,
    on_progress: ProgressFn | None = None,
    max_bytes: int | None = None,
) -> Transferred:
    """Copy the object ``src`` to the local file ``dest`` (renamed into place when whole), by
    ranged reads, resuming an interrupted ``dest.part`` while the object is unchanged. InputError
    when the object does not exist (or was deleted after it was listed) or is larger than
    ``max_bytes``."""
    dest = Path(dest)
    if src.scheme == "dropbox":
        raise ValueError("dropbox:// goes through videokit.storage.dropbox.DropboxStorage")
    if src.is_local:
        return _copy_local(Path(src.key), dest, on_progress)
    fs = fs or filesystem(src, options)
    retry = _Retrier(src, options, "read")
    info = retry(lambda: fs.info(src.fs_path))
    if info.get("type") == "directory":
        raise InputError(f"{src.url}: is a folder (prefix), not an object; give an object URL")
    size = int(info.get("size") or 0)
    if max_bytes is not None and size > max_bytes:
        raise InputError(f"{src.url}: {size} bytes, more than the {max_bytes} allowed")
    version = str(info.get("ETag") or info.get("etag") or info.get("generation") or info.get("LastModified") or "")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    meta = dest.with_name(dest.name + ".part.json")
    offset = _resumable(part, meta, src.url, size, version, options.part_size)
    if offset == 0:
        meta.write_text(json.dumps({"url": src.url, "size": size, "version": version}), encoding="utf-8")
    h = sha256_hasher(part, upto=offset) if offset else hashlib.sha256()
    done = offset
    chunks = (
        _s3_stream(fs, src, offset, size, version, retry)
        if src.scheme == "s3"
        else _ranges(fs, src, offset, size, options, retry)
    )
    try:
        with open(part, "r+b" if offset else "wb") as out:
            out.seek(offset)
            out.truncate()
            for data in chunks:
                out.write(data)
                h.update(data)
                done += len(data)
                if on_progress:
                    on_progress(done, size)
    except InputError as e:
        if "no such object" in str(e):
            raise InputError(f"{src.url}: the object was deleted after it was listed; check the bucket") from None
        raise
    if done != size:
        raise TransientError(f"{src.url}: got {done} of {size} bytes; the object changed while read, try again")
    os.replace(part, dest)
    meta.unlink(missing_ok=True)
    parts = -(-(size - offset) // options.part_size)
    return Transferred(str(dest), size, h.hexdigest(), parts=parts, resumed=offset // options.part_size)


def _ranges(
    fs: AbstractFileSystem, src: Location, offset: int, size: int, options: StorageOptions, retry: _Retrier
) -> Iterator[bytes]:
    """The object from ``offset`` as ``part_size`` ranges, ``concurrency`` of them in flight, in order."""

    def read(start: int) -> bytes:
        end = min(start + options.part_size, size)
        return retry(lambda: fs.cat_file(src.fs_path, start=start, end=end))

    pending = iter(range(offset, size, options.part_size))
    with ThreadPoolExecutor(options.concurrency, thread_name_prefix="vk-download") as pool:
        inflight: deque[Future[bytes]] = deque(
            pool.submit(read, s) for s in itertools.islice(pending, options.concurrency)
        )
        while inflight:
            data = inflight.popleft().result()
            nxt = next(pending, None)
            if nxt is not None:
                inflight.append(pool.submit(read, nxt))
            yield data


def _s3_stream(
    fs: AbstractFileSystem, src: Location, offset: int, size: int, version: str, retry: _Retrier
) -> Iterator[bytes]:
    """The S3 object from ``offset`` as one ranged GET (``Range: bytes=offset-``, ``If-Match``
    its ETag), streamed; a connection lost mid-way is retried from the byte reached."""
    from fsspec.asyn import sync

    position = offset
    attempt = 0
    while position < size:
        kwargs: dict[str, Any] = {"Range": f"bytes={position}-"}
        if version:
            kwargs["IfMatch"] = version
        body = retry(lambda: fs.call_s3("get_object", Bucket=src.bucket, Key=src.key, **kwargs))["Body"]  # noqa: B023
        try:
            while position < size:
                block = sync(fs.loop, body.read, 1 << 20)
                if not block:
                    break
                position += len(block)
                yield block
        except Exception as e:  # a provider's own exception types: classified by cloud_error
            err = cloud_error(src, e, "read")
            attempt += 1
            if err.kind != "transient" or attempt > retry.options.retries:
                raise err from None
            log.info("%s; resuming at byte %d", err, position)
        else:
            if position < size:  # the stream ended early without an error: once more from there
                attempt += 1
                if attempt > retry.options.retries:
                    return  # the caller reports the missing bytes
        finally:
            body.close()


def _resumable(part: Path, meta: Path, url: str, size: int, version: str, part_size: int) -> int:
    """Bytes of an earlier ``.part`` of the same, unchanged object to keep (whole parts only)."""
    try:
        state = json.loads(meta.read_text(encoding="utf-8"))
        have = part.stat().st_size
    except (OSError, ValueError):
        return 0
    if state != {"url": url, "size": size, "version": version}:
        return 0
    return min(have, size) // part_size * part_size


def copy_tree_out(local: Path, dest: Location, options: StorageOptions) -> list[Transferred]:
    """Upload every file under the local folder ``local`` below ``dest``, keeping relative paths."""
    out = []
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        out.append(upload(path, dest.join(path.relative_to(local).as_posix()), options))
    return out


def remove_partial(dest: Path) -> None:
    """Remove the ``.part`` files of an interrupted download to ``dest``."""
    for suffix in (".part", ".part.json"):
        dest.with_name(dest.name + suffix).unlink(missing_ok=True)
