"""The MongoDB-wire backends the store and migration tests run against, by test id:

``[mongomock]``       mongomock, an in-process imitation of pymongo: no server, no ``$text``, no users.
``[secantusdb]``      SecantusDB (PyPI ``secantusdb``), a MongoDB-wire-protocol server on the WiredTiger
                      engine, started here as a subprocess on 127.0.0.1 in a temporary folder, with
                      access control on (SCRAM-SHA-256 users, MongoDB's built-in roles). It is not
                      MongoDB: it refuses text indexes, so the store searches text with regular
                      expressions there too. Skipped, with the reason, when secantusdb is not installed.
``[mongodb-server]``  a real server, only when ``VIDEOKIT_TEST_MONGODB_URI`` names one.

Loaded as a pytest plugin by conftest.py: ``mongo_client`` (a factory of clients of the test's
backend) and ``secantusdb_server`` (the session's SecantusDB server).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote

import mongomock
import mongomock.gridfs
import pymongo
import pytest

from credentials import throwaway_password

# mongomock's GridFS needs this switch (it makes gridfs accept mongomock databases).
mongomock.gridfs.enable_gridfs_integration()

# Read at import: the autouse fixture in conftest clears VIDEOKIT_* during each test.
SERVER_URI = os.environ.get("VIDEOKIT_TEST_MONGODB_URI")
BACKENDS = [pytest.param("mongomock", id="mongomock"), pytest.param("secantusdb", id="secantusdb")]
if SERVER_URI:
    BACKENDS.append(pytest.param("server", id="mongodb-server"))

START_TIMEOUT = 30.0  # seconds for the server to answer ping


def secantusdb_version() -> str | None:
    """The installed secantusdb version, or None when it is not installed."""
    try:
        return metadata.version("secantusdb")
    except metadata.PackageNotFoundError:
        return None


@dataclass(frozen=True)
class SecantusServer:
    """A running SecantusDB with access control on; ``admin`` holds the ``root`` role."""

    host: str  # 127.0.0.1:PORT
    version: str
    admin_password: str

    def uri(self, user: str = "admin", password: str | None = None, auth_source: str = "admin") -> str:
        """A connection string for ``user`` (the admin by default), credentials included."""
        pw = quote(self.admin_password if password is None else password, safe="")
        return f"mongodb://{quote(user, safe='')}:{pw}@{self.host}/?authSource={auth_source}"

    def client(self) -> pymongo.MongoClient:
        """A client logged in as the admin."""
        return pymongo.MongoClient(self.uri(), serverSelectionTimeoutMS=5000)

    def add_user(self, database: str, role: str) -> tuple[str, str]:
        """Create a user of ``database`` holding the built-in ``role`` there; its (URI, password)."""
        user, password = f"{role.lower()}_{os.urandom(3).hex()}", throwaway_password()
        with self.client() as admin:
            admin[database].command("createUser", user, pwd=password, roles=[{"role": role, "db": database}])
        return self.uri(user, password, auth_source=database), password


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(folder: Path, port: int, *, auth: bool) -> subprocess.Popen:
    """``secantusd-py`` on 127.0.0.1:``port`` over ``folder/data``; ready when it answers ping."""
    config = folder / "secantusd.toml"
    config.touch()  # an empty config: no ./secantusd.toml or ~/.secantus one is read
    cmd = [sys.executable, "-m", "secantus", "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--storage-path", str(folder / "data"), "--standalone", "--log-level", "WARNING"]
    log = open(folder / "server.log", "ab")  # noqa: SIM115 - the server writes to it until stopped
    proc = subprocess.Popen([*cmd, *(["--auth"] if auth else [])], cwd=folder, stdout=log, stderr=log)
    log.close()
    deadline = time.monotonic() + START_TIMEOUT
    with pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/", serverSelectionTimeoutMS=250) as probe:
        while True:
            try:
                probe.admin.command("ping")  # allowed before logging in
                return proc
            except pymongo.errors.PyMongoError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    _stop(proc)
                    tail = (folder / "server.log").read_text(errors="replace")[-2000:]
                    pytest.fail(f"secantusdb did not start on 127.0.0.1:{port} (exit {proc.returncode}): {tail}")
                time.sleep(0.1)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture(scope="session")
def secantusdb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecantusServer]:
    """SecantusDB on a free loopback port with access control on, for the whole session.

    Users can only be created while access control is off, so it starts once without
    ``--auth`` to create the ``root`` admin, and again with ``--auth`` on the same data."""
    version = secantusdb_version()
    if version is None:
        pytest.skip("secantusdb is not installed (it is in the dev extra: pip install -e '.[dev]')")
    folder = tmp_path_factory.mktemp("secantusdb")
    password = throwaway_password()
    port = _free_port()
    proc = _start(folder, port, auth=False)
    try:
        with pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/", serverSelectionTimeoutMS=5000) as c:
            c.admin.command("createUser", "admin", pwd=password, roles=[{"role": "root", "db": "admin"}])
    finally:
        _stop(proc)
    proc = _start(folder, port, auth=True)
    try:
        yield SecantusServer(f"127.0.0.1:{port}", version, password)
    finally:
        _stop(proc)


@pytest.fixture(params=BACKENDS)
def mongo_client(request: pytest.FixtureRequest) -> Callable[[], Any]:
    """Makes pymongo-compatible clients of this test's backend (the test id names it)."""
    if request.param == "mongomock":
        return mongomock.MongoClient
    if request.param == "secantusdb":
        return request.getfixturevalue("secantusdb_server").client
    return lambda: pymongo.MongoClient(SERVER_URI, serverSelectionTimeoutMS=5000)
