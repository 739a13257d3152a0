"""Distributed mode on a real redis-server with real `videokit worker` processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from httpserver import TestServer
from media import make_video
from test_resume import SOURCES, VIDEOKIT, cli_env
from videokit.config import load_config
from videokit.distributed.board import Board
from videokit.distributed.plan import stage_groups
from videokit.ledger import Ledger
from videokit.store.sqlite import SQLiteStore

REDIS = shutil.which("redis-server")
needs_redis = pytest.mark.skipif(REDIS is None, reason="redis-server is not installed")
SKIP = ["--skip", "scenes", "--skip", "analyze"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(port: int, folder: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    board = Board(f"redis://127.0.0.1:{port}/0", timeout=0.5)
    wait_for(lambda: _pings(board), 10, "redis-server did not start")
    return proc


def _pings(board: Board) -> bool:
    try:
        board.ping()
        return True
    except Exception:
        return False


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out: {what}")


class Cluster:
    """A redis-server and `videokit worker` processes sharing one library."""

    def __init__(self, tmp: Path, **settings: str) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.lib = tmp / "lib"
        self.env = cli_env(VIDEOKIT_CELERY_BROKERURL=self.url, VIDEOKIT_CELERY_VISIBILITYTIMEOUT="4", **settings)
        self.redis: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []

    def start_redis(self) -> None:
        self.redis = start_redis(self.port, self.tmp)

    def start_worker(self, queues: str = "io,cpu") -> subprocess.Popen:
        with open(self.tmp / f"worker{len(self.workers)}.log", "w") as log:  # the worker keeps its own copy
            proc = subprocess.Popen(
                [VIDEOKIT, "--library", str(self.lib), "worker", "--queues", queues, "--concurrency", "1"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.workers.append(proc)
        return proc

    def wait_ready(self, n: int) -> None:
        """Until ``n`` workers wait on the queues (each holds a blocking BRPOP on Redis)."""

        def consuming() -> bool:
            return sum(c.get("cmd") == "brpop" for c in self.board().r.client_list()) >= n

        wait_for(consuming, 60, f"{n} worker(s) did not start")

    def videokit(self, *args: str, lib: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [VIDEOKIT, "--library", str(lib or self.lib), "-q", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def status(self, lib: Path | None = None) -> dict:
        out = self.videokit("status", "--json", lib=lib)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    def board(self) -> Board:
        return Board(self.url)

    def stop(self) -> None:
        for w in self.workers:
            if w.poll() is None:
                os.killpg(w.pid, signal.SIGKILL)
            w.wait()
        if self.redis is not None:
            self.redis.kill()
            self.redis.wait()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    d = tmp_path_factory.mktemp("dclips")
    return [
        make_video(d / f"c{i}.mp4", duration=1.0, source=s, title=f"c{i}").read_bytes() for i, s in enumerate(SOURCES)
    ]


def _records(lib: Path) -> list:
    with SQLiteStore(lib / "library.sqlite") as store:
        return list(store.iter_records())


@needs_redis
def test_killed_worker_loses_nothing_and_duplicates_nothing(
    cluster: Cluster, http_server: TestServer, clip_bytes: list[bytes]
) -> None:
    urls = []
    for i, data in enumerate(clip_bytes):
        http_server.add_file(f"/v{i}.mp4", data, chunk_delay=0.05)  # about half a second each
        urls.append(http_server.url(f"/v{i}.mp4"))
    cluster.start_redis()
    sub = cluster.videokit("submit", *urls, *SKIP)
    assert sub.returncode == 0, sub.stderr
    assert "submitted 6 input(s)" in sub.stderr
    # a duplicate submission, made before any worker runs so it is "queued" however slow the machine
    again = cluster.videokit("submit", urls[0], *SKIP)
    assert again.returncode == 0 and "already queued" in again.stderr, again.stderr
    assert "submitted 0 input(s)" in again.stderr
    a, _b = cluster.start_worker(), cluster.start_worker()

    # SIGKILL worker A (and its pool process) while it holds a task
    board = cluster.board()
    victim: list[str] = []

    def a_is_busy() -> bool:
        for u in urls:
            job = board.job(u)
            if job and job.get("status") == "running" and job.get("worker", "").startswith(f"videokit{a.pid}@"):
                victim.append(u)
                return True
        return False

    wait_for(a_is_busy, 60, "worker A never picked up a task")
    os.killpg(a.pid, signal.SIGKILL)
    a.wait()

    wait_for(lambda: cluster.status()["jobs"]["done"] == 6, 90, "the batch did not finish after a worker died")
    st = cluster.status()
    assert st["jobs"]["failed"] == 0 and st["failures"] == []
    assert st["broker"]["queues"] == {"io": 0, "cpu": 0, "gpu": 0}
    assert sum(w["done"] for w in st["broker"]["workers"]) >= 6  # per-worker progress
    with Ledger(cluster.lib / "ledger.sqlite") as ledger:
        assert ledger.get(victim[0]).attempts >= 2  # the killed task was delivered again
    records = _records(cluster.lib)
    assert len(records) == 6
    assert sorted(s.input for r in records for s in r.sources) == sorted(urls)

    # another user submits the same URL from their own ledger: processed again, still one record
    other = cluster.tmp / "other"
    dup = cluster.videokit("submit", urls[0], *SKIP, lib=other)
    assert dup.returncode == 0 and "submitted 1 input(s)" in dup.stderr, dup.stderr
    wait_for(lambda: cluster.status(other)["jobs"]["done"] == 1, 60, "the duplicate submission did not finish")
    records = _records(cluster.lib)
    assert len(records) == 6
    assert sorted(s.input for r in records for s in r.sources) == sorted(urls)


@needs_redis
def test_poison_input_is_marked_failed_and_the_batch_goes_on(
    tmp_path: Path, http_server: TestServer, clip_bytes: list[bytes]
) -> None:
    c = Cluster(tmp_path, VIDEOKIT_CELERY_MAXATTEMPTS="2")
    try:
        http_server.add_file("/stuck.mp4", clip_bytes[0], stall_after=20_000, stalls=10)  # hangs mid-download
        http_server.add_file("/fine.mp4", clip_bytes[1])
        stuck, fine = http_server.url("/stuck.mp4"), http_server.url("/fine.mp4")
        c.start_redis()
        c.start_worker()
        assert c.videokit("submit", stuck, fine, *SKIP).returncode == 0
        board = c.board()
        killed: set[str] = set()

        def kill_holder() -> bool:
            job = board.job(stuck) or {}
            if job.get("status") == "failed":
                return True
            holder = job.get("worker", "")
            if job.get("status") == "running" and holder and holder not in killed:
                killed.add(holder)
                os.kill(int(holder.rsplit(" ", 1)[1]), signal.SIGKILL)  # the pool process running it dies
            return False

        wait_for(kill_holder, 90, "the poison input was never marked failed")
        assert len(killed) == 2
        wait_for(lambda: c.status()["jobs"]["done"] == 1, 60, "the rest of the batch did not finish")
        st = c.status()
        assert st["jobs"]["failed"] == 1
        (failure,) = st["failures"]
        assert failure["input"] == stuck and "worker was lost 2 times" in failure["error"]
        assert [s.input for r in _records(c.lib) for s in r.sources] == [fine]
    finally:
        http_server.release()
        c.stop()


@needs_redis
def test_broker_down_keeps_the_submission_until_it_is_back(cluster: Cluster, clip_bytes: list[bytes]) -> None:
    clip = cluster.tmp / "clip.mp4"
    clip.write_bytes(clip_bytes[2])
    down = cluster.videokit("submit", str(clip), *SKIP)
    assert down.returncode == 1
    lines = down.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach the broker at redis://127.0.0.1:")
    assert "1 submission(s) kept in the ledger as pending" in lines[0]
    with Ledger(cluster.lib / "ledger.sqlite") as ledger:
        assert [j.status for j in ledger.jobs()] == ["pending"]

    cluster.start_redis()
    cluster.start_worker()
    up = cluster.videokit("submit")  # sends what is pending
    assert up.returncode == 0 and "submitted 1 input(s)" in up.stderr, up.stderr
    wait_for(lambda: cluster.status()["jobs"]["done"] == 1, 60, "the pending submission was not processed")
    assert [r.sources[0].input for r in _records(cluster.lib)] == [str(clip)]


def test_gpu_analysis_goes_to_the_gpu_queue_only_with_the_qwen_backend() -> None:
    qwen = load_config(env={}, overrides={("Analysis", "Backend"): "qwen"})
    assert stage_groups(qwen) == [
        ("io", ["fetch"]),
        ("cpu", ["identify", "probe", "scenes", "transcribe"]),
        ("gpu", ["analyze"]),
        ("cpu", ["tag", "classify", "embed", "store"]),
    ]
    builtin = load_config(env={})
    assert stage_groups(builtin) == [
        ("io", ["fetch"]),
        ("cpu", ["identify", "probe", "scenes", "transcribe", "analyze", "tag", "classify", "embed", "store"]),
    ]
    assert stage_groups(builtin, skip=["scenes", "analyze"])[1] == (
        "cpu",
        ["identify", "probe", "transcribe", "tag", "classify", "embed", "store"],
    )
