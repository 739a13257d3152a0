"""``videokit dataset s3://bucket/prefix`` on moto's S3 server: built in a staging folder, every file
uploaded whole and SHA-256 checked, the manifest last; a publication cut short leaves no manifest
(the old one is removed first) and the same command finishes it without sending a file twice."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cloud_servers import FakeDropbox, S3Bucket, fake_dropbox, moto_s3, s3  # noqa: F401
from media import make_video
from videokit import api
from videokit._cli import main
from videokit.config import Config, load_config
from videokit.dataset.clips import ClipOptions
from videokit.dataset.labels import LabelOptions
from videokit.errors import TransientError, UsageError
from videokit.storage import StorageOptions
from videokit.storage.files import Storage
from videokit.storage.publish import publish_folder

DATASET = ["--clips", "windows", "--window", "1", "--min-len", "0.5", "--label-from", "category"]
DATASET += ["--unlabeled", "keep", "--mode", "exact", "--workers", "1"]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A library of two stored 2 s videos (four 1 s windows)."""
    d = tmp_path_factory.mktemp("cloud-dataset")
    clips = [
        make_video(d / "a.mp4", duration=2.0, source="testsrc2", audio=False),
        make_video(d / "b.mp4", duration=2.0, source="smptebars", audio=False),
    ]
    lib = d / "lib"
    assert api.run([str(c) for c in clips], _config(lib), skip=["scenes", "analyze", "transcribe", "embed"]).ok
    return lib


def _config(lib: Path) -> Config:
    return load_config(None, env={}, overrides={("Library", "Location"): str(lib)})


def vk(library: Path, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["--library", str(library), *args], catch_exceptions=False)
    return res.exit_code, res.stderr


def _published(s3: S3Bucket, prefix: str) -> dict[str, bytes]:
    return {p.split(f"{prefix}/", 1)[1]: s3.fs.cat_file(p) for p in s3.fs.find(f"{s3.bucket}/{prefix}")}


def _manifest(objects: dict[str, bytes]) -> list[dict]:
    return [json.loads(line) for line in objects["manifest.jsonl"].decode().splitlines()]


def test_a_dataset_is_built_locally_then_published(s3: S3Bucket, library: Path) -> None:
    code, err = vk(library, "dataset", s3.url("datasets/demo"), *DATASET)
    assert code == 0, err
    assert f"dataset {s3.url('datasets/demo')}: 4 clip(s) from 2 video(s)" in err
    objects = _published(s3, "datasets/demo")
    entries = _manifest(objects)
    assert len(entries) == 4
    for entry in entries:  # every listed clip is there, with the manifest's SHA-256
        assert hashlib.sha256(objects[entry["path"]]).hexdigest() == entry["sha256"]
    assert "README.md" in objects and "train/metadata.csv" in objects
    assert not [key for key in objects if key.startswith(".") or "/." in key]  # no staging state, no temp key


def _options(window: float) -> api.DatasetOptions:
    return api.DatasetOptions(
        clips=ClipOptions(clips="windows", window=window, min_len=0.5, mode="exact"),
        labels=LabelOptions(source="category", unlabeled="keep"),
    )


def test_a_publication_cut_short_shows_no_manifest_and_resumes(
    s3: S3Bucket, library: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _config(library).with_overrides({("Storage", "S3Endpoint"): s3.endpoint})
    url = s3.url("ds")
    first = api.build_dataset(cfg, url, _options(1.0))
    assert (first.out, first.clips) == (f"s3://{s3.bucket}/ds", 4)
    old = {e["path"] for e in _manifest(_published(s3, "ds"))}
    with pytest.raises(UsageError, match=f"s3://{s3.bucket}/ds holds a dataset built with other settings"):
        api.build_dataset(cfg, url, _options(0.5))  # as for a folder: other settings need overwrite

    put = Storage.put
    sent: list[str] = []

    def stopped_after_two(self: Storage, local: Path, key: str, **kw: object) -> object:
        if len(sent) == 2:
            raise KeyboardInterrupt  # the process is stopped mid-publication
        sent.append(key)
        return put(self, local, key, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Storage, "put", stopped_after_two)
    with pytest.raises(KeyboardInterrupt):  # other settings: other clips, a new manifest
        api.build_dataset(cfg, url, _options(0.5), overwrite=True)
    cut_short = _published(s3, "ds")
    assert "manifest.jsonl" not in cut_short  # the old manifest went first: nothing looks complete
    assert len(sent) == 2 and all(key in cut_short for key in sent)

    def counted(self: Storage, local: Path, key: str, **kw: object) -> object:
        sent.append(key)
        return put(self, local, key, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Storage, "put", counted)
    again = api.build_dataset(cfg, url, _options(0.5), overwrite=True)
    assert again.clips == 8 and again.written == 0  # nothing cut again
    objects = _published(s3, "ds")
    entries = _manifest(objects)
    assert len(entries) == 8
    for entry in entries:
        assert hashlib.sha256(objects[entry["path"]]).hexdigest() == entry["sha256"]
    assert sent[-1] == "manifest.jsonl" and len(sent) == len(set(sent))  # none of the first two sent twice
    assert not (old - {e["path"] for e in entries}) & set(objects)  # the first build's clips are gone


def test_a_missing_bucket_is_named(s3: S3Bucket, library: Path) -> None:
    code, err = vk(library, "dataset", "s3://no-such-bucket-vk/ds", *DATASET)
    assert code == 1
    assert "the Amazon S3 bucket 'no-such-bucket-vk' does not exist" in err
    assert "the dataset is built; the same command uploads it without cutting it again" in err


def test_a_folder_published_to_dropbox_removes_the_marker_first_and_writes_it_last(
    fake_dropbox: FakeDropbox, tmp_path: Path
) -> None:
    fake_dropbox.add_file("/Datasets/v1/manifest.jsonl", b"the previous build's manifest")
    local = tmp_path / "v1"
    (local / "train").mkdir(parents=True)
    (local / "train" / "a.mp4").write_bytes(b"clip a")
    (local / "README.md").write_text("card")
    (local / "manifest.jsonl").write_text('{"path": "train/a.mp4"}\n')
    (local / ".videokit").mkdir()
    (local / ".videokit" / "state.json").write_text("{}")
    sha_a = hashlib.sha256(b"clip a").hexdigest()
    options = StorageOptions(concurrency=1)

    done = publish_folder(
        local, "dropbox://Datasets/v1", options, marker="manifest.jsonl", expected={"train/a.mp4": sha_a}
    )
    assert fake_dropbox.calls.index("files/delete_v2") < fake_dropbox.calls.index("files/upload")
    assert fake_dropbox.stored == ["/Datasets/v1/README.md", "/Datasets/v1/train/a.mp4", "/Datasets/v1/manifest.jsonl"]
    assert sorted(done.uploaded) == ["README.md", "manifest.jsonl", "train/a.mp4"]
    assert "/datasets/v1/.videokit/state.json" not in fake_dropbox.files  # hidden state stays local

    again = publish_folder(local, "dropbox://Datasets/v1", options, marker="manifest.jsonl")
    assert (sorted(again.unchanged), again.uploaded) == (["README.md", "train/a.mp4"], ["manifest.jsonl"])

    (local / "train" / "a.mp4").write_bytes(b"changed after the manifest was written")
    with pytest.raises(TransientError, match="another SHA-256 than the manifest lists"):
        publish_folder(
            local, "dropbox://Datasets/v1", options, marker="manifest.jsonl", expected={"train/a.mp4": sha_a}
        )
    assert "/datasets/v1/manifest.jsonl" not in fake_dropbox.files


def test_files_sent_beside_one_that_fails_are_not_sent_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # uploads run side by side: the first file may fail after the ones beside it went up; those are
    # remembered, so the next publication sends only what is missing (a race the full suite once met)
    import threading

    staging = tmp_path / "staging"
    staging.mkdir()
    for name in ("a.bin", "b.bin", "c.bin", "manifest.jsonl"):
        (staging / name).write_text(name)
    dest = tmp_path / "published"
    put = Storage.put
    sent: list[str] = []
    others_up = threading.Event()

    def a_fails_last(self: Storage, local: Path, key: str, **kw: object) -> object:
        if key == "a.bin":
            assert others_up.wait(10)
            raise KeyboardInterrupt  # stopped while the other two were already sent
        out = put(self, local, key, **kw)  # type: ignore[arg-type]
        sent.append(key)
        if {"b.bin", "c.bin"} <= set(sent):
            others_up.set()
        return out

    monkeypatch.setattr(Storage, "put", a_fails_last)
    with pytest.raises(KeyboardInterrupt):
        publish_folder(staging, str(dest), StorageOptions(concurrency=3), marker="manifest.jsonl")
    assert not (dest / "manifest.jsonl").exists()

    sent.clear()
    monkeypatch.setattr(Storage, "put", lambda self, local, key, **kw: sent.append(key) or put(self, local, key, **kw))
    publish_folder(staging, str(dest), StorageOptions(concurrency=3), marker="manifest.jsonl")
    assert sorted(sent) == ["a.bin", "manifest.jsonl"]
    assert sorted(p.name for p in dest.iterdir() if not p.name.startswith(".")) == [
        "a.bin",
        "b.bin",
        "c.bin",
        "manifest.jsonl",
    ]
