"""Batching in the analyze stage: several videos per model call, each with its own result or error.

The qwen backend runs a tiny random-weight Qwen2-VL built by :mod:`qwen_fixtures` (nothing is
downloaded); ``generate`` is wrapped on the model class to count calls and rows. The api
backend talks to the local chat-completions server of ``test_analysis_api``.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from media import ffmpeg, make_video
from test_analysis_api import GOOD, ChatServer, Reply
from videokit.analysis.base import Analyzer
from videokit.analysis.stage import AnalyzeStage
from videokit.config import load_config
from videokit.errors import InputError
from videokit.pipeline import Context
from videokit.probe import media_info
from videokit.record import Analysis, FileInfo, Frame, Record, Scene, SceneInfo

N_VIDEOS = 5


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Five different short videos: different footage (a near-duplicate of an analysed video is
    not analysed again) and lengths, so different content ids."""
    folder = tmp_path_factory.mktemp("batch-clips")
    sources = ["testsrc2", "smptebars", "testsrc", "rgbtestsrc", "pal100bars"]
    return [
        make_video(folder / f"clip{i}.mp4", duration=1.0 + 0.25 * i, audio=False, source=sources[i])
        for i in range(N_VIDEOS)
    ]


def record_for(clip: Path) -> Record:
    digest = hashlib.sha256(clip.read_bytes()).hexdigest()
    return Record(id=digest, file=FileInfo(str(clip), clip.name, clip.stat().st_size, digest), media=media_info(clip))


# -- qwen on the tiny model --------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from qwen_fixtures import build_tiny_qwen

    return build_tiny_qwen(tmp_path_factory.mktemp("models") / "tiny-qwen2-vl", "qwen2_vl")


class GenerateCounter:
    """Wraps ``generate`` on the Qwen2-VL model class: ``rows`` holds the batch size of each call."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from transformers import Qwen2VLForConditionalGeneration

        self.rows: list[int] = []
        real = Qwen2VLForConditionalGeneration.generate
        counter = self

        def generate(model: Any, *args: Any, **kwargs: Any) -> Any:
            counter.rows.append(int(kwargs["input_ids"].shape[0]))
            return real(model, *args, **kwargs)

        monkeypatch.setattr(Qwen2VLForConditionalGeneration, "generate", generate)

    @property
    def calls(self) -> int:
        return len(self.rows)


def qwen_config(library: Path, model: Path, batch_size: int, extra: dict[tuple[str, str], Any] | None = None):
    over: dict[tuple[str, str], Any] = {
        ("Library", "Location"): str(library),
        ("Analysis", "Backend"): "qwen",
        ("Analysis", "MaxFrames"): 4,
        ("QwenVL", "Model"): str(model),
        ("QwenVL", "Device"): "cpu",
        ("QwenVL", "MaxPixels"): 20000,
        ("QwenVL", "MaxNewTokens"): 10,
        ("QwenVL", "BatchSize"): batch_size,
    }
    over.update(extra or {})
    return load_config(None, env={}, overrides=over)


def summary(a: Analysis | None) -> dict[str, Any]:
    """What a user sees of an analysis (the cache key differs with nothing)."""
    assert a is not None
    return {
        "description": a.description,
        "warnings": a.warnings,
        "scenes": a.scene_descriptions,
        "usage": a.usage,
        "facts": a.facts,
        "tags": [t.name for t in a.tags],
        "category": a.category,
    }


def two_scene_record(clip: Path) -> Record:
    """A record whose scene stage found two scenes (cut at half the length)."""
    r = record_for(clip)
    d = r.media.duration
    r.scenes = SceneInfo(scenes=[Scene(0, 0.0, d / 2, 0, 10), Scene(1, d / 2, d, 11, 20)], scene_count=2)
    return r


@pytest.mark.parametrize("per_scene", [False, True], ids=["per-video", "per-scene"])
def test_batched_results_are_identical_to_one_at_a_time(tiny_model, clips, tmp_path, monkeypatch, per_scene):
    import torch

    torch.set_num_threads(1)
    gen = GenerateCounter(monkeypatch)
    chosen = clips[:3]
    make = two_scene_record if per_scene else record_for
    extra = {("Analysis", "PerScene"): per_scene}

    batched = [make(c) for c in chosen]
    stage = AnalyzeStage()
    ctx = Context(qwen_config(tmp_path / "lib-batched", tiny_model, 16, extra))
    assert stage.process_batch(batched, ctx) == [None, None, None]
    jobs = len(chosen) * (3 if per_scene else 1)  # the video, and each of its two scenes
    assert gen.rows == [jobs]  # every video (and scene) in one generate call
    assert stage.batch_size == 16

    gen.rows.clear()
    single = [make(c) for c in chosen]
    one = AnalyzeStage()
    ctx1 = Context(qwen_config(tmp_path / "lib-single", tiny_model, 1, extra))
    for r in single:
        one.process(r, ctx1)
    assert gen.rows == [1] * jobs

    assert [summary(r.analysis) for r in batched] == [summary(r.analysis) for r in single]
    for r in batched:
        assert r.analysis.backend == "qwen" and r.analysis.description
        assert r.analysis.usage["requests"] == (3 if per_scene else 1)
    if per_scene:
        assert all(set(r.analysis.scene_descriptions) <= {"0", "1"} for r in batched)


def test_n_videos_make_ceil_n_over_batch_size_generate_calls(tiny_model, clips, tmp_path, monkeypatch):
    import torch

    torch.set_num_threads(1)
    gen = GenerateCounter(monkeypatch)
    stage = AnalyzeStage()
    ctx = Context(qwen_config(tmp_path / "lib", tiny_model, 2))
    records = [record_for(c) for c in clips]
    stage.setup(ctx)
    size = stage.batch_size
    assert size == 2
    for start in range(0, len(records), size):  # as the runner does: batch_size records at a time
        batch = records[start : start + size]
        assert stage.process_batch(batch, ctx) == [None] * len(batch)
    assert gen.calls == math.ceil(N_VIDEOS / 2) and gen.rows == [2, 2, 1]


def test_cache_hits_in_a_batch_are_not_sent_to_the_model(tiny_model, clips, tmp_path, monkeypatch):
    gen = GenerateCounter(monkeypatch)
    ctx = Context(qwen_config(tmp_path / "lib", tiny_model, 8))
    first = [record_for(c) for c in clips[:2]]
    AnalyzeStage().process_batch(first, ctx)
    assert gen.rows == [2]

    again = [record_for(c) for c in clips[:3]]  # two seen before, one new
    AnalyzeStage().process_batch(again, ctx)
    assert gen.rows == [2, 1]
    assert [summary(r.analysis) for r in again[:2]] == [summary(r.analysis) for r in first]
    assert again[2].analysis is not None and again[2].analysis.description


def test_one_failing_video_in_a_batch_gets_its_own_error_and_the_others_are_analysed(
    tiny_model, clips, tmp_path, monkeypatch
):
    gen = GenerateCounter(monkeypatch)
    cfg = qwen_config(tmp_path / "lib", tiny_model, 8)
    good1, missing, broken, good2 = (record_for(c) for c in clips[:4])
    missing.file.path = str(tmp_path / "gone.mp4")
    bad = tmp_path / "lib" / "processed" / "broken.jpg"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a jpeg")
    ok = tmp_path / "lib" / "processed" / "ok.jpg"
    ffmpeg("-i", str(clips[2]), "-frames:v", "1", str(ok))
    broken.scenes = SceneInfo(
        scenes=[Scene(0, 0.0, 2.0, 0, 50)],
        scene_count=1,
        frames=[Frame("processed/ok.jpg", 0.2, 0), Frame("processed/broken.jpg", 0.8, 0)],
    )

    errors = AnalyzeStage().process_batch([good1, missing, broken, good2], Context(cfg))

    assert errors[0] is None and errors[3] is None
    assert isinstance(errors[1], InputError) and "gone.mp4: video file is missing" in str(errors[1])
    assert isinstance(errors[2], InputError) and "broken.jpg" in str(errors[2])
    assert gen.rows == [2]  # the two good videos, still in one call
    assert good1.analysis is not None and good2.analysis is not None
    assert good1.analysis.description and good2.analysis.description
    assert missing.analysis is None and broken.analysis is None


def test_a_failed_generate_call_is_retried_one_video_at_a_time_and_only_the_culprit_fails(
    tiny_model, clips, tmp_path, monkeypatch
):
    from transformers import Qwen2VLForConditionalGeneration

    real = Qwen2VLForConditionalGeneration.generate
    rows: list[int] = []

    def generate(model: Any, *args: Any, **kwargs: Any) -> Any:
        grids = kwargs["video_grid_thw"].tolist()
        rows.append(len(grids))
        if any(t == 1 for t, _, _ in grids):  # the video with two frames (one temporal step)
            raise RuntimeError("CUDA error: device-side assert triggered")
        return real(model, *args, **kwargs)

    monkeypatch.setattr(Qwen2VLForConditionalGeneration, "generate", generate)
    records = [record_for(c) for c in clips[:3]]
    culprit = records[1]
    processed = tmp_path / "lib" / "processed"
    processed.mkdir(parents=True)
    for k, t in enumerate((0.2, 0.6)):
        ffmpeg("-ss", str(t), "-i", str(clips[1]), "-frames:v", "1", str(processed / f"p{k}.jpg"))
    culprit.scenes = SceneInfo(
        scenes=[Scene(0, 0.0, 5.0, 0, 100)],
        scene_count=1,
        frames=[Frame("processed/p0.jpg", 0.2, 0), Frame("processed/p1.jpg", 0.6, 0)],
    )

    errors = AnalyzeStage().process_batch(records, Context(qwen_config(tmp_path / "lib", tiny_model, 8)))

    assert errors[0] is None and errors[2] is None
    assert isinstance(errors[1], RuntimeError) and "device-side assert" in str(errors[1])
    assert rows == [3, 1, 1, 1]  # the batch, then each video alone
    assert records[0].analysis.description and records[2].analysis.description
    assert culprit.analysis is None


# -- qwen through `videokit run` -------------------------------------------------------------------


def test_videokit_run_makes_ceil_n_over_batch_size_generate_calls(tiny_model, clips, tmp_path, monkeypatch):
    """``videokit run --analyzer qwen`` on 5 videos with BatchSize 2: exactly 3 generate calls."""
    from videokit._cli import main
    from videokit.store import open_store
    from videokit.store.base import Query

    gen = GenerateCounter(monkeypatch)
    ini = tmp_path / "config.ini"
    ini.write_text(
        "[Analysis]\nMaxFrames = 4\n"
        f"[QwenVL]\nModel = {tiny_model}\nDevice = cpu\nMaxPixels = 20000\nMaxNewTokens = 10\nBatchSize = 2\n"
        "[Concurrency]\nMaxWorkers = 1\n"
    )
    lib = tmp_path / "lib"
    args = ["--config", str(ini), "--library", str(lib), "-q", "run", "--analyzer", "qwen", *map(str, clips)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert gen.calls == math.ceil(N_VIDEOS / 2) == 3
    assert sorted(gen.rows) == [1, 2, 2]
    cfg = load_config(ini, env={}, overrides={("Library", "Location"): str(lib)})
    with open_store(cfg) as store:
        stored = store.search(Query())
    assert len(stored) == N_VIDEOS
    assert all(r.analysis is not None and r.analysis.backend == "qwen" for r in stored)


# -- api: concurrency kept full across videos ----------------------------------------------------


@pytest.fixture
def server():
    s = ChatServer()
    yield s
    s.close()


def api_config(library: Path, server: ChatServer, concurrent: int):
    return load_config(
        None,
        env={},
        overrides={
            ("Library", "Location"): str(library),
            ("Analysis", "Backend"): "api",
            ("Analysis", "MaxFrames"): 2,
            ("QwenVL", "PublicEndpoint"): server.base,
            ("QwenVL", "MaxConcurrentRequests"): concurrent,
            ("QwenVL", "Retries"): 0,
            ("QwenVL", "Timeout"): 10.0,
        },
    )


def test_api_has_max_concurrent_requests_in_flight_across_videos(tmp_path, server, clips):
    server.replies = [Reply(content=json.dumps(GOOD), delay=0.6)]
    stage = AnalyzeStage(priority_keywords=[], categories=None)
    ctx = Context(api_config(tmp_path / "lib", server, 3))
    stage.setup(ctx)
    assert stage.batch_size == 3
    records = [record_for(c) for c in clips[:3]]
    t0 = time.perf_counter()
    assert stage.process_batch(records, ctx) == [None, None, None]
    wall = time.perf_counter() - t0
    stage.close()
    assert server.peak == 3 and len(server.requests) == 3
    assert wall < 3 * 0.6  # together, not one after the other
    assert all(r.analysis.description == GOOD["description"] for r in records)


def test_api_never_has_more_than_max_concurrent_requests_in_flight(tmp_path, server, clips):
    server.replies = [Reply(content=json.dumps(GOOD), delay=0.3)]
    stage = AnalyzeStage(priority_keywords=[], categories=None)
    ctx = Context(api_config(tmp_path / "lib", server, 2))
    records = [record_for(c) for c in clips]
    assert stage.process_batch(records, ctx) == [None] * N_VIDEOS
    stage.close()
    assert server.peak == 2 and len(server.requests) == N_VIDEOS


def test_api_one_rejected_video_fails_alone(tmp_path, server, clips):
    """The server rejects one request (400): that video gets the error, the others their analysis."""
    server.replies = [Reply(status=400), Reply(content=json.dumps(GOOD))]  # the first request gets the 400
    stage = AnalyzeStage(priority_keywords=[], categories=None)
    ctx = Context(api_config(tmp_path / "lib", server, 1))  # one request at a time: a known order
    records = [record_for(c) for c in clips[:3]]
    errors = stage.process_batch(records, ctx)
    stage.close()
    assert isinstance(errors[0], InputError) and "HTTP 400" in str(errors[0])
    assert errors[1:] == [None, None]
    assert records[0].analysis is None
    assert [r.analysis.description for r in records[1:]] == [GOOD["description"]] * 2


# -- any backend: the default analyze_many isolates failures ---------------------------------------


class Picky(Analyzer):
    """Refuses videos whose file name contains 'clip1'."""

    name = "picky"

    def analyze(self, request):  # type: ignore[no-untyped-def]
        if "clip1" in request.video.name:
            raise InputError(f"{request.video}: refused")
        return Analysis(backend=self.name, description=f"seen {request.video.name}")


def test_default_analyze_many_gives_each_request_its_own_result(tmp_path, clips):
    stage = AnalyzeStage(analyzer=Picky(load_config(None, env={})), priority_keywords=[], categories=[])
    cfg = load_config(None, env={}, overrides={("Library", "Location"): str(tmp_path / "lib")})
    records = [record_for(c) for c in clips[:3]]
    errors = stage.process_batch(records, Context(cfg))
    assert errors[0] is None and errors[2] is None
    assert isinstance(errors[1], InputError) and "clip1.mp4: refused" in str(errors[1])
    assert records[0].analysis.description == "seen clip0.mp4"
    assert records[2].analysis.description == "seen clip2.mp4"
    with pytest.raises(InputError, match="clip1.mp4: refused"):
        stage.process(record_for(clips[1]), Context(cfg))
