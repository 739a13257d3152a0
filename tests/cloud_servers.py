"""The object-storage servers the cloud tests run against, all on 127.0.0.1:

``moto_s3``      moto's server mode (``moto.server.ThreadedMotoServer``): the real S3 HTTP API, in
                 this process; reached through s3fs/aiobotocore like AWS. ``s3`` gives a test its
                 own bucket, credentials in the environment and :class:`StorageOptions` for it.
``moto_s3_auth`` a second moto server (a subprocess) that checks signatures against its own IAM,
                 which holds no user: every request is refused (wrong credentials).
``gcs_emulator`` ``gcp-storage-emulator`` (PyPI), a Google Cloud Storage JSON API server, in its own
                 process; reached through gcsfs (``STORAGE_EMULATOR_HOST``) like GCS. ``gcs`` gives
                 a test its own bucket and the environment for it.
``FaultProxy``   a TCP proxy in front of a server that cuts one connection after so many bytes
                 (a network drop mid-upload).
``azurite``      Azurite, Azure's official storage emulator (npm ``azurite``), installed once into
                 ``~/.cache/videokit-tests/azurite`` with npm; skipped with the reason when node or
                 npm is missing or the install fails.
``FakeDropbox``  the Dropbox API endpoints videokit uses, served in-process as a ``requests``
                 transport adapter mounted on the SDK's session (``fake_dropbox`` fixture): upload,
                 upload sessions (start, append_v2, finish), download, get_metadata, list_folder
                 (+continue), delete_v2; 401 for a wrong token; canned 429s with Retry-After.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from videokit.storage.options import MIB, StorageOptions

BUCKET_PREFIX = "vk-test-"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


# -- S3 (moto) ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[str]:
    """The endpoint URL of a moto S3 server on loopback (one per session)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@dataclass
class S3Bucket:
    endpoint: str
    bucket: str
    options: StorageOptions

    def url(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{key}"

    @functools.cached_property
    def fs(self) -> Any:
        import s3fs

        return s3fs.S3FileSystem(endpoint_url=self.endpoint, skip_instance_cache=True, use_listings_cache=False)


def s3_env(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    """Credentials and endpoint in the environment, as a user sets them; nothing from ~/.aws."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAVIDEOKITTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "videokit-test-secret-value")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)


@pytest.fixture
def s3(moto_s3: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> S3Bucket:
    """A fresh bucket on the session's moto server; small parts (5 MiB, S3's minimum)."""
    s3_env(monkeypatch, moto_s3)
    name = BUCKET_PREFIX + uuid.uuid4().hex[:12]
    options = StorageOptions(
        s3_endpoint=moto_s3,
        part_size=5 * MIB,
        retries=3,
        backoff_base=0.01,
        backoff_max=0.05,
        state_dir=tmp_path / "uploads",
        cache_dir=tmp_path / "cache",
        cache_bytes=200 * MIB,
    )
    bucket = S3Bucket(moto_s3, name, options)
    bucket.fs.mkdir(name)
    return bucket


@pytest.fixture(scope="session")
def moto_s3_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto S3 server that authenticates every request (its IAM knows no key: all refused)."""
    port = _free_port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"}
    log = open(tmp_path_factory.mktemp("moto-auth") / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], env=env, stdout=log, stderr=log
    )
    try:
        _wait_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


# -- Google Cloud Storage (gcp-storage-emulator) -----------------------------------------------


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The endpoint of a Google Cloud Storage emulator on loopback (its own process, in memory)."""
    pytest.importorskip("gcp_storage_emulator", reason="the GCS tests need gcp-storage-emulator (the dev extra)")
    port = _free_port()
    log = open(tmp_path_factory.mktemp("gcs") / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1", "--port", str(port)]
        + ["--in-memory", "--quiet"],
        stdout=log,
        stderr=log,
    )
    try:
        _wait_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


@dataclass
class GcsBucket:
    endpoint: str
    bucket: str
    options: StorageOptions

    def url(self, key: str = "") -> str:
        return f"gs://{self.bucket}/{key}"

    @functools.cached_property
    def fs(self) -> Any:
        from gcsfs.core import GCSFileSystem

        return GCSFileSystem(endpoint_url=self.endpoint, token="anon", skip_instance_cache=True)


@pytest.fixture
def gcs(gcs_emulator: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> GcsBucket:
    """A fresh bucket on the session's GCS emulator, reached as a user reaches one
    (``STORAGE_EMULATOR_HOST``); no Google credentials in the environment."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    name = BUCKET_PREFIX + uuid.uuid4().hex[:12]
    options = StorageOptions(
        part_size=5 * MIB,
        retries=2,
        backoff_base=0.01,
        backoff_max=0.05,
        state_dir=tmp_path / "uploads",
        cache_dir=tmp_path / "cache",
        cache_bytes=200 * MIB,
    )
    bucket = GcsBucket(gcs_emulator, name, options)
    bucket.fs.mkdir(name)
    return bucket


# -- a network drop ----------------------------------------------------------------------------


class FaultProxy:
    """A TCP proxy to ``upstream`` (host, port) on 127.0.0.1. :meth:`drop_after` makes the next
    connection that sends more than ``n`` bytes upstream (or downstream) be cut there (both sides
    closed), once."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self._drop_at: int | None = None
        self._drop_up = True
        self.drops = 0
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def drop_after(self, n: int, *, upward: bool = True) -> None:
        """Cut the next connection that sends more than ``n`` bytes up (to the server) or, with
        ``upward=False``, down (to the client)."""
        self._drop_at = n
        self._drop_up = upward

    def close(self) -> None:
        self._closed = True
        self.sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, upward: bool) -> None:
        sent = 0
        try:
            while data := src.recv(65536):
                if upward == self._drop_up and self._drop_at is not None:
                    with self._lock:
                        limit = self._drop_at
                        if limit is not None and sent + len(data) > limit:
                            self._drop_at = None
                            self.drops += 1
                            dst.sendall(data[: max(0, limit - sent)])
                            raise ConnectionAbortedError("dropped by the test")
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()


# -- Azure Blob (Azurite) ----------------------------------------------------------------------

AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZURITE_HOME = Path(os.environ.get("VIDEOKIT_TEST_CACHE", Path.home() / ".cache" / "videokit-tests")) / "azurite"


def azurite_binary() -> Path:
    """The azurite-blob launcher, installed with npm on first use; pytest.skip when impossible."""
    exe = AZURITE_HOME / "node_modules" / ".bin" / "azurite-blob"
    if exe.exists():
        return exe
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("Azure Blob tests need node and npm (for the Azurite emulator); neither is installed")
    AZURITE_HOME.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--silent", "azurite@3"],
        cwd=AZURITE_HOME,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if r.returncode != 0 or not exe.exists():
        pytest.skip(f"could not install Azurite with npm: {(r.stderr or r.stdout).strip()[-300:]}")
    return exe


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The connection string of an Azurite blob service on loopback."""
    exe = azurite_binary()
    port = _free_port()
    data = tmp_path_factory.mktemp("azurite")
    proc = subprocess.Popen(
        [str(exe), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(data), "--silent"]
        + ["--skipApiVersionCheck", "--loose"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port, proc)
        yield (
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            f"AccountKey={AZURITE_KEY};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
        )
    finally:
        proc.terminate()
        proc.wait(10)


# -- Dropbox (in-process fake of the API) ------------------------------------------------------

GOOD_TOKEN = "sl.videokit-test-token-0123456789"


@dataclass
class _File:
    display: str
    data: bytes
    rev: str


@dataclass
class FakeDropbox(BaseAdapter):
    """Dropbox API v2 as the SDK speaks it (RPC on api.dropboxapi.com, content upload/download
    on content.dropboxapi.com), files kept in memory."""

    files: dict[str, _File] = field(default_factory=dict)  # lower-case path -> file
    folders: set[str] = field(default_factory=set)  # lower-case paths
    sessions: dict[str, bytearray] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)  # route names, in order
    stored: list[str] = field(default_factory=list)  # paths of committed uploads, in order
    throttle: list[tuple[str, int]] = field(default_factory=list)  # (route, Retry-After seconds) answered 429 once
    lose_reply: list[str] = field(default_factory=list)  # routes done, then answered 500 once (a lost reply)
    revs: Any = field(default_factory=lambda: itertools.count(0x100000000))

    def __post_init__(self) -> None:
        super().__init__()

    def close(self) -> None:
        pass

    # -- test helpers
    def add_file(self, path: str, data: bytes) -> None:
        self._mkparents(path)
        self.files[path.lower()] = _File(path, data, f"{next(self.revs):x}")

    def add_folder(self, path: str) -> None:
        self._mkparents(path)
        self.folders.add(path.lower())

    def _mkparents(self, path: str) -> None:
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            self.folders.add(("/" + "/".join(parts[:i])).lower())

    # -- HTTP
    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = str(request.url)
        route = url.split("/2/", 1)[1] if "/2/" in url else url
        self.calls.append(route)
        if request.headers.get("Authorization") != f"Bearer {GOOD_TOKEN}":
            return _json(
                request, 401, {"error_summary": "invalid_access_token/..", "error": {".tag": "invalid_access_token"}}
            )
        for i, (name, wait) in enumerate(self.throttle):
            if name == route:
                del self.throttle[i]
                body = {
                    "error_summary": "too_many_requests/..",
                    "error": {"reason": {".tag": "too_many_requests"}, "retry_after": wait},
                }
                return _json(request, 429, body, {"Retry-After": str(wait)})
        arg = json.loads(request.headers.get("Dropbox-API-Arg") or (request.body or b"null") or "null")
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        if isinstance(arg, dict) and arg.get("content_hash") and arg["content_hash"] != content_hash(body):
            body_error = {"error_summary": "content_hash_mismatch/..", "error": {".tag": "content_hash_mismatch"}}
            return _json(request, 409, body_error)  # the hash of this request's bytes, as Dropbox checks it
        handler = getattr(self, "r_" + route.replace("/", "_"), None)
        if handler is None:
            return _json(request, 400, {"error_summary": f"unknown route {route}"})
        response = handler(request, arg, body)
        if route in self.lose_reply and response.status_code == 200:
            self.lose_reply.remove(route)
            return _response(request, 500, b"lost", {"Content-Type": "text/plain"})
        return response

    def _meta(self, f: _File) -> dict[str, Any]:
        return {
            ".tag": "file",
            "name": f.display.rsplit("/", 1)[-1],
            "id": "id:" + hashlib.md5(f.display.lower().encode()).hexdigest()[:16],
            "client_modified": "2026-01-01T00:00:00Z",
            "server_modified": "2026-01-01T00:00:00Z",
            "rev": f.rev,
            "size": len(f.data),
            "path_lower": f.display.lower(),
            "path_display": f.display,
            "content_hash": content_hash(f.data),
        }

    def _folder_meta(self, path: str) -> dict[str, Any]:
        return {
            ".tag": "folder",
            "name": path.rsplit("/", 1)[-1],
            "id": "id:f" + path,
            "path_lower": path,
            "path_display": path,
        }

    def _not_found(self, request: requests.PreparedRequest, kind: str = "path") -> requests.Response:
        return _json(
            request,
            409,
            {"error_summary": f"{kind}/not_found/..", "error": {".tag": kind, kind: {".tag": "not_found"}}},
        )

    def _store(self, request: requests.PreparedRequest, path: str, data: bytes) -> requests.Response:
        if path.lower() in self.folders:
            return _json(
                request,
                409,
                {
                    "error_summary": "path/conflict/folder/..",
                    "error": {
                        ".tag": "path",
                        "reason": {".tag": "conflict", "conflict": {".tag": "folder"}},
                        "upload_session_id": "x",
                    },
                },
            )
        self.add_file(path, data)
        self.stored.append(path)
        return _json(request, 200, self._meta(self.files[path.lower()]))

    def r_files_upload(self, request: Any, arg: dict[str, Any], body: bytes) -> requests.Response:
        return self._store(request, arg["path"], body)

    def r_files_upload_session_start(self, request: Any, arg: dict[str, Any], body: bytes) -> requests.Response:
        sid = uuid.uuid4().hex
        self.sessions[sid] = bytearray(body)
        return _json(request, 200, {"session_id": sid})

    def _session(self, request: Any, cursor: dict[str, Any]) -> bytearray | requests.Response:
        got = self.sessions.get(cursor["session_id"])
        if got is None:
            return _json(request, 409, {"error_summary": "not_found/..", "error": {".tag": "not_found"}})
        if cursor["offset"] != len(got):
            return _json(
                request,
                409,
                {
                    "error_summary": "incorrect_offset/..",
                    "error": {".tag": "incorrect_offset", "correct_offset": len(got)},
                },
            )
        return got

    def r_files_upload_session_append_v2(self, request: Any, arg: dict[str, Any], body: bytes) -> requests.Response:
        got = self._session(request, arg["cursor"])
        if isinstance(got, requests.Response):
            return got
        got += body
        return _json(request, 200, None)

    def r_files_upload_session_finish(self, request: Any, arg: dict[str, Any], body: bytes) -> requests.Response:
        got = self._session(request, arg["cursor"])
        if isinstance(got, requests.Response):
            return got
        got += body
        del self.sessions[arg["cursor"]["session_id"]]
        return self._store(request, arg["commit"]["path"], bytes(got))

    def r_files_get_metadata(self, request: Any, arg: dict[str, Any], body: bytes) -> requests.Response:
        path = arg["path"].lower()
        if path in self.files:
            return _json(request, 200, self._meta(self.files[path]))
        if path in self.folders:
            return _json(request, 200, self._folder_meta(path))
        return self._not_found(request)

    def r_files_download(self, request: Any, arg: dict[str, Any], body: bytes) -> requests.Response:
        path = arg["path"].lower()
        if path in self.folders:
            return _json(
                request,
                409,
                {"error_summary": "path/not_file/..", "error": {".tag": "path", "path": {".tag": "not_file"}}},
            )
        f = self.files.get(path)
        if f is None:
            return self._not_found(request)
        r = _response(request, 200, f.data, {"Content-Type": "application/octet-stream"})
        r.headers["Dropbox-API-Result"] = json.dumps(self._meta(f))
        return r

    def r_files_list_folder(self, request: Any, arg: dict[str, Any], body: bytes) -> requests.Response:
        base = arg["path"].lower().rstrip("/")
        if base and base not in self.folders:
            return self._not_found(request)
        entries: list[dict[str, Any]] = [self._folder_meta(p) for p in sorted(self.folders) if p.startswith(base + "/")]
        entries += [self._meta(f) for p, f in sorted(self.files.items()) if p.startswith(base + "/")]
        half = len(entries) // 2  # two pages, so that list_folder/continue is exercised
        cursor = base64.b64encode(json.dumps({"base": base, "from": half}).encode()).decode()
        return _json(request, 200, {"entries": entries[:half], "cursor": cursor, "has_more": True})

    def r_files_list_folder_continue(self, request: Any, arg: dict[str, Any], body: bytes) -> requests.Response:
        state = json.loads(base64.b64decode(arg["cursor"]))
        base = state["base"]
        entries: list[dict[str, Any]] = [self._folder_meta(p) for p in sorted(self.folders) if p.startswith(base + "/")]
        entries += [self._meta(f) for p, f in sorted(self.files.items()) if p.startswith(base + "/")]
        return _json(request, 200, {"entries": entries[state["from"] :], "cursor": "end", "has_more": False})

    def r_files_delete_v2(self, request: Any, arg: dict[str, Any], body: bytes) -> requests.Response:
        f = self.files.pop(arg["path"].lower(), None)
        if f is None:
            return self._not_found(request, "path_lookup")
        return _json(request, 200, {"metadata": self._meta(f)})


def content_hash(data: bytes) -> str:
    outer = hashlib.sha256()
    for i in range(0, len(data), 4 * MIB):
        outer.update(hashlib.sha256(data[i : i + 4 * MIB]).digest())
    return outer.hexdigest()


def _response(
    request: requests.PreparedRequest, status: int, body: bytes, headers: dict[str, str]
) -> requests.Response:
    import io

    from requests.structures import CaseInsensitiveDict
    from urllib3.response import HTTPResponse

    r = requests.Response()
    r.status_code = status
    r.headers = CaseInsensitiveDict(headers)
    r.raw = HTTPResponse(body=io.BytesIO(body), status=status, headers=headers, preload_content=False)
    r.url = str(request.url)
    r.request = request
    r.reason = "OK" if status == 200 else "Error"
    r.headers.setdefault("X-Dropbox-Request-Id", uuid.uuid4().hex)
    return r


def _json(
    request: requests.PreparedRequest, status: int, body: Any, headers: dict[str, str] | None = None
) -> requests.Response:
    return _response(
        request, status, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})}
    )


@pytest.fixture
def fake_dropbox(monkeypatch: pytest.MonkeyPatch) -> FakeDropbox:
    """The fake, with the SDK's HTTP session routed to it and the token in the environment."""
    import dropbox

    from videokit.storage import dropbox as vk_dropbox

    fake = FakeDropbox()

    def session() -> requests.Session:
        s = dropbox.create_session()
        s.mount("https://", fake)
        return s

    monkeypatch.setattr(vk_dropbox, "http_session", session)
    monkeypatch.setenv("DROPBOX_ACCESS_TOKEN", GOOD_TOKEN)
    for name in ("DROPBOX_REFRESH_TOKEN", "DROPBOX_APP_KEY", "DROPBOX_APP_SECRET"):
        monkeypatch.delenv(name, raising=False)
    return fake
