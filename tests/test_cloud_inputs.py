"""`videokit run s3://bucket/prefix/` and `videokit export --out s3://...` end to end on moto's S3
server, and what goes wrong: a missing bucket, missing or wrong credentials, an object deleted
between listing and reading, a full local cache, Google Cloud Storage without credentials."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from cloud_servers import S3Bucket, moto_s3, moto_s3_auth, s3, s3_env  # noqa: F401
from media import make_video
from videokit._cli import main
from videokit.api import search
from videokit.batch import run_items
from videokit.config import load_config
from videokit.errors import ConfigError, InputError
from videokit.inputs import expand
from videokit.storage import LocalCache, StorageOptions, open_storage
from videokit.storage.options import MIB

FAST = ["--skip", "analyze", "--skip", "transcribe", "--skip", "embed"]


def vk(library: Path, *args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, ["--library", str(library), "--quiet", *args], catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cloud-clips")
    return {
        "harbour.mp4": make_video(d / "harbour.mp4", duration=1.0, title="Harbour at night"),
        "forest.mov": make_video(d / "forest.mov", duration=1.0, size="640x360", source="smptebars"),
    }


@pytest.fixture
def videos(s3: S3Bucket, clips: dict[str, Path], tmp_path: Path) -> S3Bucket:
    """The bucket with videos/harbour.mp4, videos/sub/forest.mov and videos/notes.txt."""
    s3.fs.put_file(str(clips["harbour.mp4"]), f"{s3.bucket}/videos/harbour.mp4")
    s3.fs.put_file(str(clips["forest.mov"]), f"{s3.bucket}/videos/sub/forest.mov")
    s3.fs.pipe_file(f"{s3.bucket}/videos/notes.txt", b"not a video")
    return s3


def test_run_a_bucket_prefix_then_export_to_the_bucket(videos: S3Bucket, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    code, _, err = vk(lib, "run", videos.url("videos/"), *FAST)
    assert code == 0, err
    records = search(load_config(env={"VIDEOKIT_LIBRARY_LOCATION": str(lib)}))
    sources = sorted(r.sources[0].url or "" for r in records)
    assert sources == [videos.url("videos/harbour.mp4"), videos.url("videos/sub/forest.mov")]
    assert all(r.media and r.media.duration and r.media.duration > 0.5 for r in records)
    assert {r.sources[0].input for r in records} == set(sources)  # the object URL stays the source

    code, _, err = vk(lib, "export", "--format", "jsonl", "--out", videos.url("exports/videos.jsonl"))
    assert code == 0, err
    lines = videos.fs.cat_file(f"{videos.bucket}/exports/videos.jsonl").decode().splitlines()
    assert sorted(json.loads(line)["sources"][0]["url"] for line in lines) == sources

    code, _, err = vk(lib, "export", "--format", "json", "--out", videos.url("exports/json/"))
    assert code == 0, err
    names = sorted(Path(p).name for p in videos.fs.find(f"{videos.bucket}/exports/json"))
    assert "index.json" in names and len(names) == 3

    code, _, err = vk(lib, "run", videos.url("videos/"), *FAST)  # done already: nothing fetched again
    assert code == 0, err


def test_a_missing_bucket_fails_that_input_only(videos: S3Bucket, clips: dict[str, Path], tmp_path: Path) -> None:
    code, _, err = vk(tmp_path / "lib", "run", "s3://no-such-bucket-vk/videos/", str(clips["harbour.mp4"]), *FAST)
    assert code == 1
    assert "s3://no-such-bucket-vk/videos/: the Amazon S3 bucket 'no-such-bucket-vk' does not exist" in err


def test_missing_credentials_name_the_provider_and_the_settings(
    videos: S3Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    code, _, err = vk(tmp_path / "lib", "run", videos.url("videos/"), *FAST)
    assert code == 1
    assert "no Amazon S3 credentials found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in err


def test_wrong_credentials_are_named_never_shown(
    moto_s3_auth: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3_env(monkeypatch, moto_s3_auth)  # a key this server does not know
    code, out, err = vk(tmp_path / "lib", "run", "s3://some-bucket/videos/", *FAST)
    assert code == 1
    assert "Amazon S3 refused the credentials" in err and "check AWS_ACCESS_KEY_ID" in err
    assert "videokit-test-secret-value" not in out + err
    log = (tmp_path / "lib" / "videokit.log").read_text()
    assert "videokit-test-secret-value" not in log


def test_an_object_deleted_after_listing_fails_alone(videos: S3Bucket, tmp_path: Path) -> None:
    cfg = load_config(
        env={"VIDEOKIT_LIBRARY_LOCATION": str(tmp_path / "lib"), "VIDEOKIT_STORAGE_S3ENDPOINT": videos.endpoint}
    )
    items = expand([videos.url("videos/")], storage=StorageOptions.from_config(cfg))
    assert [i.spec for i in items] == [videos.url("videos/harbour.mp4"), videos.url("videos/sub/forest.mov")]
    videos.fs.rm(f"{videos.bucket}/videos/harbour.mp4")
    records = run_items(items, cfg, skip=["analyze", "transcribe", "embed"])
    errors = {r.sources[0].input: [e.message for e in r.errors] for r in records}
    assert errors[videos.url("videos/sub/forest.mov")] == []
    [message] = errors[videos.url("videos/harbour.mp4")]
    assert "no such object in Amazon S3 (deleted or never written)" in message


def test_a_video_larger_than_the_cache_fails_with_the_setting(
    videos: S3Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDEOKIT_STORAGE_CACHESIZEMB", "0.001")
    code, _, err = vk(tmp_path / "lib", "run", videos.url("videos/harbour.mp4"), *FAST)
    assert code == 1
    assert "does not fit in the local cache" in err and "raise [Storage] CacheSizeMB" in err


def test_the_cache_evicts_the_least_recently_used(s3: S3Bucket, tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        s3.fs.pipe_file(f"{s3.bucket}/{name}.bin", os.urandom(MIB))
    cache = LocalCache(tmp_path / "cache", int(2.5 * MIB), s3.options)
    a = cache.fetch(s3.url("a.bin"))
    cache.fetch(s3.url("b.bin"))
    assert cache.fetch(s3.url("a.bin")).hit  # a is now the most recently used
    cache.fetch(s3.url("c.bin"))  # evicts b
    assert cache.usage() <= 2.5 * MIB
    assert a.path.exists() and cache.fetch(s3.url("a.bin")).hit
    assert not cache.fetch(s3.url("b.bin")).hit


def test_a_changed_object_is_fetched_again(s3: S3Bucket, tmp_path: Path) -> None:
    s3.fs.pipe_file(f"{s3.bucket}/v.bin", b"one" * 1000)
    cache = LocalCache(tmp_path / "cache", 10 * MIB, s3.options)
    first = cache.fetch(s3.url("v.bin"))
    s3.fs.pipe_file(f"{s3.bucket}/v.bin", b"two" * 1000)
    second = cache.fetch(s3.url("v.bin"))
    assert not second.hit and second.path.read_bytes() == b"two" * 1000 and first.path != second.path


def test_gcs_without_credentials_names_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without STORAGE_EMULATOR_HOST, Google's credentials are looked up first (the emulator tests
    are in test_cloud_gcs.py)."""
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    with pytest.raises(ConfigError, match=r"Google Cloud Storage: GOOGLE_APPLICATION_CREDENTIALS names .*missing.json"):
        open_storage("gs://bucket/videos/").list()


@pytest.mark.parametrize(
    ("url", "problem"),
    [("s3://", "no bucket"), ("ftp2://x/y", "unsupported storage URL scheme")],
)
def test_bad_storage_urls_are_usage_errors(url: str, problem: str) -> None:
    with pytest.raises(Exception, match=problem):
        open_storage(url)


def test_azure_without_credentials_names_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_NAME"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(
        ConfigError, match="Azure Blob Storage: no credentials found; set AZURE_STORAGE_CONNECTION_STRING"
    ):
        open_storage("az://container/videos/").list()


def test_a_prefix_without_videos_is_that_input_s_error(s3: S3Bucket) -> None:
    s3.fs.pipe_file(f"{s3.bucket}/docs/a.txt", b"x")
    [item] = expand([s3.url("docs/")], storage=s3.options)
    assert item.error == f"{s3.url('docs/')}: no videos under this prefix"
    with pytest.raises(InputError, match="is a folder"):
        open_storage(s3.url("docs")).info("")


def test_storage_settings_in_config_ini(tmp_path: Path) -> None:
    ini = tmp_path / "config.ini"
    ini.write_text("[Storage]\nLibraryFiles = s3://bucket/lib\nCacheDirectory = cache\nCacheSizeMB = 100\n")
    cfg = load_config(ini, env={})
    options = StorageOptions.from_config(cfg)
    assert cfg.get("Storage", "LibraryFiles") == "s3://bucket/lib"  # a URL is not made relative to the file
    assert options.cache_dir == tmp_path / "cache" and options.cache_bytes == 100 * MIB
    ini.write_text("[Storage]\nLibraryFiles = s3://\n")
    with pytest.raises(ConfigError, match=r"config.ini: bad value for \[Storage\] LibraryFiles: s3://: no bucket"):
        load_config(ini, env={})
