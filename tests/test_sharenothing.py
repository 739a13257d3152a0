"""Workers that share no disk: the library's files in moto's S3 server, records in the SecantusDB
MongoDB-wire server, real `videokit worker` processes on a real redis-server, each with its own
working folder; all on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cloud_servers import S3Bucket, moto_s3, s3  # noqa: F401
from httpserver import TestServer
from media import make_video
from mongo_servers import SecantusServer
from test_distributed import free_port, needs_redis, start_redis, wait_for
from test_resume import SOURCES, VIDEOKIT, cli_env
from videokit._cli import main
from videokit.config import load_config
from videokit.distributed.board import Board
from videokit.errors import ConfigError, InputError
from videokit.pipeline import build_pipeline
from videokit.record import Record
from videokit.storage.sync import LibrarySync
from videokit.store import open_store

FAST = ["--skip", "analyze", "--skip", "transcribe", "--skip", "embed"]  # scenes stay: thumbnails, contact sheet
TEMPORARY = (".tmp-", ".vk-tmp", ".part", ".pull-")


@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    d = tmp_path_factory.mktemp("sn-clips")
    return [make_video(d / f"c{i}.mp4", duration=1.0, source=s).read_bytes() for i, s in enumerate(SOURCES[:5])]


def s3_settings(s3: S3Bucket, library: Path) -> dict[str, str]:
    return {
        "VIDEOKIT_LIBRARY_LOCATION": str(library),
        "VIDEOKIT_STORAGE_LIBRARYFILES": s3.url("lib"),
        "VIDEOKIT_STORAGE_S3ENDPOINT": s3.endpoint,
    }


def keys(s3: S3Bucket) -> dict[str, int]:
    """Every object below the library prefix: key -> size."""
    prefix = f"{s3.bucket}/lib/"
    return {p.removeprefix(prefix): int(i["size"]) for p, i in s3.fs.find(prefix, detail=True).items()}


def assert_files_in_bucket(record: Record, objects: dict[str, int]) -> None:
    """The record's original, thumbnails and contact sheet are objects, at the keys it names."""
    assert record.file is not None and record.id is not None and record.scenes is not None
    assert re.fullmatch(rf"downloads/{record.id[:16]}_v?\w+\.mp4", record.file.path), record.file.path
    assert objects.get(record.file.path) == record.file.size
    pictures = [record.scenes.contact_sheet, *(s.thumbnail for s in record.scenes.scenes)]
    assert pictures[0] and all(pictures)
    for key in pictures:
        assert key and key.startswith(f"processed/{record.id}/") and objects.get(key, 0) > 0, key


def test_the_local_runner_pushes_files_and_a_second_machine_pulls_them(
    s3: S3Bucket, http_server: TestServer, clip_bytes: list[bytes], tmp_path: Path
) -> None:
    http_server.add_file("/harbour.mp4", clip_bytes[0])
    lib = tmp_path / "lib"
    env = s3_settings(s3, lib)
    res = CliRunner(env=env).invoke(
        main, ["--library", str(lib), "-q", "run", http_server.url("/harbour.mp4"), *FAST], catch_exceptions=False
    )
    assert res.exit_code == 0, res.stderr
    with open_store(load_config(env=env)) as store:
        (record,) = list(store.iter_records())
    objects = keys(s3)
    assert_files_in_bucket(record, objects)
    assert s3.fs.cat_file(f"{s3.bucket}/lib/{record.file.path}") == clip_bytes[0]
    assert not [k for k in objects if any(t in k for t in TEMPORARY)]
    assert str(lib) not in record.to_json()  # library keys only: valid on every machine
    assert (lib / record.file.path).read_bytes() == clip_bytes[0]  # the local runner keeps its copies too

    # another machine: an empty working folder of its own, the same bucket
    other = tmp_path / "other"
    cfg = load_config(env={**s3_settings(s3, other), "VIDEOKIT_STORAGE_CACHESIZEMB": "50"})
    sync = LibrarySync.from_config(cfg)
    assert sync is not None
    analyze = build_pipeline(cfg).part(["analyze"]).stages  # reads the video and the analysis frames
    got = sync.pull(record, analyze)
    assert record.file.path in got and record.scenes is not None and record.scenes.frames
    assert (other / record.file.path).read_bytes() == clip_bytes[0]
    assert all((other / f.path).is_file() for f in record.scenes.frames)
    assert not (other / record.scenes.contact_sheet).exists()  # nothing analyze does not read
    assert sync.pull(record, analyze) == []  # there already
    sync.release(record)
    assert not (other / record.file.path).exists() and not (other / "processed" / record.id).exists()
    assert 0 < sync.cache.usage() <= 50 * 2**20  # what stays is the bounded cache

    # an object deleted behind the worker's back: one line naming it
    s3.fs.rm(f"{s3.bucket}/lib/{record.file.path}")
    with pytest.raises(InputError, match=f"s3://{s3.bucket}/lib/{record.file.path}"):
        LibrarySync.from_config(load_config(env=s3_settings(s3, tmp_path / "third"))).pull(record, analyze)  # type: ignore[union-attr]


def test_no_sync_without_object_storage_and_folders_outside_the_library_are_refused(
    s3: S3Bucket, tmp_path: Path
) -> None:
    lib = tmp_path / "lib"
    assert LibrarySync.from_config(load_config(env={"VIDEOKIT_LIBRARY_LOCATION": str(lib)})) is None
    same = {"VIDEOKIT_LIBRARY_LOCATION": str(lib), "VIDEOKIT_STORAGE_LIBRARYFILES": str(lib)}
    assert LibrarySync.from_config(load_config(env=same)) is None
    outside = {**s3_settings(s3, lib), "VIDEOKIT_PATHS_PROCESSEDDIRECTORY": str(tmp_path / "elsewhere")}
    with pytest.raises(ConfigError, match=r"\[Paths\] ProcessedDirectory .* must be inside it"):
        LibrarySync.from_config(load_config(env=outside))
    # a worker so configured says so in one line before it starts
    res = CliRunner(env=outside).invoke(main, ["--library", str(lib), "worker", "--queues", "cpu"])
    assert res.exit_code == 2
    (line,) = [x for x in res.stderr.splitlines() if x.strip()]
    assert "[Paths] ProcessedDirectory" in line and "[Storage] LibraryFiles" in line


# -- two workers, no shared disk, one killed ---------------------------------------------------


class ShareNothing:
    """A redis-server and `videokit worker` processes, each with its own working folder and
    current directory; the files in S3, the records in MongoDB."""

    def __init__(self, tmp: Path, s3: S3Bucket, mongo: SecantusServer) -> None:
        self.tmp = tmp
        self.url = f"redis://127.0.0.1:{free_port()}/0"
        self.env = cli_env(
            VIDEOKIT_CELERY_BROKERURL=self.url,
            # the killed worker's task returns after 8 s; a slow task on a loaded machine may also be
            # delivered twice meanwhile (harmless: idempotent), hence the attempts allowed
            VIDEOKIT_CELERY_VISIBILITYTIMEOUT="8",
            VIDEOKIT_CELERY_MAXATTEMPTS="6",
            VIDEOKIT_LIBRARY_STORE="mongodb",
            VIDEOKIT_MONGODB_URI=mongo.uri(),
            VIDEOKIT_MONGODB_DATABASENAME="sn" + uuid.uuid4().hex[:8],
            VIDEOKIT_STORAGE_LIBRARYFILES=s3.url("lib"),
            VIDEOKIT_STORAGE_S3ENDPOINT=s3.endpoint,
            AWS_ACCESS_KEY_ID=os.environ["AWS_ACCESS_KEY_ID"],
            AWS_SECRET_ACCESS_KEY=os.environ["AWS_SECRET_ACCESS_KEY"],
            AWS_DEFAULT_REGION="us-east-1",
            AWS_SHARED_CREDENTIALS_FILE=os.devnull,
            AWS_CONFIG_FILE=os.devnull,
            AWS_EC2_METADATA_DISABLED="true",
        )
        self.redis: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.folders: list[Path] = []

    def start(self) -> None:
        port = int(self.url.rsplit(":", 1)[1].split("/")[0])
        self.redis = start_redis(port, self.tmp)

    def start_worker(self) -> subprocess.Popen:
        home = self.tmp / f"machine{len(self.workers)}"
        home.mkdir()
        with open(home / "worker.log", "w") as log:
            proc = subprocess.Popen(
                [VIDEOKIT, "--library", str(home / "work"), "worker", "--queues", "io,cpu", "--concurrency", "1"],
                env=self.env,
                cwd=home,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.workers.append(proc)
        self.folders.append(home / "work")
        return proc

    def videokit(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [VIDEOKIT, "--library", str(self.tmp / "submitter"), "-q", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def status(self) -> dict:
        out = self.videokit("status", "--json")
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    def finished(self, n: int) -> bool:
        jobs = self.status()["jobs"]
        return int(jobs.get("done", 0)) + int(jobs.get("failed", 0)) >= n

    def stop(self) -> None:
        for w in self.workers:
            if w.poll() is None:
                os.killpg(w.pid, signal.SIGKILL)
            w.wait()
        if self.redis is not None:
            self.redis.kill()
            self.redis.wait()


@pytest.fixture
def machines(tmp_path: Path, s3: S3Bucket, secantusdb_server: SecantusServer) -> Iterator[ShareNothing]:
    m = ShareNothing(tmp_path, s3, secantusdb_server)
    try:
        yield m
    finally:
        m.stop()


@needs_redis
def test_two_workers_sharing_no_disk_one_killed_mid_task(
    machines: ShareNothing, s3: S3Bucket, http_server: TestServer, clip_bytes: list[bytes]
) -> None:
    urls = []
    for i, data in enumerate(clip_bytes):
        http_server.add_file(f"/v{i}.mp4", data, chunk_delay=0.05)  # about half a second each
        urls.append(http_server.url(f"/v{i}.mp4"))
    machines.start()
    sub = machines.videokit("submit", *urls, *FAST)
    assert sub.returncode == 0 and f"submitted {len(urls)} input(s)" in sub.stderr, sub.stderr
    a, b = machines.start_worker(), machines.start_worker()

    board = Board(machines.url)
    victim: list[str] = []

    def a_is_busy() -> bool:
        for u in urls:
            job = board.job(u)
            if job and job.get("status") == "running" and job.get("worker", "").startswith(f"videokit{a.pid}@"):
                victim.append(u)
                return True
        return False

    wait_for(a_is_busy, 60, "worker A never picked up a task")
    os.killpg(a.pid, signal.SIGKILL)  # the whole machine gone: worker and pool process
    a.wait()
    wait_for(lambda: machines.finished(len(urls)), 90, "the batch did not finish after a worker died")
    st = machines.status()
    assert st["jobs"]["done"] == len(urls) and st["failures"] == [], st["failures"]

    # every input stored exactly once, its files in the bucket at the keys the record names
    with open_store(load_config(env={k: v for k, v in machines.env.items() if k.startswith("VIDEOKIT_")})) as store:
        records = list(store.iter_records())
    assert sorted(s.input for r in records for s in r.sources) == sorted(urls)
    assert len(records) == len(urls)
    objects = keys(s3)
    for record in records:
        assert_files_in_bucket(record, objects)
        assert not any(str(f) in record.to_json() for f in machines.folders)
    assert not [k for k in objects if any(t in k for t in TEMPORARY)]
    uploads = s3.fs.call_s3("list_multipart_uploads", Bucket=s3.bucket)
    assert not uploads.get("Uploads")  # no upload left half-done, visible or not

    # the survivor did the killed one's work; it keeps no working copies, only its cache
    job = board.job(victim[0])
    assert job is not None and job["attempts"] >= 2
    assert job["worker"].startswith(f"videokit{b.pid}@")
    assert sum(w["done"] for w in board.workers()) >= len(urls)
    survivor = machines.folders[1]
    assert not list((survivor / "processed").glob("*/*")) and not list((survivor / "downloads").glob("*.mp4"))
    assert (survivor / "cache").is_dir()
