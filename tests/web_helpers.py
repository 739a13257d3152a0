"""Shared pieces of the server tests: a small library built from a generated video, the
application over it, keys, and a real ``videokit serve`` process on a free loopback port."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from videokit import api
from videokit.config import Config, load_config
from videokit.web.app import create_app
from videokit.web.options import ServerOptions


def config_for(library: Path, overrides: dict[tuple[str, str], Any] | None = None) -> Config:
    return load_config(None, env={}, overrides={("Library", "Location"): str(library), **(overrides or {})})


@pytest.fixture(scope="module")
def built_library(tmp_path_factory: pytest.TempPathFactory, sample_video: Path) -> Path:
    """A library holding the sample clip: scenes, thumbnails, contact sheet, tags; no analysis,
    transcript or embeddings (tests that need a transcript store one)."""
    lib = tmp_path_factory.mktemp("web") / "lib"
    result = api.run([str(sample_video)], config_for(lib), skip=["analyze", "transcribe", "embed"])
    assert result.ok, result.failures
    return lib


@pytest.fixture
def lib(built_library: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "lib"
    shutil.copytree(built_library, copy)
    return copy


@pytest.fixture
def cfg(lib: Path) -> Config:
    return config_for(lib)


# processing through the server: no analysis, transcript or embeddings (quick)
QUICK = {("Analysis", "Backend"): "none", ("Transcription", "Enabled"): False, ("Embeddings", "Enabled"): False}


def options(cfg: Config, **changes: Any) -> ServerOptions:
    return replace(ServerOptions.from_config(cfg), **changes)


@contextmanager
def client(cfg: Config, **changes: Any) -> Iterator[TestClient]:
    """A client of the application over ``cfg`` (``changes``: ServerOptions fields)."""
    with TestClient(create_app(cfg, options(cfg, **changes)), base_url="http://testserver") as c:
        yield c


def key(cfg: Config, scope: str = "read", name: str = "tester") -> str:
    return api.create_key(cfg, name, scope).key


def auth(k: str) -> dict[str, str]:
    return {"X-API-Key": k}


def only_id(cfg: Config) -> str:
    (rec,) = api.search(cfg)
    assert rec.id
    return rec.id


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A ``videokit serve`` subprocess: its URL, then (after it stopped) its exit status and stderr."""

    proc: subprocess.Popen
    url: str
    stop: int = signal.SIGTERM
    returncode: int | None = None
    stderr: str = ""


@contextmanager
def servers(
    library: Path, count: int = 1, *args: str, env: dict[str, str] | None = None, stops: tuple[int, ...] = ()
) -> Iterator[list[Server]]:
    """``count`` ``videokit serve`` processes on free loopback ports, started together; each is
    stopped with its signal of ``stops`` (default SIGTERM) and must stop within 20 s."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("VIDEOKIT_")}
    full_env.update(env or {})
    started: list[Server] = []
    try:
        for i in range(count):
            port = free_port()
            cmd = [sys.executable, "-c", "from videokit._cli import main; main()", "--library", str(library)]
            cmd += ["serve", "--port", str(port), *args]
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env, text=True)
            stop = stops[i] if i < len(stops) else signal.SIGTERM
            started.append(Server(proc, f"http://127.0.0.1:{port}", stop))
        for server in started:
            wait_up(server.url, server.proc)
        yield started
    finally:
        for server in started:
            if server.proc.poll() is None:
                server.proc.send_signal(server.stop)
        for server in started:
            try:
                server.proc.wait(20)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait(5)
                pytest.fail(f"videokit serve did not stop on signal {server.stop}")
            server.returncode = server.proc.returncode
            server.stderr = server.proc.communicate()[1]


@contextmanager
def served(library: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """One ``videokit serve`` process (see :func:`servers`); yields its URL. ``served.last`` is
    then its (exit status, stderr) and ``served.pid`` its process id."""
    with servers(library, 1, *args, env=env) as (server,):
        served.pid = server.proc.pid  # type: ignore[attr-defined]  # benchmarks read its CPU time
        try:
            yield server.url
        finally:
            pass
    served.last = (server.returncode, server.stderr)  # type: ignore[attr-defined]


@contextmanager
def threaded_server(cfg: Config, **changes: Any) -> Iterator[str]:
    """The application on uvicorn with videokit's HTTP protocol, in a thread of this process
    (quick to start; what ``videokit serve`` runs); yields its base URL."""
    import threading

    import uvicorn

    from videokit.web.zerocopy import ZeroCopyH11Protocol

    port = free_port()
    config = uvicorn.Config(
        create_app(cfg, options(cfg, **changes)),
        host="127.0.0.1",
        port=port,
        http=ZeroCopyH11Protocol,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def wait_up(url: str, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"videokit serve exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        try:
            httpx.get(url + "/openapi.json", timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    pytest.fail("videokit serve did not answer within 30 s")
