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


# Modules whose tests run the default pipeline with its speech and embedding models. Elsewhere
# (tests of downloads, resumes, secrets, datasets...) the two model stages are turned off through
# the environment, as a user would: each `videokit run` then skips loading torch and two models.
MODEL_TESTS = (
    "test_transcribe",
    "test_embed",
    "test_reindex",
    "test_search",
    "test_web",
    "test_end_to_end",
    "test_executors",
    "test_sharenothing",
    "test_distributed",
    "test_plugins",
    "test_config",
    "test_api_surface",
)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """No test reads the developer's config.ini or VIDEOKIT_* variables."""
    for k in list(os.environ):
        if k.startswith("VIDEOKIT_"):
            monkeypatch.delenv(k)
    if not request.node.module.__name__.startswith(MODEL_TESTS) and not request.node.get_closest_marker("models"):
        monkeypatch.setenv("VIDEOKIT_TRANSCRIPTION_ENABLED", "false")
        monkeypatch.setenv("VIDEOKIT_EMBEDDINGS_ENABLED", "false")
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
