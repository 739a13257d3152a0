"""Google Cloud Storage through gcsfs against gcp-storage-emulator on loopback (the GCS JSON API,
``STORAGE_EMULATOR_HOST``): the uploads, downloads, listings and ``videokit run gs://...`` that the
S3 tests run on moto."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from cloud_servers import GcsBucket, gcs, gcs_emulator  # noqa: F401
from media import make_video
from videokit._cli import main
from videokit.api import search
from videokit.batch import run_items
from videokit.config import load_config
from videokit.errors import InputError
from videokit.inputs import expand
from videokit.storage import download, open_storage, parse_location, upload
from videokit.storage.options import MIB

# gcsfs hands aiohttp each upload chunk as bytes, which aiohttp warns about (ResourceWarning, ignored
# by Python outside tests); it is gcsfs's way of sending, not a leak.
pytestmark = pytest.mark.filterwarnings("ignore:Sending a large body directly with raw bytes:ResourceWarning")

FAST = ["--skip", "analyze", "--skip", "transcribe", "--skip", "embed"]


def _file(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def vk(library: Path, *args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, ["--library", str(library), "--quiet", *args], catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def test_upload_is_read_back_then_renamed(gcs: GcsBucket, tmp_path: Path) -> None:
    src = _file(tmp_path / "big.bin", 12 * MIB + 7)
    got = upload(src, parse_location(gcs.url("in/big.bin")), gcs.options)
    assert (got.url, got.verified, got.sha256) == (gcs.url("in/big.bin"), "read back", _sha(src.read_bytes()))
    assert gcs.fs.cat_file(f"{gcs.bucket}/in/big.bin") == src.read_bytes()
    assert gcs.fs.find(gcs.bucket) == [f"{gcs.bucket}/in/big.bin"]  # no temporary key left


def test_download_by_ranges_resumes_its_part_file(gcs: GcsBucket, tmp_path: Path) -> None:
    data = os.urandom(12 * MIB)
    gcs.fs.pipe_file(f"{gcs.bucket}/v.bin", data)
    src = parse_location(gcs.url("v.bin"))
    first = download(src, tmp_path / "a.bin", gcs.options)
    assert (first.sha256, first.parts, (tmp_path / "a.bin").read_bytes() == data) == (_sha(data), 3, True)

    dest = tmp_path / "b.bin"

    def stop(done: int, total: int) -> None:
        if done >= 5 * MIB:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download(src, dest, gcs.options, on_progress=stop)
    assert not dest.exists() and dest.with_name("b.bin.part").exists()
    again = download(src, dest, gcs.options)
    assert again.resumed == 1 and again.sha256 == _sha(data) and dest.read_bytes() == data


def test_files_by_relative_key(gcs: GcsBucket, tmp_path: Path) -> None:
    files = open_storage(gcs.url("lib"), gcs.options)
    thumb = _file(tmp_path / "t.jpg", 2048)
    files.put(thumb, "processed/abc/thumb_0001.jpg")
    files.put_bytes(b'{"id": "abc"}', "processed/abc/record.json")
    assert files.url_of("processed/abc/thumb_0001.jpg") == f"gs://{gcs.bucket}/lib/processed/abc/thumb_0001.jpg"
    listed = files.list("processed")
    assert [(o.key, o.size) for o in listed] == [
        ("processed/abc/record.json", 13),
        ("processed/abc/thumb_0001.jpg", 2048),
    ]
    assert all(o.version for o in listed)
    assert files.read_bytes("processed/abc/thumb_0001.jpg") == thumb.read_bytes()
    files.get("processed/abc/thumb_0001.jpg", tmp_path / "back.jpg")
    assert (tmp_path / "back.jpg").read_bytes() == thumb.read_bytes()
    assert files.exists("processed/abc/thumb_0001.jpg")
    files.delete("processed/abc/thumb_0001.jpg")
    assert not files.exists("processed/abc/thumb_0001.jpg")


def test_a_missing_bucket_or_object_is_named(gcs: GcsBucket) -> None:
    with pytest.raises(InputError, match="the Google Cloud Storage bucket 'no-such-bucket-vk' does not exist"):
        open_storage("gs://no-such-bucket-vk/videos/", gcs.options).list()
    with pytest.raises(InputError, match="no such object in Google Cloud Storage"):
        open_storage(gcs.url("gone.mp4"), gcs.options).info("")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("gcs-clips")
    return {
        "harbour.mp4": make_video(d / "harbour.mp4", duration=1.0, title="Harbour at night"),
        "forest.mov": make_video(d / "forest.mov", duration=1.0, size="640x360", source="smptebars"),
    }


@pytest.fixture
def videos(gcs: GcsBucket, clips: dict[str, Path]) -> GcsBucket:
    """The bucket with videos/harbour.mp4, videos/sub/forest.mov and videos/notes.txt."""
    gcs.fs.put_file(str(clips["harbour.mp4"]), f"{gcs.bucket}/videos/harbour.mp4")
    gcs.fs.put_file(str(clips["forest.mov"]), f"{gcs.bucket}/videos/sub/forest.mov")
    gcs.fs.pipe_file(f"{gcs.bucket}/videos/notes.txt", b"not a video")
    return gcs


def test_run_a_bucket_prefix_then_export_to_the_bucket(videos: GcsBucket, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    code, _, err = vk(lib, "run", videos.url("videos/"), *FAST)
    assert code == 0, err
    records = search(load_config(env={"VIDEOKIT_LIBRARY_LOCATION": str(lib)}))
    sources = sorted(r.sources[0].url or "" for r in records)
    assert sources == [videos.url("videos/harbour.mp4"), videos.url("videos/sub/forest.mov")]
    assert all(r.media and r.media.duration and r.media.duration > 0.5 for r in records)

    code, _, err = vk(lib, "export", "--format", "jsonl", "--out", videos.url("exports/videos.jsonl"))
    assert code == 0, err
    lines = videos.fs.cat_file(f"{videos.bucket}/exports/videos.jsonl").decode().splitlines()
    assert sorted(json.loads(line)["sources"][0]["url"] for line in lines) == sources


def test_an_object_deleted_after_listing_fails_alone(videos: GcsBucket, tmp_path: Path) -> None:
    cfg = load_config(env={"VIDEOKIT_LIBRARY_LOCATION": str(tmp_path / "lib")})
    items = expand([videos.url("videos/")], storage=videos.options)
    assert [i.spec for i in items] == [videos.url("videos/harbour.mp4"), videos.url("videos/sub/forest.mov")]
    videos.fs.rm(f"{videos.bucket}/videos/harbour.mp4")
    records = run_items(items, cfg, skip=["analyze", "transcribe", "embed"])
    errors = {r.sources[0].input: [e.message for e in r.errors] for r in records}
    assert errors[videos.url("videos/sub/forest.mov")] == []
    [message] = errors[videos.url("videos/harbour.mp4")]
    assert "no such object in Google Cloud Storage (deleted or never written)" in message
