from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from media import make_video  # noqa: E402

pytest_plugins = ["httpserver", "mongo_servers"]  # http_server; mongo_client, secantusdb_server

SHARED_MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's config.ini or VIDEOKIT_* variables."""
    for k in list(os.environ):
        if k.startswith("VIDEOKIT_"):
            monkeypatch.delenv(k)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _no_error_logs(caplog: pytest.LogCaptureFixture):
    """A test that logs at ERROR without expecting it fails: errors must not pass silently."""
    caplog.set_level(logging.WARNING, logger="videokit")
    yield
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR and not getattr(r, "expected", False)]
    if errors and not caplog.handler.__dict__.get("allow_errors"):
        pytest.fail("unexpected ERROR log: " + errors[0].getMessage())


@pytest.fixture
def library(tmp_path: Path) -> Path:
    lib = tmp_path / "lib"
    return lib


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def sample_video(media_dir: Path) -> Path:
    """2 s 320x240 H.264 + AAC clip titled 'Sample Clip'."""
    return make_video(media_dir / "sample.mp4", title="Sample Clip")


@pytest.fixture(scope="session")
def shared_media() -> Path:
    if not SHARED_MEDIA.is_dir():
        pytest.skip("shared media folder (beside the repository) not present")
    return SHARED_MEDIA


def have(tool: str) -> bool:
    return shutil.which(tool) is not None
