"""Uploads and downloads against moto's S3 server on loopback (the real S3 HTTP API, through s3fs)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from cloud_servers import FaultProxy, S3Bucket, moto_s3, s3  # noqa: F401
from videokit.config import load_config
from videokit.storage import StorageOptions, download, library_files, open_storage, parse_location, upload
from videokit.storage.options import MIB


def _file(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_large_upload_goes_in_parts_and_is_checked(s3: S3Bucket, tmp_path: Path) -> None:
    src = _file(tmp_path / "big.bin", 12 * MIB + 123)
    got = upload(src, parse_location(s3.url("in/big.bin")), s3.options)
    assert (got.parts, got.resumed, got.verified) == (3, 0, "store checksum")
    assert got.sha256 == _sha(src.read_bytes())
    assert s3.fs.cat_file(f"{s3.bucket}/in/big.bin") == src.read_bytes()
    assert s3.fs.find(s3.bucket) == [f"{s3.bucket}/in/big.bin"]  # no temporary key left


def test_small_upload_is_one_checked_put(s3: S3Bucket, tmp_path: Path) -> None:
    src = _file(tmp_path / "small.bin", 1000)
    got = upload(src, parse_location(s3.url("small.bin")), s3.options)
    assert (got.parts, got.verified, got.sha256) == (1, "store checksum", _sha(src.read_bytes()))


def test_an_interrupted_upload_is_invisible_then_resumed(s3: S3Bucket, tmp_path: Path) -> None:
    src = _file(tmp_path / "big.bin", 16 * MIB)
    dest = parse_location(s3.url("big.bin"))
    one = StorageOptions(**{**_fields(s3.options), "concurrency": 1})

    def stop_after_two_parts(done: int, total: int) -> None:
        if done >= 10 * MIB:
            raise KeyboardInterrupt  # the process is stopped mid-upload

    with pytest.raises(KeyboardInterrupt):
        upload(src, dest, one, on_progress=stop_after_two_parts)
    assert not s3.fs.exists(f"{s3.bucket}/big.bin")  # never half-visible

    got = upload(src, dest, one)
    assert (got.resumed, got.parts) == (2, 2)  # the two parts the server holds are not sent again
    assert s3.fs.cat_file(f"{s3.bucket}/big.bin") == src.read_bytes()


def test_a_network_drop_mid_upload_is_retried(s3: S3Bucket, tmp_path: Path) -> None:
    host, port = s3.endpoint.removeprefix("http://").split(":")
    proxy = FaultProxy((host, int(port)))
    try:
        options = StorageOptions(**{**_fields(s3.options), "s3_endpoint": proxy.url})
        src = _file(tmp_path / "big.bin", 11 * MIB)
        proxy.drop_after(2 * MIB)  # the connection carrying the first part is cut mid-body
        got = upload(src, parse_location(s3.url("dropped.bin")), options)
    finally:
        proxy.close()
    assert proxy.drops == 1
    assert got.sha256 == _sha(src.read_bytes())
    assert s3.fs.cat_file(f"{s3.bucket}/dropped.bin") == src.read_bytes()


def test_a_network_drop_mid_download_resumes_from_the_byte_reached(s3: S3Bucket, tmp_path: Path) -> None:
    data = os.urandom(12 * MIB)
    s3.fs.pipe_file(f"{s3.bucket}/v.bin", data)
    host, port = s3.endpoint.removeprefix("http://").split(":")
    proxy = FaultProxy((host, int(port)))
    try:
        options = StorageOptions(**{**_fields(s3.options), "s3_endpoint": proxy.url})
        proxy.drop_after(5 * MIB, upward=False)  # the answer is cut after 5 MiB
        got = download(parse_location(s3.url("v.bin")), tmp_path / "v.bin", options)
    finally:
        proxy.close()
    assert proxy.drops == 1
    assert got.sha256 == _sha(data) and (tmp_path / "v.bin").read_bytes() == data


def test_download_by_ranges_resumes_its_part_file(s3: S3Bucket, tmp_path: Path) -> None:
    data = os.urandom(12 * MIB)
    s3.fs.pipe_file(f"{s3.bucket}/v.bin", data)
    src = parse_location(s3.url("v.bin"))
    first = download(src, tmp_path / "a.bin", s3.options)
    assert (first.sha256, first.parts, (tmp_path / "a.bin").read_bytes() == data) == (_sha(data), 3, True)

    dest = tmp_path / "b.bin"

    def stop(done: int, total: int) -> None:
        if done >= 5 * MIB:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        download(src, dest, s3.options, on_progress=stop)
    assert not dest.exists() and dest.with_name("b.bin.part").exists()
    again = download(src, dest, s3.options)
    assert again.resumed == 1 and again.sha256 == _sha(data) and dest.read_bytes() == data


def test_library_files_by_relative_key(s3: S3Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = load_config(
        env={
            "VIDEOKIT_LIBRARY_LOCATION": str(tmp_path / "lib"),
            "VIDEOKIT_STORAGE_LIBRARYFILES": s3.url("lib"),
            "VIDEOKIT_STORAGE_S3ENDPOINT": s3.endpoint,
        }
    )
    files = library_files(cfg)
    thumb = _file(tmp_path / "t.jpg", 2048)
    files.put(thumb, "processed/abc/thumb_0001.jpg")
    assert files.url_of("processed/abc/thumb_0001.jpg") == f"s3://{s3.bucket}/lib/processed/abc/thumb_0001.jpg"
    assert [o.key for o in files.list("processed")] == ["processed/abc/thumb_0001.jpg"]
    assert files.read_bytes("processed/abc/thumb_0001.jpg") == thumb.read_bytes()
    files.get("processed/abc/thumb_0001.jpg", tmp_path / "back.jpg")
    assert (tmp_path / "back.jpg").read_bytes() == thumb.read_bytes()
    assert files.exists("processed/abc/thumb_0001.jpg")
    files.delete("processed/abc/thumb_0001.jpg")
    assert not files.exists("processed/abc/thumb_0001.jpg")
    assert files.local_path("x") is None


def test_a_local_folder_is_the_same_storage(tmp_path: Path) -> None:
    files = open_storage(tmp_path / "lib")
    src = _file(tmp_path / "t.jpg", 100)
    files.put(src, "processed/abc/t.jpg")
    assert files.local_path("processed/abc/t.jpg") == tmp_path / "lib" / "processed" / "abc" / "t.jpg"
    assert [o.key for o in files.list()] == ["processed/abc/t.jpg"]
    assert files.read_bytes("processed/abc/t.jpg") == src.read_bytes()


def _fields(options: StorageOptions) -> dict:
    return {name: getattr(options, name) for name in options.__slots__}
