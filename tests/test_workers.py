"""`videokit run --workers N` builds the same library as a sequential run."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from media import make_video
from test_resume import FULL_SKIP, SOURCES, videokit
from videokit.store.sqlite import SQLiteStore

VOLATILE = {"added_at", "updated_at", "timings"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("batch")
    for i, src in enumerate(SOURCES[:5]):
        make_video(d / f"v{i}.mp4", duration=1.0, source=src, title=f"video {i}")
    shutil.copy(d / "v0.mp4", d / "v0-copy.mp4")  # same content under two names
    return d


def _stable(value: Any) -> Any:
    """A record as a user sees it, without timestamps and timings."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _library(lib: Path) -> dict[str, Any]:
    with SQLiteStore(lib / "library.sqlite") as store:
        out = {}
        for r in store.iter_records():
            d = _stable(r.to_dict())
            d["sources"] = sorted(d["sources"], key=lambda s: s["input"])
            if len(d["sources"]) > 1:  # same bytes under two names: either copy may be the one kept
                d["file"] = {k: d["file"][k] for k in ("size", "sha256")}
            out[r.id] = d
        return out


def test_workers_give_the_same_library_as_sequential(tmp_path: Path, folder: Path) -> None:
    seq = videokit(tmp_path / "seq", "run", str(folder), *FULL_SKIP)
    assert seq.returncode == 0, seq.stderr
    par = videokit(tmp_path / "par", "run", str(folder), "--workers", "2", *FULL_SKIP)
    assert par.returncode == 0, par.stderr
    a, b = _library(tmp_path / "seq"), _library(tmp_path / "par")
    assert len(a) == 5  # six files, five contents
    assert a == b
    copies = next(r for r in b.values() if len(r["sources"]) == 2)
    assert {Path(s["input"]).name for s in copies["sources"]} == {"v0.mp4", "v0-copy.mp4"}
    assert "processed 6 of 6 inputs" in par.stderr


def test_workers_rerun_skips_what_is_done(tmp_path: Path, folder: Path) -> None:
    lib = tmp_path / "lib"
    first = videokit(lib, "run", str(folder), "--workers", "2", "--skip", "scenes", "--skip", "analyze")
    assert first.returncode == 0, first.stderr
    before = _library(lib)
    extra = make_video(folder.parent / "late" / "late.mp4", duration=1.0, source="rgbtestsrc", title="late")
    second = videokit(lib, "run", str(folder), str(extra), "--workers", "2", "--skip", "scenes", "--skip", "analyze")
    assert second.returncode == 0, second.stderr
    after = _library(lib)
    assert len(after) == len(before) + 1
    assert {k: v for k, v in after.items() if k in before} == before
